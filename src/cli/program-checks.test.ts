import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROFILES } from '../plan/profiles.js';
import { checkProgram, privilegeNeed, programFacts, refusal, snapExecTarget, type Caller, type ProgramFacts } from './program-checks.js';

const caller: Caller = { uid: 1000, gid: 1000, groups: [1000, 27] };
const plain: ProgramFacts = { path: '/usr/bin/true', realPath: '/usr/bin/true', mode: 0o100755, uid: 0, gid: 0, scriptExecsSnap: null };
const facts = (o: Partial<ProgramFacts>): ProgramFacts => ({ ...plain, ...o });

describe('privilegeNeed', () => {
  it('is null for an ordinary program', () => {
    expect(privilegeNeed(plain, caller)).toBeNull();
  });

  it('names a setuid program and its owner', () => {
    expect(privilegeNeed(facts({ path: '/usr/bin/sudo', mode: 0o104755 }), caller)).toBe('is setuid root');
    expect(privilegeNeed(facts({ mode: 0o104755, uid: 5 }), caller)).toBe('is setuid to uid 5');
  });

  it('names a setgid program, but only with group execute (otherwise the bit means no setgid)', () => {
    expect(privilegeNeed(facts({ path: '/usr/bin/crontab', mode: 0o102755, gid: 107 }), caller)).toBe('is setgid to group 107');
    expect(privilegeNeed(facts({ mode: 0o102745, gid: 107 }), caller)).toBeNull();
  });

  it('does not count a set-id bit to an id the caller already has', () => {
    expect(privilegeNeed(facts({ mode: 0o104755, uid: 1000 }), caller)).toBeNull();
    expect(privilegeNeed(facts({ mode: 0o102755, gid: 1000 }), caller)).toBeNull();
    expect(privilegeNeed(facts({ mode: 0o102755, gid: 27 }), caller)).toBeNull();
  });

  it('recognises snaps: under /snap/bin/, resolving to /usr/bin/snap, or a script that execs one', () => {
    const snap = 'is a snap, which starts through the setuid snap-confine';
    expect(privilegeNeed(facts({ path: '/snap/bin/firefox', realPath: '/usr/bin/snap' }), caller)).toBe(snap);
    expect(privilegeNeed(facts({ path: '/snap/bin/firefox', realPath: null }), caller)).toBe(snap);
    expect(privilegeNeed(facts({ path: '/snap/bin/../bin/x', realPath: null }), caller)).toBe(snap);
    expect(privilegeNeed(facts({ path: '/home/me/bin/ff', realPath: '/usr/bin/snap' }), caller)).toBe(snap);
    expect(privilegeNeed(facts({ path: '/usr/bin/firefox', scriptExecsSnap: '/snap/bin/firefox' }), caller)).toBe(
      'runs the snap /snap/bin/firefox, which starts through the setuid snap-confine',
    );
    expect(privilegeNeed(facts({ path: '/snapx/bin/firefox', realPath: '/snapx/bin/firefox' }), caller)).toBeNull();
  });
});

describe('refusal', () => {
  it('refuses under strict in one line that names the cause and suggests relaxed', () => {
    expect(refusal(facts({ path: '/usr/bin/sudo', mode: 0o104755 }), PROFILES.strict, caller)).toBe(
      '/usr/bin/sudo is setuid root, and the strict profile forbids gaining privileges (NoNewPrivileges); run it with --isolation=relaxed',
    );
  });
  it('lets everything run under relaxed', () => {
    for (const f of [facts({ mode: 0o104755 }), facts({ path: '/snap/bin/firefox' }), facts({ scriptExecsSnap: '/snap/bin/x' })])
      expect(refusal(f, PROFILES.relaxed, caller)).toBeNull();
  });
  it('lets an ordinary program run under strict', () => {
    expect(refusal(plain, PROFILES.strict, caller)).toBeNull();
  });
});

describe('snapExecTarget', () => {
  it("finds Ubuntu's wrapper hand-over to the snap", () => {
    const ubuntu = [
      '#!/bin/sh',
      'if ! [ -x /snap/bin/firefox ]; then',
      '    echo "Command \'$0\' requires the firefox snap to be installed." >&2',
      '    exit 1',
      'fi',
      'exec /snap/bin/firefox "$@"',
      '',
    ].join('\n');
    expect(snapExecTarget(ubuntu)).toBe('/snap/bin/firefox');
    expect(snapExecTarget('#!/bin/sh\nGNOME_ACCESSIBILITY=1 exec /snap/bin/firefox "$@"\n')).toBe('/snap/bin/firefox');
    expect(snapExecTarget('#!/bin/bash\n  exec "/snap/bin/chromium" "$@"\n')).toBe('/snap/bin/chromium');
  });
  it('ignores binaries, comments, and scripts that only mention /snap/bin', () => {
    expect(snapExecTarget('\x7fELF exec /snap/bin/firefox')).toBeNull();
    expect(snapExecTarget('#!/bin/sh\n# exec /snap/bin/firefox "$@"\nexec /usr/lib/firefox/firefox "$@"\n')).toBeNull();
    expect(snapExecTarget('#!/bin/sh\nif [ -x /snap/bin/firefox ]; then echo snap; fi\nexec firefox-esr\n')).toBeNull();
    expect(snapExecTarget('#!/bin/sh\nexecute /snap/bin/x\n')).toBeNull();
  });
});

describe('programFacts and checkProgram on real files', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ssc-program-checks-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reads mode, owner and the real path through a symlink', () => {
    const prog = path.join(dir, 'prog');
    fs.writeFileSync(prog, '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    fs.symlinkSync(prog, path.join(dir, 'link'));
    const f = programFacts(path.join(dir, 'link'));
    expect(f).toMatchObject({
      path: path.join(dir, 'link'),
      realPath: fs.realpathSync(prog),
      uid: process.getuid?.(),
      scriptExecsSnap: null,
    });
    expect(f.mode & 0o7777).toBe(0o755);
  });

  it('counts a script that execs a snap launcher only when that launcher exists', () => {
    const prog = path.join(dir, 'wrapper');
    fs.writeFileSync(prog, '#!/bin/sh\nexec /snap/bin/ssc-test-no-such-snap "$@"\n', { mode: 0o755 });
    expect(programFacts(prog).scriptExecsSnap).toBeNull();
  });

  it('finds a setuid file the caller does not own (when one is installed) and never throws for a vanished one', () => {
    const me = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, groups: process.getgroups?.() ?? [] };
    expect(checkProgram(path.join(dir, 'vanished'), PROFILES.strict, me)).toBeNull();
    const su = ['/bin/su', '/usr/bin/su', '/usr/bin/passwd'].find((p) => fs.existsSync(p) && fs.statSync(p).mode & 0o4000);
    if (su && me.uid !== 0) expect(checkProgram(su, PROFILES.strict, me)).toMatch(/is setuid root/);
    if (su) expect(checkProgram(su, PROFILES.strict, { uid: 4242, gid: 4242, groups: [] })).toMatch(/is setuid root/);
    if (su) expect(checkProgram(su, PROFILES.relaxed, { uid: 4242, gid: 4242, groups: [] })).toBeNull();
  });
});
