/**
 * Planning: a profile plus a request becomes the exact list of unit properties.
 *
 * Pure: no I/O, no clock, no randomness (the caller passes the unit name and the
 * environment file path in). The broker runs this as root on the request the
 * unprivileged front end sent, so validateRequest() trusts nothing in it, and
 * the caller's ids come from the launcher's header, never from the request.
 */
import type { UnitProperty } from '../systemd/signatures.js';
import { cpuQuotaPerSecUSec, isProfileName, permyriadToScale, PROFILES, type Profile, type ProfileName } from './profiles.js';
import { isValidVariable } from './environment.js';
import { isSscUnitName } from './unit-name.js';
import { RequestError } from './errors.js';
import {
  checkArgument,
  checkEnvironmentLine,
  checkProgramPath,
  checkWorkingDirectory,
  planExec,
  programLabel,
  UnsafeValueError,
  type ExecPlan,
} from './unit-file.js';

/** What the front end asks the broker for. Everything in it is caller-controlled. */
export interface LaunchRequest {
  /**
   * 'service': systemd runs the program (GUI mode, --wait). 'scope': a scope for
   * the front end's own process (its PID from the launcher, never from here),
   * which then becomes the program on the terminal (terminal mode).
   */
  kind: 'service' | 'scope';
  profile: ProfileName;
  /** A name serviceName() (service) or scopeName() (scope) produced. */
  unit: string;
  /** Absolute path of the program, found with the caller's PATH, as the caller. */
  execPath: string;
  /** The program's argv, argv[0] first. */
  argv: string[];
  /** Absolute working directory (applied by systemd after switching to the caller). */
  cwd: string;
  /** The environment, in order (a scope takes none: the program gets it from the front end's exec). */
  environment: [name: string, value: string][];
  /** 'journal': output to the journal, like any desktop app; 'inherit': the caller's stdin/stdout/stderr. */
  stdio: 'journal' | 'inherit';
}

/** Facts about the caller that only the launcher may state. */
export interface Caller {
  uid: number;
  gid: number;
  umask: number;
}

export interface HostFacts {
  /** CPUs available to the manager. */
  cores: number;
  /**
   * The manager's major version (its `Version` property): what it writes into
   * the transient unit file, and reads back, differs (see planExec).
   */
  systemd: number;
  /** Whether its scopes take OOMPolicy= (ManagerVersion.scopeOomPolicy). */
  scopeOomPolicy: boolean;
  /** ssc-exec beside the broker (LIBDIR): the command's carrier where systemd cannot keep the command itself (< 254). */
  execHelper: string;
}

/** Limits on what one request may carry: beyond what a D-Bus message can hold, refuse early and clearly. */
export const REQUEST_LIMITS = {
  /**
   * Total bytes of the encoded request: what a service's execve takes (UNIT_EXEC_LIMIT)
   * written as JSON at its longest (\u00XX for a control byte), with room to spare. The broker
   * holds every user's requests in one process: this and a per-user budget bound its memory.
   */
  maxRequestBytes: 16 * 1024 * 1024,
  /** Bytes of argv that may go into one StartTransientUnit message. */
  maxArgvBytes: 24 * 1024 * 1024,
  maxArgs: 200_000,
  maxEnvironmentEntries: 100_000,
  maxEnvironmentBytes: 32 * 1024 * 1024,
  maxPath: 4096,
} as const;

export { RequestError };

/**
 * What execve takes in the unit: a quarter of the stack limit systemd gives a
 * service (8 MiB by default), for the argument and environment strings and
 * their pointers together, less room for the variables systemd adds itself.
 */
export const UNIT_EXEC_LIMIT = 2 * 1024 * 1024 - 16 * 1024;

/** Bytes the program's execve needs for argv and the environment (as the kernel counts: strings with NUL, and a pointer each). */
export function execBytes(argv: readonly string[], environment: readonly (readonly [string, string])[]): number {
  let n = 0;
  for (const a of argv) n += Buffer.byteLength(a) + 1 + 8;
  for (const [k, v] of environment) n += Buffer.byteLength(k) + Buffer.byteLength(v) + 2 + 8;
  return n;
}

