import { describe, expect, it } from 'vitest';
import { cpuQuotaPerSecUSec, isProfileName, permyriadToScale, PROFILES } from './profiles.js';

describe('profiles', () => {
  it('caps memory at 70% of RAM in both profiles, with no MemoryHigh band below the cap', () => {
    for (const p of Object.values(PROFILES)) {
      expect(p.memoryMax).toBe(7000);
      expect(p).not.toHaveProperty('memoryHigh');
    }
  });
  it('bounds swap in both profiles', () => {
    for (const p of Object.values(PROFILES)) expect(p.memorySwapMax).toBeLessThan(p.memoryMax);
  });
  it('gives strict a CPU quota, no new privileges and a private /tmp, and relaxed none of them', () => {
    expect(PROFILES.strict).toMatchObject({ cpuQuota: 'all-but-one', noNewPrivileges: true, privateTmp: true });
    expect(PROFILES.relaxed).toMatchObject({ cpuQuota: null, noNewPrivileges: false, privateTmp: false });
  });
  it('cannot be changed at run time', () => {
    expect(() => {
      (PROFILES.strict as { memoryMax: number }).memoryMax = 10000;
    }).toThrow();
    expect(() => {
      (PROFILES as Record<string, unknown>).evil = {};
    }).toThrow();
  });
  it('knows only strict and relaxed', () => {
    expect(isProfileName('strict')).toBe(true);
    expect(isProfileName('relaxed')).toBe(true);
    for (const n of ['', 'Strict', 'none', '__proto__', 'constructor', 'toString']) expect(isProfileName(n)).toBe(false);
  });
});

describe('permyriadToScale', () => {
  it('computes 70% as systemctl does', () => {
    expect(permyriadToScale(7000)).toBe(3006477107);
  });
  it('maps 0 and 100% to the ends of the range', () => {
    expect(permyriadToScale(0)).toBe(0);
    expect(permyriadToScale(10000)).toBe(4294967295);
  });
  it('rejects values outside 0..10000 and fractions', () => {
    for (const v of [-1, 10001, 1.5, Number.NaN]) expect(() => permyriadToScale(v)).toThrow(RangeError);
  });
});

describe('cpuQuotaPerSecUSec', () => {
  it('leaves one core free and never goes below one core', () => {
    expect(cpuQuotaPerSecUSec('all-but-one', 1)).toBe(1_000_000);
    expect(cpuQuotaPerSecUSec('all-but-one', 2)).toBe(1_000_000);
    expect(cpuQuotaPerSecUSec('all-but-one', 8)).toBe(7_000_000);
  });
  it('is absent without a quota', () => {
    expect(cpuQuotaPerSecUSec(null, 8)).toBeNull();
  });
  it('rejects a non-positive core count', () => {
    expect(() => cpuQuotaPerSecUSec('all-but-one', 0)).toThrow(RangeError);
  });
});
