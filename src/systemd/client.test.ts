import { describe, expect, it } from 'vitest';
import type { Bus, Signal } from './bus.js';
import { startTransientUnit } from './client.js';
import { MANAGER_INTERFACE, SYSTEMD_OBJECT_PATH } from './signatures.js';

const JOB = '/org/freedesktop/systemd1/job/7';
const SYSTEMD = ':1.1';

/** A connection on which signals arrive from whoever the test says; systemd is SYSTEMD. */
function connection() {
  const handlers = new Set<(s: Signal) => void>();
  let answer: (body: unknown[]) => void = () => undefined;
  const bus = {
    followOwner: () => ({ owner: () => SYSTEMD, ready: Promise.resolve() }),
    onSignal: (h: (s: Signal) => void) => {
      handlers.add(h);
      return () => handlers.delete(h);
    },
    addMatch: () => Promise.resolve([]),
    call: () => new Promise<unknown[]>((r) => (answer = r)),
  };
  const jobRemoved = (sender: string, result: string) => {
    const s: Signal = {
      path: SYSTEMD_OBJECT_PATH,
      interface: MANAGER_INTERFACE,
      member: 'JobRemoved',
      sender,
      body: [7, JOB, 'x.service', result],
    };
    for (const h of handlers) h(s);
  };
  return { bus: bus as unknown as Bus, jobRemoved, answer: () => answer([JOB]) };
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
});