export const SSC_SLICE = 'ssc.slice';

/**
 * The caller's own slice in the system manager, inside ssc.slice (systemd's dash
 * hierarchy): it records whose a unit is, for scopes too, which have no User=.
 * Only the broker starts units in it, so `ssc ps` and ssc-private-tmp can trust it.
 */
export function callerSlice(uid: number): string {
  if (!Number.isInteger(uid) || uid < 0 || uid > 0xfffffffe) throw new RequestError('invalid caller ids');
  return `ssc-${uid}.slice`;
}

/**
 * The program's command for this manager (planExec). Before 254 the unit execs
 * ssc-exec with base64url words, a third longer than the command: they and the
 * environment must still fit the unit's execve.
 */
function commandOf(request: LaunchRequest, host: HostFacts): ExecPlan {
  const exec = planExec(host.systemd, request.execPath, request.argv, host.execHelper);
  // The privileged side checks it too: what the unit's execve would refuse never reaches systemd.
  const helper = exec[0] === 'ExecStart';
  const size = execBytes(helper ? exec[1][0][1] : request.argv, request.environment);
  if (size > UNIT_EXEC_LIMIT)
    throw new UnsafeValueError(
      `the arguments and environment together would be ${size} bytes as ${helper ? 'this systemd starts the program (through ssc-exec, base64)' : 'systemd starts the program'}; it takes at most ${UNIT_EXEC_LIMIT}: pass fewer, or start it from a terminal`,
    );
  return exec;
}

function str(v: unknown, what: string, { absolute = false, max = REQUEST_LIMITS.maxPath as number } = {}): string {
  if (typeof v !== 'string') throw new RequestError(`${what} must be a string`);
  if (!v.isWellFormed()) throw new RequestError(`${what} is not valid Unicode`);
  if (v.includes('\0')) throw new RequestError(`${what} contains a NUL byte`);
  if (v.length > max) throw new RequestError(`${what} is too long`);
  if (absolute && !v.startsWith('/')) throw new RequestError(`${what} must be an absolute path`);
  return v;
}

/** Check a decoded request from the front end; returns a fresh object holding only known fields. */
export function validateRequest(input: unknown): LaunchRequest {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new RequestError('request must be an object');
  const r = input as Record<string, unknown>;
  const kind = r.kind;
  if (kind !== 'service' && kind !== 'scope') throw new RequestError('kind must be "service" or "scope"');
  const profile = str(r.profile, 'profile');
  if (!isProfileName(profile)) throw new RequestError(`unknown profile ${JSON.stringify(profile)}`);
  const unit = str(r.unit, 'unit');
  if (!isSscUnitName(unit) || !unit.endsWith(kind === 'service' ? '.service' : '.scope'))
    throw new RequestError('unit name is not one ssc makes');
  const execPath = str(r.execPath, 'program path', { absolute: true });
  checkProgramPath(execPath);
  if (!Array.isArray(r.argv) || r.argv.length === 0) throw new RequestError('argv must be a non-empty array');
  if (r.argv.length > REQUEST_LIMITS.maxArgs) throw new RequestError(`too many arguments (at most ${REQUEST_LIMITS.maxArgs})`);
  let argvBytes = 0;
  const argv = r.argv.map((a, i) => {
    const s = str(a, `argument ${i}`, { max: Infinity });
    checkArgument(s, i);
    argvBytes += Buffer.byteLength(s) + 8;
    return s;
  });
  if (argvBytes > REQUEST_LIMITS.maxArgvBytes) throw new RequestError(`arguments too large (at most ${REQUEST_LIMITS.maxArgvBytes} bytes)`);
  const cwd = str(r.cwd, 'working directory', { absolute: true });
  checkWorkingDirectory(cwd);
  if (!Array.isArray(r.environment)) throw new RequestError('environment must be an array');
  if (r.environment.length > REQUEST_LIMITS.maxEnvironmentEntries) throw new RequestError('too many environment variables');
  const seen = new Set<string>();
  let envBytes = 0;
  const environment = r.environment.map((e): [string, string] => {
    if (!Array.isArray(e) || e.length !== 2) throw new RequestError('environment entries must be [name, value] pairs');
    const [name, value] = e as unknown[];
    if (typeof name !== 'string' || typeof value !== 'string' || !isValidVariable(name, value))
      throw new RequestError(`invalid environment variable ${JSON.stringify(String(name))}`);
    if (seen.has(name)) throw new RequestError(`duplicate environment variable ${name}`);
    seen.add(name);
    envBytes += name.length + value.length + 4;
    return [name, value];
  });
  if (envBytes > REQUEST_LIMITS.maxEnvironmentBytes) throw new RequestError('environment too large');
  if (kind === 'scope' && environment.length > 0) throw new RequestError('a scope takes no environment');
  const stdio = r.stdio;
  if (stdio !== 'journal' && stdio !== 'inherit') throw new RequestError('stdio must be "journal" or "inherit"');
  return { kind, profile, unit, execPath, argv, cwd, environment, stdio };
}

