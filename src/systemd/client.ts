/**
 * Typed calls to systemd's manager over a Bus.
 */
import { Variant } from 'dbus-next/lib/variant.js';
import { BusError, type Bus, type Signal } from './bus.js';
import {
  MANAGER_INTERFACE,
  SCOPE_INTERFACE,
  SERVICE_INTERFACE,
  SYSTEMD_BUS_NAME,
  SYSTEMD_OBJECT_PATH,
  UNIT_INTERFACE,
  UNIT_PROPERTY_SIGNATURES,
  type UnitProperty,
} from './signatures.js';
import { parseManagerVersion, type ManagerVersion } from './version.js';

/** Wrap each property in a Variant of the signature the table gives it. */
export function toDBusProperties(props: readonly UnitProperty[]): [string, Variant][] {
  return props.map(([name, value]) => {
    const sig = UNIT_PROPERTY_SIGNATURES[name];
    // Arrays are readonly in the plan; the marshaller wants plain arrays.
    return [name, new Variant(sig, structuredClone(value) as unknown)];
  });
}

export interface JobResult {
  job: string;
  unit: string;
  /** 'done' when the unit started; else 'failed', 'canceled', 'timeout', 'dependency', 'skipped', ... */
  result: string;
}

/**
 * Every start job on one connection, watched through one JobRemoved match: a
 * connection the broker keeps for all its starts must not gather a match per
 * start. Only systemd's own JobRemoved counts (anyone may send this connection
 * a unicast one), and only for a unit a start here is waiting on.
 */
class JobWatch {
  private readonly waiting = new Map<string, Waiter>();
  /** The owner known and the match in place; a connection where either failed is closed. */
  readonly ready: Promise<unknown>;

  constructor(private readonly bus: Bus) {
    const { owner: systemd, ready } = bus.followOwner(SYSTEMD_BUS_NAME);
    bus.onSignal((s: Signal) => {
      if (s.interface !== MANAGER_INTERFACE || s.member !== 'JobRemoved' || s.sender === '' || s.sender !== systemd()) return;
      const [, job, unit, result] = s.body as [number, string, string, string];
      const w = this.waiting.get(unit);
      if (!w) return;
      const r = { job, unit, result };
      if (w.job === job && w.done) w.done(r);
      else if (w.job === null) w.early.set(job, r);
    });
    // A lost connection ends every wait on it now, not at each start's deadline.
    bus.onClose((err) => {
      for (const w of this.waiting.values()) w.fail(err);
    });
    this.ready = Promise.all([
      ready,
      bus.addMatch(
        `type='signal',sender='${SYSTEMD_BUS_NAME}',path='${SYSTEMD_OBJECT_PATH}',interface='${MANAGER_INTERFACE}',member='JobRemoved'`,
      ),
    ]);
    this.ready.catch(() => bus.close());
  }

  /**
   * @param created called when systemd has taken the start (the unit exists, with
   *   the reference AddRef took), before the job's end.
   */
  async start(name: string, props: readonly UnitProperty[], created?: () => void): Promise<JobResult> {
    if (this.waiting.has(name)) throw new Error(`a start of ${name} is already in progress`);
    let fail!: (e: Error) => void;
    const failed = new Promise<never>((_, reject) => (fail = reject));
    failed.catch(() => undefined);
    const w: Waiter = { job: null, early: new Map(), done: null, fail };
    this.waiting.set(name, w);
    try {
      // The match went first on this connection, so the bus has it before systemd can emit
      // JobRemoved, and the owner's answer comes before the call's (the bus answers in order).
      const call = this.bus.call(SYSTEMD_BUS_NAME, SYSTEMD_OBJECT_PATH, 'StartTransientUnit', [name, 'fail', toDBusProperties(props), []]);
      const [, [job]] = (await Promise.race([Promise.all([this.ready, call]), failed])) as [unknown, [string]];
      created?.();
      w.job = job;
      const early = w.early.get(job);
      if (early) return early;
      return await Promise.race([new Promise<JobResult>((resolve) => (w.done = resolve)), failed]);
    } finally {
      this.waiting.delete(name);
    }
  }

  /** Stop waiting for `name`'s job (its caller gave up): the entry goes now. */
  abandon(name: string, why: Error): void {
    this.waiting.get(name)?.fail(why);
  }
}

