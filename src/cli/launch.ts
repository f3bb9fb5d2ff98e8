/**
 * Launching a program: everything the front end does, unprivileged, around the
 * broker's one privileged call.
 */
import { accessSync, constants, readFileSync } from 'node:fs';
import { isatty } from 'node:tty';
import type { BrokerReply } from '../ipc.js';
import { brokerChannel, ChannelError, userManagerChannel, type StartChannel } from '../start/channels.js';
import { checkEnvironment, decodeUtf8 } from '../plan/environment.js';
import { callerSlice, execBytes, SSC_SLICE, UNIT_EXEC_LIMIT, type LaunchRequest } from '../plan/plan.js';
import { PROFILES, type Profile, type ProfileName } from '../plan/profiles.js';
import { checkProgramPath, checkWorkingDirectory, UnsafeValueError } from '../plan/unit-file.js';
import { randomHex } from '../random.js';
import { appNameProblem, serviceName, unitObjectPath } from '../plan/unit-name.js';
import { systemBusUnreachable } from '../systemd/errors.js';
import { errnoName } from './os-errors.js';
import { CLD_EXITED, diedOfSignal, EXIT, exitCodeFor, signalName } from './exit-codes.js';
import { SscError, warn } from './errors.js';
import type { Invocation } from './invocation.js';
import { endedBySigkill, killedForMemory, oomKillFile, readOomKills, watchOomKills, type OomWatch } from './oom.js';
import { startNotifier } from './notifier.js';
import { checkProgram } from './program-checks.js';
import { resolveProgram } from './resolve.js';
import { carrySessionFiles } from './session-files.js';
import { SignalForwarder } from './signals.js';
import { verifyDropped } from './verify.js';

export interface LaunchOptions {
  isolation: ProfileName;
  /** 'system' (setuid, the default when privileged) or the caller's own 'user' manager (rootless). */
  manager?: 'system' | 'user';
  /** What ssc ps/stop/logs call the app (its unit name's middle); the program's file name by default. */
  name?: string;
  /** Refuse to start when a cap of the profile would not be in effect (user manager). */
  requireCaps?: boolean;
  /** true: terminal mode; false: GUI mode; undefined: terminal when stdin is a terminal. */
  tty: boolean | undefined;
  wait: boolean;
  verbose: boolean;
}

async function openWatch(path: string, address?: string) {
  const { watchUnit } = await import('../systemd/watch.js');
  try {
    return await watchUnit(path, address, (sender) =>
      warn(`ignored a D-Bus signal about your program from ${sender}, which is not systemd (someone else on this machine sent it)`),
    );
  } catch (e) {
    throw new SscError(EXIT.failed, systemBusUnreachable(e));
  }
}

/** A channel whose failures are one line and exit 125, like every failure to start. */
function sayingFailures(open: (request: LaunchRequest) => Promise<StartChannel>) {
  const failed = (e: unknown) => {
    throw e instanceof ChannelError ? new SscError(EXIT.failed, e.message) : e;
  };
  return async (request: LaunchRequest): Promise<StartChannel> => {
    const channel = await open(request).catch(failed);
    return { start: () => channel.start().catch(failed), close: () => channel.close() };
  };
}

/** Caller data a unit file cannot hold is refused like a usage error: exit 2, one line. */
function refuseUnsafe(check: () => void): void {
  try {
    check();
  } catch (e) {
    if (e instanceof UnsafeValueError) throw new SscError(EXIT.usage, e.message);
    throw e;
  }
}

/** Whether this process runs with no_new_privs (a strict unit's program started ssc): a setuid exec gave it nothing. */
function runsWithNoNewPrivs(): boolean {
  try {
    return /^NoNewPrivs:\s*1$/m.test(readFileSync('/proc/self/status', 'utf8'));
  } catch {
    return false; // no /proc: say the general reason
  }
}

function notPrivileged(): SscError {
  if (runsWithNoNewPrivs())
    return new SscError(
      EXIT.failed,
      'cannot start a contained program from inside a strict one: no_new_privs is set here, so the setuid bit of ssc is ignored (use -isolation=relaxed for the outer one)',
    );
  return new SscError(
    EXIT.failed,
    'not running with privileges: ssc must be installed setuid root (install.sh), on a file system mounted without nosuid',
  );
}

