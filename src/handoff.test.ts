import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeHandoff, encodeHandoff, F_PRIVILEGED, HandoffError, type Handoff } from './handoff.js';
import { fuzzRuns } from './fuzz-runs.js';

const sample: Handoff = {
  header: {
    flags: F_PRIVILEGED,
    privileged: true,
    ruid: 1000,
    rgid: 1001,
    umask: 0o027,
    cwdErrno: 0,
    nofileSoft: 1024,
    pid: 4321,
    groups: [1001, 27],
  },
  argv: [Buffer.from('ssc'), Buffer.from('a\nb'), Buffer.from([0xff, 0x00, 0x41])],
  env: [Buffer.from('A=b=c'), Buffer.from('__proto__=x')],
  cwd: Buffer.from('/home/u'),
};

describe('the hand-off', () => {
  it('round-trips bytes exactly, invalid UTF-8 and NUL included', () => {
    expect(decodeHandoff(encodeHandoff(sample))).toEqual(sample);
  });
  it('carries a failed getcwd as an errno and no path', () => {
    const h = { ...sample, header: { ...sample.header, cwdErrno: 2 }, cwd: null };
    expect(decodeHandoff(encodeHandoff(h))).toEqual(h);
  });
  it("lays the header out as handoff.h says: the launcher's PID at 36, the groups from 44", () => {
    const buf = encodeHandoff(sample);
    expect(buf.subarray(0, 4).toString('latin1')).toBe('SSCH');
    expect([4, 8, 16, 32, 36, 40, 44, 48].map((o) => buf.readUInt32LE(o))).toEqual([2, 52, 1000, 1024, 4321, 2, 1001, 27]);
  });
  it('refuses a version 1 header (a launcher older than this front end or broker) and a PID of 0', () => {
    const old = encodeHandoff(sample);
    old.writeUInt32LE(1, 4);
    expect(() => decodeHandoff(old)).toThrow(/version 1, expected 2/);
    expect(() => decodeHandoff(encodeHandoff({ ...sample, header: { ...sample.header, pid: 0 } }))).toThrow(/pid out of range/);
  });
  it('rejects every truncation and any trailing byte', () => {
    const buf = encodeHandoff(sample);
    for (let n = 0; n < buf.length; n++) expect(() => decodeHandoff(buf.subarray(0, n))).toThrow(HandoffError);
    expect(() => decodeHandoff(Buffer.concat([buf, Buffer.from([0])]))).toThrow(HandoffError);
  });
  it('never throws anything but HandoffError on arbitrary bytes, nor allocates from a huge count', () => {
    const buf = encodeHandoff(sample);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), fc.nat(buf.length), (junk, at) => {
        const mutated = Buffer.concat([buf.subarray(0, at), junk, buf.subarray(at + junk.length)]);
        try {
          decodeHandoff(mutated);
        } catch (e) {
          expect(e).toBeInstanceOf(HandoffError);
        }
      }),
      { numRuns: fuzzRuns(20_000) },
    );
  });
  it('round-trips arbitrary argv and environments', () => {
    const bytes = fc.uint8Array({ maxLength: 40 }).map((u) => Buffer.from(u));
    fc.assert(
      fc.property(fc.array(bytes, { minLength: 1, maxLength: 10 }), fc.array(bytes, { maxLength: 10 }), (argv, env) => {
        const h = { ...sample, argv, env };
        expect(decodeHandoff(encodeHandoff(h))).toEqual(h);
      }),
      { numRuns: fuzzRuns(20_000) },
    );
  });
});
