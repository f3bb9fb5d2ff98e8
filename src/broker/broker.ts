/**
 * The broker's work for one launcher's connection: the only code that runs as
 * root with a root-authenticated connection to the system bus.
 *
 * service.ts accepts the connection and checks who sent it (launcher-peer.ts).
 * Here the caller's ids come from the launcher's header; the broker waits for
 * the front end's "launch", connects to the fixed system bus socket, reads one
 * request, checks it, asks logind which session the launcher's PID is in (to
 * bind the unit to it), plans the unit, and on "start" writes the environment
 * file, starts the unit (src/start/start.ts) and replies. It never opens a
 * path the caller names, never runs anything, and closes its bus connection
 * before replying.
 */
import { closeSync, constants as fsc, lstatSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import type { HandoffHeader } from '../handoff.js';
import type { Socket } from 'node:net';
import { FrameRefused, LAUNCH, sendLast, START, STOP, type BrokerReply, type FrameReader, type StopReply } from '../ipc.js';
import { encodeEnvironmentFile } from '../plan/environment.js';
import { callerSlice, REQUEST_LIMITS, RequestError, sessionScope, validateRequest, validateStopRequest } from '../plan/plan.js';
import type { Bus } from '../systemd/bus.js';
import { systemBusUnreachable } from '../systemd/errors.js';
import { managerVersion, stopUnit, unitSlice, userManagerOf } from '../systemd/client.js';
import { UnsafeValueError } from '../plan/unit-file.js';
import { sessionOfPid, type LoginSession } from '../systemd/logind.js';
import { randomHex } from '../random.js';
import { hostFacts, planFor, refusalOf, startAndReport, withTimeout, type StartContext } from '../start/start.js';
import type { Launcher } from './launcher-peer.js';
import type { SharedSystemBus } from './system-bus.js';
import { MAX_REQUEST_BYTES_PER_USER } from './slots.js';
import type { Native } from '../native/native.js';

/** Root-owned, 0700: environment files live here for the moment between write and exec. */
export const ENV_DIR = '/run/ssc';

class Refusal extends Error {}

/** How long the front end may take from "launch" to "start" (it subscribes to the unit meanwhile). */
const FRONT_END_TIMEOUT_MS = 30_000;

/** Whether every uid (real, effective, saved, fs) of a process is `uid` and every gid `gid`. */
function runsOnlyAs(pid: number, uid: number, gid: number): boolean {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'latin1');
  } catch {
    return false;
  }
  const all = (field: string, id: number) => {
    const ids = new RegExp(`^${field}:\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)$`, 'm').exec(status)?.slice(1);
    return ids !== undefined && ids.every((v) => Number(v) === id);
  };
  return all('Uid', uid) && all('Gid', gid);
}

/**
 * The request as text, refused when it holds more values than any request can:
 * JSON.parse of 16 MiB of "[{},{},…]" takes hundreds of MiB of heap, in the one
 * process that serves every user.
 */
export function boundedJson(bytes: Buffer): string {
  const most = REQUEST_LIMITS.maxArgs + 3 * REQUEST_LIMITS.maxEnvironmentEntries + 64;
  let values = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number;
    if (inString) {
      if (b === 0x5c)
        i++; // a backslash escapes the next byte
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) inString = true;
    else if ((b === 0x2c || b === 0x5b || b === 0x7b) && ++values > most) throw new RequestError('the request holds too many values');
  }
  return bytes.toString('utf8');
}

/** How long logind may take to say which session the caller is in. */
const LOGIND_TIMEOUT_MS = 5000;

/** sessionOfPid, bounded in time: a stuck logind must not hold a root process. */
function askLogind(bus: Bus, pid: number): Promise<LoginSession | null> {
  return withTimeout(
    sessionOfPid(bus, pid),
    LOGIND_TIMEOUT_MS,
    `logind did not say within ${LOGIND_TIMEOUT_MS / 1000} s which session you are in`,
  );
}

