import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as n from './index.js';
import type { Native } from './native.js';

const addon = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'build', 'Release', 'ssc_native.node');
const scratch = mkdtempSync(join(tmpdir(), 'ssc-native-test-'));
let raw: Native;

beforeAll(() => {
  raw = n.loadNative(addon);
  n.useNative(raw);
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function status(field: string, pid: number | 'self' = 'self'): string {
  const m = new RegExp(`^${field}:[ \\t]*(.*)$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m?.[1] ?? '';
}

/** Run `script` in a fresh node with `native` bound to the addon; returns stdout (JSON lines) and the rest. */
function inChild(script: string, stdio: 'pipe' | 'stdin-pipe' = 'pipe') {
  const prelude = `const m = { exports: {} }; process.dlopen(m, ${JSON.stringify(addon)}); const native = m.exports;
    const fs = require('node:fs'); const out = (v) => fs.writeSync(1, JSON.stringify(v) + '\\n');`;
  const r = spawnSync(process.execPath, ['-e', `${prelude}\n${script}`], { input: stdio === 'stdin-pipe' ? '' : undefined, timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString(), lines: r.stdout.toString().split('\n').filter(Boolean) };
}

function thrown(f: () => unknown): Error & Record<string, unknown> {
  try {
    f();
  } catch (e) {
    return e as Error & Record<string, unknown>;
  }
  throw new Error('expected a throw');
}

describe('getCredentials', () => {
  it('reads back the ids Node reports', () => {
    const c = n.getCredentials();
    expect([c.ruid, c.euid, c.rgid, c.egid]).toEqual([process.getuid?.(), process.geteuid?.(), process.getgid?.(), process.getegid?.()]);
    expect(c.suid).toBe(Number(status('Uid').split(/\s+/)[2]));
    expect(c.sgid).toBe(Number(status('Gid').split(/\s+/)[2]));
    expect(c.groups).toEqual(
      status('Groups')
        .split(/\s+/)
        .filter(Boolean)
        .map(Number)
        .sort((a, b) => a - b),
    );
    expect(c.noNewPrivs).toBe(status('NoNewPrivs') === '1');
    expect(typeof c.dumpable).toBe('boolean');
  });
});

describe('lookupUser and groupList', () => {
  it('finds root', () => {
    expect(n.lookupUser(0)).toMatchObject({ name: 'root', uid: 0, gid: 0, home: '/root' });
    expect(typeof n.lookupUser(0)?.shell).toBe('string');
  });

  it('returns null for a uid with no entry', () => {
    expect(n.lookupUser(n.MAX_ID - 7)).toBeNull();
  });

  it("lists root's groups, the given gid included", () => {
    expect(n.groupList('root', 0)).toContain(0);
    expect(n.groupList('no-such-user-for-ssc-tests', 4242)).toEqual([4242]);
  });
});

describe('file descriptors and process flags', () => {
  it('getSeals fails with EINVAL on a file that is not a memfd', () => {
    const fd = openSync(join(scratch, 'plain'), 'w');
    try {
      const e = thrown(() => n.getSeals(fd));
      expect(e.message).toBe('fcntl(F_GET_SEALS): Invalid argument');
      expect([e.code, e.errno, e.syscall]).toEqual(['EINVAL', 22, 'fcntl']);
      expect(n.isSyscallError(e)).toBe(true);
      expect(n.hasHandoffSeals(fd)).toBe(false);
    } finally {
      closeSync(fd);
    }
  });

  it('getSeals and setCloexec fail with EBADF on a closed fd', () => {
    const fd = openSync(join(scratch, 'closed'), 'w');
    closeSync(fd);
    expect(thrown(() => n.getSeals(fd)).code).toBe('EBADF');
    expect(thrown(() => n.setCloexec(fd)).code).toBe('EBADF');
  });

  it('setCloexec leaves FD_CLOEXEC set', () => {
    const r = inChild(`
      const fd = fs.openSync('/dev/null', 'r');
      native.setCloexec(fd);
      out(fs.readFileSync('/proc/self/fdinfo/' + fd, 'utf8'));`);
    expect(r.status).toBe(0);
    const flags = parseInt(/flags:\s*(\d+)/.exec(JSON.parse(r.lines[0] ?? '""'))?.[1] ?? '0', 8);
    expect(flags & 0o2000000).toBe(0o2000000);
  });

  it('setDumpable sets and reads back', () => {
    const before = n.getCredentials().dumpable;
    try {
      n.setDumpable(false);
      expect(n.getCredentials().dumpable).toBe(false);
      n.setDumpable(true);
      expect(n.getCredentials().dumpable).toBe(true);
    } finally {
      n.setDumpable(before);
    }
  });

  it('setNoNewPrivs sets the flag for good', () => {
    const r = inChild(`native.setNoNewPrivs(); out(native.getCredentials().noNewPrivs);`);
    expect([r.status, r.lines]).toEqual([0, ['true']]);
  });
});

describe('execve', () => {
  it('resets signals and O_NONBLOCK, passes exact bytes, never returns', () => {
    const r = inChild(
      `
      process.stdin; // libuv makes the stdin pipe non-blocking
      const status = fs.readFileSync('/proc/self/status', 'utf8');
      fs.writeSync(2, JSON.stringify({ sigIgn: /^SigIgn:\\s*(.*)$/m.exec(status)[1], fd0: fs.readFileSync('/proc/self/fdinfo/0', 'utf8') }));
      native.execve('/bin/sh', ['sh', '-c', 'grep -E "^Sig(Ign|Blk)" /proc/self/status; grep flags /proc/self/fdinfo/0; echo "$FOO"; printf %s "$1"', 'sh', Buffer.from([0xff, 0xfe, 0x0a, 0x41])], ['FOO=a=b']);
      fs.writeSync(2, 'returned');`,
      'stdin-pipe',
    );
    expect(r.status).toBe(0);
    const before = JSON.parse(r.stderr) as { sigIgn: string; fd0: string };
    expect(BigInt(`0x${before.sigIgn}`) & (1n << 12n)).toBe(1n << 12n); // Node ignores SIGPIPE ...
    const fd0Before = parseInt(/flags:\s*(\d+)/.exec(before.fd0)?.[1] ?? '0', 8);
    expect(fd0Before & 0o4000).toBe(0o4000); // ... set O_NONBLOCK ...
    expect(fd0Before & 0o2000000).toBe(0o2000000); // ... and marked it close-on-exec
    const text = r.stdout.toString('latin1').split('\n');
    expect(text.slice(0, 4)).toEqual(['SigBlk:\t0000000000000000', 'SigIgn:\t0000000000000000', expect.stringMatching(/^flags:\s+\d+$/), 'a=b']);
    expect(parseInt(/flags:\s*(\d+)/.exec(text[2] ?? '')?.[1] ?? '0', 8) & 0o4000).toBe(0);
    expect([...r.stdout.subarray(r.stdout.length - 4)]).toEqual([0xff, 0xfe, 0x0a, 0x41]);
  });

  it('throws the errno on failure and leaves Node as it was', () => {
    const ignBefore = status('SigIgn');
    const fdinfo = () => [0, 1, 2].map((fd) => /flags:\s*(\d+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))?.[1]);
    const fdsBefore = fdinfo();
    const e = thrown(() => n.execve('/nonexistent/ssc-test-program', ['x'], []));
    expect([e.message, e.code, e.syscall]).toEqual(['execve(/nonexistent/ssc-test-program): No such file or directory', 'ENOENT', 'execve']);
    expect(status('SigIgn')).toBe(ignBefore);
    expect(status('SigBlk')).toBe('0000000000000000');
    expect(fdinfo()).toEqual(fdsBefore); // FD_CLOEXEC and O_NONBLOCK back as they were
    expect(thrown(() => n.execve(scratch, [scratch], [])).code).toBe('EACCES');
  });
});

describe('argument validation in TypeScript, before C++', () => {
  const calls: string[] = [];
  const fake = new Proxy({} as Native, {
    get: (_t, name) => () => {
      calls.push(String(name));
    },
  });
  const withFake = (f: () => unknown) => {
    n.useNative(fake);
    try {
      return thrown(f);
    } finally {
      n.useNative(raw);
    }
  };
  const cases: [string, () => unknown, string, RegExp][] = [
    ['uid not a number', () => n.lookupUser('0' as unknown as number), 'ERR_INVALID_ARG_TYPE', /^lookupUser: uid must be a number, got a string$/],
    ['uid -1', () => n.lookupUser(-1), 'ERR_OUT_OF_RANGE', /uid must be an integer from 0 to 4294967294, got -1/],
    ['gid (uid_t)-1', () => n.groupList('root', 0xffffffff), 'ERR_OUT_OF_RANGE', /gid must be an integer/],
    ['lookupUser(NaN)', () => n.lookupUser(NaN), 'ERR_OUT_OF_RANGE', /^lookupUser: uid must be/],
    ['groupList empty name', () => n.groupList('', 0), 'ERR_INVALID_ARG_VALUE', /name must be non-empty/],
    ['groupList NUL', () => n.groupList('ro\0ot', 0), 'ERR_INVALID_ARG_VALUE', /NUL/],
    ['getSeals(-1)', () => n.getSeals(-1), 'ERR_OUT_OF_RANGE', /^getSeals: fd must be an integer from 0 to 2147483647, got -1$/],
    ['setCloexec(1.5)', () => n.setCloexec(1.5), 'ERR_OUT_OF_RANGE', /fd must be an integer/],
    ['setDumpable(1)', () => n.setDumpable(1 as unknown as boolean), 'ERR_INVALID_ARG_TYPE', /dumpable must be a boolean/],
    ['execve empty path', () => n.execve('', [], []), 'ERR_INVALID_ARG_VALUE', /path must not be empty/],
    ['execve NUL in argv', () => n.execve('/bin/true', ['a\0b'], []), 'ERR_INVALID_ARG_VALUE', /argv\[0\] contains a NUL character/],
    ['execve NUL byte in env', () => n.execve('/bin/true', [], [Buffer.from([0x41, 0])]), 'ERR_INVALID_ARG_VALUE', /env\[0\] contains a NUL byte/],
    ['execve number in argv', () => n.execve('/bin/true', [1 as unknown as string], []), 'ERR_INVALID_ARG_TYPE', /argv\[0\] must be a string or a Uint8Array/],
    ['execve env not an array', () => n.execve('/bin/true', [], 'A=1' as unknown as string[]), 'ERR_INVALID_ARG_TYPE', /env must be an array/],
  ];
  for (const [what, f, code, message] of cases) {
    it(`rejects ${what} without calling the addon`, () => {
      calls.length = 0;
      const e = withFake(f);
      expect(e).toBeInstanceOf(code === 'ERR_OUT_OF_RANGE' ? RangeError : TypeError);
      expect(e.code).toBe(code);
      expect(e.message).toMatch(message);
      expect(calls).toEqual([]);
    });
  }

  it('the addon checks again when called directly', () => {
    expect(thrown(() => raw.getSeals(-1)).message).toBe('fd must be an integer from 0 to 2147483647');
    expect(thrown(() => raw.lookupUser(0xffffffff)).message).toBe('uid must be an integer from 0 to 4294967294');
    expect(thrown(() => raw.execve('/bin/true', ['a\0b'], [])).message).toBe('argv[0] contains a NUL byte');
    expect(thrown(() => raw.groupList('root', -2)).message).toBe('gid must be an integer from 0 to 4294967294');
    expect(thrown(() => (raw.getCredentials as (x: number) => unknown)(1)).message).toBe('usage: getCredentials()');
    expect(thrown(() => raw.groupList(5 as unknown as string, 0))).toBeInstanceOf(TypeError);
  });
});

describe('closeInBackground', () => {
  it('closes every descriptor it is given, off the calling thread', () => {
    const r = inChild(`
      const open = () => fs.readdirSync('/proc/self/fd').length;
      const a = fs.openSync('/dev/null', 'r'), b = fs.openSync('/dev/null', 'r');
      const before = open();
      native.closeInBackground([a, b]);
      const until = Date.now() + 2000;
      while (open() > before - 2 && Date.now() < until);
      out(before - open());
      // The control: what is not given stays open.
      const c = fs.openSync('/dev/null', 'r');
      native.closeInBackground([]);
      out(fs.readdirSync('/proc/self/fd').includes(String(c)));`);
    expect(r.stderr).toBe('');
    expect(r.lines.map((l) => JSON.parse(l) as unknown)).toEqual([2, true]);
  });
  it('checks its argument', () => {
    expect(thrown(() => raw.closeInBackground('3' as unknown as number[])).message).toMatch(/fds must be an array/);
  });
});
