/**
 * Signals only from systemd. Anyone on the system bus may send a unicast
 * signal to any connection, and match rules do not filter unicast signals: a
 * second user could tell a waiting ssc that its program ended with a status
 * of their choosing, or give it another "main PID" for the Ctrl-C it forwards.
 * ssc accepts PropertiesChanged and JobRemoved only from the current owner of
 * org.freedesktop.systemd1 (followed through NameOwnerChanged, so a
 * daemon-reexec during a --wait keeps working: unit-file.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bed } from '../bed/bed.js';
import { bedSkipReason, getBed } from '../bed/index.js';
import { SSC_BIN, TEST_USERS } from '../bed/users.js';
import { unitObjectPath } from '../../src/plan/unit-name.js';

const skip = bedSkipReason();
const alice = TEST_USERS.sscalice;

describe.skipIf(skip)(`forged D-Bus signals${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let bed: Bed;
  const dir = `${alice.home}/forged`;
  beforeAll(async () => {
    bed = getBed();
    expect((await bed.run(['mkdir', '-p', dir], { user: 'sscalice' })).code).toBe(0);
  });
  afterAll(async () => {
    await bed?.sh(`pkill -u ${alice.uid} -x sleep; rm -rf ${dir}`);
  });

  async function until(what: string, test: () => Promise<boolean>): Promise<void> {
    for (let i = 0; !(await test()); i++) {
      if (i > 600) throw new Error(`timed out waiting for ${what}`);
      await new Promise((res) => setTimeout(res, 50));
    }
  }

  it("a second user's unicast signals change neither a waiting ssc's exit status nor where its Ctrl-C goes", async () => {
    // A process of alice's that a forged MainPID would make ssc signal.
    const sentinel = bed.run(['sh', '-c', `echo $$ > ${dir}/sentinel; exec sleep 300`], { user: 'sscalice', timeoutMs: 120_000 });
    const script = [
      `${SSC_BIN} --no-tty --wait sh -c "trap 'exit 42' TERM; echo up > ${dir}/up; while :; do sleep 0.1; done" 2>${dir}/err &`,
      'pid=$!',
      `while [ ! -e ${dir}/go ]; do sleep 0.05; done`,
      'kill -TERM $pid; echo "alive=$?"',
      'wait $pid; echo "status=$?"',
    ].join('\n');
    const run = bed.sh(script, { user: 'sscalice', timeoutMs: 120_000 });
    await until('the program', async () => (await bed.run(['test', '-s', `${dir}/up`])).code === 0);
    await until('the sentinel', async () => (await bed.run(['test', '-s', `${dir}/sentinel`])).code === 0);
    const sentinelPid = (await bed.run(['cat', `${dir}/sentinel`])).stdout.trim();
    const unit = (await bed.run(['systemctl', 'list-units', '--no-legend', '--plain', 'app-ssc-sh@*'])).stdout.split(' ')[0] as string;
    expect(unit).toMatch(/^app-ssc-sh@[0-9a-f]{16}\.service$/);
    // bob finds alice's connections to the system bus, as any user can, and sends each of them the lie.
    const list = await bed.run(['busctl', 'list', '--no-legend', '--unique'], { user: 'sscbob' });
    const victims = list.stdout
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f[3] === alice.name)
      .map((f) => f[0] as string);
    expect(victims.length).toBeGreaterThan(0);
    for (const v of victims) {
      const sent = await bed.run(
        [
          'busctl', 'emit', `--destination=${v}`, unitObjectPath(unit), 'org.freedesktop.DBus.Properties', 'PropertiesChanged',
          'sa{sv}as', 'org.freedesktop.systemd1.Service', '5',
          'ActiveState', 's', 'inactive', 'Result', 's', 'success', 'ExecMainCode', 'i', '1', 'ExecMainStatus', 'i', '99',
          'MainPID', 'u', sentinelPid, '0',
        ], // prettier-ignore
        { user: 'sscbob' },
      );
      expect(sent.code, sent.stderr).toBe(0);
      // And a forged end of a start job, with the job path systemd would use next.
      await bed.run(
        ['busctl', 'emit', `--destination=${v}`, '/org/freedesktop/systemd1', 'org.freedesktop.systemd1.Manager', 'JobRemoved',
          'uoss', '1', '/org/freedesktop/systemd1/job/1', unit, 'done'], // prettier-ignore
        { user: 'sscbob' },
      );
    }
    // The waiting ssc heard the lie (it says so: the signal did arrive) and did not believe it: it still waits.
    await until(
      'ssc to hear the forged signal',
      async () => (await bed.run(['grep', '-q', 'ignored a D-Bus signal', `${dir}/err`])).code === 0,
    );
    await bed.run(['touch', `${dir}/go`], { user: 'sscalice' });
    const r = await run;
    expect(r.stdout).toBe('alive=0\nstatus=42\n');
    const lines = (await bed.run(['cat', `${dir}/err`])).stdout.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^ssc: ignored a D-Bus signal about your program from :\d+\.\d+, which is not systemd/);
    // The Ctrl-C (here SIGTERM) went to the program, not to the forged main PID.
    expect((await bed.run(['kill', '-0', sentinelPid])).code).toBe(0);
    await bed.run(['kill', sentinelPid]);
    await sentinel;
  });
});