/** At most this many units in one stop request. */
export const MAX_STOP_UNITS = 64;

export interface StopRequest {
  units: string[];
}

/** Check a decoded stop request: names ssc makes, each once, and nothing else. */
export function validateStopRequest(input: unknown): StopRequest {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new RequestError('request must be an object');
  const { units } = input as Record<string, unknown>;
  if (!Array.isArray(units) || units.length === 0 || units.length > MAX_STOP_UNITS)
    throw new RequestError(`units must name 1 to ${MAX_STOP_UNITS} units`);
  const seen = new Set<string>();
  for (const u of units) {
    if (typeof u !== 'string' || !isSscUnitName(u)) throw new RequestError('unit name is not one ssc makes');
    if (seen.has(u)) throw new RequestError(`${u} is named twice`);
    seen.add(u);
  }
  return { units: [...seen] };
}

export interface PlanInput {
  request: LaunchRequest;
  caller: Caller;
  host: HostFacts;
  /** Root-owned file holding the environment; deleted once the program runs. */
  environmentFile: string | null;
  /**
   * The scope of the caller's logind session (sessionScope() made it), when the
   * caller runs in one: the unit then ends with the session, as at logout.
   */
  sessionScope?: string | null;
  /**
   * The caller's user manager (`user@UID.service`), when the caller's process
   * runs in it and it is active: a unit outside every session ends when it stops.
   */
  userManager?: string | null;
  /** For --wait: the descriptors of the caller's stdin, stdout and stderr in the process that calls systemd. */
  stdio?: readonly [number, number, number];
}

/** logind's session IDs: letters and digits only (session_id_valid() in systemd). */
const SESSION_ID = /^[A-Za-z0-9]{1,64}$/;
const SESSION_SCOPE = /^session-[A-Za-z0-9]{1,64}\.scope$/;

/**
 * The scope to bind a unit to, given the session logind says the caller's
 * process is in: only a session of the caller's own uid (a reused PID could
 * name someone else's), and only an ID logind could have made.
 */
export function sessionScope(session: { id: string; uid: number } | null, callerUid: number): string | null {
  if (session === null || session.uid !== callerUid) return null;
  if (!SESSION_ID.test(session.id)) throw new Error(`logind gave a session ID ssc does not expect: ${JSON.stringify(session.id)}`);
  return `session-${session.id}.scope`;
}

/**
 * What the unit ends with. In the caller's session: the session, as at logout
 * (stopped when it ends, and ordered after it so that it is stopped before the
 * session's processes are). Started from the caller's user manager outside
 * every session (a terminal or an app it launched): that manager, which stops
 * when the caller's last session ends (or by `loginctl terminate-user`). Its
 * stop is passed on, never its start (no BindsTo=): a manager that is not
 * running is not started for the unit, nor the unit again with the manager. No
 * After= either: the unit's start would wait behind a stop job the manager has
 * queued (logind's, 10 s after the last logout), and a scope takes its process
 * by PID only when its start job runs (before 255).
 */
