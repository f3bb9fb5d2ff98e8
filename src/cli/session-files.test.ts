import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PROFILES } from '../plan/profiles.js';
import {
  carrySessionFiles,
  carryXauthority,
  COOKIE_MAX_BYTES,
  cookieCopyName,
  isUnderPrivateTmp,
  nodeSessionFileOps,
  sshAgentWarning,
  type FileInfo,
  type SessionFileOps,
} from './session-files.js';

const ME = 1000;
const OTHER = 1001;

type Node =
  | { kind: 'file'; uid: number; mode: number; data: Buffer }
  | { kind: 'directory'; uid: number; mode: number }
  | { kind: 'symlink' | 'fifo' };

/** An in-memory file system with just the operations session-files uses, and a log of what changed. */
class FakeFs implements SessionFileOps {
  nodes = new Map<string, Node>();
  log: string[] = [];
  failRename = false;
  private n = 0;

  dir(p: string, uid = ME, mode = 0o700): this {
    this.nodes.set(p, { kind: 'directory', uid, mode });
    return this;
  }
  file(p: string, data: string | Buffer, uid = ME, mode = 0o600): this {
    this.nodes.set(p, { kind: 'file', uid, mode, data: Buffer.from(data) });
    return this;
  }
  lstat(p: string): FileInfo | null {
    const n = this.nodes.get(p);
    if (!n) return null;
    if (n.kind === 'file' || n.kind === 'directory') return { kind: n.kind, uid: n.uid, mode: n.mode };
    return { kind: 'other', uid: ME, mode: 0o777 };
  }
  readNoFollow(p: string, max: number) {
    const n = this.nodes.get(p);
    if (!n) return { ok: false as const, missing: true, reason: 'it does not exist' };
    if (n.kind === 'symlink') return { ok: false as const, missing: false, reason: 'it is a symbolic link' };
    if (n.kind !== 'file') return { ok: false as const, missing: false, reason: 'it is not a regular file' };
    if (n.data.length > max) return { ok: false as const, missing: false, reason: `it is larger than ${max} bytes` };
    return { ok: true as const, data: n.data, info: { kind: 'file' as const, uid: n.uid, mode: n.mode } };
  }
  mkdirPrivate(p: string): void {
    if (this.nodes.has(p)) throw Object.assign(new Error('exists'), { code: 'EEXIST' });
    this.log.push(`mkdir ${p}`);
    this.dir(p);
  }
  writeNewPrivate(p: string, data: Buffer): void {
    if (this.nodes.has(p)) throw Object.assign(new Error('exists'), { code: 'EEXIST' });
    this.log.push(`write ${p}`);
    this.file(p, data);
  }
  rename(from: string, to: string): void {
    if (this.failRename) throw Object.assign(new Error('nope'), { code: 'EXDEV' });
    const n = this.nodes.get(from);
    if (!n) throw Object.assign(new Error('missing'), { code: 'ENOENT' });
    this.log.push(`rename ${from} ${to}`);
    this.nodes.delete(from);
    this.nodes.set(to, n);
  }
  unlink(p: string): void {
    this.log.push(`unlink ${p}`);
    this.nodes.delete(p);
  }
  randomToken(): string {
    return `r${++this.n}`;
  }
}

const COOKIE = 'cookie-bytes \x00\x01 MIT-MAGIC-COOKIE-1';
const COPY = `/run/user/1000/ssc/${cookieCopyName(Buffer.from(COOKIE))}`;
const env = (o: Record<string, string>) => new Map(Object.entries(o));
const desktop = () => new FakeFs().dir('/run/user/1000').file('/tmp/xauth_abc', COOKIE);
const desktopEnv = () => env({ XAUTHORITY: '/tmp/xauth_abc', XDG_RUNTIME_DIR: '/run/user/1000', DISPLAY: ':0' });

describe('isUnderPrivateTmp', () => {
  it('is true for paths inside /tmp and /var/tmp, after normalising', () => {
    for (const p of ['/tmp/x', '/tmp/a/b', '/var/tmp/x', '//tmp/x', '/tmp/./x', '/usr/../tmp/x'])
      expect(isUnderPrivateTmp(p), p).toBe(true);
  });
  it('is false elsewhere, for /tmp itself and for relative paths', () => {
    for (const p of ['/tmp', '/tmp/', '/tmpx/y', '/home/a/.Xauthority', '/run/user/1000/xauth', 'tmp/x', '/tmp/../home/x', ''])
      expect(isUnderPrivateTmp(p), p).toBe(false);
  });
});

