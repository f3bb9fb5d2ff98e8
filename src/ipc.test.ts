import fc from 'fast-check';
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { frame, FrameError, FrameReader } from './ipc.js';
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
  it('refuses a stream that ends inside a frame', async () => {
    const r = new FrameReader(feed([frame('hello').subarray(0, 6)]));
    await expect(r.next(10)).rejects.toBeInstanceOf(FrameError);
  });
});
