/**
 * `ssc logs`: sscalice reads her own app's journal, of both managers, as
 * herself through journalctl; sscbob, asking for the same app, does not see
 * it. The bed's journal is made persistent first (Storage=persistent), as on a
 * desktop: only then does journald keep a file of each user's own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bed } from '../bed/bed.js';
import { bedSkipReason, getBed, startUserManager } from '../bed/index.js';
import { SSC_BIN, TEST_USERS } from '../bed/users.js';

const skip = bedSkipReason();
const alice = TEST_USERS.sscalice;
const ENV = { XDG_RUNTIME_DIR: `/run/user/${alice.uid}`, DBUS_SESSION_BUS_ADDRESS: `unix:path=/run/user/${alice.uid}/bus` };
const DROPIN_DIR = '/run/systemd/journald.conf.d';
const NOTE =
  "ssc: shown: your app's own output, where the journal keeps your own file (a persistent journal, /var/log/journal); systemd's lines about the unit need the adm or systemd-journal group\n";

describe.skipIf(skip)(`ssc logs: your app's journal, as you${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let bed: Bed;
  const logs = (who: 'sscalice' | 'sscbob', ...args: string[]) =>
    bed.run([SSC_BIN, 'logs', ...args], { user: who, env: who === 'sscalice' ? ENV : {} });
  /** Waits until `who`'s `ssc logs` shows `marker`; returns its last run. */
  const until = async (who: 'sscalice' | 'sscbob', marker: string, ...args: string[]) => {
    let r = await logs(who, ...args);
    const deadline = Date.now() + 20_000;
    while (!r.stdout.includes(marker) && Date.now() < deadline) {
      await new Promise((res) => setTimeout(res, 100));
      r = await logs(who, ...args);
    }
    return r;
  };

  beforeAll(async () => {
    bed = getBed();
    // The VMs' journal is volatile (scripts/vm/build-base.sh): persistent for these tests.
    const persistent = await bed.sh(
      `mkdir -p ${DROPIN_DIR} /var/log/journal && printf '[Journal]\\nStorage=persistent\\n' > ${DROPIN_DIR}/zz-ssc-test.conf && systemd-tmpfiles --create --prefix /var/log/journal && systemctl restart systemd-journald && journalctl --flush`,
    );
    expect(persistent, persistent.stderr).toMatchObject({ code: 0 });
    await startUserManager(bed, alice);
  });
  afterAll(async () => {
    await bed?.sh(`systemctl stop user@${alice.uid}.service; rm -f ${DROPIN_DIR}/zz-ssc-test.conf; systemctl restart systemd-journald`);
  });

  it('shows the output of your app of either manager, says in one line what it cannot show, and never shows another user it', async () => {
    const tag = `${Date.now()}`;
    expect((await bed.run([SSC_BIN, '--no-tty', 'sh', '-c', `echo system-marker-${tag}`], { user: 'sscalice' })).code).toBe(0);
    const user = await bed.run([SSC_BIN, '--manager=user', '--no-tty', 'sh', '-c', `echo user-marker-${tag}`], {
      user: 'sscalice',
      env: ENV,
    });
    expect(user.code).toBe(0);
    const r = await until('sscalice', `user-marker-${tag}`, 'sh', '--no-pager', '-o', 'cat');
    expect(r.stdout).toContain(`system-marker-${tag}\n`);
    expect(r.stdout).toContain(`user-marker-${tag}\n`);
    expect(r.stderr.startsWith(NOTE)).toBe(true);
    expect(r.code).toBe(0);
    // The control: bob asks for the same app by name and gets none of hers, though his own shows
    // (his ssc logs works); root, reading everything, sees hers.
    expect((await bed.run([SSC_BIN, '--no-tty', 'sh', '-c', `echo bob-marker-${tag}`], { user: 'sscbob' })).code).toBe(0);
    const theirs = await until('sscbob', `bob-marker-${tag}`, 'sh', '--no-pager', '-o', 'cat');
    expect(theirs.code).toBe(0);
    expect(theirs.stdout).toContain(`bob-marker-${tag}\n`);
    expect(theirs.stdout).not.toContain(`system-marker-${tag}`);
    expect(theirs.stdout).not.toContain(`user-marker-${tag}`);
    const root = await bed.run(['journalctl', '--no-pager', '-o', 'cat', '-u', 'app-ssc-sh@*.service']);
    expect(root.stdout).toContain(`system-marker-${tag}\n`);
  });

  it("passes journalctl's options through: -f follows until stopped, -n limits", async () => {
    const tag = `${Date.now()}`;
    for (const n of [1, 2, 3]) await bed.run([SSC_BIN, '--no-tty', 'sh', '-c', `echo follow-${tag}-${n}`], { user: 'sscalice' });
    await until('sscalice', `follow-${tag}-3`, 'sh', '--no-pager', '-o', 'cat');
    const last = await logs('sscalice', 'sh', '--no-pager', '-o', 'cat', '-n', '1');
    expect(last.stdout).toBe(`follow-${tag}-3\n`);
    const follow = await bed.run(['timeout', '2', SSC_BIN, 'logs', 'sh', '-f', '-n', '1', '-o', 'cat'], { user: 'sscalice' });
    // Still following when timeout ended it: journalctl's -f reached it.
    expect(follow.code).toBe(124);
    expect(follow.stdout).toBe(`follow-${tag}-3\n`);
  });

  it('a program named logs runs with ssc -- logs; an app name is escaped as in the unit names, so "my" is not "my-app"', async () => {
    const r = await bed.run([SSC_BIN, '--no-tty', '--wait', '--', 'logs'], { user: 'sscalice' });
    // There is no program called logs in the bed: ssc looked for one.
    expect(r.code).toBe(127);
    const tag = `${Date.now()}`;
    const script = `${alice.home}/my-app`;
    await bed.run(['sh', '-c', `printf '#!/bin/sh\\necho my-app-${tag}\\n' > ${script} && chmod 755 ${script}`], { user: 'sscalice' });
    expect((await bed.run([SSC_BIN, '--no-tty', script], { user: 'sscalice' })).code).toBe(0);
    const mine = await until('sscalice', `my-app-${tag}`, 'my-app', '--no-pager', '-o', 'cat');
    expect(mine.stdout).toContain(`my-app-${tag}\n`);
    // "my" would be app-ssc-my@…: none of my-app's lines; journalctl 252 refuses a pattern that
    // matches no unit it knows ("Failed to add filter for units"), later ones say there are none.
    const other = await logs('sscalice', 'my', '--no-pager', '-o', 'cat');
    expect(other.stdout).not.toContain(`my-app-${tag}`);
    expect([0, 1]).toContain(other.code);
    await bed.run(['rm', '-f', script]);
  });
});
