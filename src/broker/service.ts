/**
 * The broker service: one root process that systemd starts on the first
 * connection to ssc-broker.socket (Accept=no) and that exits after a while
 * with no connection. systemd starts it, so it runs in its own cgroup with its
 * own nice value, limits, keyring and working directory: nothing of a caller's
 * process state reaches it, and a caller can freeze, kill or starve only their
 * own processes.
 *
 * Each connection is counted against the connecting launcher's real uid from
 * the moment of accept, is paused (libuv reads nothing) until the launcher's
 * hello with its descriptors has been checked, and is served on its own: a
 * connection that stalls, sends garbage or disconnects affects no other.
 */
import { existsSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { FrameReader, sendLast, type BrokerReply } from '../ipc.js';
import type { Native } from '../native/native.js';
import { serveLauncher } from './broker.js';
import { acceptLauncher, PeerGone, PeerRefused, realIds, socketFd } from './launcher-peer.js';
import { MAX_CONNECTIONS_PER_USER, MAX_STARTS_PER_USER, UserCounts } from './slots.js';
import { SharedSystemBus } from './system-bus.js';

/** sd_listen_fds(): the first passed descriptor. */
const LISTEN_FD = 3;
/** From accept to the launcher's hello: it sends right after connecting. */
const HELLO_TIMEOUT_MS = 2000;
/** How long a refused connection may take to hear why. */
const REFUSAL_LINGER_MS = 2000;
/** Connections of all users at once; each user is held far below it. */
const MAX_CONNECTIONS = 1024;
/** Stopped, it finishes the starts in progress for at most this long (systemd's TimeoutStopSec is 90 s). */
const STOP_GRACE_MS = 80_000;
/** Idle this long, the broker exits; the next connection starts it again. */
export const IDLE_EXIT_MS = 60_000;

function warn(message: string): void {
  // The journal, through systemd's stderr: one line, no caller bytes beyond numbers.
  process.stderr.write(`ssc-broker: ${message}\n`);
}

/** The systemd socket-activation contract, checked: exactly one descriptor, passed to us. */
function listenFd(): number | null {
  if (process.env.LISTEN_PID !== String(process.pid) || process.env.LISTEN_FDS !== '1') return null;
  return LISTEN_FD;
}

export function runBrokerService(native: Native): Promise<number> {
  native.setDumpable(false);
  const fd = listenFd();
  if (fd === null || process.getuid?.() !== 0 || process.geteuid?.() !== 0) {
    warn('not started by systemd through ssc-broker.socket as root');
    return Promise.resolve(1);
  }
  const unsafe = sandboxProblem();
  if (unsafe !== null) warn(`${unsafe}; refusing every launch`);
  const counts = new UserCounts();
  const systemBus = new SharedSystemBus(native);
  let open = 0;
  let idle: NodeJS.Timeout | null = null;
  const armIdle = () => {
    if (idle) clearTimeout(idle);
    // Exiting leaves whatever waits in the listen queue to systemd, which starts us again.
    idle = setTimeout(() => {
      if (open === 0) process.exit(0);
    }, IDLE_EXIT_MS);
  };
  const server = createServer({ pauseOnConnect: true, allowHalfOpen: true });
  // Stopped (an upgrade, shutdown): accept nothing more and let the starts in progress finish;
  // what waits in the listen queue stays on systemd's descriptor for the next broker.
  let stopping = false;
  process.on('SIGTERM', () => {
    stopping = true;
    server.close();
    if (open === 0) process.exit(0);
    setTimeout(() => process.exit(0), STOP_GRACE_MS).unref();
  });
  server.maxConnections = MAX_CONNECTIONS;
  server.on('connection', (sock: Socket) => {
    open++;
    if (idle) clearTimeout(idle);
    let release = () => undefined as void;
    sock.on('error', () => undefined);
    sock.on('close', () => {
      release();
      if (--open === 0) {
        if (stopping) process.exit(0);
        armIdle();
      }
    });
    const served =
      unsafe === null
        ? serveConnection(native, sock, counts, systemBus, (r) => (release = r))
        : refuse(sock, `the ssc broker cannot run safely here: ${unsafe}`);
    served.catch((e: unknown) => {
      warn(`connection failed: ${(e as Error).message}`);
      sock.destroy();
    });
  });
  return new Promise((resolve) => {
    server.on('error', (e) => {
      warn(`cannot accept: ${e.message}`);
      resolve(1);
    });
    server.listen({ fd }, armIdle);
  });
}

/**
 * The unit takes /proc's kernel files away (ProcSubset=pid): root's uid alone
 * may write many of them. A kernel that ignores subset= (before 5.8) leaves
 * them, and systemd says nothing. Exiting instead would have systemd start us
 * again at once for the connection still queued, over and over.
 */
function sandboxProblem(): string | null {
  return existsSync('/proc/sys') ? '/proc/sys is visible (ProcSubset=pid needs Linux 5.8 or later)' : null;
}

/** A refusal in one line, without reading a byte of the connection's. */
function refuse(sock: Socket, message: string): Promise<void> {
  sock.resume();
  const refusal: BrokerReply = { ok: false, kind: 'internal', message };
  return sendLast(sock, new FrameReader(sock), JSON.stringify(refusal), REFUSAL_LINGER_MS);
}

async function serveConnection(
  native: Native,
  sock: Socket,
  counts: UserCounts,
  systemBus: SharedSystemBus,
  onRelease: (r: () => void) => void,
): Promise<void> {
  const peer = native.peerCredentials(socketFd(sock));
  // The socket is root-only: anything else means it was opened up by mistake.
  if (peer.uid !== 0) return void sock.destroy();
  const ids = realIds(peer.pid);
  if (ids === null) return void sock.destroy();
  const slot = counts.take(ids.uid);
  onRelease(slot.release);
  if (slot.held > MAX_CONNECTIONS_PER_USER) return void sock.destroy();
  const frames = new FrameReader(sock);
  if (slot.held > MAX_STARTS_PER_USER) {
    sock.resume();
    const refusal: BrokerReply = {
      ok: false,
      kind: 'request',
      message: `you already have ${MAX_STARTS_PER_USER} ssc starts in progress; wait for them to finish`,
    };
    return sendLast(sock, frames, JSON.stringify(refusal), REFUSAL_LINGER_MS);
  }
  let launcher;
  try {
    launcher = await acceptLauncher(native, sock, peer.pid, HELLO_TIMEOUT_MS);
  } catch (e) {
    if (!(e instanceof PeerRefused)) throw e;
    if (!(e instanceof PeerGone)) warn(`refused a connection from PID ${peer.pid}: ${e.message}`);
    return void sock.destroy();
  }
  try {
    sock.resume();
    await serveLauncher(native, sock, frames, launcher, systemBus, slot.reserve);
  } finally {
    launcher.close();
    sock.destroy();
  }
}
