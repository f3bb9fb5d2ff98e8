/**
 * Hearing it when a cap bites: sscalice's desktop (dunst, a real notification
 * server, on Xvfb and her session bus) shows a notification naming the app,
 * the cap that bit and what it used, sent by her own notifier (ssc-notify.service
 * in her user manager, started by ssc at the launch), for a GUI-mode app no
 * one waits on; and still after systemd reloads and re-executes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bed } from '../bed/bed.js';
import { bedCgroup, bedSkipReason, getBed, startUserManager } from '../bed/index.js';
import { SSC_BIN, TEST_USERS } from '../bed/users.js';

const skip = bedSkipReason();
const alice = TEST_USERS.sscalice;
const ENV = { XDG_RUNTIME_DIR: `/run/user/${alice.uid}`, DBUS_SESSION_BUS_ADDRESS: `unix:path=/run/user/${alice.uid}/bus` };
const DISPLAY = ':76';

interface Shown {
  summary: string;
  body: string;
}

describe.skipIf(skip)(`a desktop notification when a cap bites${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let bed: Bed;
  const asAlice = (cmd: string) => bed.run(['sh', '-c', cmd], { user: 'sscalice', env: { ...ENV, DISPLAY } });
  /** What dunst has shown (its history: shown, then closed). */
  const shown = async (): Promise<Shown[]> => {
    await asAlice('dunstctl close-all');
    const r = await asAlice('dunstctl history');
    expect(r.code, r.stderr).toBe(0);
    const h = JSON.parse(r.stdout) as { data: { summary: { data: string }; body: { data: string } }[][] };
    return (h.data[0] ?? []).map((n) => ({ summary: n.summary.data, body: n.body.data }));
  };
  const waitShown = async (match: RegExp, timeoutMs = 30_000): Promise<Shown> => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const hit = (await shown()).find((n) => match.test(`${n.summary}\n${n.body}`));
      if (hit) return hit;
      if (Date.now() > until) throw new Error(`no notification matched ${match}; shown: ${JSON.stringify(await shown())}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };
  const capsFor = async (unit: string, max: string) => {
    const r = await bed.run(['systemctl', 'set-property', '--runtime', unit, `MemoryMax=${max}`, 'MemorySwapMax=0']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
  };
  /**
   * A GUI-mode app (nobody waits on it) whose python3 asks for 400 MiB once `go` exists, then
   * leaves its status in `go`.status; its unit.
   */
  const hog = async (go: string, user: 'sscalice' | 'sscbob' = 'sscalice') => {
    await bed.run(['rm', '-f', go, `${go}.status`]);
    const r = await bed.run(
      [
        SSC_BIN, '--no-tty', '--verbose', '--isolation=relaxed', 'sh', '-c',
        `python3 -c "import os,sys,time; [time.sleep(0.05) for _ in iter(lambda: os.path.exists(sys.argv[1]), True)]; b = bytearray(400 << 20)" ${go}; echo $? > ${go}.status; sleep 60`,
      ],
      { user, env: user === 'sscalice' ? ENV : {} },
    ); // prettier-ignore
    expect(r.code).toBe(0);
    return /started (app-ssc-sh@[0-9a-f]{16}\.service)/.exec(r.stderr)?.[1] as string;
  };
  const notifierPid = async () =>
    (
      await bed.run(['systemctl', '--user', 'show', '-p', 'MainPID', '--value', 'ssc-notify.service'], { user: 'sscalice', env: ENV })
    ).stdout.trim();

  beforeAll(async () => {
    bed = getBed();
    await startUserManager(bed, alice);
    const x = await asAlice(
      `(Xvfb ${DISPLAY} -nolisten tcp -ac -screen 0 320x240x24 </dev/null >/dev/null 2>&1 &); for i in $(seq 100); do xdpyinfo -display ${DISPLAY} >/dev/null 2>&1 && exit 0; sleep 0.1; done; exit 1`,
    );
    expect(x.code, 'Xvfb never answered').toBe(0);
    const d = await asAlice(
      '(dunst </dev/null >/dev/null 2>&1 &); for i in $(seq 100); do dunstctl is-paused >/dev/null 2>&1 && exit 0; sleep 0.1; done; exit 1',
    );
    expect(d.code, 'dunst never answered').toBe(0);
  }, 60_000);
  afterAll(async () => {
    await bed.run(['systemctl', 'revert', 'ssc.slice']);
    await bed.run(['systemctl', 'daemon-reload']);
    await bed.sh('pkill -u sscalice dunst; pkill -u sscalice Xvfb; true');
    await bed.sh(`systemctl stop user@${alice.uid}.service`);
  });

  it("names the app, its own cap that bit and what it used, from the user's own notifier, for an app nobody waits on", async () => {
    const go = `${alice.home}/notify-go-1`;
    const unit = await hog(go);
    try {
      // The notifier is hers, started by that launch, in her user manager.
      const pid = await notifierPid();
      expect(Number(pid)).toBeGreaterThan(0);
      const status = (await bed.run(['cat', `/proc/${pid}/status`])).stdout;
      expect(status).toMatch(new RegExp(`^Uid:\\s+${alice.uid}\\s+${alice.uid}\\s+${alice.uid}\\s+${alice.uid}$`, 'm'));
      // The control: before the kill, nothing of it is shown.
      expect((await shown()).filter((n) => n.body.includes(unit))).toEqual([]);
      await capsFor(unit, '64M');
      await bed.run(['touch', go], { user: 'sscalice' });
      const n = await waitShown(new RegExp(unit.replace(/[.@]/g, '\\$&')));
      expect(n.summary).toBe('sh: a process killed for memory');
      expect(n.body).toMatch(
        new RegExp(
          `^The kernel killed a process of sh \\(${unit.replace(/[.@]/g, '\\$&')}, system manager\\): it reached its own memory cap of 64M, having used \\d[\\d.]*[KMG]\\. 1 so far\\.$`,
        ),
      );
    } finally {
      await bed.run(['systemctl', 'stop', unit]);
      await bed.run(['rm', '-f', go, `${go}.status`]);
    }
  }, 90_000);

  it('names the shared cap of the slice when that is what bit, and still works after daemon-reload and daemon-reexec of both managers', async () => {
    const go = `${alice.home}/notify-go-2`;
    await capsFor('ssc.slice', '64M');
    const unit = await hog(go);
    try {
      const pid = await notifierPid();
      expect(Number(pid)).toBeGreaterThan(0);
      expect((await bed.run(['systemctl', 'daemon-reload'])).code).toBe(0);
      expect((await bed.run(['systemctl', 'daemon-reexec'])).code).toBe(0);
      expect((await bed.run(['systemctl', '--user', 'daemon-reload'], { user: 'sscalice', env: ENV })).code).toBe(0);
      expect((await bed.run(['systemctl', '--user', 'daemon-reexec'], { user: 'sscalice', env: ENV })).code).toBe(0);
      // The same notifier, not one started again: it lived through all four.
      expect(await notifierPid()).toBe(pid);
      await bed.run(['touch', go], { user: 'sscalice' });
      const n = await waitShown(new RegExp(unit.replace(/[.@]/g, '\\$&')));
      expect(n.body).toContain('it reached the cap all contained apps share (ssc.slice, 64M)');
    } finally {
      await bed.run(['systemctl', 'stop', unit]);
      await bed.run(['rm', '-f', go, `${go}.status`]);
      await bed.run(['systemctl', 'revert', 'ssc.slice']);
    }
  }, 90_000);

  it("never tells her of another user's app killed for memory; her own, killed after it, she is told of", async () => {
    const bobGo = `/home/sscbob/notify-go-4`;
    const go = `${alice.home}/notify-go-4`;
    const bobs = await hog(bobGo, 'sscbob');
    const hers = await hog(go);
    try {
      await capsFor(bobs, '64M');
      await capsFor(hers, '64M');
      await bed.run(['touch', bobGo], { user: 'sscbob' });
      const killed = await bed.sh(`for i in $(seq 400); do [ -s ${bobGo}.status ] && exec cat ${bobGo}.status; sleep 0.05; done; exit 1`);
      expect(killed.stdout.trim(), "bob's python3 was not killed for memory").toBe('137');
      // The control: her own app's kill, after his, is shown; by then his would have been too.
      await bed.run(['touch', go], { user: 'sscalice' });
      await waitShown(new RegExp(hers.replace(/[.@]/g, '\\$&')));
      const all = await shown();
      expect(all.filter((n) => `${n.summary}${n.body}`.includes(bobs))).toEqual([]);
    } finally {
      await bed.run(['systemctl', 'stop', bobs, hers]);
      await bed.run(['rm', '-f', go, bobGo, `${go}.status`, `${bobGo}.status`]);
    }
  }, 90_000);

  it.skipIf(bedCgroup() !== 'v2')(
    'tells of an app of the user manager too (cgroup v2, where its caps are in effect)',
    async () => {
      const go = `${alice.home}/notify-go-3`;
      await bed.run(['rm', '-f', go]);
      const r = await bed.run(
      [
        SSC_BIN, '--manager=user', '--no-tty', '--verbose', '--isolation=relaxed', 'sh', '-c',
        `python3 -c "import os,sys,time; [time.sleep(0.05) for _ in iter(lambda: os.path.exists(sys.argv[1]), True)]; b = bytearray(400 << 20)" ${go}; sleep 60`,
      ],
      { user: 'sscalice', env: ENV },
    ); // prettier-ignore
      expect(r.code).toBe(0);
      const unit = /started (app-ssc-sh@[0-9a-f]{16}\.service)/.exec(r.stderr)?.[1] as string;
      try {
        const set = await bed.run(['systemctl', '--user', 'set-property', '--runtime', unit, 'MemoryMax=64M', 'MemorySwapMax=0'], {
          user: 'sscalice',
          env: ENV,
        });
        expect(set.code, set.stderr).toBe(0);
        await bed.run(['touch', go], { user: 'sscalice' });
        const n = await waitShown(new RegExp(unit.replace(/[.@]/g, '\\$&')));
        expect(n.body).toContain(`(${unit}, user manager): it reached its own memory cap of 64M`);
      } finally {
        await bed.run(['systemctl', '--user', 'stop', unit], { user: 'sscalice', env: ENV });
        await bed.run(['rm', '-f', go]);
      }
    },
    90_000,
  );
});