function endWithProps(callerUid: number, sessionScope: string | null, userManager: string | null): UnitProperty[] {
  if (sessionScope !== null) {
    if (!SESSION_SCOPE.test(sessionScope)) throw new Error(`not a session scope: ${JSON.stringify(sessionScope)}`);
    return [
      ['BindsTo', [sessionScope]],
      ['After', [sessionScope]],
    ];
  }
  if (userManager === null) return [];
  if (userManager !== `user@${callerUid}.service`) throw new Error(`not the caller's user manager: ${JSON.stringify(userManager)}`);
  // And from the runtime directory's unit, which user@ is bound to: logind stops that one (at
  // logout, `loginctl terminate-user`), and systemd 257 passes on a stop through
  // PropagatesStopTo= only from the unit a stop was asked of, not from one stopped along.
  return [['StopPropagatedFrom', [userManager, `user-runtime-dir@${callerUid}.service`]]];
}

/**
 * The profile's resource limits, the same in every manager and unit type, and
 * what happens when the memory cap bites: OOMPolicy=continue, so that the
 * kernel's one victim (a browser's content process, a tab's build) is all the
 * app loses. systemd's default (stop) ends the whole unit after the kernel
 * killed one process of it. A manager whose scopes do not take it
 * (ManagerVersion.scopeOomPolicy) stops a terminal tab's scope as before.
 */
function limitProps(profile: Profile, host: HostFacts, kind: LaunchRequest['kind']): UnitProperty[] {
  const props: UnitProperty[] = [
    ['MemoryMaxScale', permyriadToScale(profile.memoryMax)],
    ['MemorySwapMaxScale', permyriadToScale(profile.memorySwapMax)],
  ];
  const quota = cpuQuotaPerSecUSec(profile.cpuQuota, host.cores);
  if (quota !== null) props.push(['CPUQuotaPerSecUSec', quota]);
  if (kind === 'service' || host.scopeOomPolicy) props.push(['OOMPolicy', 'continue']);
  return props;
}

/** For --wait: the program's stdin, stdout and stderr are ssc's own (passed as fds). */
function stdioProps(request: LaunchRequest, [stdin, stdout, stderr]: readonly [number, number, number] = [0, 1, 2]): UnitProperty[] {
  if (request.stdio !== 'inherit') return [];
  return [
    ['StandardInputFileDescriptor', stdin],
    ['StandardOutputFileDescriptor', stdout],
    ['StandardErrorFileDescriptor', stderr],
  ];
}

/** The exact properties of the transient service. Nothing else reaches systemd. */
export function planService({
  request,
  caller,
  host,
  environmentFile,
  sessionScope = null,
  userManager = null,
  stdio,
}: PlanInput): UnitProperty[] {
  const profile = PROFILES[request.profile];
  if (!Number.isInteger(caller.uid) || caller.uid < 0 || !Number.isInteger(caller.gid) || caller.gid < 0)
    throw new RequestError('invalid caller ids');
  const endWith = endWithProps(caller.uid, sessionScope, userManager);
  const program = programLabel(request.execPath);
  const props: UnitProperty[] = [
    ['Description', `${program} (ssc ${profile.name})`],
    ['Type', 'exec'],
    commandOf(request, host),
    ['User', String(caller.uid)],
    ['Group', String(caller.gid)],
    ['UMask', caller.umask & 0o777],
    ['WorkingDirectory', request.cwd],
    ['CollectMode', 'inactive-or-failed'],
    ['Slice', callerSlice(caller.uid)],
    ['SyslogIdentifier', program],
    ...limitProps(profile, host, 'service'),
  ];
  if (profile.noNewPrivileges) props.push(['NoNewPrivileges', true]);
  if (profile.privateTmp) props.push(['PrivateTmp', true]);
  if (environmentFile !== null) {
    // The broker deletes the file as soon as the start job is done (Type=exec:
    // the program has been exec'd, so the manager has read it); the tmpfiles.d
    // rule sweeps what a broker that died in between left. No ExecStartPost: with
    // one, a program that exits during it fails the start job, and
    // `ssc --wait sh -c 'exit 7'` would look like a failed start. No
    // ExecStopPost rm either: a fork and exec by the manager at every stop (about
    // 5 ms here, on the path of every `--wait`) to delete a file that is gone.
    // ignore-missing: a unit that is restarted by hand finds no file and runs.
    props.push(['EnvironmentFiles', [[environmentFile, true]]]);
  }
  props.push(...endWith);
  props.push(...stdioProps(request, stdio));
  // Keep the unit (and its result) until the broker has read it, even if it fails at once.
  props.push(['AddRef', true]);
  return props;
}

