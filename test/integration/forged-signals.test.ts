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
import { bedSkipReason, brokerPid, busNamesOf, getBed } from '../bed/index.js';
import { REPO_ROOT } from '../bed/local.js';
import { SSC_BIN, TEST_USERS } from '../bed/users.js';
import { unitObjectPath } from '../../src/plan/unit-name.js';

const skip = bedSkipReason();
const alice = TEST_USERS.sscalice;
const RAW = `${REPO_ROOT}/test/bed/raw-dbus.py`;
const FAKE = `${REPO_ROOT}/test/bed/fake-launcher.py`;

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

  it("a second user's 30 MiB signal and 64 descriptors sent to the broker's bus connection cost it neither memory nor descriptors; a plain root client takes them all (control)", async () => {
    // A start in progress keeps the broker's root bus connection open: a stand-in launcher
    // that said "launch" and then holds.
    const hold = bed.run(['/usr/bin/python3', FAKE, String(alice.uid), String(alice.gid), 'hold'], { timeoutMs: 120_000 });
    try {
      let pid = 0;
      let victim = '';
      // Counted once the broker serves the stand-in (its pidfd is open): a broker still up from the
      // test before is on the bus at once, and the stand-in's descriptors came after the count.
      await until('the broker on the bus, serving the stand-in', async () => {
        pid = await brokerPid(bed);
        victim = (await busNamesOf(bed, pid, 'sscbob'))[0] ?? '';
        return victim !== '' && (await bed.sh(`ls -l /proc/${pid}/fd | grep -c 'anon_inode:\\[pidfd\\]'`)).stdout.trim() === '1';
      });
      const fdsBefore = Number((await bed.sh(`ls /proc/${pid}/fd | wc -l`)).stdout.trim());
      // bob finds it as anyone can (busctl list shows the PID) and sends it what a decoder chokes on.
      const big = await bed.run(['/usr/bin/python3', RAW, 'big', victim, '30'], { user: 'sscbob', timeoutMs: 60_000 });
      expect(big.stdout, big.stderr).toBe(`sent ${30 * 1024 * 1024} bytes\n`);
      const fds = await bed.run(['/usr/bin/python3', RAW, 'fds', victim, '4'], { user: 'sscbob', timeoutMs: 60_000 });
      expect(fds.stdout, fds.stderr).toBe('sent 64 fds\n');
      // What it costs the broker shows within seconds: the old reader took 0.9 s and 425 MiB to
      // decode half as much, and died past its MemoryMax. Watched for 5 s: same process, little memory.
      const watchUntil = Date.now() + 5000;
      let hwm = 0;
      while (Date.now() < watchUntil) {
        expect(await brokerPid(bed)).toBe(pid);
        const status = (await bed.run(['cat', `/proc/${pid}/status`])).stdout;
        hwm = Number(/^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1]);
        expect(hwm).toBeLessThan(200 * 1024);
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(hwm).toBeGreaterThan(0);
      // Descriptors the kernel handed over with a message still being read may be open a moment: none may stay.
      const fdList = async () => (await bed.sh(`ls -l /proc/${pid}/fd | awk 'NR > 1 { print $NF }'`)).stdout.trim().split('\n');
      let fdsAfter = await fdList();
      for (let i = 0; fdsAfter.length > fdsBefore && i < 100; i++) {
        await new Promise((r) => setTimeout(r, 100));
        fdsAfter = await fdList();
      }
      expect(fdsAfter.length, fdsAfter.join(' ')).toBeLessThanOrEqual(fdsBefore);
      // And on the very connection bob attacked: not closed and opened again.
      expect(await busNamesOf(bed, pid)).toEqual([victim]);
      // And alice's launches go on.
      expect((await bed.run([SSC_BIN, '--no-tty', '--wait', 'true'], { user: 'sscalice' })).code).toBe(0);
    } finally {
      await bed.run(['pkill', '-f', `${FAKE} ${alice.uid} ${alice.gid} hold`]);
      await hold;
    }
    // The control: the same from bob to a root client that takes whatever arrives.
    const listen = bed.sh(`/usr/bin/python3 ${RAW} listen 20 > /run/ssc-raw-listen.out`, { timeoutMs: 60_000 });
    try {
      let name = '';
      await until('the listener', async () => {
        name = (await bed.run(['head', '-1', '/run/ssc-raw-listen.out'])).stdout.trim();
        return name !== '';
      });
      expect((await bed.run(['/usr/bin/python3', RAW, 'big', name, '30'], { user: 'sscbob', timeoutMs: 60_000 })).code).toBe(0);
      expect((await bed.run(['/usr/bin/python3', RAW, 'fds', name, '4'], { user: 'sscbob', timeoutMs: 60_000 })).code).toBe(0);
      await listen; // it ends 2 s after the last byte
    } finally {
      await bed.run(['pkill', '-f', `${RAW} listen`]);
    }
    const got = /^got (\d+) bytes (\d+) fds$/m.exec((await bed.run(['cat', '/run/ssc-raw-listen.out'])).stdout);
    await bed.run(['rm', '-f', '/run/ssc-raw-listen.out']);
    expect(Number(got?.[1])).toBeGreaterThan(30 * 1024 * 1024);
    expect(Number(got?.[2])).toBe(64);
  });
});
