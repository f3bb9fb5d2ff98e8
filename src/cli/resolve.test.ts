import { describe, expect, it } from 'vitest';
import { normalized, resolveProgram } from './resolve.js';

describe('the program path ssc hands on', () => {
  it('is normalized as systemd would keep it: no //, no ., and .. through the real directory', () => {
    expect(normalized('/usr//bin/./sh')).toBe('/usr/bin/sh');
    expect(normalized('/usr/bin/../bin/sh')).toBe('/usr/bin/sh');
    const r = resolveProgram('//bin/.//sh', undefined, '/');
    expect(r).toEqual({ ok: true, path: '/bin/sh' });
  });
});