export interface ScopePlanInput {
  request: LaunchRequest;
  caller: Caller;
  host: HostFacts;
  /** The front end's PID, as the launcher recorded it: the only process the scope takes. */
  pid: number;
  /**
   * A pidfd of that process in the caller of StartTransientUnit (the broker has the
   * launcher's): from systemd 255 the scope takes the process by it, which a reused PID
   * cannot stand in for.
   */
  pidfd?: number;
  sessionScope?: string | null;
  userManager?: string | null;
  /** The caller's slice (callerSlice) in the system manager; app.slice in a user manager. */
  slice?: string;
}

/**
 * The exact properties of a terminal mode scope: the profile's resource limits
 * for the front end's own process, which then becomes the program. A scope
 * takes no execution properties (NoNewPrivileges, PrivateTmp): the front end
 * sets no_new_privs itself before it execs, and strict's private /tmp is not
 * available in a scope.
 */
/** The first systemd whose scopes take PIDFDs (NEWS of 255). */
export const PIDFDS_SINCE = 255;

export function planScope({
  request,
  caller,
  host,
  pid,
  pidfd,
  sessionScope = null,
  userManager = null,
  slice,
}: ScopePlanInput): UnitProperty[] {
  const profile = PROFILES[request.profile];
  if (request.kind !== 'scope') throw new RequestError('not a scope request');
  if (!Number.isInteger(pid) || pid <= 1) throw new RequestError('invalid process for a scope');
  if (!Number.isInteger(caller.uid) || caller.uid < 0) throw new RequestError('invalid caller ids');
  const endWith = endWithProps(caller.uid, sessionScope, userManager);
  const props: UnitProperty[] = [
    ['Description', `${programLabel(request.execPath)} (ssc ${profile.name}, terminal)`],
    pidfd !== undefined && host.systemd >= PIDFDS_SINCE ? ['PIDFDs', [pidfd]] : ['PIDs', [pid]],
    ['CollectMode', 'inactive-or-failed'],
    ['Slice', slice ?? callerSlice(caller.uid)],
    ...limitProps(profile, host, 'scope'),
  ];
  props.push(...endWith);
  props.push(['AddRef', true]);
  return props;
}

/** The slice desktops expect applications in, in a user manager. */
export const USER_SLICE = 'app.slice';

export interface UserPlanInput {
  request: LaunchRequest;
  umask: number;
  host: HostFacts;
}

/**
 * The service for the caller's own user manager (rootless mode). The same
 * profile values; no User=/Group= (a user manager runs everything as its
 * user); the environment as Environment= (a user manager's units are visible
 * only to their user and root); PrivateUsers= beside PrivateTmp=, which a user
 * manager needs to set up a private /tmp.
 */
export function planUserService({ request, umask, host }: UserPlanInput): UnitProperty[] {
  const profile = PROFILES[request.profile];
  if (request.kind !== 'service') throw new RequestError('not a service request');
  const program = programLabel(request.execPath);
  const environment = request.environment.map(([k, v]) => `${k}=${v}`);
  checkEnvironmentLine(environment);
  const props: UnitProperty[] = [
    ['Description', `${program} (ssc ${profile.name})`],
    ['Type', 'exec'],
    commandOf(request, host),
    ['UMask', umask & 0o777],
    ['WorkingDirectory', request.cwd],
    ['CollectMode', 'inactive-or-failed'],
    ['Slice', USER_SLICE],
    ['SyslogIdentifier', program],
    ['Environment', environment],
    ...limitProps(profile, host, 'service'),
  ];
  if (profile.noNewPrivileges) props.push(['NoNewPrivileges', true]);
  if (profile.privateTmp) {
    props.push(['PrivateUsers', true]);
    props.push(['PrivateTmp', true]);
  }
  props.push(...stdioProps(request), ['AddRef', true]);
  return props;
}
