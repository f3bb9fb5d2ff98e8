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
  return { bus: bus as unknown as Bus, jobRemoved, answer: (job = JOB) => answers.shift()?.([job]), matches, handlers };
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
});