/** Why an ssc started through the launcher has no privileges, for the fallback's notice. */
function unprivilegedReason(): string {
  return runsWithNoNewPrivs()
    ? 'no_new_privs is set here (inside a strict unit), so the setuid bit of ssc is ignored'
    : 'ssc is not running setuid root here (not installed setuid, or a file system mounted nosuid)';
}

/** The system manager when privileged; the caller's own user manager otherwise (rootless mode). */
function chooseManager(inv: Invocation, opts: LaunchOptions, program: string): 'system' | 'user' {
  const privileged = inv.header.privileged && inv.viaLauncher;
  const manager = opts.manager ?? (privileged ? 'system' : 'user');
  if (manager === 'system' && !privileged) throw notPrivileged();
  if (manager === 'system') verifyDropped(inv.header);
  if (manager === 'user' && opts.manager === undefined && inv.viaLauncher)
    warn(`${unprivilegedReason()}; starting ${program} in your own user manager instead, whose caps you can lift yourself`);
  return manager;
}

/** The working directory and the environment, as a unit can take them (the privileged side checks again). */
function checkPlace(inv: Invocation): { cwd: string; vars: Map<string, string> } {
  if (inv.cwd === null)
    throw new SscError(EXIT.failed, `cannot determine the current directory (${errnoName(inv.header.cwdErrno)}); cd somewhere that exists`);
  const cwd = decodeUtf8(inv.cwd);
  if (cwd === null)
    throw new SscError(EXIT.usage, "the current directory's path is not valid UTF-8, which a systemd unit file cannot hold");
  refuseUnsafe(() => checkWorkingDirectory(cwd));
  const { vars, dropped } = checkEnvironment(inv.env);
  if (dropped.length > 0)
    warn(
      `not passing ${dropped.length} environment variable(s) systemd cannot take: ${dropped.map((d) => `${d.name} (${d.reason})`).join(', ')}`,
    );
  try {
    accessSync(cwd, constants.X_OK);
  } catch (e) {
    throw new SscError(
      EXIT.failed,
      `cannot enter the working directory ${cwd} (${(e as NodeJS.ErrnoException).code}); cd somewhere you can enter`,
    );
  }
  return { cwd, vars };
}

/** The program, found with the caller's PATH, that the profile can run. */
function findProgram(inv: Invocation, opts: LaunchOptions, program: string, vars: Map<string, string>, cwd: string): string {
  const found = resolveProgram(program, vars.get('PATH'), cwd);
  if (!found.ok) throw new SscError(found.code, found.message);
  refuseUnsafe(() => checkProgramPath(found.path));
  const refused = checkProgram(found.path, PROFILES[opts.isolation], {
    uid: inv.header.ruid,
    gid: inv.header.rgid,
    groups: inv.header.groups,
  });
  if (refused !== null) throw new SscError(EXIT.cannotExecute, refused);
  return found.path;
}

/** Where the start goes: the root broker, or (rootless) the caller's own user manager, whose caps are checked first. */
async function channelFor(manager: 'system' | 'user', inv: Invocation, opts: LaunchOptions, vars: Map<string, string>) {
  if (manager === 'system') return { open: sayingFailures(brokerChannel), userBus: null };
  const { missingCaps, sessionBusAddress } = await import('./user-manager.js');
  const address = sessionBusAddress(vars);
  if (address === null)
    throw new SscError(
      EXIT.failed,
      'no session bus to reach your user manager: neither DBUS_SESSION_BUS_ADDRESS nor XDG_RUNTIME_DIR is set',
    );
  const missing = missingCaps(PROFILES[opts.isolation], inv.header.ruid);
  if (missing.length > 0 && opts.requireCaps)
    throw new SscError(
      EXIT.failed,
      `not starting (--require-caps): ${missing.map((m) => `${m.cap.name} would not be in effect (${m.why})`).join('; ')}`,
    );
  for (const m of missing) warn(`warning: ${m.cap.name} will not be in effect: ${m.why}`);
  return { open: sayingFailures((request) => userManagerChannel(address, inv.header.umask, request)), userBus: address };
}

