/**
 * A minimal D-Bus client on dbus-next's connection layer.
 *
 * Only what the launch path needs: connect to a fixed address with EXTERNAL
 * authentication, Hello, method calls with replies, and signals. No
 * introspection, no proxy objects, nothing read from the environment.
 */
import createConnection, { type Connection } from 'dbus-next/lib/connection.js';
import { Message } from 'dbus-next/lib/message-type.js';
import { DBUS_INTERFACE, DBUS_NAME, DBUS_PATH, METHODS } from './signatures.js';
import { readMessagesBounded, type Header } from './wire.js';

const METHOD_RETURN = 2;
const ERROR = 3;
const SIGNAL = 4;
const DISCONNECTED = 'org.freedesktop.DBus.Error.Disconnected';

export class BusError extends Error {
  constructor(
    readonly type: string,
    message: string,
  ) {
    super(message);
    this.name = 'BusError';
  }
}

export interface Signal {
  path: string;
  interface: string;
  member: string;
  sender: string;
  body: unknown[];
}

/** A signal whose body was not read: from a sender this connection does not trust, or oversized. */
export type IgnoredSignal = Omit<Signal, 'body'>;

export interface BusOptions {
  address: string;
  /** Give up (and close the socket) when the connection is not set up within this long. */
  timeoutMs?: number;
  /** Pass unix fds (needs the usocket module); required for the h type. */
  unixFd?: boolean;
}

/**
 * A unix: address for Node's own sockets ("unix:socket=", which dbus-next opens
 * with net.createConnection) when no descriptors are passed: dbus-next opens
 * "unix:path=" with usocket, whose uv_poll handle aborts the process (libuv's
 * uv__finish_close and uv_poll_stop assertions) when connections are closed
 * while others open: `ssc stop` with both managers' connections did, about every
 * second run. Only the connections that pass descriptors keep usocket.
 */
export function throughNet(address: string): string {
  // The first address of a list (the one dbus-next would try first); its keys, percent-escapes decoded.
  const first = address.split(';')[0] as string;
  const m = /^unix:(.*)$/.exec(first);
  if (!m) return address;
  const keys = new Map<string, string>();
  for (const kv of (m[1] as string).split(',')) {
    const eq = kv.indexOf('=');
    if (eq <= 0) return address;
    let value: string;
    try {
      value = decodeURIComponent(kv.slice(eq + 1));
    } catch {
      return address;
    }
    keys.set(kv.slice(0, eq), value);
  }
  const path = keys.get('path');
  const abstract = keys.get('abstract');
  // dbus-next splits its address at "," and "=": a name holding either stays with usocket.
  const name = path ?? (abstract === undefined ? undefined : `\0${abstract}`);
  if (name === undefined || /[,;=]/.test(name)) return address;
  return `unix:socket=${name}`;
}

export class Bus {
  private serial = 1;
  private readonly pending = new Map<
    number,
    {
      resolve: (b: unknown[]) => void;
      reject: (e: Error) => void;
      /** Run in arrival order, before any later message. */ now?: (b: unknown[]) => void;
    }
  >();
  private readonly signalHandlers = new Set<(s: Signal) => void>();
  private readonly ignoredHandlers = new Set<(s: IgnoredSignal) => void>();
  /** Current owners of the names followed with followOwner; with the bus itself, the only senders whose signals are read. */
  private readonly trusted: (() => string)[] = [() => DBUS_NAME];
  /** Why the connection went; null while it is up. */
  private closedBy: Error | null = null;
  private readonly closeHandlers = new Set<(err: Error) => void>();
  /** Calls waiting for a reply slot, in order (see maxPending). */
  private readonly queued: (() => void)[] = [];
  /**
   * At most this many calls wait for replies at once; later ones are sent as
   * answers come in, in order. dbus-daemon refuses a connection's 129th
   * (max_replies_per_connection), which a connection shared by many starts could reach.
   */
  maxPending = 64;
  uniqueName = '';
  /** Settles with the Hello reply; calls made meanwhile are queued behind it. */
  hello: Promise<void> = Promise.resolve();

