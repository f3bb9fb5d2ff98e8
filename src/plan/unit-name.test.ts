import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { appNameProblem, isSscUnitName, programId, scopeName, serviceName, systemdEscape, unitObjectPath } from './unit-name.js';
import { fuzzRuns } from '../fuzz-runs.js';

const TAG = '0123456789abcdef';

describe('systemdEscape', () => {
  it('escapes like systemd-escape', () => {
    expect(systemdEscape('firefox-esr')).toBe('firefox\\x2desr');
    expect(systemdEscape('a b')).toBe('a\\x20b');
    expect(systemdEscape('.hidden')).toBe('\\x2ehidden');
    expect(systemdEscape('x.y')).toBe('x.y');
    expect(systemdEscape('é')).toBe('\\xc3\\xa9');
    expect(systemdEscape('a/b')).toBe('a-b');
  });
});

describe('unit names', () => {
  it('follow the desktop convention for services and scopes', () => {
    expect(serviceName('/usr/bin/firefox', TAG)).toBe(`app-ssc-firefox@${TAG}.service`);
    expect(scopeName('/bin/bash', TAG)).toBe(`app-ssc-bash-${TAG}.scope`);
    expect(serviceName('/usr/bin/firefox-esr', TAG)).toBe(`app-ssc-firefox\\x2desr@${TAG}.service`);
  });
  it('keep the program part short without cutting an escape in half', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300, unit: 'grapheme' }), (s) => {
        const id = programId(s);
        expect(id.length).toBeLessThanOrEqual(64);
        expect(id).not.toMatch(/\\x?[0-9a-f]?$/);
        expect(isSscUnitName(serviceName(s, TAG))).toBe(true);
        expect(isSscUnitName(scopeName(s, TAG))).toBe(true);
      }),
      { numRuns: fuzzRuns(2000) },
    );
  });
  it('refuse a random tag that is not 16 hex digits', () => {
    expect(() => serviceName('x', 'abc')).toThrow(RangeError);
    expect(() => serviceName('x', 'ZZZZZZZZZZZZZZZZ')).toThrow(RangeError);
  });
  it('are recognised only in the exact shape ssc makes', () => {
    for (const bad of [
      'ssh.service',
      `app-ssc-x@${TAG}.socket`,
      `app-ssc-@${TAG}.service`,
      `app-ssc-x@${TAG}.service/../x`,
      'app-ssc-x@1.service',
    ])
      expect(isSscUnitName(bad)).toBe(false);
  });
});

describe('unitObjectPath', () => {
  it('escapes every byte outside [A-Za-z0-9], and a leading digit', () => {
    expect(unitObjectPath('ssc-1.service')).toBe('/org/freedesktop/systemd1/unit/ssc_2d1_2eservice');
    expect(unitObjectPath('1a.service')).toBe('/org/freedesktop/systemd1/unit/_31a_2eservice');
  });
});

describe('--name: an app name of the caller', () => {
  it('takes letters, digits and ":_.-", names the unit with it (escaped), and refuses the rest', () => {
    expect(appNameProblem('web-2')).toBeNull();
    expect(serviceName('web-2', '0123456789abcdef')).toBe('app-ssc-web\\x2d2@0123456789abcdef.service');
    for (const bad of ['', 'a b', 'a/b', '.hidden', 'x'.repeat(65), 'caf\u00e9', 'a\nb', '-'.repeat(17), 'web.service', 'x.scope'])
      expect(appNameProblem(bad)).not.toBeNull();
    expect(appNameProblem('-'.repeat(16))).toBeNull();
  });
});