describe('carryXauthority', () => {
  it('copies a cookie under /tmp into $XDG_RUNTIME_DIR/ssc and points XAUTHORITY at the copy', () => {
    const fsx = desktop();
    const vars = desktopEnv();
    expect(carryXauthority(vars, PROFILES.strict, ME, fsx)).toBeNull();
    expect(vars.get('XAUTHORITY')).toBe(COPY);
    expect(fsx.lstat('/run/user/1000/ssc')).toEqual({ kind: 'directory', uid: ME, mode: 0o700 });
    const copy = fsx.readNoFollow(COPY, COOKIE_MAX_BYTES);
    expect(copy.ok && copy.data.toString()).toBe(COOKIE);
    expect(copy.ok && copy.info.mode).toBe(0o600);
    // Written under a temporary name and renamed: never half a file under the final name.
    expect(fsx.log).toEqual([
      'mkdir /run/user/1000/ssc',
      'write /run/user/1000/ssc/.xauth-r1.tmp',
      `rename /run/user/1000/ssc/.xauth-r1.tmp ${COPY}`,
    ]);
    // Nothing else in the environment changes.
    expect(vars.get('DISPLAY')).toBe(':0');
  });

  it('reuses the copy of an identical cookie instead of writing another', () => {
    const fsx = desktop();
    carryXauthority(desktopEnv(), PROFILES.strict, ME, fsx);
    fsx.log = [];
    const vars = desktopEnv();
    expect(carryXauthority(vars, PROFILES.strict, ME, fsx)).toBeNull();
    expect(vars.get('XAUTHORITY')).toBe(COPY);
    expect(fsx.log).toEqual([]);
  });

  it('names a different cookie differently, and rewrites a copy whose content or mode is wrong', () => {
    expect(cookieCopyName(Buffer.from('a'))).not.toBe(cookieCopyName(Buffer.from('b')));
    expect(cookieCopyName(Buffer.from('a'))).toMatch(/^xauth-[0-9a-f]{32}$/);
    for (const [data, mode] of [
      ['stale', 0o600],
      [COOKIE, 0o644],
    ] as const) {
      const fsx = desktop().dir('/run/user/1000/ssc').file(COPY, data, ME, mode);
      const vars = desktopEnv();
      expect(carryXauthority(vars, PROFILES.strict, ME, fsx)).toBeNull();
      expect(fsx.log).toEqual(['write /run/user/1000/ssc/.xauth-r1.tmp', `rename /run/user/1000/ssc/.xauth-r1.tmp ${COPY}`]);
      expect(fsx.lstat(COPY)?.mode).toBe(0o600);
    }
  });

  it('changes nothing under a profile without a private /tmp, or when XAUTHORITY is elsewhere or unset', () => {
    const cases: [keyof typeof PROFILES, Record<string, string>][] = [
      ['relaxed', { XAUTHORITY: '/tmp/xauth_abc', XDG_RUNTIME_DIR: '/run/user/1000' }],
      ['strict', { XAUTHORITY: '/home/me/.Xauthority', XDG_RUNTIME_DIR: '/run/user/1000' }],
      ['strict', { XAUTHORITY: 'relative/xauth', XDG_RUNTIME_DIR: '/run/user/1000' }],
      ['strict', { XDG_RUNTIME_DIR: '/run/user/1000' }],
    ];
    for (const [profile, e] of cases) {
      const fsx = desktop();
      const vars = env(e);
      expect(carryXauthority(vars, PROFILES[profile], ME, fsx)).toBeNull();
      expect(Object.fromEntries(vars)).toEqual(e);
      expect(fsx.log).toEqual([]);
    }
  });

  it('says nothing when the cookie file does not exist (the program would not find it either way)', () => {
    const fsx = new FakeFs().dir('/run/user/1000');
    const vars = desktopEnv();
    expect(carryXauthority(vars, PROFILES.strict, ME, fsx)).toBeNull();
    expect(vars.get('XAUTHORITY')).toBe('/tmp/xauth_abc');
  });

  it('warns in one line and changes nothing without a private runtime directory', () => {
    const cases: [string, FakeFs, Record<string, string>][] = [
      ['XDG_RUNTIME_DIR is not set', desktop(), { XAUTHORITY: '/tmp/xauth_abc' }],
      ['is not an absolute path', desktop(), { XAUTHORITY: '/tmp/xauth_abc', XDG_RUNTIME_DIR: 'run/user/1000' }],
      ['is not a directory of yours', desktop(), { XAUTHORITY: '/tmp/xauth_abc', XDG_RUNTIME_DIR: '/run/user/9999' }],
      [
        'is not a directory of yours',
        desktop().dir('/run/user/1000', OTHER),
        { XAUTHORITY: '/tmp/xauth_abc', XDG_RUNTIME_DIR: '/run/user/1000' },
      ],
      [
        'is not a directory of yours',
        desktop().dir('/run/user/1000', ME, 0o755),
        { XAUTHORITY: '/tmp/xauth_abc', XDG_RUNTIME_DIR: '/run/user/1000' },
      ],
      [
        'is not a directory of yours',
        desktop().file('/run/user/1000', 'x'),
        { XAUTHORITY: '/tmp/xauth_abc', XDG_RUNTIME_DIR: '/run/user/1000' },
      ],
    ];
    for (const [why, fsx, e] of cases) {
      const vars = env(e);
      const w = carryXauthority(vars, PROFILES.strict, ME, fsx);
      expect(w).toContain(why);
      expect(w).toMatch(/^XAUTHORITY \(\/tmp\/xauth_abc\) is in a \/tmp the strict profile hides, [^\n]*--isolation=relaxed\)$/);
      expect(Object.fromEntries(vars)).toEqual(e);
      expect(fsx.log).toEqual([]);
    }
  });

  it('refuses a symlink in the runtime directory in place of ssc/', () => {
    const fsx = desktop();
    fsx.nodes.set('/run/user/1000/ssc', { kind: 'symlink' });
    const vars = desktopEnv();
    expect(carryXauthority(vars, PROFILES.strict, ME, fsx)).toContain('/run/user/1000/ssc is not a directory of yours with mode 0700');
    expect(vars.get('XAUTHORITY')).toBe('/tmp/xauth_abc');
    expect(fsx.log).toEqual([]);
  });

  it("does not copy a cookie that is a symlink, not a regular file, too large or someone else's", () => {
    const cases: [string, (f: FakeFs) => void][] = [
      ['symbolic link', (f) => f.nodes.set('/tmp/xauth_abc', { kind: 'symlink' })],
      ['not a regular file', (f) => f.nodes.set('/tmp/xauth_abc', { kind: 'fifo' })],
      ['larger than 65536 bytes', (f) => f.file('/tmp/xauth_abc', Buffer.alloc(COOKIE_MAX_BYTES + 1))],
      ['not your file', (f) => f.file('/tmp/xauth_abc', COOKIE, OTHER, 0o644)],
    ];
    for (const [why, setup] of cases) {
      const fsx = desktop();
      setup(fsx);
      const vars = desktopEnv();
      expect(carryXauthority(vars, PROFILES.strict, ME, fsx)).toContain(why);
      expect(vars.get('XAUTHORITY')).toBe('/tmp/xauth_abc');
      expect(fsx.log).toEqual([]);
    }
  });

  it('removes its temporary file and warns when the copy cannot be put in place', () => {
    const fsx = desktop();
    fsx.failRename = true;
    const vars = desktopEnv();
    expect(carryXauthority(vars, PROFILES.strict, ME, fsx)).toContain('failed (EXDEV)');
    expect(vars.get('XAUTHORITY')).toBe('/tmp/xauth_abc');
    expect(fsx.log.at(-1)).toBe('unlink /run/user/1000/ssc/.xauth-r1.tmp');
    expect([...fsx.nodes.keys()].filter((k) => k.includes('.tmp'))).toEqual([]);
  });
});

