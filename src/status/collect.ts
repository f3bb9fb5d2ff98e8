/**
 * Gathering `ssc ps`'s figures: the caller's own ssc units in one manager,
 * over an unprivileged bus connection, and their cgroup files (world-readable).
 *
 * Whose a unit is: in the system manager, the slice the broker put it in
 * (ssc-UID.slice, plan.ts), which only root can choose; in a user manager,
 * every unit is its user's.
 */
import { unitTreeRoot, type CgroupView } from '../cli/user-manager.js';
import { BusError, type Bus } from '../systemd/bus.js';
import { getProperty, listUnits, listUnitsByNames, type ListedUnit } from '../systemd/client.js';
import { SCOPE_INTERFACE, SERVICE_INTERFACE, UNIT_INTERFACE } from '../systemd/signatures.js';
import { appName, cpuPercent, figure, numberFrom, oomKillsFrom, profileOf, sliceOwner, swapFrom, type AppFigures } from './figures.js';

/** Units in these states are shown: an app that is there, starting or ending. */
const SHOWN_STATES = ['active', 'activating', 'deactivating', 'reloading'];
const PATTERNS = ['app-ssc-*.service', 'app-ssc-*.scope'];
const OWN_UNIT = /^app-ssc-[^/]+\.(service|scope)$/;
/** Errors of a unit that went away between the listing and the reading. */
const GONE = ['org.freedesktop.DBus.Error.UnknownObject', 'org.freedesktop.systemd1.NoSuchUnit', 'org.freedesktop.systemd1.LoadFailed'];

export interface Who {
  manager: 'system' | 'user';
  /** The caller's uid: in the system manager only their slice's units are theirs. */
  uid: number;
  /** Root's --all: every user's ssc units of the system manager. */
  all?: boolean;
}

/** What does not change while a unit runs, kept between readings (ssc top). */
interface Fixed {
  slice: string;
  controlGroup: string;
  started: number | null;
  memoryMax: number | null;
  /** When it was read (Date.now()): read again after FIXED_MS, so a cap changed meanwhile shows. */
  at: number;
}
const FIXED_MS = 10_000;
export type FixedCache = Map<string, Fixed>;

/** The unit's CPU time in ns (v2 cpu.stat's usage_usec; v1 cpuacct.usage), or null. */
export function cpuNsFrom(controlGroup: string, cg: CgroupView, unified: boolean): number | null {
  if (controlGroup === '') return null;
  if (unified) {
    const usec = /^usage_usec (\d+)$/m.exec(cg.read(`/sys/fs/cgroup${controlGroup}/cpu.stat`) ?? '')?.[1];
    return usec === undefined ? null : Number(usec) * 1000;
  }
  return (
    ['cpu,cpuacct', 'cpuacct']
      .map((h) => numberFrom(cg.read(`/sys/fs/cgroup/${h}${controlGroup}/cpuacct.usage`)))
      .find((n) => n !== null) ?? null
  );
}

type FromFiles = Pick<AppFigures, 'memoryBytes' | 'memoryPeakBytes' | 'swapBytes' | 'tasks' | 'oomKills'> & { cpuNs: number | null };

/**
 * What the unit's own cgroup files say, which systemd reads for MemoryCurrent,
 * CPUUsageNSec and TasksCurrent too (v2: memory.current, cpu.stat, pids.current,
 * memory.peak, memory.swap.current, memory.events; v1 the same in their
 * hierarchies): no bus round trip at each of top's screens. Null where the file
 * is missing, as systemd then reports none.
 */
export function cgroupFigures(controlGroup: string, cg: CgroupView, unified: boolean): FromFiles {
  if (controlGroup === '') return { memoryBytes: null, memoryPeakBytes: null, swapBytes: null, tasks: null, oomKills: null, cpuNs: null };
  const cpuNs = cpuNsFrom(controlGroup, cg, unified);
  if (unified) {
    const dir = `/sys/fs/cgroup${controlGroup}`;
    return {
      memoryBytes: numberFrom(cg.read(`${dir}/memory.current`)),
      memoryPeakBytes: numberFrom(cg.read(`${dir}/memory.peak`)),
      swapBytes: swapFrom(cg.read(`${dir}/memory.swap.current`), null, null),
      tasks: numberFrom(cg.read(`${dir}/pids.current`)),
      oomKills: oomKillsFrom(cg.read(`${dir}/memory.events`)),
      cpuNs,
    };
  }
  const dir = `/sys/fs/cgroup/memory${controlGroup}`;
  const usage = cg.read(`${dir}/memory.usage_in_bytes`);
  return {
    memoryBytes: numberFrom(usage),
    memoryPeakBytes: numberFrom(cg.read(`${dir}/memory.max_usage_in_bytes`)),
    swapBytes: swapFrom(null, cg.read(`${dir}/memory.memsw.usage_in_bytes`), usage),
    tasks: numberFrom(cg.read(`/sys/fs/cgroup/pids${controlGroup}/pids.current`)),
    oomKills: oomKillsFrom(cg.read(`${dir}/memory.oom_control`)),
    cpuNs,
  };
}

