import fc from 'fast-check';
import { Duplex } from 'node:stream';
import { createServer, connect, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { frame, FrameError, FrameReader, FrameRefused, send, sendLast, START } from './ipc.js';
import { fuzzRuns } from './fuzz-runs.js';

/** A stand-in socket that delivers the given chunks, then ends. */
function feed(chunks: Buffer[]): Socket {
  const d = new Duplex({
    read() {},
    write(_c, _e, cb) {
      cb();
    },
  });
  queueMicrotask(() => {
    for (const c of chunks) d.push(c);
    d.push(null);
  });
  return d as unknown as Socket;
}

describe('FrameReader', () => {
  it('returns each frame whole however the bytes are split, then null at the end', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ maxLength: 50 }), { maxLength: 6 }),
        fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1 }),
        async (msgs, cuts) => {
          const all = Buffer.concat(msgs.map((m) => frame(Buffer.from(m))));
          const chunks: Buffer[] = [];
          let at = 0;
          for (let i = 0; at < all.length; i++) {
            const n = cuts[i % cuts.length] as number;
            chunks.push(all.subarray(at, at + n));
            at += n;
          }
          const r = new FrameReader(feed(chunks));
          for (const m of msgs) expect(await r.next(100)).toEqual(Buffer.from(m));
          expect(await r.next(100)).toBeNull();
        },
      ),
      { numRuns: fuzzRuns(300) },
    );
  });
  it('refuses a frame longer than its limit', async () => {
    const r = new FrameReader(feed([frame('x'.repeat(20))]));
    await expect(r.next(10)).rejects.toBeInstanceOf(FrameError);
  });
  it('asks admit with the length before taking a frame, and refuses it when admit says no', async () => {
    const asked: number[] = [];
    const yes = new FrameReader(feed([frame('hello')]));
    expect((await yes.next(10, (n) => (asked.push(n), true)))?.toString()).toBe('hello');
    const no = new FrameReader(feed([frame('hello')]));
    await expect(no.next(10, (n) => (asked.push(n), false))).rejects.toBeInstanceOf(FrameRefused);
    expect(asked).toEqual([5, 5]);
  });
  it('stops reading a peer that sends more than 64 KiB while nothing is being read, and reads on at the next read', async () => {
    const d = new Duplex({ read() {}, write: (_c, _e, cb) => cb() });
    const r = new FrameReader(d as unknown as Socket);
    d.push(frame('a'.repeat(100 * 1024)));
    await new Promise((res) => setImmediate(res));
    expect(d.isPaused()).toBe(true);
    expect((await r.next(200 * 1024))?.length).toBe(100 * 1024);
    d.push(frame('b'));
    expect((await r.next(10))?.toString()).toBe('b');
  });
  it('refuses a stream that ends inside a frame', async () => {
    const r = new FrameReader(feed([frame('hello').subarray(0, 6)]));
    await expect(r.next(10)).rejects.toBeInstanceOf(FrameError);
  });
});

/** Two connected Unix sockets, half-open allowed, as the launcher's socketpair gives (abstract: no file). */
async function socketPair(): Promise<[Socket, Socket]> {
  const server = createServer({ allowHalfOpen: true });
  await new Promise<void>((r) => server.listen(`\0ssc-ipc-test-${process.pid}-${Math.random()}`, r));
  const address = server.address() as string;
  const accepted = new Promise<Socket>((r) => server.once('connection', r));
  const client = connect({ path: address, allowHalfOpen: true });
  await new Promise<void>((r) => client.once('connect', () => r()));
  const broker = await accepted;
  server.close();
  return [broker, client];
}

/** Keep this process from reading its sockets for a moment, as a busy front end does. */
function busy(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until);
}

describe('the broker answering before the front end says "start"', () => {
  /** The front end's side: it writes "start" only after the answer is already there, unread. */
  async function frontEndAfterEarlyAnswer(broker: Socket, client: Socket, answer: () => Promise<void>) {
    const frames = new FrameReader(client);
    const answered = answer();
    busy(50); // the answer and whatever the broker does next happen here
    const last = send(client, START, { end: true }).catch((e: NodeJS.ErrnoException) => e.code);
    const reply = await frames.next(100).then(
      (b) => b?.toString() ?? null,
      (e: NodeJS.ErrnoException) => e.code,
    );
    await answered.catch(() => undefined);
    client.destroy();
    broker.destroy();
    return { reply, write: await last };
  }

  it('the answer reaches a front end that writes after it: the broker keeps its side open until the front end ends', async () => {
    const [broker, client] = await socketPair();
    const r = await frontEndAfterEarlyAnswer(broker, client, () => sendLast(broker, new FrameReader(broker), 'refused', 5000));
    expect(r).toEqual({ reply: 'refused', write: undefined });
  });

  it('positive control: a broker that closes right after answering makes that write fail with EPIPE and the answer is lost', async () => {
    const [broker, client] = await socketPair();
    const r = await frontEndAfterEarlyAnswer(broker, client, async () => {
      broker.end(frame('refused'));
      broker.destroy();
    });
    expect(r.reply).toBe('EPIPE'); // what CI saw: "ssc: internal error: write EPIPE"
  });

  it('the wait is bounded: a front end that never ends its side does not hold the broker', async () => {
    const [broker, client] = await socketPair();
    const t0 = Date.now();
    await sendLast(broker, new FrameReader(broker), 'refused', 200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
    expect(broker.destroyed).toBe(true);
    client.destroy();
  });
});
