import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bed } from '../bed/bed.js';
import { bedSkipReason, getBed, systemctlShow } from '../bed/index.js';
import { SSC_BIN, TEST_USERS } from '../bed/users.js';

const skip = bedSkipReason();
const bob = TEST_USERS.sscbob;

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

  it('leaves a unit started outside any session unbound', async () => {
    const r = await bed.run([SSC_BIN, '--no-tty', '--verbose', 'sleep', '300'], { user: 'sscalice' });
    expect(r.code).toBe(0);
    const unit = /app-ssc-sleep@[0-9a-f]{16}\.service/.exec(r.stderr)?.[0] as string;
    cleanup.push(['systemctl', 'stop', unit]);
    const props = await systemctlShow(bed, unit, ['BindsTo', 'After', 'ActiveState']);
    expect(props.ActiveState).toBe('active');
    expect(props.BindsTo).toBe('');
    expect(props.After).not.toMatch(/session-/);
  });

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