  private constructor(private readonly conn: Connection) {
    // dbus-next decodes whatever arrives; this reader decides from the header first (wire.ts).
    conn.once('connect', () =>
      readMessagesBounded(
        conn.stream,
        { ayBuffer: true },
        {
          wants: (h) => this.wants(h),
          message: (m) => this.dispatch(m),
          skipped: (h, why) => this.skipped(h, why),
          broken: (err) => this.teardown(err),
        },
      ),
    );
    conn.on('error', (err: Error) => this.teardown(err));
    conn.on('end', () => this.teardown(new BusError(DISCONNECTED, 'the bus closed the connection')));
  }

  /** Whether the connection is gone (closed here or by the bus): nothing more can be sent. */
  get isClosed(): boolean {
    return this.closedBy !== null;
  }

  /** Called once when the connection goes, whichever side ended it, with why. */
  onClose(handler: (err: Error) => void): void {
    if (this.closedBy !== null) handler(this.closedBy);
    else this.closeHandlers.add(handler);
  }

  /** The connection goes, whichever side ended it: pending and queued calls fail, the socket is closed. */
  private teardown(err: Error): void {
    if (this.closedBy !== null) return;
    this.closedBy = err;
    this.failAll(err);
    for (const send of this.queued.splice(0)) send(); // each fails: closed
    try {
      this.conn.end();
    } catch {
      // the stream is already gone
    }
    this.conn.stream.destroy?.();
    const handlers = [...this.closeHandlers];
    this.closeHandlers.clear();
    for (const h of handlers) h(err);
  }

