import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bed } from '../bed/bed.js';
import { bedCgroup, bedSkipReason, getBed } from '../bed/index.js';
import { Tmux } from '../bed/tmux.js';
import { SSC_BIN, TEST_USERS } from '../bed/users.js';

const skip = bedSkipReason();
const HOME = '/home/sscalice';
/** A program that asks for far more than the test's cap: the kernel's victim. */
const HOG = 'python3 -c "b = bytearray(400 * 1024 * 1024)"';

describe.skipIf(skip)(`a program that runs out of memory${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let bed: Bed;
  /** What the kernel said of its OOM kills: which process, in which cgroup, and whether the reaper got to it. */
  const kernelOomLog = async () =>
    (await bed.run(['sh', '-c', "dmesg | grep -E 'oom|Killed process|reap|Memory cgroup' | tail -n 40"])).stdout;
  const capsFor = async (unit: string, max: string) => {
    const r = await bed.run(['systemctl', 'set-property', '--runtime', unit, `MemoryMax=${max}`, 'MemorySwapMax=0']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
  };
  const vmstatOomKills = async () => Number(/^oom_kill (\d+)$/m.exec((await bed.run(['cat', '/proc/vmstat'])).stdout)?.[1]);
  beforeAll(async () => {
    bed = getBed();
    // Cheap: cap all contained programs together at 64 MiB for this test only.
    await capsFor('ssc.slice', '64M');
  });
  afterAll(async () => {
    await bed.run(['systemctl', 'revert', 'ssc.slice']);
    await bed.run(['systemctl', 'daemon-reload']);
  });

  it('is killed, ssc --wait exits 137 and says it ran out of memory', async () => {
    const r = await bed.run([SSC_BIN, '--no-tty', '--wait', 'python3', '-c', 'b = bytearray(400 * 1024 * 1024); print("survived")'], {
      user: 'sscalice',
    });
    expect(r.code).toBe(137);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^ssc: python3 was killed: out of memory[^\n]*\n$/);
  });

  // The app lives on a moment after the kill: a waiting ssc reads the unit's count when the kernel
  // signals it, or within 250 ms, and an app that ends sooner may end before (README).
  it('loses only the process the kernel killed: the rest of the app runs on, and ssc --wait says a process of it was killed', async () => {
    const r = await bed.run([SSC_BIN, '--no-tty', '--wait', 'sh', '-c', `${HOG}; s=$?; sleep 2; echo "survived $s"`], { user: 'sscalice' });
    expect(r).toMatchObject({ code: 0, stdout: 'survived 137\n' });
    // sh says "Killed" of its foreground job itself, before or after ssc reads the count.
    expect(r.stderr.split('\n').sort()).toEqual(['', 'Killed', 'ssc: a process of sh was killed for memory (1 so far)']);
    // The control: the same program in the same slice under systemd's default (OOMPolicy=stop) loses
    // the whole unit on cgroup v2, where systemd hears of the kill (within the 2 s). On v1 it never does.
    const control = await bed.run([
      'systemd-run', '--quiet', '--wait', '--pipe', '--slice=ssc.slice', '-p', 'OOMPolicy=stop', '-p', 'User=sscalice',
      'sh', '-c', `${HOG}; s=$?; sleep 2; echo "survived $s"`,
    ]); // prettier-ignore
    if (bedCgroup() === 'v2') {
      expect(control.stdout).toBe('');
      expect(control.code).not.toBe(0);
    } else expect(control.stdout).toBe('survived 137\n');
  });

  it('a program killed by SIGKILL for another reason is not called out of memory', async () => {
    const r = await bed.run([SSC_BIN, '--no-tty', '--wait', 'sh', '-c', 'kill -KILL $$'], { user: 'sscalice' });
    expect(r.code).toBe(137);
    expect(r.stderr).toBe('');
  });

  // The waiting app is sscbob's and the cap that bites is sscalice's own slice (ssc-UID.slice): each
  // user's slice is its own OOM domain, so bob's app can only die of the SIGKILL it sends itself
  // (under the shared cap of ssc.slice the kernel once took a process of it as a second victim
  // while python3 still gave its memory back, Debian 13 VM).
  it("a program killed by SIGKILL while another app is killed for memory is not called out of memory: its unit's own count says", async () => {
    const go = `/home/sscbob/oom-go`;
    const hogGo = `${HOME}/oom-hog-go`;
    const aliceSlice = `ssc-${TEST_USERS.sscalice.uid}.slice`;
    await bed.run(['rm', '-f', go, hogGo]);
    await capsFor('ssc.slice', '512M');
    const waiting = bed.run(
      [
        SSC_BIN,
        '--isolation=relaxed',
        '--no-tty',
        '--wait',
        'sh',
        '-c',
        `echo up; while [ ! -e ${go} ]; do sleep 0.05; done; kill -KILL $$`,
      ],
      { user: 'sscbob' },
    );
    try {
      const before = await vmstatOomKills();
      const hogRun = bed.run(
        [SSC_BIN, '--no-tty', '--wait', 'python3', '-c', `import os,sys,time; [time.sleep(0.05) for _ in iter(lambda: os.path.exists(sys.argv[1]), True)]; b = bytearray(400 << 20)`, hogGo],
        { user: 'sscalice' },
      ); // prettier-ignore
      let loaded = '';
      for (let i = 0; i < 200 && loaded !== 'loaded'; i++) {
        loaded = (await bed.run(['systemctl', 'show', '-p', 'LoadState', '--value', aliceSlice])).stdout.trim();
        if (loaded !== 'loaded' || (await bed.run(['systemctl', 'list-units', '--no-legend', 'app-ssc-python3@*'])).stdout === '') {
          loaded = '';
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      expect(loaded, `${aliceSlice} and python3's unit never both showed`).toBe('loaded');
      await capsFor(aliceSlice, '64M');
      await bed.run(['touch', hogGo], { user: 'sscalice' });
      const hog = await hogRun;
      expect(hog.code).toBe(137);
      expect(hog.stderr).toMatch(/^ssc: python3 was killed: out of memory/);
      // The control: the kernel's counter rose meanwhile, which is all ssc went by before (and still
      // does, polled on v1, for the last poll interval before a unit ends: so the kill waits that long).
      expect(await vmstatOomKills()).toBeGreaterThan(before);
      await new Promise((r) => setTimeout(r, 600));
    } finally {
      await bed.run(['touch', go], { user: 'sscbob' });
    }
    const r = await waiting;
    await bed.run(['rm', '-f', go, hogGo]);
    await bed.run(['systemctl', 'revert', aliceSlice]);
    await capsFor('ssc.slice', '64M');
    expect(r).toMatchObject({ code: 137, stdout: 'up\n', stderr: '' });
  });

  // The cap that bites is the tab's own, set on its scope: under the shared 64 MiB of the slice, what
  // earlier units left charged to it (page cache moves up to the slice when their cgroup goes) once
  // made the kernel take the shell as a second victim (Debian 12 VM, full run; README).
  // Under emulation the kernel has also taken the shell, as a second victim within the scope's cap
  // while python3 still gave its memory back (Debian 13 VM, ci-27: "ssc-tab invoked oom-killer"
  // 7 ms after the first kill): what ssc and the scope do about one kill is what is tested, so such a
  // run is tried again, in a new tab, at most twice, and shown if it fails.
  it('a terminal tab loses only the command the kernel killed: the shell goes on in its scope, and the tab says so', async () => {
    const tmux = new Tmux(bed, 'sscalice');
    try {
      let scope = '';
      let failure = '';
      for (let attempt = 0; attempt < 3; attempt++) {
        const tab = `o${attempt}`;
        await tmux.start(tab, `${SSC_BIN} -isolation=relaxed /bin/bash -i`, { width: 120, height: 30 });
        await tmux.waitFor(tab, /[$] *$/m);
        await tmux.line(tab, 'echo "CG:$(grep -o "app-ssc-bash-[0-9a-f]*\\.scope" /proc/self/cgroup | tail -1)"');
        scope = /^CG:(app-ssc-bash-[0-9a-f]{16}\.scope)/m.exec(await tmux.waitFor(tab, /^CG:app-ssc.*$/m))?.[1] as string;
        expect(scope).toBeDefined();
        await capsFor(scope, '64M');
        await capsFor('ssc.slice', '512M');
        const before = await vmstatOomKills();
        await tmux.line(tab, `${HOG}; echo "STATUS:$?"`);
        const done = await tmux.waitFor(tab, /^STATUS:137$/m, 60_000).then(
          () => '',
          async (e: Error) => `${e.message}\nthe kernel's log of it:\n${await kernelOomLog()}`,
        );
        if (done === '') {
          // Said as soon as ssc-tab reads the count: at once on v2, within 250 ms on v1 (after the prompt, then).
          await tmux.waitFor(tab, /ssc: a process of \/bin\/bash was killed for memory \(1 so far\)$/m);
          failure = '';
          break;
        }
        failure = done;
        // Only a run where the kernel killed more than the one process is tried again.
        if ((await vmstatOomKills()) - before < 2) break;
      }
      if (failure !== '') throw new Error(failure);
      const state = await bed.run(['systemctl', 'show', '-p', 'ActiveState', '-p', 'OOMPolicy', '-p', 'MemoryMax', scope]);
      expect(state.stdout).toMatch(/^ActiveState=active$/m);
      expect(state.stdout).toMatch(/^OOMPolicy=continue$/m);
      expect(state.stdout).toMatch(/^MemoryMax=67108864$/m);
    } finally {
      await tmux.killServer();
      await capsFor('ssc.slice', '64M');
    }
  }, 240_000);

  // As in the test before, the cap that bites is the tab's own scope's: what earlier units left
  // charged to the shared 64 MiB of the slice made the kernel take ssc-tab as well as python3 in the
  // Debian 12 VM's full run (landing CI of 83a3212, all three tries). So python3 waits for a file
  // until its scope is capped, and the slice has room.
  it("a tab's program killed for memory is named on the terminal; one killed by SIGKILL for another reason is not", async () => {
    const tmux = new Tmux(bed, 'sscalice');
    const go = `${HOME}/oom-tab-go`;
    const gatedHog = `python3 -c "import os,sys,time; [time.sleep(0.05) for _ in iter(lambda: os.path.exists(sys.argv[1]), True)]; b = bytearray(400 << 20)" ${go}`;
    const tried: string[] = [];
    const scopeNow = async () =>
      (await bed.run(['systemctl', 'list-units', '--no-legend', '--plain', 'app-ssc-python3-*.scope'])).stdout
        .split('\n')
        .map((line) => line.split(' ')[0] ?? '')
        .find((unit) => unit.endsWith('.scope') && !tried.includes(unit)) ?? '';
    try {
      await capsFor('ssc.slice', '512M');
      // Under emulation the kernel has been seen to take ssc-tab too, as a second victim while python
      // still gave its memory back (the shell then says "Killed"): what ssc says of one kill is
      // what is tested, so such a run is tried again, at most twice, and shown if it fails.
      let screen = '';
      for (let attempt = 0; attempt < 3; attempt++) {
        await bed.run(['rm', '-f', go]);
        const before = await vmstatOomKills();
        await tmux.start(`p${attempt}`, `sh -c '${SSC_BIN} -isolation=relaxed ${gatedHog}; echo "STATUS:$?"; sleep 300'`, {
          width: 120,
          height: 30,
        });
        let scope = '';
        for (let i = 0; i < 200 && !scope.endsWith('.scope'); i++) {
          scope = await scopeNow();
          if (!scope.endsWith('.scope')) await new Promise((r) => setTimeout(r, 50));
        }
        expect(scope).toMatch(/^app-ssc-python3-[0-9a-f]{16}\.scope$/);
        tried.push(scope);
        await capsFor(scope, '64M');
        await bed.run(['touch', go], { user: 'sscalice' });
        screen = await tmux.waitFor(`p${attempt}`, /^STATUS:\d+$/m, 60_000);
        if ((await vmstatOomKills()) - before === 1) break;
        screen += `\n(the kernel killed more than one process; its log:)\n${await kernelOomLog()}`;
      }
      expect(screen).toMatch(/^ssc: python3 was killed: out of memory\nSTATUS:137$/m);
      // The control: the same death without the kernel's OOM killer says nothing.
      await tmux.start('q', `sh -c '${SSC_BIN} -isolation=relaxed sh -c "kill -KILL \\$\\$"; echo "STATUS:$?"; sleep 300'`, {
        width: 120,
        height: 30,
      });
      const plain = await tmux.waitFor('q', /^STATUS:\d+$/m, 60_000);
      expect(plain.trim()).toBe('STATUS:137');
    } finally {
      await tmux.killServer();
      await bed.run(['rm', '-f', go]);
      await capsFor('ssc.slice', '64M');
    }
  }, 240_000);
});
