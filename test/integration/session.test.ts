import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bed, RunResult } from '../bed/bed.js';
import { bedSkipReason, getBed, startUserManager, systemctlShow } from '../bed/index.js';
import { Tmux } from '../bed/tmux.js';
import { SSC_BIN, TEST_USERS } from '../bed/users.js';

const skip = bedSkipReason();
const bob = TEST_USERS.sscbob;
const alice = TEST_USERS.sscalice;

/** Poll `probe` until it returns something other than undefined, or fail after `ms`. */
async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(skip)(`a unit ends with the caller's logind session, as at logout${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let bed: Bed;
  const cleanup: string[][] = [];
  beforeAll(() => {
    bed = getBed();
  });
  afterAll(async () => {
    for (const argv of cleanup.reverse()) await bed.run(argv);
  });

  /**
   * Run `script` in the background in a real logind session of `user` (runuser -l
   * goes through pam_systemd), with $1 = ssc. The script prints `session=<ID>`;
   * ssc --verbose prints the unit. Returns both, once they are there.
   */
  async function inSession(user: string, script: string): Promise<{ session: string; unit: string; output: string }> {
    const mk = await bed.run(['mktemp', '/run/ssc-session-test.XXXXXX']);
    expect(mk.code).toBe(0);
    const out = mk.stdout.trim();
    cleanup.push(['rm', '-f', out]);
    const start = await bed.run([
      'sh',
      '-c',
      'out=$1 user=$2 script=$3; shift 3; runuser -l "$user" -c "$script" sh "$@" >"$out" 2>&1 </dev/null &',
      'sh',
      out,
      user,
      script,
      SSC_BIN,
    ]);
    expect(start.code).toBe(0);
    const found = await until(`a session and a unit in ${out}`, 15_000, async () => {
      const text = (await bed.run(['cat', out])).stdout;
      const session = /^session=([A-Za-z0-9]+)$/m.exec(text)?.[1];
      const unit = /^ssc: started (app-ssc-sleep@[0-9a-f]{16}\.service)$/m.exec(text)?.[1];
      return session && unit ? { session, unit, output: text } : undefined;
    });
    cleanup.push(['systemctl', 'stop', found.unit], ['loginctl', 'terminate-session', found.session]);
    return found;
  }

  it("binds a unit started in the caller's session to that session's scope, and stops it when the session ends", async () => {
    const { session, unit } = await inSession(
      'sscalice',
      'echo "session=$XDG_SESSION_ID"; "$1" --no-tty --verbose sleep 300 && exec sleep 300',
    );
    const owner = await systemctlShow(bed, `session-${session}.scope`, ['ActiveState']);
    expect(owner.ActiveState).toBe('active');
    const props = await systemctlShow(bed, unit, ['BindsTo', 'After', 'ActiveState']);
    expect(props.ActiveState).toBe('active');
    expect(props.BindsTo).toBe(`session-${session}.scope`);
    expect(props.After?.split(' ')).toContain(`session-${session}.scope`);

    const t = await bed.run(['loginctl', 'terminate-session', session]);
    expect(t.code).toBe(0);
    const after = await until(`${unit} to go away`, 10_000, async () => {
      const p = await systemctlShow(bed, unit, ['LoadState', 'ActiveState']);
      return p.ActiveState === 'inactive' ? p : undefined;
    });
    // Collected (CollectMode=inactive-or-failed): systemd no longer knows it.
    expect(after.LoadState).toBe('not-found');
  });

  const userManager = `user@${alice.uid}.service`;
  const runtimeDir = `user-runtime-dir@${alice.uid}.service`;
  const userEnv = { XDG_RUNTIME_DIR: `/run/user/${alice.uid}`, DBUS_SESSION_BUS_ADDRESS: `unix:path=/run/user/${alice.uid}/bus` };
  const managerState = async () => (await systemctlShow(bed, userManager, ['ActiveState'])).ActiveState;
  const stopUserManager = async () => {
    await bed.run(['systemctl', 'stop', userManager, `user-runtime-dir@${alice.uid}.service`]);
    expect(await managerState()).toBe('inactive');
  };
  const unitOf = (r: RunResult) => {
    expect(r.code, r.stderr).toBe(0);
    const unit = /app-ssc-sleep@[0-9a-f]{16}\.service/.exec(r.stderr)?.[0] as string;
    expect(unit, r.stderr).toBeDefined();
    cleanup.push(['systemctl', 'stop', unit]);
    return unit;
  };
  /** ssc started as a cron job or `sudo -u` would start it: outside every session and every user manager. */
  const startOutside = async () => unitOf(await bed.run([SSC_BIN, '--no-tty', '--verbose', 'sleep', '300'], { user: 'sscalice' }));
  /** ssc started by alice's user manager, as a terminal or an app launcher it runs would start it. */
  const startInManager = async () =>
    unitOf(
      await bed.run(['systemd-run', '--user', '--quiet', '--wait', '--pipe', '--', SSC_BIN, '--no-tty', '--verbose', 'sleep', '300'], {
        user: 'sscalice',
        env: userEnv,
      }),
    );
  const gone = (unit: string) =>
    until(`${unit} to stop`, 15_000, async () => {
      const p = await systemctlShow(bed, unit, ['ActiveState']);
      return p.ActiveState === 'inactive' || p.ActiveState === 'failed' ? p : undefined;
    });

  it('leaves a unit started outside any session, with no user manager running, unbound, and starts no user manager', async () => {
    await stopUserManager();
    const unit = await startOutside();
    const props = await systemctlShow(bed, unit, ['BindsTo', 'After', 'StopPropagatedFrom', 'ActiveState']);
    expect(props).toMatchObject({ ActiveState: 'active', BindsTo: '', StopPropagatedFrom: '' });
    expect(props.After).not.toMatch(/session-|user@/);
    expect(await managerState()).toBe('inactive');
  });

  it("a service and a terminal's scope the user manager started end when it stops; one started outside it does not", async () => {
    await stopUserManager();
    cleanup.push(['systemctl', 'stop', userManager, `user-runtime-dir@${alice.uid}.service`]);
    await startUserManager(bed, alice);
    const service = await startInManager();
    // The tab's terminal (tmux) runs in a scope of the user manager, as GNOME Terminal runs in its service.
    const tmux = new Tmux(bed, 'sscalice', 'ssc-tests-um', userEnv, ['systemd-run', '--user', '--scope', '--quiet', '--']);
    try {
      await tmux.start('t', `${SSC_BIN} -isolation=relaxed /bin/bash -i`);
      await tmux.waitFor('t', /[$] *$/m);
      await tmux.line('t', 'echo "CG:$(grep -o "app-ssc-bash-[0-9a-f]*\\.scope" /proc/self/cgroup | tail -1)"');
      const scope = /^CG:(app-ssc-bash-[0-9a-f]{16}\.scope)/m.exec(await tmux.waitFor('t', /^CG:app-ssc.*$/m))?.[1] as string;
      expect(scope).toBeDefined();
      for (const unit of [service, scope]) {
        const props = await systemctlShow(bed, unit, ['BindsTo', 'After', 'StopPropagatedFrom', 'ActiveState']);
        expect(props).toMatchObject({ ActiveState: 'active', BindsTo: '' });
        expect(props.StopPropagatedFrom?.split(' ').sort()).toEqual([userManager, runtimeDir].sort());
        expect(props.After).not.toMatch(/user@/);
      }
      // The control: the same user's unit started outside the manager (a cron job) does not name it, and outlives it.
      const outside = await startOutside();
      expect((await systemctlShow(bed, outside, ['StopPropagatedFrom'])).StopPropagatedFrom).toBe('');
      expect((await bed.run(['systemctl', 'stop', userManager])).code).toBe(0);
      await gone(service);
      await gone(scope);
      expect((await systemctlShow(bed, outside, ['ActiveState'])).ActiveState).toBe('active');
      // And the manager was not started again for them.
      expect(await managerState()).toBe('inactive');
    } finally {
      await tmux.killServer();
    }
  }, 90_000);

  it('`loginctl terminate-user` ends the units the user manager started', async () => {
    const { session } = await inSession('sscalice', 'echo "session=$XDG_SESSION_ID"; "$1" --no-tty --verbose sleep 300 && exec sleep 300');
    await until(`${userManager} to run`, 15_000, async () => ((await managerState()) === 'active' ? true : undefined));
    const unit = await startInManager();
    expect((await systemctlShow(bed, unit, ['StopPropagatedFrom'])).StopPropagatedFrom?.split(' ').sort()).toEqual(
      [userManager, runtimeDir].sort(),
    );
    expect((await bed.run(['loginctl', 'terminate-user', 'sscalice'])).code).toBe(0);
    await gone(unit);
    await until(`session ${session} to end`, 10_000, async () =>
      (await bed.run(['loginctl', 'show-session', session])).code !== 0 ? true : undefined,
    );
  }, 60_000);

  it("never binds to a session of another user: sscbob's ssc run inside root's session stays unbound and outlives it", async () => {
    // setpriv changes the ids, not the cgroup: bob's ssc runs in root's session scope.
    const script = [
      'echo "session=$XDG_SESSION_ID"; cd /',
      `setpriv --reuid=${bob.uid} --regid=${bob.gid} --init-groups -- env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=${bob.home} "$1" --no-tty --verbose sleep 300`,
      'exec sleep 300',
    ].join('\n');
    const { session, unit, output } = await inSession('root', script);
    expect(output).not.toMatch(/^ssc: (?!started)/m);
    const props = await systemctlShow(bed, unit, ['BindsTo', 'After', 'ActiveState', 'User']);
    expect(props).toMatchObject({ BindsTo: '', ActiveState: 'active', User: String(bob.uid) });
    expect(props.After).not.toMatch(/session-/);
    expect((await bed.run(['loginctl', 'terminate-session', session])).code).toBe(0);
    await until(`session ${session} to end`, 10_000, async () =>
      (await bed.run(['loginctl', 'show-session', session])).code !== 0 ? true : undefined,
    );
    expect((await systemctlShow(bed, unit, ['ActiveState'])).ActiveState).toBe('active');
  });
});
