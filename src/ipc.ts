/**
 * The exchange between the unprivileged front end and the root broker over the
 * launcher's socketpair, in length-prefixed frames (u32 little-endian + bytes):
 *
 *   front end → broker   "launch"        as soon as it knows it will start a unit
 *   front end → broker   request (JSON)  right after it
 *   front end → broker   "start"         once it watches the unit (or will not wait); then it half-closes
 *   broker → front end   reply (JSON)    then it closes
 *
 * or, for `ssc stop`:
 *
 *   front end → broker   "stop", then a stop request (JSON), then it half-closes
 *   broker → front end   StopReply (JSON) then it closes
 *
 * A front end that ends the stream without "launch" (help, version, usage
 * errors, refusals before the start) makes the broker exit without ever
 * connecting to the bus. The broker prepares everything for the start while
 * the front end subscribes to the unit's signals, and starts nothing unless
 * "start" arrives, so a front end that gives up in between leaves no unit.
 */
import { Socket } from 'node:net';

export const LAUNCH = 'launch';
export const START = 'start';
/** Instead of "launch": stop units of the caller's (a StopRequest follows; the front end then half-closes). */
export const STOP = 'stop';

/** The broker's answer to a stop: each unit asked for, stopped (its stop job queued) or refused, with why. */
export type StopReply =
  | { ok: true; units: { unit: string; stopped: boolean; message?: string }[] }
  | { ok: false; kind: 'request' | 'bus' | 'internal'; message: string };

export type BrokerReply =
  | { ok: true; unit: string; /** The unit's cgroup (from the user manager; the broker leaves it out). */ controlGroup?: string }
  | {
      ok: false;
      /**
       * 'unsafe': caller data a unit file cannot hold (refused like a usage error);
       * 'request': the request was refused; 'start': systemd did not start the unit; 'bus': no system bus; 'internal': the broker failed. */
      kind: 'unsafe' | 'request' | 'start' | 'bus' | 'internal';
      message: string;
      unit?: string;
      result?: string;
      execMainCode?: number;
      execMainStatus?: number;
    };

export function socketOnFd(fd: number): Socket {
  return new Socket({ fd, readable: true, writable: true, allowHalfOpen: true });
}

/** What a FrameReader holds between reads before it stops reading the socket. */
const IDLE_BUFFER = 64 * 1024;

export class FrameError extends Error {}
/** A frame the reader's `admit` turned down; the stream is left as it was. */
export class FrameRefused extends FrameError {}

/** Reads frames off a socket, refusing any longer than its limit; null means the peer ended the stream. */
export class FrameReader {
  /** Bytes received, not yet part of a returned frame: `head` contiguous, then `tail` as it came. */
  private head: Buffer = Buffer.alloc(0);
  private tail: Buffer[] = [];
  private tailBytes = 0;
  /** How much may sit here before the socket is paused: a peer cannot fill memory between reads. */
  private room = IDLE_BUFFER;
  private ended = false;
  private error: Error | null = null;
  private wake: (() => void) | null = null;

  constructor(private readonly sock: Socket) {
    sock.on('data', (c: Buffer) => {
      this.tail.push(c);
      this.tailBytes += c.length;
      if (this.head.length + this.tailBytes > this.room) sock.pause();
      this.wake?.();
    });
    sock.on('end', () => {
      this.ended = true;
      this.wake?.();
    });
    sock.on('error', (e) => {
      this.error = e;
      this.wake?.();
    });
  }

  /** Make at least `bytes` (or all there is) contiguous in `head`: each frame is copied once, not once per chunk. */
  private gather(bytes: number): void {
    if (this.head.length >= bytes || this.tailBytes === 0) return;
    if (this.head.length + this.tailBytes < bytes) return;
    this.head = Buffer.concat([this.head, ...this.tail]);
    this.tail = [];
    this.tailBytes = 0;
  }

  private get buffered(): number {
    return this.head.length + this.tailBytes;
  }

  /**
   * The next frame, at most `limit` bytes. `admit`, when given, is asked once the frame's
   * length is known and before its body is buffered: false refuses it (FrameRefused).
   */
  async next(limit: number, admit?: (bytes: number) => boolean): Promise<Buffer | null> {
    let admitted = false;
    try {
      for (;;) {
        // Frames already received come first: a peer that answered and closed may leave an error behind.
        this.gather(4);
        if (this.head.length >= 4) {
          const n = this.head.readUInt32LE(0);
          if (n > limit) {
            this.sock.destroy();
            throw new FrameError(`message larger than ${limit} bytes`);
          }
          if (admit && !admitted) {
            if (!admit(n)) throw new FrameRefused(`no room for a message of ${n} bytes`);
            admitted = true;
          }
          this.room = Math.max(IDLE_BUFFER, 4 + n);
          this.gather(4 + n);
          if (this.head.length >= 4 + n) {
            const frame = this.head.subarray(4, 4 + n);
            this.head = this.head.subarray(4 + n);
            return frame;
          }
        }
        if (this.error) throw this.error;
        if (this.ended) {
          if (this.buffered > 0) throw new FrameError('stream ended inside a message');
          return null;
        }
        if (this.sock.isPaused()) this.sock.resume();
        await new Promise<void>((r) => (this.wake = r));
        this.wake = null;
      }
    } finally {
      this.room = IDLE_BUFFER;
    }
  }

  /** Wait until the peer ends its side, errs, or `ms` pass, dropping what it still sends. */
  async finished(ms: number): Promise<void> {
    const timer = setTimeout(() => this.wake?.(), ms);
    const until = Date.now() + ms;
    try {
      while (!this.ended && !this.error && Date.now() < until) {
        this.head = Buffer.alloc(0);
        this.tail = [];
        this.tailBytes = 0;
        if (this.sock.isPaused()) this.sock.resume();
        await new Promise<void>((r) => (this.wake = r));
        this.wake = null;
      }
    } finally {
      clearTimeout(timer);
    }
  }
}

export function frame(data: string | Buffer): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const head = Buffer.alloc(4);
  head.writeUInt32LE(body.length);
  return Buffer.concat([head, body]);
}

/** Write one frame; with `end`, half-close after it. */
export function send(sock: Socket, data: string | Buffer, { end = false } = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error | null) => (err ? reject(err) : resolve());
    if (end) sock.end(frame(data), () => resolve());
    else sock.write(frame(data), done);
    if (end) sock.once('error', reject);
  });
}

/**
 * The broker's last frame: sent with a half-close, then the socket stays open
 * until the peer has ended its side (at most `lingerMs`). Closing at once fails
 * the peer's next write ("start") with EPIPE, and Node then drops the socket
 * with this answer unread in it.
 */
export async function sendLast(sock: Socket, frames: FrameReader, data: string, lingerMs: number): Promise<void> {
  try {
    await send(sock, data, { end: true });
    await frames.finished(lingerMs);
  } finally {
    sock.destroy();
  }
}
