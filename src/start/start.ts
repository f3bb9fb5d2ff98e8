/**
 * One start path for both managers: a checked request → the unit's exact
 * properties → StartTransientUnit → a reply. The broker runs it as root for the
 * system manager; the front end runs it as the caller for the caller's own user
 * manager (rootless mode). Both check the request with the same validateRequest
 * first: a user manager's unit files are re-read on its reloads too.
 */
import { availableParallelism } from 'node:os';
import { execHelperPath } from '../installed.js';
import type { BrokerReply } from '../ipc.js';
import { RequestError } from '../plan/errors.js';
import {
  planScope,
  planService,
  planUserService,
  callerSlice,
  USER_SLICE,
  type Caller,
  type HostFacts,
  type LaunchRequest,
} from '../plan/plan.js';
import { UnsafeValueError } from '../plan/unit-file.js';
import { unitObjectPath } from '../plan/unit-name.js';
import type { Bus } from '../systemd/bus.js';
import { readServiceState, startTransientUnit, unrefUnit } from '../systemd/client.js';
import type { UnitProperty } from '../systemd/signatures.js';
import type { ManagerVersion } from '../systemd/version.js';

/**
 * How long the start job may take (Type=exec: until the program is exec'd). A
 * working directory or program on a hung file system must not hold a
 * connection for ever; the unit itself goes on without us.
 */
export const START_JOB_TIMEOUT_MS = 30_000;

/** A promise bounded in time: nothing the broker waits for may hold a root process for ever. */
export async function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** What the plan knows of this machine and its manager. */
export function hostFacts(version: ManagerVersion): HostFacts {
  return { cores: availableParallelism(), systemd: version.major, scopeOomPolicy: version.scopeOomPolicy, execHelper: execHelperPath() };
}

export interface StartContext {
  manager: 'system' | 'user';
  caller: Caller;
  host: HostFacts;
  /** The front end's process: the only one a scope takes. */
  pid: number;
  /** A pidfd of it in this process (the broker's, from the launcher's hello). */
  pidfd?: number;
  /** The caller's logind session scope, to end with (system manager). */
  sessionScope?: string | null;
  /** The caller's user manager when active, to end with outside a session (system manager). */
  userManager?: string | null;
  /** The root-only environment file (system manager; a user service carries Environment=). */
  environmentFile?: string | null;
  /** The caller's stdin, stdout and stderr in this process (--wait). */
  stdio?: readonly [number, number, number];
}

/** The properties for this request in this manager. Throws RequestError or UnsafeValueError. */
export function planFor(request: LaunchRequest, ctx: StartContext): UnitProperty[] {
  if (request.kind === 'scope')
    return planScope({
      request,
      caller: ctx.caller,
      host: ctx.host,
      pid: ctx.pid,
      pidfd: ctx.pidfd,
      sessionScope: ctx.sessionScope ?? null,
      userManager: ctx.userManager ?? null,
      slice: ctx.manager === 'user' ? USER_SLICE : callerSlice(ctx.caller.uid),
    });
  if (ctx.manager === 'user') return planUserService({ request, umask: ctx.caller.umask, host: ctx.host });
  return planService({
    request,
    caller: ctx.caller,
    host: ctx.host,
    environmentFile: ctx.environmentFile ?? null,
    sessionScope: ctx.sessionScope ?? null,
    userManager: ctx.userManager ?? null,
    stdio: ctx.stdio,
  });
}

/** A refused request as the reply says it (null: not a refusal, an error). */
export function refusalOf(e: unknown): BrokerReply | null {
  if (e instanceof UnsafeValueError) return { ok: false, kind: 'unsafe', message: e.message };
  if (e instanceof RequestError) return { ok: false, kind: 'request', message: e.message };
  return null;
}

/**
 * Start the planned unit and say how it went. `afterJob` runs as soon as the
 * start job is over (the manager has read the environment file by then).
 */
export async function startAndReport(
  bus: Bus,
  unit: string,
  props: readonly UnitProperty[],
  { manager, afterJob }: { manager: 'system' | 'user'; afterJob?: () => void },
): Promise<BrokerReply> {
  let job;
  let state;
  let created = false;
  try {
    job = await startTransientUnit(bus, unit, props, { timeoutMs: START_JOB_TIMEOUT_MS, created: () => (created = true) });
    afterJob?.();
    // AddRef keeps a failed unit until it is let go below: read why it failed
    // (and, in a user manager, the cgroup whose caps the front end checks).
    state = job.result !== 'done' || manager === 'user' ? await readServiceState(bus, unitObjectPath(unit)).catch(() => null) : null;
  } finally {
    // Only a reference this start took: on the broker's shared connection another start's unit
    // of the same name (a caller may ask for any name of ssc's form) must keep its own.
    if (created) unrefUnit(bus, unitObjectPath(unit));
  }
  if (job.result === 'done') return manager === 'user' ? { ok: true, unit, controlGroup: state?.controlGroup } : { ok: true, unit };
  return {
    ok: false,
    kind: 'start',
    message: `${manager === 'user' ? 'your user manager' : 'systemd'} could not start ${unit} (job ${job.result})`,
    unit,
    result: state?.result ?? job.result,
    execMainCode: state?.execMainCode ?? 0,
    execMainStatus: state?.execMainStatus ?? 0,
  };
}
