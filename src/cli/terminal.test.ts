import { describe, expect, it } from 'vitest';
import { programArgv, withChanges } from './terminal.js';

const b = (s: string) => Buffer.from(s, 'latin1');

describe('programArgv', () => {
  it("takes PROGRAM and its arguments as the launcher's bytes, from the tail of argv", () => {
    const raw = [b('-isolation=relaxed'), b('--'), b('/bin/bash'), b('-i')];
    expect(programArgv(raw, '/bin/bash', ['-i'])).toEqual([b('/bin/bash'), b('-i')]);
  });
  it('passes bytes that are not UTF-8 through unchanged', () => {
    const odd = Buffer.from([0x66, 0xff, 0x6f]);
    const raw = [b('--'), b('printf'), odd];
    expect(programArgv(raw, 'printf', [odd.toString('utf8')])[1]).toEqual(odd);
  });
  it('falls back to the decoded strings if the tail is not what was parsed', () => {
    expect(programArgv([b('x')], 'bash', ['-i'])).toEqual([Buffer.from('bash'), Buffer.from('-i')]);
  });
});

describe('withChanges', () => {
  it('keeps every entry byte-exact except the variables ssc rewrote', () => {
    const env = [b('A=1'), b('XAUTHORITY=/tmp/x'), Buffer.from([0x42, 0x3d, 0xff]), b('BASH_FUNC_f%%=() { :; }')];
    const before = new Map([
      ['A', '1'],
      ['XAUTHORITY', '/tmp/x'],
    ]);
    const after = new Map([
      ['A', '1'],
      ['XAUTHORITY', '/run/user/1000/ssc/xauth-1'],
    ]);
    expect(withChanges(env, before, after)).toEqual([env[0], b('XAUTHORITY=/run/user/1000/ssc/xauth-1'), env[2], env[3]]);
  });
});
