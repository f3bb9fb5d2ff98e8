import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bed } from '../bed/bed.js';
import { bedSkipReason, getBed, sscUnits } from '../bed/index.js';
import { SSC_BIN, TEST_USERS } from '../bed/users.js';

const skip = bedSkipReason();
const alice = TEST_USERS.sscalice;

const FAKE_SNAP = '/snap/bin/ssc-test-snap';
const WRAPPER = `${alice.home}/ssc-test-snap-wrapper`;

describe.skipIf(skip)(`programs that must gain privileges (setuid, setgid, snaps)${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let bed: Bed;
  let madeSnapDir = false;
  const ssc = (args: string[]) => bed.run([SSC_BIN, ...args], { user: 'sscalice' });

  beforeAll(async () => {
    bed = getBed();
    // A stand-in for a snap: its launcher under /snap/bin (snapd makes these symlinks to /usr/bin/snap,
    // which is not installed here), and a wrapper script like Ubuntu's /usr/bin/firefox that execs it.
    madeSnapDir = (await bed.run(['test', '-e', '/snap'])).code !== 0;
    await bed.sh(`mkdir -p /snap/bin && ln -sf /bin/true ${FAKE_SNAP}`);
    await bed.sh(`printf '#!/bin/sh\\nexec ${FAKE_SNAP} "$@"\\n' > ${WRAPPER} && chmod 755 ${WRAPPER} && chown sscalice: ${WRAPPER}`);
  });
  afterAll(async () => {
    if (!bed) return;
    await bed.run(['rm', '-f', FAKE_SNAP, WRAPPER]);
    if (madeSnapDir) await bed.run(['rm', '-rf', '/snap']);
  });

  it('strict refuses a setuid program in one line that names the cause, exits 126 and starts nothing', async () => {
    const setuid = (
      await bed.sh('for p in sudo passwd su pkexec; do p=$(command -v $p) && test -u "$p" && echo "$p"; done', { user: 'sscalice' })
    ).stdout
      .split('\n')
      .filter(Boolean);
    expect(setuid).toContain('/usr/bin/passwd');
    const before = await sscUnits(bed);
    for (const path of setuid) {
      const name = path.split('/').pop() as string;
      const r = await ssc(['--no-tty', '--wait', name, '--help']);
      expect(r.code, path).toBe(126);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe(
        `ssc: ${path} is setuid root, and the strict profile forbids gaining privileges (NoNewPrivileges); run it with --isolation=relaxed\n`,
      );
    }
    expect(await sscUnits(bed)).toEqual(before);
  });

  it('strict refuses a setgid program (chage, setgid shadow) the same way', async () => {
    const gid = (await bed.run(['stat', '-c', '%g', '/usr/bin/chage'])).stdout.trim();
    const r = await ssc(['--no-tty', '--wait', 'chage', '-l', 'sscalice']);
    expect(r).toMatchObject({ code: 126, stdout: '' });
    expect(r.stderr).toBe(
      `ssc: /usr/bin/chage is setgid to group ${gid}, and the strict profile forbids gaining privileges (NoNewPrivileges); run it with --isolation=relaxed\n`,
    );
    const relaxed = await ssc(['--isolation=relaxed', '--no-tty', '--wait', 'chage', '-l', 'sscalice']);
    expect(relaxed.code).toBe(0);
    expect(relaxed.stdout).toMatch(/^Last password change/);
  });

  it('relaxed runs a setuid program with its privileges: passwd -S reads /etc/shadow', async () => {
    const r = await ssc(['--isolation=relaxed', '--no-tty', '--wait', 'passwd', '-S']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^sscalice [LPN]P? /);
  });

  it('strict refuses a snap launcher under /snap/bin/ and a script that execs one; relaxed runs both', async () => {
    const before = await sscUnits(bed);
    const snap = await ssc(['--no-tty', '--wait', FAKE_SNAP]);
    expect(snap).toMatchObject({ code: 126, stdout: '' });
    expect(snap.stderr).toBe(
      `ssc: ${FAKE_SNAP} is a snap, which starts through the setuid snap-confine, and the strict profile forbids gaining privileges (NoNewPrivileges); run it with --isolation=relaxed\n`,
    );
    const wrapped = await ssc(['--no-tty', '--wait', WRAPPER]);
    expect(wrapped.code).toBe(126);
    expect(wrapped.stderr).toMatch(
      new RegExp(`^ssc: ${WRAPPER} runs the snap ${FAKE_SNAP}, which starts through the setuid snap-confine, [^\\n]*\\n$`),
    );
    expect(await sscUnits(bed)).toEqual(before);

    for (const p of [FAKE_SNAP, WRAPPER])
      expect(await ssc(['--isolation=relaxed', '--no-tty', '--wait', p]), p).toMatchObject({ code: 0, stderr: '' });
  });

  it('strict still runs an ordinary program, also one that names /snap/bin without exec-ing it', async () => {
    const r = await ssc(['--no-tty', '--wait', 'sh', '-c', 'test -x /snap/bin/ssc-test-snap && echo ok']);
    expect(r).toMatchObject({ code: 0, stdout: 'ok\n', stderr: '' });
  });
});
