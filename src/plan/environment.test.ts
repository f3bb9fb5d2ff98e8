import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkEnvironment, encodeEnvironmentFile, isValidVariable, parseEnvironmentFile } from './environment.js';
import { fuzzRuns } from '../fuzz-runs.js';

const b = (s: string) => Buffer.from(s, 'utf8');

describe('checkEnvironment', () => {
  it('keeps values byte-exact, including =, spaces, quotes, newlines, $ and %', () => {
    const { vars, dropped } = checkEnvironment([b('A=unix:path=/run/user/1000/bus'), b('B= x "y" \'z\'\nw $HOME %h \\')]);
    expect(dropped).toEqual([]);
    expect(vars.get('A')).toBe('unix:path=/run/user/1000/bus');
    expect(vars.get('B')).toBe(' x "y" \'z\'\nw $HOME %h \\');
  });
  it('treats __proto__ as an ordinary variable', () => {
    const before = Object.getOwnPropertyNames(Object.prototype);
    const { vars } = checkEnvironment([b('__proto__=x'), b('constructor=y')]);
    // Both kept as entries of their own (an object's __proto__ setter would have swallowed one).
    expect([...vars]).toEqual([
      ['__proto__', 'x'],
      ['constructor', 'y'],
    ]);
    expect(Object.getOwnPropertyNames(Object.prototype)).toEqual(before);
  });
  it('drops, by name, what systemd would reject', () => {
    const { vars, dropped } = checkEnvironment([
      b('BASH_FUNC_x%%=() { :; }'),
      b('1X=a'),
      b('NOEQUALS'),
      Buffer.concat([b('BAD='), Buffer.from([0xff, 0xfe])]),
      b('CTL=a\x1bb'),
      b('NC=a\ufffeb'),
      b('OK=1'),
      b('OK=2'),
    ]);
    expect([...vars]).toEqual([['OK', '1']]);
    expect(dropped.map((d) => [d.name, d.reason])).toEqual([
      ['BASH_FUNC_x%%', 'invalid-name'],
      ['1X', 'invalid-name'],
      ['NOEQUALS', 'no-equals'],
      ['BAD', 'invalid-utf8'],
      ['CTL', 'control-character'],
      ['NC', 'noncharacter'],
      ['OK', 'duplicate'],
    ]);
  });
});

describe('the environment file', () => {
  it("round-trips every valid variable through systemd's quoting", () => {
    const name = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,20}$/);
    const value = fc.string({ unit: 'grapheme', maxLength: 60 }).filter((v) => isValidVariable('X', v));
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(name, value), { selector: ([n]) => n, maxLength: 20 }), (entries) => {
        const vars = new Map(entries);
        expect(parseEnvironmentFile(encodeEnvironmentFile(vars))).toEqual(vars);
      }),
      { numRuns: fuzzRuns(20_000) },
    );
  });
  it('escapes exactly backslash, double quote, backquote and dollar', () => {
    expect(encodeEnvironmentFile(new Map([['A', 'a\\b"c`d$e\nf\'g%h']]))).toBe('A="a\\\\b\\"c\\`d\\$e\nf\'g%h"\n');
  });
  it('refuses an invalid variable instead of writing it', () => {
    expect(() => encodeEnvironmentFile(new Map([['A B', 'x']]))).toThrow(RangeError);
    expect(() => encodeEnvironmentFile(new Map([['A', 'x\u0000']]))).toThrow(RangeError);
  });
});
