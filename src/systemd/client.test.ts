import { describe, expect, it } from 'vitest';
import type { Bus, Signal } from './bus.js';
import { startTransientUnit } from './client.js';
import { MANAGER_INTERFACE, SYSTEMD_OBJECT_PATH } from './signatures.js';

const JOB = '/org/freedesktop/systemd1/job/7';
const SYSTEMD = ':1.1';

/** A connection on which signals arrive from whoever the test says; systemd is SYSTEMD. */
function connection() {
  const handlers = new Set<(s: Signal) => void>();
  const answers: ((body: unknown[]) => void)[] = [];
  const matches: string[] = [];
  const closers: ((e: Error) => void)[] = [];
  const bus = {
    followOwner: () => ({ owner: () => SYSTEMD, ready: Promise.resolve() }),
    onSignal: (h: (s: Signal) => void) => {
      handlers.add(h);
      return () => handlers.delete(h);
    },
    addMatch: (rule: string) => {
      matches.push(rule);
      return Promise.resolve([]);
    },
    call: () => new Promise<unknown[]>((r) => answers.push(r)),
    close: () => undefined,
    onClose: (h: (e: Error) => void) => closers.push(h),
  };
  const jobRemoved = (sender: string, result: string, job = JOB, unit = 'x.service') => {
    const s: Signal = {
      path: SYSTEMD_OBJECT_PATH,
      interface: MANAGER_INTERFACE,
      member: 'JobRemoved',
      sender,
      body: [7, job, unit, result],
    };
    for (const h of handlers) h(s);
  };
  const lose = () => {
    for (const h of closers) h(new Error('the bus closed the connection'));
  };
  return { bus: bus as unknown as Bus, jobRemoved, answer: (job = JOB) => answers.shift()?.([job]), matches, handlers, lose };
}

describe('startTransientUnit', () => {
  it("takes the job's end only from systemd: a JobRemoved another connection sends is ignored", async () => {
    const c = connection();
    const started = startTransientUnit(c.bus, 'x.service', []);
    c.jobRemoved(':1.66', 'failed'); // before the call's answer: would be kept as an early end
    c.answer();
    await Promise.resolve();
    c.jobRemoved(':1.66', 'failed');
    c.jobRemoved(SYSTEMD, 'done');
    expect(await started).toEqual({ job: JOB, unit: 'x.service', result: 'done' });
  });

  it('positive control: the same JobRemoved from systemd is what ends the start', async () => {
    const c = connection();
    const started = startTransientUnit(c.bus, 'x.service', []);
    c.jobRemoved(SYSTEMD, 'failed');
    c.answer();
    expect(await started).toEqual({ job: JOB, unit: 'x.service', result: 'failed' });
  });

  it('many starts on one connection share one match and one handler, and each gets its own job', async () => {
    const c = connection();
    const a = startTransientUnit(c.bus, 'a.service', []);
    const b = startTransientUnit(c.bus, 'b.service', []);
    c.jobRemoved(SYSTEMD, 'failed', '/job/2', 'b.service'); // b's job ends before its call is answered
    c.answer('/job/1');
    c.answer('/job/2');
    await Promise.resolve();
    c.jobRemoved(SYSTEMD, 'done', '/job/9', 'other.service'); // someone else's job: nobody waits on it
    c.jobRemoved(SYSTEMD, 'done', '/job/1', 'a.service');
    expect(await a).toEqual({ job: '/job/1', unit: 'a.service', result: 'done' });
    expect(await b).toEqual({ job: '/job/2', unit: 'b.service', result: 'failed' });
    const c2 = startTransientUnit(c.bus, 'c.service', []);
    c.answer('/job/3');
    await Promise.resolve();
    c.jobRemoved(SYSTEMD, 'done', '/job/3', 'c.service');
    await c2;
    expect(c.matches).toHaveLength(1);
    expect(c.handlers.size).toBe(1);
  });

  it('a lost connection ends the wait at once, not at the deadline; created is said only once systemd took the start', async () => {
    const c = connection();
    let created = 0;
    const before = startTransientUnit(c.bus, 'a.service', [], { created: () => created++ });
    const after = startTransientUnit(c.bus, 'b.service', [], { created: () => created++, timeoutMs: 60_000 });
    c.answer('/job/2'); // a's call answered (the fake answers in call order)
    await new Promise((r) => setImmediate(r));
    expect(created).toBe(1);
    c.lose();
    await expect(before).rejects.toThrow(/closed the connection/);
    await expect(after).rejects.toThrow(/closed the connection/);
    expect(created).toBe(1);
  });

  it('gives up on a job at its deadline and forgets it', async () => {
    const c = connection();
    const started = startTransientUnit(c.bus, 'slow.service', [], { timeoutMs: 20 });
    c.answer('/job/5');
    await expect(started).rejects.toThrow(/did not finish starting slow\.service within 0\.02 s/);
    // The name is free again: a new start of it is not "already in progress".
    const again = startTransientUnit(c.bus, 'slow.service', []);
    c.answer('/job/6');
    await Promise.resolve();
    c.jobRemoved(SYSTEMD, 'done', '/job/6', 'slow.service');
    expect((await again).result).toBe('done');
  });
});
