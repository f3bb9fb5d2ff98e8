/**
 * The front end's side of a start, the same for both managers: a channel whose
 * start() answers with a BrokerReply. For the system manager it is the
 * connection to the root broker the launcher made; for the caller's own user
 * manager (rootless mode) the front end runs the start path itself, as the
 * caller.
 */
import { BROKER_FD } from '../handoff.js';
import { FrameReader, LAUNCH, send, socketOnFd, START, STOP, type BrokerReply, type StopReply } from '../ipc.js';
import { validateRequest, type LaunchRequest } from '../plan/plan.js';
import { Bus } from '../systemd/bus.js';
import { managerVersion } from '../systemd/client.js';
import { hostFacts, planFor, refusalOf, startAndReport, withTimeout } from './start.js';

export interface StartChannel {
  /** Ask for the start (once the unit is watched) and get the answer. */
  start(): Promise<BrokerReply>;
  close(): void;
}

/** A channel that could not be used; the front end says the message in one line. */
export class ChannelError extends Error {}

const REPLY_LIMIT = 1024 * 1024;
/** Longer than every deadline of the broker's together. */
const REPLY_TIMEOUT_MS = 120_000;

/**
 * The connection to the root broker. "launch" and the request go at once, so
 * the broker connects and prepares while the front end subscribes to the unit;
 * the start waits for `start()`.
 */
export async function brokerChannel(request: LaunchRequest): Promise<StartChannel> {
  const sock = socketOnFd(BROKER_FD);
  const frames = new FrameReader(sock);
  // A broker that refused at accept (a cap, its own sandbox) answered and closed; writing to it
  // fails, but its answer waits in the socket: start() reads it rather than report the write.
  let unsent: unknown = null;
  await send(sock, LAUNCH)
    .then(() => send(sock, JSON.stringify(request)))
    .catch((e: unknown) => {
      unsent = e;
    });
  return {
    async start(): Promise<BrokerReply> {
      if (unsent === null) await send(sock, START, { end: true }).catch(() => undefined);
      return JSON.parse(await brokerAnswer(frames, unsent)) as BrokerReply;
    },
    close(): void {
      sock.destroy();
    },
  };
}

/**
 * `ssc stop` of system-manager units, through the root broker: it stops those
 * in the caller's own slice and says which. The socket is left to end when the
 * broker closes its side (never destroyed here while the process goes on).
 */
export async function brokerStop(units: readonly string[]): Promise<StopReply> {
  const sock = socketOnFd(BROKER_FD);
  const frames = new FrameReader(sock);
  let unsent: unknown = null;
  await send(sock, STOP)
    .then(() => send(sock, JSON.stringify({ units }), { end: true }))
    .catch((e: unknown) => {
      unsent = e;
    });
  return JSON.parse(await brokerAnswer(frames, unsent)) as StopReply;
}

/**
 * The broker's one answer. A broker that refused at accept (a cap, its own sandbox) answered and
 * closed: a write to it failed (`unsent`), but its answer waits in the socket and is read first.
 */
async function brokerAnswer(frames: FrameReader, unsent: unknown): Promise<string> {
  // Every wait of the broker's is bounded; this bounds a broker that cannot answer at all.
  const timedOut = `the privileged helper did not answer within ${REPLY_TIMEOUT_MS / 1000} s (is ssc-broker.service failing? see journalctl -u ssc-broker.service)`;
  const raw = await withTimeout(frames.next(REPLY_LIMIT), REPLY_TIMEOUT_MS, timedOut).catch((e: unknown) => {
    if (e instanceof Error && e.message === timedOut) throw new ChannelError(timedOut);
    return brokerGone(e);
  });
  if (raw === null) {
    if (unsent !== null) return brokerGone(unsent);
    throw new ChannelError('the privileged helper ended without an answer (is the installation intact?)');
  }
  return raw.toString('utf8');
}

/**
 * The broker closes a connection unanswered when the caller already holds
 * MAX_CONNECTIONS_PER_USER (a flood of launches): an expected failure, said
 * in one line rather than as the socket's errno. Anything else is rethrown.
 */
function brokerGone(e: unknown): never {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'EPIPE' || code === 'ECONNRESET')
    throw new ChannelError(
      'the privileged helper closed the connection without an answer (too many ssc launches of yours at once? see journalctl -u ssc-broker.service)',
    );
  throw e;
}

/** The caller's own user manager, over the session bus at `address`, with the broker's checks and plan. */
export async function userManagerChannel(address: string, umask: number, request: LaunchRequest): Promise<StartChannel> {
  const bus = await Bus.connect({ address, unixFd: true }).catch((e: unknown) => {
    throw new ChannelError(`cannot reach your user manager at ${address}: ${(e as Error).message}`);
  });
  return {
    async start(): Promise<BrokerReply> {
      let props;
      try {
        const checked = validateRequest(request);
        props = planFor(checked, {
          manager: 'user',
          caller: { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, umask },
          host: hostFacts(await managerVersion(bus)),
          // Terminal mode: a scope for this very process, which then becomes the program.
          pid: process.pid,
        });
      } catch (e) {
        const refusal = refusalOf(e);
        if (refusal === null) throw e;
        return refusal;
      }
      return startAndReport(bus, request.unit, props, { manager: 'user' });
    },
    close(): void {
      bus.close();
    },
  };
}
