import { closeSync, fstatSync, openSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { marshallMessage } from 'dbus-next/lib/marshall-compat.js';
import { unmarshalMessages } from 'dbus-next/lib/message.js';
import { Message } from 'dbus-next/lib/message-type.js';
import { describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES, readMessagesBounded, type Header } from './wire.js';

const SIGNAL = 4;
const METHOD_RETURN = 2;
const SYSTEMD = ':1.1';
const STRANGER = ':1.66';

function signal(sender: string, member: string, signature = 's', body: unknown[] = ['hello']): Buffer {
  const m = new Message({ type: SIGNAL, serial: 9, path: '/x', interface: 'x.y', member, signature, body });
  return marshallMessage(Object.assign(m, { sender }))[0];
}

/** A signal of `n` empty byte arrays (`aay`): the body the review measured, built without n JS objects. */
function hugeSignal(sender: string, n: number): Buffer {
  const head = signal(sender, 'Huge', 'aay', [[]]);
  const headerOnly = head.subarray(0, head.length - 4); // the empty array's own length word
  const body = Buffer.alloc(4 + 4 * n);
  body.writeUInt32LE(4 * n, 0);
  const out = Buffer.concat([headerOnly, body]);
  out.writeUInt32LE(body.length, 4);
  return out;
}

function reply(replySerial: number, body: unknown[]): Buffer {
  const fields = { type: METHOD_RETURN, serial: 3, replySerial, signature: 's', body };
  return marshallMessage(Object.assign(new Message(fields as ConstructorParameters<typeof Message>[0]), { sender: SYSTEMD }))[0];
}

const tick = () => new Promise<void>((r) => setImmediate(r));

function reader(stream: PassThrough) {
  const got: Message[] = [];
  const skipped: { h: Header | null; why: string }[] = [];
  const broken: Error[] = [];
  readMessagesBounded(
    stream,
    { ayBuffer: true },
    {
      wants: (h) => h.type !== SIGNAL || h.sender === SYSTEMD,
      message: (m) => got.push(m),
      skipped: (h, why) => skipped.push({ h, why }),
      broken: (e) => broken.push(e),
    },
  );
  return { got, skipped, broken };
}

/** Write in chunks of `size`, letting the reader run after each; returns the most ever buffered. */
async function feed(stream: PassThrough, data: Buffer, size: number): Promise<number> {
  let most = 0;
  for (let i = 0; i < data.length; i += size) {
    stream.write(data.subarray(i, i + size));
    await tick();
    most = Math.max(most, stream.readableLength);
  }
  return most;
}

describe('the bounded D-Bus reader', () => {
  it('decodes replies and trusted signals in order, however the bytes are split', async () => {
    const s = new PassThrough();
    const r = reader(s);
    await feed(s, Buffer.concat([reply(5, ['ok']), signal(SYSTEMD, 'A'), signal(SYSTEMD, 'B', 'u', [7])]), 3);
    expect(r.got.map((m) => [m.replySerial ?? m.member, m.body])).toEqual([
      [5, ['ok']],
      ['A', ['hello']],
      ['B', [7]],
    ]);
    expect(r.skipped).toEqual([]);
    expect(r.broken).toEqual([]);
  });

  it("passes over a stranger's signal with its header only and keeps reading after it; dbus-next's reader decodes its body (control)", async () => {
    const bytes = Buffer.concat([signal(STRANGER, 'Lie', 'aay', [[Buffer.from('x'), Buffer.from('y')]]), signal(SYSTEMD, 'Truth')]);
    const control = new PassThrough();
    const decoded: { body?: unknown[] }[] = [];
    unmarshalMessages(control, (m) => decoded.push(m), { ayBuffer: true });
    control.write(bytes);
    await tick();
    expect(decoded[0]?.body?.[0]).toHaveLength(2); // the stranger's body reached JavaScript

    const s = new PassThrough();
    const r = reader(s);
    await feed(s, bytes, 64 * 1024);
    expect(r.skipped).toEqual([{ h: expect.objectContaining({ sender: STRANGER, member: 'Lie', type: SIGNAL }), why: 'unwanted' }]);
    expect(r.got.map((m) => m.member)).toEqual(['Truth']);
  });

  it('skips an oversized body as it streams by, holding no more than a chunk of it; dbus-next buffers and decodes it whole (control)', async () => {
    const n = (4 * MAX_BODY_BYTES) / 4; // a 4 MiB body of empty arrays
    const bytes = Buffer.concat([hugeSignal(SYSTEMD, n), signal(SYSTEMD, 'After')]);
    const chunk = 64 * 1024;

    const control = new PassThrough({ highWaterMark: chunk });
    const decoded: { body?: unknown[] }[] = [];
    unmarshalMessages(control, (m) => decoded.push(m), { ayBuffer: true });
    const controlMost = await feed(control, bytes, chunk);
    expect(controlMost).toBeGreaterThan(3 * MAX_BODY_BYTES);
    expect(decoded[0]?.body?.[0]).toHaveLength(n);

    const s = new PassThrough({ highWaterMark: chunk });
    const r = reader(s);
    const most = await feed(s, bytes, chunk);
    expect(most).toBeLessThanOrEqual(2 * chunk);
    expect(r.skipped).toEqual([{ h: expect.objectContaining({ member: 'Huge' }), why: 'oversized' }]);
    expect(r.got.map((m) => m.member)).toEqual(['After']);
  });

  it('reports an oversized answer with its reply serial, so the waiting call fails instead of hanging', async () => {
    const s = new PassThrough();
    const r = reader(s);
    await feed(s, reply(12, ['x'.repeat(MAX_BODY_BYTES + 1)]), 64 * 1024);
    expect(r.got).toEqual([]);
    expect(r.skipped).toEqual([{ h: expect.objectContaining({ type: METHOD_RETURN, replySerial: 12 }), why: 'oversized' }]);
  });

  it('closes every descriptor that arrives with the bytes (usocket hands them over with each read)', async () => {
    const fd = openSync('/dev/null', 'r');
    const s = new PassThrough();
    let handed = false;
    const read = s.read.bind(s);
    (s as unknown as { read: (n?: number) => unknown }).read = (n?: number) => {
      const data = read(n) as Buffer | null;
      if (data === null) return null;
      const fds = handed ? [] : [fd];
      handed = true;
      return { data, fds };
    };
    const r = reader(s);
    await feed(s, signal(STRANGER, 'WithFd', 'h', [0]), 64 * 1024);
    expect(r.skipped).toHaveLength(1);
    expect(() => fstatSync(fd)).toThrow(/EBADF/);
    // Control: the descriptor was open until the reader took it.
    const other = openSync('/dev/null', 'r');
    expect(fstatSync(other).isCharacterDevice()).toBe(true);
    closeSync(other);
  });

  it('gives up on a stream that is not D-Bus at all', async () => {
    const s = new PassThrough();
    const r = reader(s);
    await feed(s, Buffer.from('HTTP/1.1 200 OK\r\n\r\n'), 64);
    expect(r.broken).toHaveLength(1);
  });
});
