import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { takeSlot, type SlotStore } from './slots.js';
import { fuzzRuns } from '../fuzz-runs.js';

function fakeStore(names: string[], alive: (pid: number) => boolean = () => true): SlotStore & { names: Set<string> } {
  const set = new Set(names);
  return {
    names: set,
    list: () => [...set],
    create(name) {
      if (set.has(name)) throw Object.assign(new Error('exists'), { code: 'EEXIST' });
      set.add(name);
    },
    remove: (name) => void set.delete(name),
    alive,
  };
}

describe('takeSlot', () => {
  it('gives a slot while the user holds fewer than the cap, and release frees it', () => {
    const store = fakeStore(['active-1000-11', 'active-1000-12']);
    const slot = takeSlot(store, 1000, 13, 3);
    expect(slot).not.toBeNull();
    expect(store.names.has('active-1000-13')).toBe(true);
    slot?.release();
    expect(store.names.has('active-1000-13')).toBe(false);
  });
  it('refuses at the cap and leaves no entry of its own', () => {
    const store = fakeStore(['active-1000-11', 'active-1000-12', 'active-1000-14']);
    expect(takeSlot(store, 1000, 13, 3)).toBeNull();
    expect([...store.names].sort()).toEqual(['active-1000-11', 'active-1000-12', 'active-1000-14']);
  });
  it("counts only the user's own live brokers and sweeps dead and malformed entries", () => {
    const store = fakeStore(['active-1000-11', 'active-1000-12', 'active-1000-x', 'active-2000-5', 'env-abc'], (pid) => pid !== 12);
    expect(takeSlot(store, 1000, 13, 2)).not.toBeNull();
    expect([...store.names].sort()).toEqual(['active-1000-11', 'active-1000-13', 'active-2000-5', 'env-abc']);
  });
  it('never lets more than the cap hold slots, whatever the order of takes and releases', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { maxLength: 60 }), fc.integer({ min: 1, max: 8 }), (ops, max) => {
        const store = fakeStore([]);
        const held: { release(): void }[] = [];
        let pid = 100;
        for (const take of ops) {
          if (take) {
            const s = takeSlot(store, 1000, pid++, max);
            if (s) held.push(s);
          } else held.pop()?.release();
          expect(held.length).toBeLessThanOrEqual(max);
          expect(store.names.size).toBe(held.length);
        }
      }),
      { numRuns: fuzzRuns(2000) },
    );
  });
});