interface Waiter {
  job: string | null;
  early: Map<string, JobResult>;
  done: ((r: JobResult) => void) | null;
  fail: (e: Error) => void;
}

const jobWatches = new WeakMap<Bus, JobWatch>();

/**
 * Start a transient unit and wait for its start job (watched from before the
 * call: it cannot finish unseen), for at most `timeoutMs`. `created` is called
 * once systemd has taken the start.
 */
export async function startTransientUnit(
  bus: Bus,
  name: string,
  props: readonly UnitProperty[],
  { timeoutMs, created }: { timeoutMs?: number; created?: () => void } = {},
): Promise<JobResult> {
  let watch = jobWatches.get(bus);
  if (!watch) {
    watch = new JobWatch(bus);
    jobWatches.set(bus, watch);
  }
  const w = watch;
  const timer =
    timeoutMs === undefined
      ? undefined
      : setTimeout(() => w.abandon(name, new Error(`systemd did not finish starting ${name} within ${timeoutMs / 1000} s`)), timeoutMs);
  try {
    return await w.start(name, props, created);
  } finally {
    clearTimeout(timer);
  }
}

/** Let go of the reference the start took (AddRef): the unit is collected once it is over. */
export function unrefUnit(bus: Bus, path: string): void {
  bus.call(SYSTEMD_BUS_NAME, path, 'Unref').catch(() => undefined);
}

export interface UnitState {
  activeState: string;
  subState: string;
  result: string;
  execMainCode: number;
  execMainStatus: number;
  execMainPid: number;
  mainPid: number;
  controlGroup: string;
}

function v(x: unknown): unknown {
  return x instanceof Variant ? x.value : x;
}

export async function getAll(bus: Bus, path: string, iface: string): Promise<Record<string, unknown>> {
  const [dict] = (await bus.call(SYSTEMD_BUS_NAME, path, 'GetAll', [iface])) as [Record<string, unknown>];
  const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const [k, val] of Object.entries(dict)) out[k] = v(val);
  return out;
}

/** Read a service's state in two calls (unit + service interface). */
export async function readServiceState(bus: Bus, path: string): Promise<UnitState> {
  const [unit, service] = await Promise.all([getAll(bus, path, UNIT_INTERFACE), getAll(bus, path, SERVICE_INTERFACE)]);
  return stateFrom({ ...unit, ...service });
}

export function stateFrom(p: Record<string, unknown>, prev?: UnitState): UnitState {
  const num = (k: string, d: number) => (p[k] === undefined ? d : Number(p[k]));
  const s = (k: string, d: string) => (p[k] === undefined ? d : String(p[k]));
  return {
    activeState: s('ActiveState', prev?.activeState ?? ''),
    subState: s('SubState', prev?.subState ?? ''),
    result: s('Result', prev?.result ?? ''),
    execMainCode: num('ExecMainCode', prev?.execMainCode ?? 0),
    execMainStatus: num('ExecMainStatus', prev?.execMainStatus ?? 0),
    execMainPid: num('ExecMainPID', prev?.execMainPid ?? 0),
    mainPid: num('MainPID', prev?.mainPid ?? 0),
    controlGroup: s('ControlGroup', prev?.controlGroup ?? ''),
  };
}

/** The manager's version (its `Version` property), as the plan needs it; throws when it cannot be read. */
export async function managerVersion(bus: Bus): Promise<ManagerVersion> {
  const [value] = (await bus.call(SYSTEMD_BUS_NAME, SYSTEMD_OBJECT_PATH, 'Get', [MANAGER_INTERFACE, 'Version'])) as [unknown];
  const text = String(v(value));
  const version = parseManagerVersion(text);
  if (version === null) throw new Error(`systemd reports a version ssc cannot read: ${JSON.stringify(text)}`);
  return version;
}

/**
 * The caller's user manager (`user@UID.service`) when the process `pid` runs
 * in it and it is active, else null: a unit that process starts outside every
 * session ends when that manager stops (plan.ts). Only a terminal or an app the
 * user manager started is bound so; a cron job, `sudo -u` or a system service
 * running as the user is not.
 */