/** A unit gone between the listing and the reading is left out. */
async function readUnit(
  bus: Bus,
  listed: ListedUnit,
  who: Who,
  cg: CgroupView,
  unified: boolean,
  cache: FixedCache,
): Promise<AppFigures | null> {
  const { id, path } = listed;
  const name = appName(id);
  if (name === null) return null;
  const kind = id.endsWith('.scope') ? 'scope' : 'service';
  const iface = kind === 'scope' ? SCOPE_INTERFACE : SERVICE_INTERFACE;
  let fixed = cache.get(path);
  try {
    if (fixed === undefined || Date.now() - fixed.at > FIXED_MS) {
      const [slice, controlGroup, started, memoryMax] = await Promise.all([
        getProperty(bus, path, iface, 'Slice'),
        getProperty(bus, path, iface, 'ControlGroup'),
        getProperty(bus, path, UNIT_INTERFACE, 'ActiveEnterTimestamp'),
        getProperty(bus, path, iface, 'MemoryMax'),
      ]);
      const t = figure(started);
      fixed = {
        slice: String(slice),
        controlGroup: String(controlGroup),
        started: t === null || t === 0 ? null : Math.floor(t / 1e6),
        memoryMax: figure(memoryMax),
        at: Date.now(),
      };
      // A unit still starting has no cgroup or start time yet: read again next time.
      if (fixed.controlGroup !== '' && fixed.started !== null) cache.set(path, fixed);
    }
  } catch (e) {
    // Gone between the listing and the reading; anything else is said, not taken for "no such app".
    if (e instanceof BusError && GONE.includes(e.type)) return null;
    throw e;
  }
  let uid: number | null;
  if (who.manager === 'user') uid = who.uid;
  else {
    uid = sliceOwner(fixed.slice);
    if (uid === null ? !who.all || fixed.slice !== 'ssc.slice' : uid !== who.uid && !who.all) return null;
  }
  const { cpuNs, ...files } = cgroupFigures(fixed.controlGroup, cg, unified);
  const max = fixed.memoryMax;
  return {
    name,
    unit: id,
    profile: profileOf(listed.description),
    manager: who.manager,
    kind,
    uid,
    ...files,
    memoryMaxBytes: max,
    memoryPercent: files.memoryBytes !== null && max !== null && max > 0 ? (files.memoryBytes / max) * 100 : null,
    cpuPercent: null,
    cpuSeconds: cpuNs === null ? null : cpuNs / 1e9,
    startedSeconds: fixed.started,
    controlGroup: fixed.controlGroup,
  };
}

/**
 * The units to read. A caller's own in the system manager are found by their
 * slice's cgroup directory, which only PID 1 makes: what this costs is bounded
 * by their own apps, however many other users run (a listing of everyone's,
 * then 4 reads each, made one user's thousand apps slow everyone's ps and top,
 * and could put ssc stop past the broker's deadline). The slice is checked
 * again from systemd's own record (readUnit).
 */
async function unitsOf(bus: Bus, who: Who, cg: CgroupView): Promise<ListedUnit[]> {
  if (who.manager === 'user' || who.all) return listUnits(bus, SHOWN_STATES, PATTERNS);
  const dir = `${unitTreeRoot((p) => cg.exists(p))}/ssc.slice/ssc-${who.uid}.slice`;
  const names = cg.list(dir).filter((n) => OWN_UNIT.test(n));
  if (names.length === 0) return [];
  return (await listUnitsByNames(bus, names)).filter((u) => SHOWN_STATES.includes(u.activeState));
}

/**
 * The caller's apps in this manager, with CPU use over `sampleMs` (two
 * readings of CPUUsageNSec; 0: none taken).
 */
export async function collectApps(
  bus: Bus,
  who: Who,
  cg: CgroupView,
  sampleMs: number,
  cache: FixedCache = new Map(),
): Promise<AppFigures[]> {
  const unified = cg.exists('/sys/fs/cgroup/cgroup.controllers');
  const units = await unitsOf(bus, who, cg);
  const present = new Set(units.map((u) => u.path));
  for (const k of [...cache.keys()]) if (!present.has(k)) cache.delete(k);
  const apps = (await Promise.all(units.map((u) => readUnit(bus, u, who, cg, unified, cache)))).filter((a): a is AppFigures => a !== null);
  if (sampleMs > 0 && apps.length > 0) {
    const t0 = process.hrtime.bigint();
    await new Promise((r) => setTimeout(r, sampleMs));
    const after = apps.map((a) => cpuNsFrom(a.controlGroup, cg, unified));
    const wall = Number(process.hrtime.bigint() - t0);
    apps.forEach((a, i) => {
      const ns = after[i] ?? null;
      a.cpuPercent = cpuPercent(a.cpuSeconds === null ? null : Math.round(a.cpuSeconds * 1e9), ns, wall);
      if (ns !== null) a.cpuSeconds = ns / 1e9;
    });
  }
  return apps;
}
