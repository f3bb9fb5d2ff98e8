import { describe, expect, it } from 'vitest';
import type { CgroupView } from '../cli/user-manager.js';
import { BusError, type Bus } from '../systemd/bus.js';
import { collectApps } from './collect.js';

const ALICE = 1000;
const own = 'app-ssc-firefox@0123456789abcdef.service';
const theirs = 'app-ssc-firefox@fedcba9876543210.service';
const row = (id: string) => [id, 'firefox (ssc strict)', 'loaded', 'active', 'running', '', `/unit/${id}`, 0, '', '/'];
const props: Record<string, Record<string, unknown>> = {
  [`/unit/${own}`]: { Slice: `ssc-${ALICE}.slice`, ControlGroup: `/ssc.slice/ssc-${ALICE}.slice/${own}` },
  [`/unit/${theirs}`]: { Slice: 'ssc-1001.slice', ControlGroup: `/ssc.slice/ssc-1001.slice/${theirs}` },
};

/** A stand-in for systemd's answers that records each call: what collectApps asks is the point here, not the bus. */
function fakeBus(fail?: BusError) {
  const calls: string[] = [];
  const bus = {
    call: async (_dest: string, path: string, method: string, body: unknown[] = []) => {
      calls.push(method === 'Get' ? `Get ${path}` : method);
      if (method === 'ListUnitsByPatterns') return [[row(own), row(theirs)]];
      if (method === 'ListUnitsByNames') return [(body[0] as string[]).map(row)];
      if (fail) throw fail;
      const value = props[path]?.[body[1] as string] ?? (body[1] === 'ActiveEnterTimestamp' ? 1e15 : 0);
      return [value];
    },
  };
  return { bus: bus as unknown as Bus, calls };
}

const v2 = (dirs: string[]): CgroupView => ({
  read: () => null,
  exists: (p) => p === '/sys/fs/cgroup/cgroup.controllers',
  list: (p) => (p === `/sys/fs/cgroup/ssc.slice/ssc-${ALICE}.slice` ? dirs : []),
});

describe('ssc ps: which units it reads', () => {
  it("reads only the caller's own units in the system manager, found by their slice's cgroup directory", async () => {
    const { bus, calls } = fakeBus();
    const apps = await collectApps(bus, { manager: 'system', uid: ALICE }, v2([own, 'cgroup.procs', 'memory.max']), 0);
    expect(apps.map((a) => a.unit)).toEqual([own]);
    expect(calls).not.toContain('ListUnitsByPatterns');
    expect(calls.filter((c) => c.includes(theirs))).toEqual([]);
    // With no app of hers, not one call.
    const none = fakeBus();
    expect(await collectApps(none.bus, { manager: 'system', uid: ALICE }, v2([]), 0)).toEqual([]);
    expect(none.calls).toEqual([]);
  });

  it('on cgroup v1 (hybrid) finds them in the unified hierarchy, where systemd lists every process', async () => {
    const { bus } = fakeBus();
    const hybrid: CgroupView = {
      read: () => null,
      exists: (p) => p === '/sys/fs/cgroup/unified/cgroup.controllers',
      list: (p) => (p === `/sys/fs/cgroup/unified/ssc.slice/ssc-${ALICE}.slice` ? [own] : []),
    };
    expect((await collectApps(bus, { manager: 'system', uid: ALICE }, hybrid, 0)).map((a) => a.unit)).toEqual([own]);
  });

  it("still checks the slice systemd records: a unit whose slice is another user's is not shown", async () => {
    const { bus } = fakeBus();
    // As if the directory listed a unit of someone else's (it cannot: only PID 1 makes it).
    expect(await collectApps(bus, { manager: 'system', uid: ALICE }, v2([theirs]), 0)).toEqual([]);
  });

  it("root's --all lists everyone's (the control: both units are there to be read)", async () => {
    const { bus, calls } = fakeBus();
    const apps = await collectApps(bus, { manager: 'system', uid: 0, all: true }, v2([]), 0);
    expect(apps.map((a) => a.unit).sort()).toEqual([own, theirs].sort());
    expect(calls).toContain('ListUnitsByPatterns');
  });

  it('leaves out a unit gone before it was read, and says any other failure instead of hiding the app', async () => {
    const gone = fakeBus(new BusError('org.freedesktop.DBus.Error.UnknownObject', 'Unknown object'));
    expect(await collectApps(gone.bus, { manager: 'system', uid: ALICE }, v2([own]), 0)).toEqual([]);
    const slow = fakeBus(new BusError('org.freedesktop.DBus.Error.NoReply', 'no reply'));
    await expect(collectApps(slow.bus, { manager: 'system', uid: ALICE }, v2([own]), 0)).rejects.toThrow('no reply');
  });
});