export async function launch(inv: Invocation, opts: LaunchOptions, program: string, args: string[]): Promise<number> {
  const nameProblem = opts.name === undefined ? null : appNameProblem(opts.name);
  if (nameProblem !== null) throw new SscError(EXIT.usage, `--name ${JSON.stringify(opts.name)}: ${nameProblem}`);
  const manager = chooseManager(inv, opts, program);
  const { cwd, vars } = checkPlace(inv);
  const execPath = findProgram(inv, opts, program, vars, cwd);
  const profile = PROFILES[opts.isolation];
  const terminal = opts.tty ?? isatty(0);
  if (opts.tty === true && !isatty(0)) throw new SscError(EXIT.usage, '--tty needs a terminal on standard input; use --no-tty');
  const before = new Map(vars);
  for (const w of carrySessionFiles(vars, profile, inv.header.ruid)) warn(w);
  const { open, userBus } = await channelFor(manager, inv, opts, vars);
  // Once the unit exists: the user's notifier, for a cap that bites later.
  const notifier = () => startNotifier(vars, inv.header.ruid);
  if (terminal) {
    const { launchOnTerminal, withChanges } = await import('./terminal.js');
    const env = withChanges(inv.env, before, vars);
    const t = { profile, execPath, program, args, cwd, env, verbose: opts.verbose, rootless: userBus !== null, notifier, name: opts.name };
    return launchOnTerminal(inv, t, open);
  }
  const size = execBytes([program, ...args], [...vars]);
  if (size > UNIT_EXEC_LIMIT)
    throw new SscError(
      EXIT.cannotExecute,
      `the arguments and environment together are ${size} bytes; a program systemd starts takes at most ${UNIT_EXEC_LIMIT} (pass fewer, or start it from a terminal, where it gets your own limits)`,
    );
  const request: LaunchRequest = {
    kind: 'service',
    profile: opts.isolation,
    unit: serviceName(opts.name ?? execPath, randomHex(8)),
    execPath,
    argv: [program, ...args],
    cwd,
    environment: [...vars],
    stdio: opts.wait ? 'inherit' : 'journal',
  };
  // The watch connects while the request goes out and the broker prepares (its
  // handshake was the longest step of a warm launch before "start").
  const watching = opts.wait ? openWatch(unitObjectPath(request.unit), userBus ?? undefined) : null;
  watching?.catch(() => undefined); // reported where it is awaited
  let channel;
  try {
    channel = await open(request);
  } catch (e) {
    watching?.then(
      (w) => w.close(),
      () => undefined,
    );
    throw e;
  }
  return startAndWatch(request, channel, watching, { opts, program, userBus, notifier });
}

/**
 * Everything that can refuse the launch has run: the broker may connect and
 * prepare. Meanwhile signals are caught and the unit watched, and only then
 * does the broker start it, so that nothing the program does, even ending at
 * once, is missed.
 */