export async function userManagerOf(bus: Bus, pid: number, uid: number): Promise<string | null> {
  if (!Number.isInteger(uid) || uid < 0) throw new RangeError(`not a uid: ${uid}`);
  // PID 0 would ask about the connection's own process (here: root's broker).
  if (!Number.isInteger(pid) || pid <= 0) throw new RangeError(`not a PID: ${pid}`);
  const name = `user@${uid}.service`;
  const path = await unitPath(bus, 'GetUnitByPID', pid, 'org.freedesktop.systemd1.NoUnitForPID');
  if (path === null) return null;
  const [[id], [state]] = (await Promise.all([
    bus.call(SYSTEMD_BUS_NAME, path, 'Get', [UNIT_INTERFACE, 'Id']),
    bus.call(SYSTEMD_BUS_NAME, path, 'Get', [UNIT_INTERFACE, 'ActiveState']),
  ])) as [[unknown], [unknown]];
  return v(id) === name && v(state) === 'active' ? name : null;
}

export interface ListedUnit {
  id: string;
  description: string;
  activeState: string;
  subState: string;
  path: string;
}

/** The loaded units in `states` whose names match one of the glob `patterns` (ListUnitsByPatterns, systemd ≥ 230). */
export async function listUnits(bus: Bus, states: readonly string[], patterns: readonly string[]): Promise<ListedUnit[]> {
  const [rows] = (await bus.call(SYSTEMD_BUS_NAME, SYSTEMD_OBJECT_PATH, 'ListUnitsByPatterns', [[...states], [...patterns]])) as [
    unknown[][],
  ];
  return rows.map(listedUnit);
}

/** The units of these names, whatever their state (ListUnitsByNames, systemd ≥ 227). */
export async function listUnitsByNames(bus: Bus, names: readonly string[]): Promise<ListedUnit[]> {
  const [rows] = (await bus.call(SYSTEMD_BUS_NAME, SYSTEMD_OBJECT_PATH, 'ListUnitsByNames', [[...names]])) as [unknown[][]];
  return rows.map(listedUnit);
}

function listedUnit(r: unknown[]): ListedUnit {
  return {
    id: String(r[0]),
    description: String(r[1]),
    activeState: String(r[3]),
    subState: String(r[4]),
    path: String(r[6]),
  };
}

/** One property of a unit's object. */
export async function getProperty(bus: Bus, path: string, iface: string, name: string): Promise<unknown> {
  const [value] = (await bus.call(SYSTEMD_BUS_NAME, path, 'Get', [iface, name])) as [unknown];
  return v(value);
}

/** A loaded unit's object path; null when the manager has no unit of that name. */
function loadedUnit(bus: Bus, name: string): Promise<string | null> {
  return unitPath(bus, 'GetUnit', name, 'org.freedesktop.systemd1.NoSuchUnit');
}

/** The unit object path a manager's GetUnit or GetUnitByPID answers; null on its `none` error. */
async function unitPath(bus: Bus, method: 'GetUnit' | 'GetUnitByPID', arg: string | number, none: string): Promise<string | null> {
  let path: unknown;
  try {
    [path] = await bus.call(SYSTEMD_BUS_NAME, SYSTEMD_OBJECT_PATH, method, [arg]);
  } catch (e) {
    if (e instanceof BusError && e.type === none) return null;
    throw e;
  }
  if (typeof path !== 'string')
    throw new BusError('org.freedesktop.DBus.Error.InvalidArgs', `systemd answered ${method} with ${JSON.stringify(path)}`);
  return path;
}

/** A loaded unit's object path and slice; null when the manager has no unit of that name. */
export async function unitSlice(bus: Bus, name: string): Promise<{ path: string; slice: string } | null> {
  const path = await loadedUnit(bus, name);
  if (path === null) return null;
  const iface = name.endsWith('.scope') ? SCOPE_INTERFACE : SERVICE_INTERFACE;
  return { path, slice: String(await getProperty(bus, path, iface, 'Slice')) };
}

/** Queue a stop of the unit (mode "replace", as systemctl stop does); the job's path. */
export async function stopUnit(bus: Bus, name: string): Promise<string> {
  const [job] = await bus.call(SYSTEMD_BUS_NAME, SYSTEMD_OBJECT_PATH, 'StopUnit', [name, 'replace']);
  return String(job);
}

/** A unit's ActiveState, or null when the manager has no unit of that name (collected). */
export async function activeStateOf(bus: Bus, name: string): Promise<string | null> {
  const path = await loadedUnit(bus, name);
  return path === null ? null : String(await getProperty(bus, path, UNIT_INTERFACE, 'ActiveState'));
}
