import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeArgs, parseGoBool, UsageError } from './argv.js';
import { fuzzRuns } from '../fuzz-runs.js';

describe('normalizeArgs', () => {
  it("accepts the original ssc's Go-style flags unchanged", () => {
    expect(normalizeArgs(['-isolation=relaxed', '/bin/bash', '-i'])).toEqual(['--isolation=relaxed', '--', '/bin/bash', '-i']);
    expect(normalizeArgs(['-isolation', 'strict', 'firefox'])).toEqual(['--isolation=strict', '--', 'firefox']);
    expect(normalizeArgs(['-tty=false', '-isolation=strict', 'firefox'])).toEqual(['--no-tty', '--isolation=strict', '--', 'firefox']);
    expect(normalizeArgs(['-tty', 'vim'])).toEqual(['--tty', '--', 'vim']);
    expect(normalizeArgs(['-tty=1', 'vim'])).toEqual(['--tty', '--', 'vim']);
  });
  it('accepts GNU-style flags', () => {
    expect(normalizeArgs(['--isolation=strict', '--no-tty', '--wait', 'make', '-j4'])).toEqual([
      '--isolation=strict',
      '--no-tty',
      '--wait',
      '--',
      'make',
      '-j4',
    ]);
  });
  it('passes everything from the program on literally', () => {
    expect(normalizeArgs(['echo', '--isolation=x', '-tty=false'])).toEqual(['--', 'echo', '--isolation=x', '-tty=false']);
    expect(normalizeArgs(['--', '--isolation=x'])).toEqual(['--', '--isolation=x']);
  });
  it('rejects a bad boolean and a missing value', () => {
    expect(() => normalizeArgs(['-tty=maybe', 'x'])).toThrow(UsageError);
    expect(() => normalizeArgs(['-isolation'])).toThrow(UsageError);
  });
  it('leaves unknown options for commander to reject', () => {
    expect(normalizeArgs(['--uid=0', 'id'])).toEqual(['--uid=0', '--', 'id']);
  });
  it('never moves an argument after the program', () => {
    fc.assert(
      fc.property(
        fc.constantFrom([], ['-tty=false'], ['--isolation', 'relaxed'], ['--wait', '-v']),
        fc.array(fc.string({ maxLength: 12 }), { maxLength: 8 }),
        (opts, post) => {
          const args = ['prog', ...post];
          expect(normalizeArgs([...opts, ...args]).slice(-args.length - 1)).toEqual(['--', ...args]);
          const out = normalizeArgs(args);
          expect(out.slice(out.indexOf('--') + 1)).toEqual(args);
        },
      ),
      { numRuns: fuzzRuns(20_000) },
    );
  });
});

describe('parseGoBool', () => {
  it('follows strconv.ParseBool', () => {
    for (const t of ['1', 't', 'T', 'TRUE', 'true', 'True']) expect(parseGoBool(t)).toBe(true);
    for (const f of ['0', 'f', 'F', 'FALSE', 'false', 'False']) expect(parseGoBool(f)).toBe(false);
    expect(parseGoBool('yes')).toBeNull();
  });
});
