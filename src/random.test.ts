import { describe, expect, it } from 'vitest';
import { randomHex } from './random.js';

describe('randomHex', () => {
  it('gives two lowercase hex digits per byte', () => {
    expect(randomHex(8)).toMatch(/^[0-9a-f]{16}$/);
    expect(randomHex(16)).toMatch(/^[0-9a-f]{32}$/);
  });
  it('does not repeat itself over a thousand draws', () => {
    const seen = new Set(Array.from({ length: 1000 }, () => randomHex(8)));
    expect(seen.size).toBe(1000);
  });
});
