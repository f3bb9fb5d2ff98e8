import { describe, expect, it } from 'vitest';
import { UserCounts } from './slots.js';

describe('UserCounts', () => {
  it('counts each user apart and forgets a connection once it is released', () => {
    const c = new UserCounts();
    const a1 = c.take(1000);
    const a2 = c.take(1000);
    const b1 = c.take(1001);
    expect([a1.held, a2.held, b1.held]).toEqual([1, 2, 1]);
    expect(c.total).toBe(3);
    a1.release();
    expect(c.take(1000).held).toBe(2);
    b1.release();
    expect(c.take(1001).held).toBe(1);
  });
  it('a release called twice uncounts once', () => {
    const c = new UserCounts();
    const a = c.take(5);
    c.take(5);
    a.release();
    a.release();
    expect(c.total).toBe(1);
  });
  it("holds each user's request bytes within the budget, and frees them with the connection", () => {
    const c = new UserCounts(100);
    const a = c.take(7);
    const b = c.take(7);
    expect(a.reserve(60)).toBe(true);
    expect(b.reserve(60)).toBe(false); // 120 > 100
    expect(c.take(8).reserve(100)).toBe(true); // another user has a budget of their own
    a.release();
    expect(b.reserve(60)).toBe(true);
  });
});
