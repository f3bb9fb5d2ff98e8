import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fuzzRuns } from '../fuzz-runs.js';
import {
  ExecError,
  escapeString,
  expandFieldCodes,
  formatExec,
  parseExec,
  quoteArg,
  unescapeString,
  unwrapExec,
  wrapExec,
} from './exec.js';

describe('parseExec', () => {
  it('splits on spaces and keeps field codes as arguments', () => {
    expect(parseExec('libreoffice --writer %U')).toEqual(['libreoffice', '--writer', '%U']);
    expect(parseExec('  gimp-2.10   %U ')).toEqual(['gimp-2.10', '%U']);
  });
  it('takes quoted arguments whole, with \\" \\` \\$ \\\\ escaped inside', () => {
    expect(parseExec('sh -c "echo \\\\"hi there\\\\" \\\\$HOME" %f')).toEqual(['sh', '-c', 'echo "hi there" $HOME', '%f']);
    expect(parseExec('"/opt/My App/run" --x')).toEqual(['/opt/My App/run', '--x']);
  });
  it('applies the string escapes first: four backslashes in the file are one in a quoted argument', () => {
    expect(parseExec('printf "a\\\\\\\\b"')).toEqual(['printf', 'a\\b']);
    // \s is a space before the Exec layer splits: it separates arguments like any space.
    expect(parseExec('echo a\\sb')).toEqual(['echo', 'a', 'b']);
  });
  it('keeps %% for the launcher to turn into %', () => {
    expect(parseExec('date +%%s %u')).toEqual(['date', '+%%s', '%u']);
  });
  it('refuses what the specification does not allow', () => {
    for (const bad of ['', '   ', 'a "b', 'a b"c"', 'x"y"']) expect(() => parseExec(bad)).toThrow(ExecError);
  });
});

describe('formatExec and quoteArg', () => {
  it('quotes exactly the arguments with reserved characters', () => {
    expect(quoteArg('plain-arg_1.0')).toBe('plain-arg_1.0');
    expect(quoteArg('%U')).toBe('%U');
    for (const c of [' ', '\t', '"', "'", '\\', '>', '<', '~', '|', '&', ';', '$', '*', '?', '#', '(', ')', '`'])
      expect(quoteArg(`a${c}b`)).toMatch(/^".*"$/);
    expect(quoteArg('')).toBe('""');
  });
  it('escapes inside quotes, then applies the string escapes', () => {
    expect(formatExec(['sh', '-c', 'echo "$HOME" `x` \\'])).toBe('sh -c "echo \\\\"\\\\$HOME\\\\" \\\\`x\\\\` \\\\\\\\"');
  });
  it('round-trips any arguments through the file format', () => {
    const arg = fc.string({ unit: 'binary', minLength: 0, maxLength: 12 }).filter((s) => !s.includes('\0'));
    fc.assert(
      fc.property(fc.array(arg, { minLength: 1, maxLength: 6 }), (args) => {
        expect(parseExec(formatExec(args))).toEqual(args);
      }),
      { numRuns: fuzzRuns(20_000) },
    );
  });
  it('string escapes round-trip', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 30 }), (s) => {
        expect(unescapeString(escapeString(s))).toBe(s);
      }),
      { numRuns: fuzzRuns(5000) },
    );
  });
});

describe('wrapExec', () => {
  const SSC = '/usr/local/bin/ssc';
  it('runs the original command through ssc with the profile and --no-tty, field codes intact', () => {
    expect(wrapExec('/usr/lib/firefox-esr/firefox-esr %u', SSC, 'strict')).toBe(
      '/usr/local/bin/ssc --no-tty --isolation=strict -- /usr/lib/firefox-esr/firefox-esr %u',
    );
    expect(wrapExec('sh -c "sleep 30" sh %F', SSC, 'relaxed')).toBe(
      '/usr/local/bin/ssc --no-tty --isolation=relaxed -- sh -c "sleep 30" sh %F',
    );
  });
  it('can be undone to the original arguments', () => {
    const wrapped = wrapExec('gimp-2.10 %U', SSC, 'relaxed');
    expect(unwrapExec(wrapped, SSC)).toEqual(['gimp-2.10', '%U']);
    expect(unwrapExec('gimp-2.10 %U', SSC)).toBeNull();
  });
});

describe('expandFieldCodes (what a launcher does with a wrapped entry)', () => {
  const FILE = '/home/u/a "quoted" file with spaces.txt';
  it("gives files and URLs as whole arguments after ssc's own, spaces and quotes intact", () => {
    const wrapped = wrapExec('gimp-2.10 %U', '/usr/local/bin/ssc', 'strict');
    expect(expandFieldCodes(parseExec(wrapped), { files: [FILE, '/tmp/b'] })).toEqual([
      '/usr/local/bin/ssc',
      '--no-tty',
      '--isolation=strict',
      '--',
      'gimp-2.10',
      FILE,
      '/tmp/b',
    ]);
    expect(expandFieldCodes(parseExec(wrapExec('viewer %f', 's', 'relaxed')), { files: [FILE] }).slice(4)).toEqual(['viewer', FILE]);
  });
  it('drops %f, %u, %F and %U without files, expands %i %c %k %%, and removes deprecated codes', () => {
    expect(
      expandFieldCodes(['app', '%f', '%U', '%i', '--name=%c', '%k', '100%%', '%d', '%m'], {
        icon: 'app-icon',
        name: 'App',
        location: '/x/app.desktop',
      }),
    ).toEqual(['app', '--icon', 'app-icon', '--name=App', '/x/app.desktop', '100%']);
  });
  it('leaves an argument that is only reserved characters whole through quoting and expansion', () => {
    const args = ['prog', 'a b', '"q"', '$HOME', '`x`', '\\', '%f'];
    expect(expandFieldCodes(parseExec(formatExec(args)), { files: ['f g'] })).toEqual(['prog', 'a b', '"q"', '$HOME', '`x`', '\\', 'f g']);
  });
});
