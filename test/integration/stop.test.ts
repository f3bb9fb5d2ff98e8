/**
 * `ssc stop`: sscalice stops her own apps in both managers, by name or unit;
 * sscbob can neither stop nor signal them, through ssc's front end or by
 * speaking to the broker himself.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bed } from '../bed/bed.js';
import { bedSkipReason, getBed, startUserManager } from '../bed/index.js';
import { REPO_ROOT } from '../bed/local.js';
import { Tmux } from '../bed/tmux.js';
import { SSC_BIN, TEST_USERS } from '../bed/users.js';

const skip = bedSkipReason();
const alice = TEST_USERS.sscalice;
const bob = TEST_USERS.sscbob;
const ENV = { XDG_RUNTIME_DIR: `/run/user/${alice.uid}`, DBUS_SESSION_BUS_ADDRESS: `unix:path=/run/user/${alice.uid}/bus` };
const FAKE = `${REPO_ROOT}/test/bed/fake-launcher.py`;

describe.skipIf(skip)(`ssc stop: your own apps, no one else's${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let bed: Bed;
  const started: { unit: string; user: boolean }[] = [];
  const list = async (pattern: string, user: boolean) =>
    (
      await bed.run(
        ['systemctl', ...(user ? ['--user'] : []), 'list-units', '--no-legend', '--plain', pattern],
        user ? { user: 'sscalice', env: ENV } : {},
      )
    ).stdout
      .split('\n')
      .map((l) => l.split(' ')[0] as string)
      .filter(Boolean);
  const state = async (unit: string, user = false) =>
    (
      await bed.run(
        ['systemctl', ...(user ? ['--user'] : []), 'show', '-p', 'ActiveState', '--value', unit],
        user ? { user: 'sscalice', env: ENV } : {},
      )
    ).stdout.trim();
  /** Starts `ssc ARGS` as `who` and returns the new unit of `pattern`. */
  const start = async (who: 'sscalice' | 'sscbob', pattern: string, args: string[], user = false) => {
    const before = await list(pattern, user);
    const r = await bed.run([SSC_BIN, ...args], { user: who, env: user ? ENV : {} });
    expect(r.code).toBe(0);
    const unit = (await list(pattern, user)).find((u) => !before.includes(u)) as string;
    expect(unit).toBeDefined();
    started.push({ unit, user });
    return unit;
  };
  const stop = (who: 'sscalice' | 'sscbob', ...args: string[]) =>
    bed.run([SSC_BIN, 'stop', ...args], { user: who, env: who === 'sscalice' ? ENV : {} });
  const fakeStop = async (uid: number, gid: number, request: unknown) => {
    const r = await bed.run(['/usr/bin/python3', FAKE, String(uid), String(gid), 'stop', JSON.stringify(request)], { timeoutMs: 60_000 });
    expect(r.stderr).toBe('');
    return JSON.parse(r.stdout) as unknown;
  };

  beforeAll(async () => {
    bed = getBed();
    // What earlier files left running (a desktop entry's sleep 60, say) would match the names here too.
    await bed.sh("systemctl stop 'app-ssc-*.service' 'app-ssc-*.scope'; true");
    await startUserManager(bed, alice);
    await bed.run(['systemctl', '--user', 'stop', 'app-ssc-*.service', 'app-ssc-*.scope'], { user: 'sscalice', env: ENV });
  });
  afterAll(async () => {
    for (const { unit, user } of started)
      await bed.run(['systemctl', ...(user ? ['--user'] : []), 'stop', unit], user ? { user: 'sscalice', env: ENV } : {});
    await bed?.sh(`systemctl stop user@${alice.uid}.service`);
  });

  it('stops your app by its name, through the privileged helper, and returns once it has stopped', async () => {
    const unit = await start('sscalice', 'app-ssc-sleep@*', ['--no-tty', 'sleep', '600']);
    expect(await state(unit)).toBe('active');
    const r = await stop('sscalice', 'sleep');
    expect(r).toMatchObject({ code: 0, stdout: '', stderr: '' });
    expect(['inactive', '']).toContain(await state(unit));
  });

  it('an app started with --name goes by that name: listed, stopped; a name a unit cannot carry is a usage error', async () => {
    const unit = await start('sscalice', 'app-ssc-web\\x2d2@*', ['--no-tty', '--name', 'web-2', 'sleep', '600']);
    expect(unit).toMatch(/^app-ssc-web\\x2d2@[0-9a-f]{16}\.service$/);
    const listed = await bed.run([SSC_BIN, 'ps', '--json'], { user: 'sscalice' });
    expect((JSON.parse(listed.stdout) as { name: string; unit: string }[]).find((a) => a.unit === unit)?.name).toBe('web-2');
    expect(await stop('sscalice', 'web-2')).toMatchObject({ code: 0, stdout: '', stderr: '' });
    expect(['inactive', '']).toContain(await state(unit));
    // Go-style, as the original's flags: -name=x; and a refused one.
    expect(await bed.run([SSC_BIN, '-name=a b', '--no-tty', 'true'], { user: 'sscalice' })).toMatchObject({
      code: 2,
      stderr: 'ssc: --name "a b": an app name has only letters, digits and the characters : _ . -\n',
    });
  });

  it("stops a terminal tab's scope by its unit name", async () => {
    const tmux = new Tmux(bed, 'sscalice');
    try {
      const before = await list('app-ssc-sleep-*.scope', false);
      await tmux.start('s', `sh -c '${SSC_BIN} -isolation=relaxed sleep 600; echo "STATUS:$?"; sleep 300'`);
      let unit = '';
      for (let i = 0; i < 200 && unit === ''; i++) {
        unit = (await list('app-ssc-sleep-*.scope', false)).find((u) => !before.includes(u)) ?? '';
        if (unit === '') await new Promise((r) => setTimeout(r, 50));
      }
      expect(unit).not.toBe('');
      started.push({ unit, user: false });
      expect(await stop('sscalice', unit)).toMatchObject({ code: 0, stdout: '', stderr: '' });
      expect(['inactive', '']).toContain(await state(unit));
      // The tab's program ended by the stop's SIGTERM, as systemctl stop would end it.
      await tmux.waitFor('s', /^STATUS:143$/m, 30_000);
    } finally {
      await tmux.killServer();
    }
  });

  it('stops apps by name in both managers: several of one name only with --all, and lists them otherwise', async () => {
    const system = await start('sscalice', 'app-ssc-sleep@*', ['--no-tty', 'sleep', '600']);
    const user = await start('sscalice', 'app-ssc-sleep@*', ['--manager=user', '--no-tty', 'sleep', '600'], true);
    const ambiguous = await stop('sscalice', 'sleep');
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stdout).toBe('');
    expect(ambiguous.stderr.split('\n').sort()).toEqual(
      [
        '',
        `  ${system} (system manager)`,
        `  ${user} (user manager)`,
        'ssc: 2 apps of yours are named sleep: name one by its unit, or add --all',
      ].sort(),
    );
    expect(await state(system)).toBe('active');
    expect(await state(user, true)).toBe('active');
    expect(await stop('sscalice', '--all', 'sleep')).toMatchObject({ code: 0, stdout: '', stderr: '' });
    expect(['inactive', '']).toContain(await state(system));
    expect(['inactive', '']).toContain(await state(user, true));
  });

  // Before its bus connections went through Node's sockets, ssc stop with both managers' connections
  // aborted in libuv (usocket's poll handle) in about every second run.
  it('stops cleanly run after run, with both managers asked each time', async () => {
    for (let i = 0; i < 8; i++) {
      const unit = await start('sscalice', 'app-ssc-sleep@*', ['--no-tty', 'sleep', '600']);
      expect(await stop('sscalice', unit)).toMatchObject({ code: 0, stdout: '', stderr: '' });
    }
  }, 180_000);

  it("another user's app can be neither stopped nor signalled through ssc, nor by asking the privileged helper directly", async () => {
    const unit = await start('sscalice', 'app-ssc-sleep@*', ['--no-tty', 'sleep', '600']);
    for (const args of [[unit], ['--signal', 'KILL', unit], ['sleep']]) {
      const r = await stop('sscbob', ...args);
      expect(r.code).toBe(125);
      expect(r.stderr).toMatch(
        /^ssc: (app-ssc-sleep@[0-9a-f]{16}\.service is not an app of yours that is running|no app of yours named sleep is running)\n$/,
      );
    }
    expect(await state(unit)).toBe('active');
    // Bob's own launcher connection, naming her unit: the broker reads the unit's slice and refuses.
    expect(await fakeStop(bob.uid, bob.gid, { units: [unit] })).toEqual({
      ok: true,
      units: [{ unit, stopped: false, message: 'not yours' }],
    });
    expect(await state(unit)).toBe('active');
    // Names that are not ssc's, or not a list of names, are refused before systemd is asked.
    for (const bad of [{ units: ['ssh.service'] }, { units: [] }, { units: [unit, unit] }, { unit }])
      expect(await fakeStop(bob.uid, bob.gid, bad)).toMatchObject({ ok: false, kind: 'request' });
    // A unit in ssc.slice but in no user's slice is no one's (systemd-run by root stands in for one).
    const stray = 'app-ssc-sleep@00000000000000c1.service';
    expect(
      (await bed.run(['systemd-run', '--quiet', `--unit=${stray}`, '--slice=ssc', '-p', `User=${alice.uid}`, 'sleep', '600'])).code,
    ).toBe(0);
    started.push({ unit: stray, user: false });
    expect(await fakeStop(alice.uid, alice.gid, { units: [stray] })).toEqual({
      ok: true,
      units: [{ unit: stray, stopped: false, message: 'not yours' }],
    });
    expect(await state(stray)).toBe('active');
    // The control: the same request on her own connection stops it.
    expect(await fakeStop(alice.uid, alice.gid, { units: [unit] })).toEqual({ ok: true, units: [{ unit, stopped: true }] });
    for (let i = 0; i < 100 && !['inactive', ''].includes(await state(unit)); i++) await new Promise((r) => setTimeout(r, 50));
    expect(['inactive', '']).toContain(await state(unit));
  }, 120_000);

  it('--signal sends the signal as you to the processes of your app, and a name that is no signal is a usage error', async () => {
    const file = `${alice.home}/stop-hup`;
    await bed.run(['rm', '-f', file, `${file}.ready`]);
    const unit = await start('sscalice', 'app-ssc-sh@*', [
      '--no-tty', '--isolation=relaxed', 'sh', '-c', `trap 'echo got-HUP > ${file}; exit 0' HUP; : > ${file}.ready; while :; do sleep 0.1; done`,
    ]); // prettier-ignore
    // The trap is set once the app says so: a HUP before it would end sh for another reason.
    const ready = await bed.sh(`for i in $(seq 200); do [ -e ${file}.ready ] && exit 0; sleep 0.05; done; exit 1`);
    expect(ready.code, 'the app never set its trap').toBe(0);
    expect(await stop('sscalice', '--signal', 'NOSUCH', 'sh')).toMatchObject({ code: 2, stderr: 'ssc: no such signal: NOSUCH\n' });
    expect(await stop('sscalice', '--signal', 'HUP', 'sh')).toMatchObject({ code: 0, stdout: '', stderr: '' });
    let got = '';
    for (let i = 0; i < 100 && got === ''; i++) {
      got = (await bed.run(['cat', file])).stdout;
      if (got === '') await new Promise((r) => setTimeout(r, 50));
    }
    expect(got).toBe('got-HUP\n');
    for (let i = 0; i < 100 && !['inactive', ''].includes(await state(unit)); i++) await new Promise((r) => setTimeout(r, 50));
    expect(['inactive', '']).toContain(await state(unit));
    await bed.run(['rm', '-f', file, `${file}.ready`]);
  });

  // As if she had run `su sscbob` inside her app: a process of his in her unit's cgroup (root puts it there).
  it("--signal never reaches another user's process inside your app: the kernel refuses and ssc says so; a plain stop ends it with the unit", async () => {
    const file = `${alice.home}/stop-mixed`;
    await bed.run(['rm', '-f', file, `${file}.ready`]);
    const unit = await start('sscalice', 'app-ssc-mixed@*', [
      '--no-tty', '--isolation=relaxed', '--name=mixed', 'sh', '-c',
      `n=0; trap 'echo got-TERM >> ${file}; n=$((n+1)); [ $n -ge 2 ] && exit 0' TERM; : > ${file}.ready; while :; do sleep 0.1; done`,
    ]); // prettier-ignore
    const ready = await bed.sh(`for i in $(seq 200); do [ -e ${file}.ready ] && exit 0; sleep 0.05; done; exit 1`);
    expect(ready.code, 'the app never set its trap').toBe(0);
    const cg = (await bed.run(['systemctl', 'show', '-p', 'ControlGroup', '--value', unit])).stdout.trim();
    expect(cg).toMatch(/^\/ssc\.slice\/ssc-\d+\.slice\/app-ssc-mixed@/);
    const his = (
      await bed.sh(`setpriv --reuid=${bob.uid} --regid=${bob.gid} --clear-groups sleep 600 </dev/null >/dev/null 2>&1 & echo $!`)
    ).stdout.trim();
    try {
      const moved = await bed.sh(
        `n=0; for h in /sys/fs/cgroup /sys/fs/cgroup/unified /sys/fs/cgroup/systemd; do [ -e "$h${cg}/cgroup.procs" ] && echo ${his} > "$h${cg}/cgroup.procs" && n=$((n+1)); done; [ $n -gt 0 ]`,
      );
      expect(moved.code, moved.stderr).toBe(0);
      const r = await stop('sscalice', '--signal', 'TERM', 'mixed');
      expect(r).toMatchObject({ code: 0, stdout: '', stderr: `ssc: 1 process(es) of ${unit} are not yours and were not signalled\n` });
      // Hers got it (the trap wrote); his did not (still running), and the unit goes on.
      let got = '';
      for (let i = 0; i < 100 && got === ''; i++) {
        got = (await bed.run(['cat', file])).stdout;
        if (got === '') await new Promise((res) => setTimeout(res, 50));
      }
      expect(got).toBe('got-TERM\n');
      expect((await bed.run(['kill', '-0', his])).code).toBe(0);
      expect(await state(unit)).toBe('active');
      // A plain stop has PID 1 end the whole unit, his process in it too (as logind ends a session).
      expect(await stop('sscalice', 'mixed')).toMatchObject({ code: 0, stderr: '' });
      const gone = await bed.sh(`for i in $(seq 200); do kill -0 ${his} 2>/dev/null || exit 0; sleep 0.05; done; exit 1`);
      expect(gone.code, "his process outlived the unit's stop").toBe(0);
    } finally {
      await bed.run(['kill', '-KILL', his]);
      await bed.run(['rm', '-f', file, `${file}.ready`]);
    }
  });
});
