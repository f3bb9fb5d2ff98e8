import { describe, expect, it } from 'vitest';
import type { AppFigures } from './figures.js';
import { frameLines } from './top-frame.js';

const app = (i: number): AppFigures => ({
  name: `app${i}`,
  unit: `app-ssc-app${i}@00000000000000${String(i).padStart(2, '0')}.service`,
  profile: 'strict',
  manager: 'system',
  kind: 'service',
  uid: 1000,
  memoryBytes: i << 20,
  memoryMaxBytes: 1 << 30,
  memoryPercent: null,
  memoryPeakBytes: null,
  swapBytes: null,
  cpuPercent: 20 - i,
  cpuSeconds: null,
  tasks: 1,
  oomKills: 0,
  startedSeconds: null,
  controlGroup: '',
});

const base = { width: 200, height: 40, sort: 'memory' as const, intervalSeconds: 2, now: new Date() };

describe('ssc top: one screen', () => {
  it('shows a title, the header and every app that fits, largest memory first', () => {
    const lines = frameLines({ ...base, apps: [app(1), app(3), app(2)] });
    expect(lines[0]).toBe('ssc top: 3 apps, by memory, every 2 s; q quits, m/c/n sort by memory/cpu/name');
    expect(lines[2]).toMatch(/^NAME\s+UNIT/);
    expect(lines.slice(3).map((l) => l.split(/\s+/)[0])).toEqual(['app3', 'app2', 'app1']);
  });

  it('sorts by CPU when asked', () => {
    const lines = frameLines({ ...base, sort: 'cpu', apps: [app(1), app(3), app(2)] });
    expect(lines.slice(3).map((l) => l.split(/\s+/)[0])).toEqual(['app1', 'app2', 'app3']);
  });

  it('never draws past the terminal: lines cut to its width, the apps that do not fit counted', () => {
    const apps = Array.from({ length: 30 }, (_, i) => app(i));
    const lines = frameLines({ ...base, width: 50, height: 10, apps });
    expect(lines).toHaveLength(10);
    for (const l of lines) expect([...l].length).toBeLessThanOrEqual(50);
    expect(lines[9]).toBe('... 24 more');
    expect(lines[0]?.endsWith('>')).toBe(true);
  });
});
