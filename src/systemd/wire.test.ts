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

/** A message built byte by byte (little-endian unless `big`), for what dbus-next's marshaller will not make. */
function raw(type: number, fields: [number, string, string | number][], body: Buffer, big = false): Buffer {
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    if (big) b.writeUInt32BE(n);
    else b.writeUInt32LE(n);
    return b;
  };
  const pad = (b: Buffer, n: number) => Buffer.concat([b, Buffer.alloc((n - (b.length % n)) % n)]);
  let f = Buffer.alloc(0);
  for (const [code, sig, value] of fields) {
    f = pad(f, 8);
    f = Buffer.concat([f, Buffer.from([code, sig.length]), Buffer.from(`${sig}\0`)]);
    if (sig === 's' || sig === 'o') f = Buffer.concat([pad(f, 4), u32(String(value).length), Buffer.from(`${String(value)}\0`)]);
    else if (sig === 'g') f = Buffer.concat([f, Buffer.from([String(value).length]), Buffer.from(`${String(value)}\0`)]);
    else f = Buffer.concat([pad(f, 4), u32(Number(value))]); // u, h
  }
  const head = Buffer.concat([Buffer.from([big ? 0x42 : 0x6c, type, 0, 1]), u32(body.length), u32(9), u32(f.length), f]);
  return Buffer.concat([pad(head, 8), body]);
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

  it('skips a message whose header fields it cannot decode (dbus-broker forwards unknown fields of any type), and reads on', async () => {
    const fields: [number, string, string | number][] = [
      [1, 'o', '/x'],
      [2, 's', 'x.y'],
      [3, 's', 'Odd'],
      [7, 's', SYSTEMD],
      [8, 'g', 's'],
    ];
    const body = Buffer.from('\u0002\u0000\u0000\u0000hi\u0000');
    const odd = raw(SIGNAL, [...fields, [200, 'h', 0]], body);
    const s = new PassThrough();
    const r = reader(s);
    await feed(s, Buffer.concat([odd, signal(SYSTEMD, 'Next')]), 7);
    expect(r.broken).toEqual([]);
    expect(r.skipped).toEqual([{ h: null, why: 'unreadable' }]);
    expect(r.got.map((m) => m.member)).toEqual(['Next']);
    // Control: without the odd field the same message is read.
    const plain = raw(SIGNAL, fields, body);
    const s2 = new PassThrough();
    const r2 = reader(s2);
    await feed(s2, plain, 64);
    expect(r2.got.map((m) => [m.member, m.body])).toEqual([['Odd', ['hi']]]);
  });

  it('reads big-endian messages too', async () => {
    const be = Buffer.from([0, 0, 0, 2, 0x68, 0x69, 0]); // "hi" as a big-endian string
    const s = new PassThrough();
    const r = reader(s);
    await feed(
      s,
      raw(
        SIGNAL,
        [
          [1, 'o', '/x'],
          [2, 's', 'x.y'],
          [3, 's', 'Be'],
          [7, 's', SYSTEMD],
          [8, 'g', 's'],
        ],
        be,
        true,
      ),
      5,
    );
    expect(r.got.map((m) => [m.member, m.body])).toEqual([['Be', ['hi']]]);
  });

  it('says the stream broke, and decodes nothing, when it ends inside a message', async () => {
    const whole = signal(SYSTEMD, 'Cut');
    for (const at of [10, 20, whole.length - 1]) {
      const s = new PassThrough();
      const r = reader(s);
      s.end(whole.subarray(0, at));
      await tick();
      await tick();
      expect(r.got).toEqual([]);
      expect(r.broken).toHaveLength(1);
      expect(r.broken[0]?.message).toMatch(/ended inside a message/);
    }
  });
});
