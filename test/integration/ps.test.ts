/**
 * `ssc ps`: sscalice's own apps in both managers (a GUI-mode service and a tab's
 * scope in the system manager, a service in her user manager), never sscbob's,
 * with the figures systemd and the cgroup files give, checked against what
 * systemd reports.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bed } from '../bed/bed.js';
import { bedCgroup, bedSkipReason, getBed, startUserManager } from '../bed/index.js';
import { Tmux } from '../bed/tmux.js';
import { SSC_BIN, TEST_USERS } from '../bed/users.js';
import type { AppFigures } from '../../src/status/figures.js';

const skip = bedSkipReason();
const alice = TEST_USERS.sscalice;
const ENV = { XDG_RUNTIME_DIR: `/run/user/${alice.uid}`, DBUS_SESSION_BUS_ADDRESS: `unix:path=/run/user/${alice.uid}/bus` };

type Row = AppFigures;

describe.skipIf(skip)(`ssc ps: your contained apps${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let bed: Bed;
  let tmux: Tmux;
  const units: Record<'service' | 'busy' | 'scope' | 'user' | 'bob', string> = { service: '', busy: '', scope: '', user: '', bob: '' };
  const ps = async (user: 'sscalice' | 'sscbob' | 'root', ...args: string[]) => {
    const r = await bed.run([SSC_BIN, 'ps', ...args], user === 'root' ? {} : { user, env: user === 'sscalice' ? ENV : {} });
    return r;
  };
  const json = async (user: 'sscalice' | 'sscbob' | 'root', ...args: string[]) => {
    const r = await ps(user, '--json', ...args);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    return JSON.parse(r.stdout) as Row[];
  };
  const newest = async (pattern: string, user = false) => {
    const r = await bed.run(
      ['systemctl', ...(user ? ['--user'] : []), 'list-units', '--no-legend', '--plain', pattern],
      user ? { user: 'sscalice', env: ENV } : {},
    );
    return r.stdout
      .split('\n')
      .map((l) => l.split(' ')[0] as string)
      .filter(Boolean);
  };
  const show = async (unit: string, props: string[], user = false) => {
    const r = await bed.run(
      ['systemctl', ...(user ? ['--user'] : []), 'show', ...props.map((p) => `--property=${p}`), unit],
      user ? { user: 'sscalice', env: ENV } : {},
    );
    return Object.fromEntries(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
  };
  const started = async (user: 'sscalice' | 'sscbob', pattern: string, args: string[], env = {}) => {
    const before = await newest(pattern, args.includes('--manager=user'));
    const r = await bed.run([SSC_BIN, ...args], { user, env });
    expect(r.code).toBe(0);
    // A user manager on cgroup v1 gets no controllers: ssc warns of its caps, and starts.
    expect(r.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('ssc: warning: '))).toEqual([]);
    const after = await newest(pattern, args.includes('--manager=user'));
    const unit = after.find((u) => !before.includes(u));
    expect(unit).toBeDefined();
    return unit as string;
  };

  beforeAll(async () => {
    bed = getBed();
    // What earlier files left running (a desktop entry's sleep 60, say) would be counted here too.
    await bed.sh("systemctl stop 'app-ssc-*.service' 'app-ssc-*.scope'; true");
    await startUserManager(bed, alice);
    await bed.run(['systemctl', '--user', 'stop', 'app-ssc-*.service', 'app-ssc-*.scope'], { user: 'sscalice', env: ENV });
    units.service = await started('sscalice', 'app-ssc-sleep@*', ['--no-tty', 'sleep', '600']);
    units.busy = await started('sscalice', 'app-ssc-sh@*', ['--no-tty', '--isolation=relaxed', 'sh', '-c', 'while :; do :; done']);
    units.user = await started('sscalice', 'app-ssc-sleep@*', ['--manager=user', '--no-tty', 'sleep', '600'], ENV);
    units.bob = await started('sscbob', 'app-ssc-sleep@*', ['--no-tty', 'sleep', '600']);
    tmux = new Tmux(bed, 'sscalice');
    await tmux.start('t', `${SSC_BIN} -isolation=relaxed sleep 600`);
    for (let i = 0; i < 200 && units.scope === ''; i++) {
      units.scope = (await newest('app-ssc-sleep-*.scope'))[0] ?? '';
      if (units.scope === '') await new Promise((r) => setTimeout(r, 50));
    }
    expect(units.scope).not.toBe('');
  }, 120_000);
  afterAll(async () => {
    await tmux?.killServer();
    for (const u of [units.service, units.busy, units.bob, units.scope]) if (u) await bed.run(['systemctl', 'stop', u]);
    await bed?.sh(`systemctl stop user@${alice.uid}.service`);
  });

  it("lists exactly your own apps of both managers, a tab's scope too, and never another user's", async () => {
    const mine = await json('sscalice');
    expect(mine.map((a) => a.unit).sort()).toEqual([units.service, units.busy, units.scope, units.user].sort());
    const byUnit = new Map(mine.map((a) => [a.unit, a]));
    expect(byUnit.get(units.service)).toMatchObject({
      name: 'sleep',
      profile: 'strict',
      manager: 'system',
      kind: 'service',
      uid: alice.uid,
    });
    expect(byUnit.get(units.scope)).toMatchObject({ name: 'sleep', profile: 'relaxed', manager: 'system', kind: 'scope', uid: alice.uid });
    expect(byUnit.get(units.user)).toMatchObject({ name: 'sleep', profile: 'strict', manager: 'user', kind: 'service', uid: alice.uid });
    // The control: bob's app is there to be seen, by bob and by root's --all.
    expect((await json('sscbob')).map((a) => a.unit)).toEqual([units.bob]);
    const all = (await json('root', '--all')).map((a) => a.unit);
    expect(all).toEqual(expect.arrayContaining([units.service, units.busy, units.scope, units.bob]));
    // A user's --all is refused in one line.
    const theirs = await ps('sscalice', '--all');
    expect(theirs).toMatchObject({ code: 2, stdout: '', stderr: "ssc: only root may list every user's apps (--all)\n" });
  });

  it('gives the figures systemd reports for the unit, and null exactly where the system has none', async () => {
    const row = (await json('sscalice')).find((a) => a.unit === units.service) as Row;
    const sd = await show(units.service, ['MemoryCurrent', 'MemoryMax', 'TasksCurrent', 'ControlGroup', 'ActiveEnterTimestampMonotonic']);
    const num = (s: string | undefined) => (s === undefined || s === '[not set]' || s === 'infinity' || s === '' ? null : Number(s));
    expect(row.memoryMaxBytes).toBe(num(sd.MemoryMax));
    expect(row.tasks).toBe(num(sd.TasksCurrent));
    if (num(sd.MemoryCurrent) === null) expect(row.memoryBytes).toBeNull();
    else {
      // Read a moment apart: the same order of size.
      expect(row.memoryBytes).toBeGreaterThan(0);
      expect(row.memoryBytes).toBeLessThan((num(sd.MemoryCurrent) as number) * 4 + (1 << 20));
    }
    expect(Math.abs((row.startedSeconds as number) - Date.now() / 1000)).toBeLessThan(600);
    // The cgroup's own files: a figure exactly when its file is there.
    const dir = bedCgroup() === 'v2' ? `/sys/fs/cgroup${sd.ControlGroup}` : `/sys/fs/cgroup/memory${sd.ControlGroup}`;
    const has = async (f: string) => (await bed.run(['test', '-e', `${dir}/${f}`])).code === 0;
    expect(row.memoryPeakBytes === null).toBe(!(await has(bedCgroup() === 'v2' ? 'memory.peak' : 'memory.max_usage_in_bytes')));
    expect(row.swapBytes === null).toBe(!(await has(bedCgroup() === 'v2' ? 'memory.swap.current' : 'memory.memsw.usage_in_bytes')));
    expect(row.oomKills).toBe(0);
    if (row.memoryPeakBytes !== null) expect(row.memoryPeakBytes).toBeGreaterThan(0);
  });

  it("measures CPU use over its interval: a busy loop shows it, a sleeping app doesn't", async () => {
    const rows = await json('sscalice');
    const busy = rows.find((a) => a.unit === units.busy) as Row;
    const idle = rows.find((a) => a.unit === units.service) as Row;
    const cpu = await show(units.busy, ['CPUUsageNSec']);
    if (cpu.CPUUsageNSec === '[not set]') {
      expect(busy.cpuPercent).toBeNull();
      return;
    }
    expect(busy.cpuPercent).toBeGreaterThan(10);
    expect(idle.cpuPercent).toBeLessThan(5);
  });

  it('prints a table, as `ssc list` too, with a header and a line per app; a program named ps is run with ssc -- ps', async () => {
    const text = await ps('sscalice');
    expect(text.code).toBe(0);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+UNIT\s+PROFILE\s+MANAGER\s+MEMORY\s+CAP\s+MEM%\s+PEAK\s+SWAP\s+CPU%\s+TASKS\s+OOM\s+STARTED$/);
    expect(
      lines
        .slice(1)
        .map((l) => l.split(/\s+/)[1])
        .sort(),
    ).toEqual([units.service, units.busy, units.scope, units.user].sort());
    const list = await bed.run([SSC_BIN, 'list'], { user: 'sscalice', env: ENV });
    expect(list.stdout.split('\n')[0]).toBe(lines[0]);
    const program = await bed.run([SSC_BIN, '--no-tty', '--wait', '--', 'ps', '-o', 'comm=', '-p', '1'], { user: 'sscalice' });
    expect(program).toMatchObject({ code: 0 });
    expect((await ps('sscalice', '--bogus')).code).toBe(2);
  });
});