  static async connect({ address, unixFd = false, timeoutMs }: BusOptions): Promise<Bus> {
    const conn = createConnection({
      busAddress: unixFd ? address : throughNet(address),
      authMethods: ['EXTERNAL'],
      negotiateUnixFd: unixFd,
    });
    const bus = new Bus(conn);
    // Settles however the setup ends: authenticated, refused, dropped by the bus halfway, or too slow
    // (then the socket is closed here, not left to whoever gave up waiting).
    await new Promise<void>((resolve, reject) => {
      const timer =
        timeoutMs === undefined ? undefined : setTimeout(() => bus.teardown(new Error('the bus did not answer in time')), timeoutMs);
      conn.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      bus.onClose((err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    // Hello must be the first message, but its reply need not be awaited:
    // dbus-daemon handles a connection's messages in order, so the calls that
    // follow are pipelined behind it (one round trip fewer on the launch path).
    bus.hello = bus.call(DBUS_NAME, DBUS_PATH, 'Hello').then(([name]) => {
      bus.uniqueName = String(name);
    });
    bus.hello.catch(() => undefined);
    return bus;
  }

  /** The socket's file descriptor, when the transport exposes one. */
  get fd(): number | undefined {
    const s = this.conn.stream;
    return typeof s.fd === 'number' ? s.fd : s._handle?.fd;
  }

  get supportsUnixFd(): boolean {
    return this.conn.stream.supportsUnixFd === true;
  }

  call(destination: string, path: string, method: keyof typeof METHODS, body: unknown[] = []): Promise<unknown[]> {
    const spec = METHODS[method];
    return this.callRaw(destination, path, spec.iface, method, spec.in, body);
  }

  callRaw(
    destination: string,
    path: string,
    iface: string,
    member: string,
    signature: string,
    body: unknown[],
    now?: (b: unknown[]) => void,
  ): Promise<unknown[]> {
    if (this.isClosed) return Promise.reject(new BusError(DISCONNECTED, 'connection closed'));
    return new Promise((resolve, reject) => {
      const send = () => {
        if (this.isClosed) return reject(new BusError(DISCONNECTED, 'connection closed'));
        const serial = this.serial++;
        try {
          // Built here, so that a bad argument fails this call even when it was queued.
          const msg = new Message({ serial, destination, path, interface: iface, member, signature, body });
          this.pending.set(serial, { resolve, reject, now });
          this.conn.message(msg);
        } catch (e) {
          this.pending.delete(serial);
          reject(e as Error);
          this.next();
        }
      };
      if (this.queued.length > 0 || this.pending.size >= this.maxPending) this.queued.push(send);
      else send();
    });
  }

  /** A reply slot came free: send the oldest queued call. */
  private next(): void {
    while (this.queued.length > 0 && this.pending.size < this.maxPending) (this.queued.shift() as () => void)();
  }

  addMatch(rule: string): Promise<unknown[]> {
    return this.callRaw(DBUS_NAME, DBUS_PATH, DBUS_INTERFACE, 'AddMatch', 's', [rule]);
  }

  /**
   * Who owns a well-known name now: its unique name, followed through
   * NameOwnerChanged (which only the bus itself sends; systemd gets a new one
   * on daemon-reexec). Signals are accepted only from it: anyone on the bus can
   * send a unicast signal to this connection, and match rules do not filter
   * those. `owner()` is '' until the first answer is in and while nobody owns
   * the name; `ready` settles with that first answer. The getter is there at
   * once: signals are dispatched before promise callbacks run.
   */
  followOwner(name: string): { owner: () => string; ready: Promise<void> } {
    let owner = '';
    this.trusted.push(() => owner);
    this.onSignal((s) => {
      if (s.sender !== DBUS_NAME || s.path !== DBUS_PATH || s.interface !== DBUS_INTERFACE || s.member !== 'NameOwnerChanged') return;
      if (s.body[0] === name) owner = String(s.body[2] ?? '');
    });
    const spec = METHODS.GetNameOwner;
    const ready = Promise.all([
      this.addMatch(
        `type='signal',sender='${DBUS_NAME}',path='${DBUS_PATH}',interface='${DBUS_INTERFACE}',member='NameOwnerChanged',arg0='${name}'`,
      ),
      // Applied as it arrives: a NameOwnerChanged that the bus sent after this answer must win.
      this.callRaw(DBUS_NAME, DBUS_PATH, spec.iface, 'GetNameOwner', spec.in, [name], ([n]) => (owner = String(n))).catch((e: unknown) => {
        if ((e as BusError).type !== 'org.freedesktop.DBus.Error.NameHasNoOwner') throw e;
      }),
    ]).then(() => undefined);
    return { owner: () => owner, ready };
  }

  onSignal(handler: (s: Signal) => void): () => void {
    this.signalHandlers.add(handler);
    return () => this.signalHandlers.delete(handler);
  }

  /** Signals passed over unread (their sender is not trusted here, or they are oversized): for saying so. */
  onIgnoredSignal(handler: (s: IgnoredSignal) => void): () => void {
    this.ignoredHandlers.add(handler);
    return () => this.ignoredHandlers.delete(handler);
  }

  /** Close the connection now; pending calls fail. */
  close(): void {
    this.teardown(new BusError(DISCONNECTED, 'connection closed'));
  }

  /** Replies to calls still waiting, and signals from the bus or a followed owner; never calls to us. */
  private wants(h: Header): boolean {
    if (h.type === METHOD_RETURN || h.type === ERROR) return this.pending.has(h.replySerial ?? -1);
    if (h.type === SIGNAL) return h.sender !== undefined && h.sender !== '' && this.trusted.some((t) => t() === h.sender);
    return false;
  }

  private skipped(h: Header | null, why: 'oversized' | 'unwanted' | 'unreadable'): void {
    if (h === null) return;
    if (h.type === METHOD_RETURN || h.type === ERROR) {
      const p = this.pending.get(h.replySerial ?? -1);
      if (!p) return;
      this.pending.delete(h.replySerial ?? -1);
      this.next();
      p.reject(new BusError('org.freedesktop.DBus.Error.LimitsExceeded', `the answer to a call was ${why}`));
    } else if (h.type === SIGNAL) {
      const s: IgnoredSignal = { path: h.path ?? '', interface: h.interface ?? '', member: h.member ?? '', sender: h.sender ?? '' };
      for (const handler of this.ignoredHandlers) handler(s);
    }
  }

  private dispatch(msg: Message): void {
    if (msg.type === METHOD_RETURN || msg.type === ERROR) {
      const p = this.pending.get(msg.replySerial ?? -1);
      if (!p) return;
      this.pending.delete(msg.replySerial ?? -1);
      this.next();
      if (msg.type === ERROR) p.reject(new BusError(msg.errorName ?? 'unknown', String(msg.body[0] ?? msg.errorName)));
      else {
        p.now?.(msg.body);
        p.resolve(msg.body);
      }
    } else if (msg.type === SIGNAL) {
      const s: Signal = {
        path: msg.path ?? '',
        interface: msg.interface ?? '',
        member: msg.member ?? '',
        sender: msg.sender ?? '',
        body: msg.body,
      };
      for (const h of this.signalHandlers) h(s);
    }
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