async function startAndWatch(
  request: LaunchRequest,
  channel: StartChannel,
  watching: ReturnType<typeof openWatch> | null,
  { opts, program, userBus, notifier }: { opts: LaunchOptions; program: string; userBus: string | null; notifier: () => Promise<void> },
): Promise<number> {
  const { unit } = request;
  const profile = PROFILES[opts.isolation];
  const forwarder = opts.wait ? new SignalForwarder() : null;
  let watch;
  try {
    watch = watching ? await watching : null;
  } catch (e) {
    forwarder?.dispose();
    channel.close();
    throw e;
  }
  let oom: OomWatch | null = null;
  try {
    const oomBefore = opts.wait ? readOomKills() : null;
    const reply = await channel.start();
    if (!reply.ok) failedStart(reply);
    if (opts.verbose) warn(`started ${unit}`);
    await notifier();
    if (reply.ok && reply.controlGroup) await warnMissingCaps(profile, unit, reply.controlGroup);
    if (!watch) return EXIT.ok;

    let mainPid = 0;
    watch.onMainPid((pid) => {
      mainPid = pid;
      forwarder?.setPid(pid);
    });
    // The unit's cgroup: where the plan put it (system manager), or as the user manager said.
    const controlGroup =
      reply.ok && reply.controlGroup
        ? reply.controlGroup
        : userBus === null
          ? `/${SSC_SLICE}/${callerSlice(process.getuid?.() ?? -1)}/${unit}`
          : null;
    if (controlGroup !== null)
      oom = watchOomKills(
        oomKillFile(controlGroup),
        () => mainPid,
        (n) => warn(`a process of ${program} was killed for memory (${n} so far)`),
      );
    const end = await watch.ended;
    const readAtEnd = oom?.refresh() ?? false;
    oom?.settle(endedBySigkill(end));
    const unitCount = oom?.readable ? { main: oom.seen.main, certain: readAtEnd } : null;
    if (killedForMemory(end, unitCount ? (oom?.kernelAtLastRead ?? null) : oomBefore, readOomKills(), unitCount))
      warn(
        `${program} was killed: out of memory (the ${opts.isolation} profile caps it at ${profile.memoryMax / 100}% of RAM, and ${userBus === null ? 'ssc.slice' : 'your app.slice'} all contained programs together)`,
      );
    else if (diedOfSignal(end.execMainCode)) {
      if (opts.verbose) warn(`${program} was killed by ${signalName(end.execMainStatus)}`);
    }
    return exitCodeFor(end);
  } finally {
    oom?.close();
    forwarder?.dispose();
    watch?.close();
    channel.close();
  }
}

/** A refused or failed start as one line and its exit code; returns when the program did run (and ended before the job). */
function failedStart(reply: Extract<BrokerReply, { ok: false }>): void {
  if (reply.kind === 'unsafe') throw new SscError(EXIT.usage, reply.message);
  if (reply.kind === 'request' || reply.kind === 'bus') throw new SscError(EXIT.failed, reply.message);
  if (reply.kind === 'start' && !ranAndEnded(reply.execMainCode ?? 0, reply.execMainStatus ?? 0))
    throw new SscError(
      // systemd's EXIT_EXEC: found, but the kernel would not execute it (not a binary, no interpreter): like env's 126.
      reply.execMainStatus === 203 ? EXIT.cannotExecute : EXIT.failed,
      `${reply.message}: ${describeStartFailure(reply.result, reply.execMainStatus)}`,
    );
  if (reply.kind === 'internal') throw new SscError(EXIT.failed, `starting the unit failed: ${reply.message}`);
}

/** A user manager may enable a controller for app.slice's units a moment after the unit's cgroup appears: look again briefly. */
async function warnMissingCaps(profile: Profile, unit: string, controlGroup: string): Promise<void> {
  const { capsInEffect } = await import('./user-manager.js');
  let missing = capsInEffect(profile, controlGroup);
  for (let i = 0; i < 5 && missing.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 40));
    missing = capsInEffect(profile, controlGroup);
  }
  for (const cap of missing) warn(`warning: ${cap} is not in effect in ${unit}'s cgroup`);
}

/**
 * A start job can fail because the exec failed or because the program, once
 * exec'd, ended before systemd finished the job (a race systemd 252 loses now
 * and then for fast programs). Its exec failures are exit statuses 200-243
 * (systemd.exec(5)); anything else means the program ran.
 */
export function ranAndEnded(execMainCode: number, execMainStatus: number): boolean {
  if (diedOfSignal(execMainCode)) return true;
  return execMainCode === CLD_EXITED && !(execMainStatus >= 200 && execMainStatus <= 243);
}

/** systemd's exit statuses for a failed exec (see systemd.exec(5), "Process Exit Codes"). */
function describeStartFailure(result: string | undefined, status: number | undefined): string {
  switch (status) {
    case 200:
      return 'the working directory cannot be entered';
    case 203:
      return 'the program cannot be executed';
    case 216:
      return 'the group cannot be set';
    case 217:
      return 'the user cannot be set';
    default:
      return `result ${result ?? 'unknown'}${status ? `, status ${status}` : ''}`;
  }
}
