/**
 * Reads D-Bus messages off a connection's stream with bounds, deciding from the
 * header alone whether a message's body is decoded at all.
 *
 * dbus-next's own reader buffers and decodes every message whole, whoever sent
 * it. Any local user may send a unicast signal of up to dbus-daemon's 32 MiB to
 * any connection; decoding one body of `aay` (a Buffer per element) costs far
 * more heap than the broker has (a 15 MiB one: 425 MiB and 0.9 s). Here a
 * message whose header fields or body exceed the bounds is skipped as it
 * streams by, one the connection does not want (a signal from a sender it does
 * not trust) is reported with its header only, and every descriptor that
 * arrives is closed at once: nothing ssc calls returns one.
 */
import { closeSync } from 'node:fs';
import DBusBuffer from 'dbus-next/lib/dbus-buffer.js';
import { messageToJsFmt } from 'dbus-next/lib/marshall-compat.js';
import { Message } from 'dbus-next/lib/message-type.js';

/** Header fields of anything systemd, logind or the bus send ssc are a few hundred bytes. */
export const MAX_FIELDS_BYTES = 64 * 1024;
/** The largest body ssc reads is a unit's properties (a few KiB); 1 MiB decodes in milliseconds. */
export const MAX_BODY_BYTES = 1024 * 1024;

const LITTLE = 0x6c; // 'l'
const BIG = 0x42; // 'B'
const HEADER_FIELD = {
  type: '(',
  child: [
    { type: 'y', child: [] },
    { type: 'v', child: [] },
  ],
};
const FIELD_NAMES = [
  null,
  'path',
  'interface',
  'member',
  'errorName',
  'replySerial',
  'destination',
  'sender',
  'signature',
  'unixFd',
] as const;

export interface Header {
  type: number;
  flags: number;
  serial: number;
  path?: string;
  interface?: string;
  member?: string;
  errorName?: string;
  replySerial?: number;
  destination?: string;
  sender?: string;
  signature?: string;
}

export interface WireHandlers {
  /** Whether this message's body should be decoded; asked once its header is in. */
  wants(h: Header): boolean;
  message(m: Message): void;
  /** A message passed over unread: its header, or null when even that was too large or unreadable. */
  skipped(h: Header | null, why: 'oversized' | 'unwanted' | 'unreadable'): void;
  /**
   * The stream itself is not D-Bus (a fixed header with a bad byte order or
   * version) or ended inside a message. Nothing inside a message's fields or
   * body comes here: once the fixed header is read the framing is known, and a
   * field or body this reader cannot decode (dbus-broker forwards unknown header
   * fields of any type) is skipped instead, so that no other client can close
   * the connection.
   */
  broken(err: Error): void;
}

type Readable = NodeJS.ReadableStream & { readableLength: number; read(size?: number, fds?: null): unknown };

/** The stream ended inside a message: Node's read(n) then hands over what is left, fewer than n. */
class Truncated extends Error {}

/** read(n) on a plain socket or on usocket (which returns `{ data, fds }`); descriptors closed. */
function take(stream: Readable, n: number): Buffer | null {
  const r = stream.read(n, null) as Buffer | { data: Buffer | null; fds?: number[] } | null;
  let data: Buffer | null;
  if (r === null || Buffer.isBuffer(r)) data = r;
  else {
    for (const fd of r.fds ?? []) {
      try {
        closeSync(fd);
      } catch {
        // already closed: nothing held
      }
    }
    data = r.data;
  }
  if (data !== null && data.length < n) throw new Truncated(`the bus connection ended inside a message (${data.length} of ${n} bytes)`);
  return data;
}

/**
 * Replace dbus-next's reader on `stream` with this one. Call when the
 * connection emits 'connect', before any message can have been read: dbus-next
 * adds its listener right after that event, so this removes it on the next tick.
 */
export function readMessagesBounded(stream: Readable, opts: object, on: WireHandlers): void {
  let stage: 'header' | 'fields' | 'body' | 'skip' = 'header';
  let fixed: Buffer = Buffer.alloc(0);
  let header: Header | null = null;
  let endian = LITTLE;
  let fieldsLength = 0;
  let fieldsPadded = 0;
  let bodyLength = 0;
  let skipLeft = 0;

  let ended = false;
  const step = (): void => {
    if (ended) return;
    try {
      read();
    } catch (e) {
      ended = true;
      on.broken(e instanceof Truncated ? e : new Error(`reading from the bus failed: ${(e as Error).message}`));
    }
  };
  const read = (): void => {
    for (;;) {
      if (stage === 'header') {
        const b = take(stream, 16);
        if (b === null) return;
        fixed = b;
        endian = b[0] as number;
        if ((endian !== LITTLE && endian !== BIG) || b[3] !== 1)
          throw new Error('the bus sent a message that is not D-Bus protocol version 1');
        bodyLength = endian === LITTLE ? b.readUInt32LE(4) : b.readUInt32BE(4);
        fieldsLength = endian === LITTLE ? b.readUInt32LE(12) : b.readUInt32BE(12);
        fieldsPadded = (fieldsLength + 7) & ~7;
        if (fieldsLength > MAX_FIELDS_BYTES) {
          on.skipped(null, 'oversized');
          stage = 'skip';
          skipLeft = fieldsPadded + bodyLength;
        } else stage = 'fields';
      } else if (stage === 'fields') {
        const b = fieldsPadded === 0 ? Buffer.alloc(0) : take(stream, fieldsPadded);
        if (b === null) return;
        const h: Header = {
          type: fixed[1] as number,
          flags: fixed[2] as number,
          serial: endian === LITTLE ? fixed.readUInt32LE(8) : fixed.readUInt32BE(8),
        };
        try {
          const fields = new DBusBuffer(b, 0, endian, [], opts).readArray(HEADER_FIELD, fieldsLength) as [number, [unknown, [unknown]]][];
          for (const [code, variant] of fields) {
            const name = FIELD_NAMES[code];
            if (name) (h as unknown as Record<string, unknown>)[name] = variant[1][0];
          }
        } catch {
          on.skipped(null, 'unreadable');
          stage = 'skip';
          skipLeft = bodyLength;
          continue;
        }
        header = h;
        if (bodyLength > MAX_BODY_BYTES || !on.wants(h)) {
          on.skipped(h, bodyLength > MAX_BODY_BYTES ? 'oversized' : 'unwanted');
          stage = 'skip';
          skipLeft = bodyLength;
        } else stage = 'body';
      } else if (stage === 'body') {
        const b = bodyLength === 0 ? Buffer.alloc(0) : take(stream, bodyLength);
        if (b === null) return;
        stage = 'header';
        const h = header as Header;
        let m: Message;
        try {
          const raw: Record<string, unknown> = { ...h };
          if (bodyLength > 0 && h.signature) raw.body = new DBusBuffer(b, 0, endian, [], opts).read(h.signature);
          m = new Message(messageToJsFmt(raw));
        } catch {
          on.skipped(h, 'unreadable');
          continue;
        }
        on.message(m);
      } else {
        // Skipped bytes are consumed as they arrive, never held.
        while (skipLeft > 0) {
          const n = Math.min(skipLeft, stream.readableLength);
          if (n === 0) return;
          const b = take(stream, n);
          if (b === null) return;
          skipLeft -= b.length;
        }
        stage = 'header';
      }
    }
  };

  process.nextTick(() => {
    for (const l of stream.listeners('readable')) stream.removeListener('readable', l as () => void);
    stream.on('readable', step);
    step();
  });
}