describe('sshAgentWarning', () => {
  it('warns only for a socket under /tmp or /var/tmp under a profile with a private /tmp', () => {
    expect(sshAgentWarning(env({ SSH_AUTH_SOCK: '/tmp/ssh-XXXX/agent.12' }), PROFILES.strict)).toMatch(
      /^SSH_AUTH_SOCK \(\/tmp\/ssh-XXXX\/agent\.12\) is in a \/tmp the strict profile hides: [^\n]*$/,
    );
    expect(sshAgentWarning(env({ SSH_AUTH_SOCK: '/var/tmp/agent' }), PROFILES.strict)).not.toBeNull();
    expect(sshAgentWarning(env({ SSH_AUTH_SOCK: '/tmp/ssh-XXXX/agent.12' }), PROFILES.relaxed)).toBeNull();
    expect(sshAgentWarning(env({ SSH_AUTH_SOCK: '/run/user/1000/openssh_agent' }), PROFILES.strict)).toBeNull();
    expect(sshAgentWarning(env({}), PROFILES.strict)).toBeNull();
  });
});

describe('carrySessionFiles', () => {
  it('returns every warning and leaves SSH_AUTH_SOCK as it was', () => {
    const vars = env({ XAUTHORITY: '/tmp/xauth_abc', SSH_AUTH_SOCK: '/tmp/ssh-X/agent.1' });
    const warnings = carrySessionFiles(vars, PROFILES.strict, ME, desktop());
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/^XAUTHORITY/);
    expect(warnings[1]).toMatch(/^SSH_AUTH_SOCK/);
    expect(vars.get('SSH_AUTH_SOCK')).toBe('/tmp/ssh-X/agent.1');
  });
});