/** Same set of groups, ignoring order and the primary group's presence. */
export function sameGroups(a: readonly number[], b: readonly number[], primary: number): boolean {
  const sa = new Set([...a, primary]);
  const sb = new Set([...b, primary]);
  return sa.size === sb.size && [...sa].every((g) => sb.has(g));
}

function ensureEnvDir(): void {
  try {
    mkdirSync(ENV_DIR, { mode: 0o700 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  const st = lstatSync(ENV_DIR);
  if (!st.isDirectory() || st.uid !== 0 || (st.mode & 0o7777) !== 0o700)
    throw new Error(`${ENV_DIR} is not a root-owned directory with mode 0700`);
}

/**
 * Write the environment where only root can read it; the broker deletes it once
 * the program runs. ENV_DIR was checked (ensureEnvDir) at "launch".
 * (libuv opens every file with O_CLOEXEC.)
 */
function writeEnvironmentFile(path: string, text: string): void {
  const fd = openSync(path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
  try {
    const buf = Buffer.from(text, 'utf8');
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
  } finally {
    closeSync(fd);
  }
}

/** Delete an environment file; what fails here the tmpfiles.d rule sweeps. */
function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* see above */
  }
}

function checkCaller(native: Native, header: HandoffHeader): void {
  const user = native.lookupUser(header.ruid);
  if (user === null) throw new Refusal(`your uid ${header.ruid} has no entry in the user database, so systemd cannot run a unit as you`);
  if (user.gid !== header.rgid && header.ruid !== 0)
    throw new Refusal(
      `your group ${header.rgid} is not your primary group ${user.gid} in the user database; run ssc with your primary group`,
    );
  const db = native.groupList(user.name, header.rgid);
  if (!sameGroups(header.groups, db, header.rgid))
    throw new Refusal(
      "your supplementary groups differ from the user database (systemd would give the program the database's groups); start ssc from a fresh login",
    );
}

/**
 * Serve one launcher's connection: its front end's request, checked, planned and
 * started. Every wait is bounded from accept: the request and "start" within
 * FRONT_END_TIMEOUT_MS, logind, the version and the start job each by their own.
 */
export async function serveLauncher(
  native: Native,
  sock: Socket,
  frames: FrameReader,
  launcher: Launcher,
  systemBus: SharedSystemBus,
  reserve: (bytes: number) => boolean = () => true,
): Promise<void> {
  const { header } = launcher;
  const reply = (r: BrokerReply) => sendLast(sock, frames, JSON.stringify(r), FRONT_END_TIMEOUT_MS);
  // A stopped or stuck front end must not keep a connection (and the caller's
  // descriptors) here: "launch", the request and "start" come within a bound
  // of the hello, or the connection goes.
  const deadline = setTimeout(() => sock.destroy(new Error('the front end did not ask for the start in time')), FRONT_END_TIMEOUT_MS);
  // Help, version, usage errors: the front end never says "launch", and the
  // broker never connects to the bus for it.
  const intent = await frames.next(Math.max(LAUNCH.length, STOP.length)).catch(() => null);
  if (intent !== null && intent.toString() === STOP) {
    try {
      await serveStop(sock, frames, header, systemBus);
    } finally {
      clearTimeout(deadline);
    }
    return;
  }
  if (intent === null || intent.toString() !== LAUNCH) {
    clearTimeout(deadline);
    return;
  }
  try {
    ensureEnvDir();
  } catch (e) {
    clearTimeout(deadline);
    await reply({ ok: false, kind: 'internal', message: (e as Error).message }).catch(() => undefined);
    return;
  }
  // The shared connection (opened now if there is none) while the front end prepares its request.
  const busPromise = systemBus.get();
  busPromise.catch(() => undefined);
  // Which logind session the caller's process (the front end, whose PID the
  // launcher wrote) is in, asked as soon as the bus is up.
  const sessionPromise = busPromise.then((b) => askLogind(b, header.pid));
  sessionPromise.catch(() => undefined);
  // What the manager writes into the unit's file, and reads back, depends on its version.
  const versionPromise = busPromise.then((b) => withTimeout(managerVersion(b), LOGIND_TIMEOUT_MS, 'systemd did not say its version'));
  versionPromise.catch(() => undefined);
  // Started from the caller's user manager outside a session: the unit ends with that manager.
  // Nothing else depends on it: a manager systemd does not name in time is none.
  const userManagerPromise = busPromise
    .then((b) => withTimeout(userManagerOf(b, header.pid, header.ruid), LOGIND_TIMEOUT_MS, 'no answer'))
    .catch(() => null);
  let bus: Bus;
  let envFile: string | null = null;
  try {
    let requestBytes;
    try {
      requestBytes = await frames.next(REQUEST_LIMITS.maxRequestBytes, reserve);
    } catch (e) {
      if (!(e instanceof FrameRefused)) throw e;
      await reply({
        ok: false,
        kind: 'request',
        message: `your ssc starts in progress already hold ${MAX_REQUEST_BYTES_PER_USER >> 20} MiB of requests; wait for them to finish`,
      });
      return;
    }
    if (requestBytes === null) return; // the front end gave up (refused the program, a signal)
    let request;
    try {
      request = validateRequest(JSON.parse(boundedJson(requestBytes)));
      checkCaller(native, header);
    } catch (e) {
      if (e instanceof RequestError || e instanceof Refusal || e instanceof SyntaxError) {
        await reply({ ok: false, kind: e instanceof UnsafeValueError ? 'unsafe' : 'request', message: e.message });
        return;
      }
      throw e;
    }
    try {
      bus = await busPromise;
    } catch (e) {
      await reply({ ok: false, kind: 'bus', message: systemBusUnreachable(e) });
      return;
    }
    if (request.kind === 'service' && request.stdio === 'inherit' && !bus.supportsUnixFd)
      throw new Error('the bus connection cannot pass file descriptors (usocket missing)');
    const ctx: StartContext = {
      manager: 'system',
      caller: { uid: header.ruid, gid: header.rgid, umask: header.umask },
      host: hostFacts(await versionPromise),
      // A scope takes the front end's own process (the launcher's PID: the request names none).
      pid: header.pid,
      pidfd: launcher.pidfd,
      sessionScope: sessionScope(await sessionPromise, header.ruid),
      userManager: await userManagerPromise,
      environmentFile: request.kind === 'service' ? `${ENV_DIR}/env-${randomHex(16)}` : null,
      stdio: launcher.stdio,
    };
    let props;
    try {
      // Planned before the file is written: nothing is written for a request the plan refuses.
      props = planFor(request, ctx);
    } catch (e) {
      const refusal = refusalOf(e);
      if (refusal === null) throw e;
      await reply(refusal);
      return;
    }
    // Start only once the front end says it watches the unit; a front end that
    // ends the stream instead (a signal, a failed watch) gets no unit.
    const go = await frames.next(START.length).catch(() => null);
    if (go === null || go.toString() !== START) return;
    clearTimeout(deadline);
    // Written only now that a start follows, and deleted once it is over (below, or in finally).
    envFile = ctx.environmentFile ?? null;
    if (envFile !== null) writeEnvironmentFile(envFile, encodeEnvironmentFile(new Map(request.environment)));
    // The front end's process must still be the launcher's: a scope takes its PID, which a
    // process that died would leave free for another user's process.
    if (native.pidfdExited(launcher.pidfd)) throw new Error('the ssc process that asked for the start is gone');
    // And it must run as the caller and nothing more (dropped: every uid and gid the caller's):
    // a front end made to exec a setuid program would take root into the scope. A check, read
    // before the pidfd is asked again, not a guarantee: the scope takes the process as it is then.
    if (request.kind === 'scope' && !(runsOnlyAs(header.pid, header.ruid, header.rgid) && !native.pidfdExited(launcher.pidfd)))
      throw new Error('the ssc process that asked for the start no longer runs as you alone');
    const answer = await startAndReport(bus, request.unit, props, {
      manager: 'system',
      // The program has been exec'd (Type=exec) and the manager has read the file, or the start failed: it goes now.
      afterJob: () => {
        if (envFile !== null) removeQuietly(envFile);
        envFile = null;
      },
    });
    await reply(answer);
    return;
  } catch (e) {
    const err = e as Error & { type?: string };
    await reply({ ok: false, kind: 'internal', message: err.type ? `${err.type}: ${err.message}` : err.message }).catch(() => undefined);
    return;
  } finally {
    clearTimeout(deadline);
    if (envFile !== null) removeQuietly(envFile);
  }
}

/** How long one stop request may take in all (within FRONT_END_TIMEOUT_MS, which closes the connection). */
const STOP_BOUND_MS = 20_000;
/** A stop request is a list of unit names: far below a launch's limit. */
const MAX_STOP_REQUEST_BYTES = 64 * 1024;

/**
 * `ssc stop` of system-manager units: each one named is stopped only when it is
 * in the caller's own slice (ssc-UID.slice, which only this broker puts units
 * in), read from systemd just before the stop. Nothing else about the unit is
 * taken from the caller; a unit of anyone else's, or none of ssc's, is refused.
 */
async function serveStop(sock: Socket, frames: FrameReader, header: HandoffHeader, systemBus: SharedSystemBus): Promise<void> {
  const reply = (r: StopReply) => sendLast(sock, frames, JSON.stringify(r), FRONT_END_TIMEOUT_MS);
  try {
    const bytes = await frames.next(MAX_STOP_REQUEST_BYTES);
    if (bytes === null) return;
    let request;
    try {
      request = validateStopRequest(JSON.parse(bytes.toString('utf8')));
    } catch (e) {
      if (e instanceof RequestError || e instanceof SyntaxError) {
        await reply({ ok: false, kind: 'request', message: e.message });
        return;
      }
      throw e;
    }
    let bus: Bus;
    try {
      bus = await systemBus.get();
    } catch (e) {
      await reply({ ok: false, kind: 'bus', message: systemBusUnreachable(e) });
      return;
    }
    const mine = callerSlice(header.ruid);
    const units: { unit: string; stopped: boolean; message?: string }[] = [];
    // All of it within the connection's own bound: a request of many units against a slow
    // systemd holds the shared bus connection no longer than one launch may.
    const until = Date.now() + STOP_BOUND_MS;
    for (const unit of request.units) {
      if (sock.destroyed || Date.now() > until) {
        units.push({ unit, stopped: false, message: 'not tried: out of time' });
        continue;
      }
      // Each call within what is left of the bound, so that the bound holds for the last unit too.
      const left = () => Math.max(1, Math.min(LOGIND_TIMEOUT_MS, until - Date.now()));
      try {
        const found = await withTimeout(unitSlice(bus, unit), left(), `systemd did not say where ${unit} is`);
        if (found === null) units.push({ unit, stopped: false, message: 'no such unit' });
        else if (found.slice !== mine) units.push({ unit, stopped: false, message: 'not yours' });
        else {
          await withTimeout(stopUnit(bus, unit), left(), `systemd did not take the stop of ${unit}`);
          units.push({ unit, stopped: true });
        }
      } catch (e) {
        units.push({ unit, stopped: false, message: (e as Error).message });
      }
    }
    await reply({ ok: true, units });
  } catch (e) {
    const err = e as Error & { type?: string };
    await reply({ ok: false, kind: 'internal', message: err.type ? `${err.type}: ${err.message}` : err.message }).catch(() => undefined);
  }
}