describe('nodeSessionFileOps on a real file system', () => {
  let dir: string;
  const uid = process.getuid?.() ?? 0;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ssc-session-files-'));
    fs.chmodSync(dir, 0o700);
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads without changing anything, and creates with modes 0700/0600 whatever the umask, exclusively', () => {
    const cookie = path.join(dir, 'cookie');
    fs.writeFileSync(cookie, COOKIE, { mode: 0o644 });
    const runtime = path.join(dir, 'runtime');
    fs.mkdirSync(runtime, 0o700);
    const old = process.umask(0o277);
    try {
      const ops = nodeSessionFileOps;
      const read = ops.readNoFollow(cookie, COOKIE_MAX_BYTES);
      expect(read.ok && read.info).toEqual({ kind: 'file', uid, mode: 0o644 });
      ops.mkdirPrivate(path.join(runtime, 'ssc'));
      expect(ops.lstat(path.join(runtime, 'ssc'))).toEqual({ kind: 'directory', uid, mode: 0o700 });
      ops.writeNewPrivate(path.join(runtime, 'ssc', 'x'), Buffer.from(COOKIE));
      expect(ops.lstat(path.join(runtime, 'ssc', 'x'))).toEqual({ kind: 'file', uid, mode: 0o600 });
      expect(() => ops.writeNewPrivate(path.join(runtime, 'ssc', 'x'), Buffer.from('again'))).toThrow(/EEXIST/);
      expect(fs.readFileSync(path.join(runtime, 'ssc', 'x'), 'utf8')).toBe(COOKIE);
    } finally {
      process.umask(old);
    }
  });

  it('does not follow a symlink, does not block on a FIFO, and refuses a file above the cap', () => {
    const target = path.join(dir, 'target');
    fs.writeFileSync(target, 'x');
    fs.symlinkSync(target, path.join(dir, 'link'));
    expect(nodeSessionFileOps.readNoFollow(path.join(dir, 'link'), 10)).toMatchObject({
      ok: false,
      missing: false,
      reason: 'it is a symbolic link',
    });
    expect(nodeSessionFileOps.readNoFollow(path.join(dir, 'none'), 10)).toMatchObject({ ok: false, missing: true });
    expect(nodeSessionFileOps.readNoFollow(dir, 10)).toMatchObject({ ok: false, reason: 'it is not a regular file' });
    fs.writeFileSync(path.join(dir, 'big'), Buffer.alloc(11));
    expect(nodeSessionFileOps.readNoFollow(path.join(dir, 'big'), 10)).toMatchObject({ ok: false, reason: 'it is larger than 10 bytes' });
    expect(nodeSessionFileOps.readNoFollow(path.join(dir, 'big'), 11)).toMatchObject({ ok: true });
    expect(nodeSessionFileOps.lstat(path.join(dir, 'link'))?.kind).toBe('other');
    expect(nodeSessionFileOps.lstat(path.join(dir, 'none'))).toBeNull();
  });

  it('carries a real cookie under /tmp end to end', () => {
    const tmpCookie = fs.mkdtempSync('/tmp/ssc-session-files-');
    try {
      const cookie = path.join(tmpCookie, 'xauth');
      fs.writeFileSync(cookie, COOKIE, { mode: 0o600 });
      const runtime = path.join(dir, 'runtime');
      fs.mkdirSync(runtime, 0o700);
      fs.chmodSync(runtime, 0o700);
      const vars = env({ XAUTHORITY: cookie, XDG_RUNTIME_DIR: runtime });
      expect(carrySessionFiles(vars, PROFILES.strict, uid)).toEqual([]);
      const copy = path.join(runtime, 'ssc', cookieCopyName(Buffer.from(COOKIE)));
      expect(vars.get('XAUTHORITY')).toBe(copy);
      expect(fs.readFileSync(copy, 'utf8')).toBe(COOKIE);
      expect(fs.statSync(copy).mode & 0o777).toBe(0o600);
      // Again: the same file, nothing new beside it.
      expect(carrySessionFiles(env({ XAUTHORITY: cookie, XDG_RUNTIME_DIR: runtime }), PROFILES.strict, uid)).toEqual([]);
      expect(fs.readdirSync(path.join(runtime, 'ssc'))).toEqual([path.basename(copy)]);
    } finally {
      fs.rmSync(tmpCookie, { recursive: true, force: true });
    }
  });
});
