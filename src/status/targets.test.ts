import { describe, expect, it } from 'vitest';
import type { AppFigures } from './figures.js';
import { chooseTargets, TargetError } from './targets.js';

const app = (name: string, unit: string, manager: 'system' | 'user' = 'system'): AppFigures => ({
  name,
  unit,
  profile: 'strict',
  manager,
  kind: unit.endsWith('.scope') ? 'scope' : 'service',
  uid: 1000,
  memoryBytes: null,
  memoryMaxBytes: null,
  memoryPercent: null,
  memoryPeakBytes: null,
  swapBytes: null,
  cpuPercent: null,
  cpuSeconds: null,
  tasks: null,
  oomKills: null,
  startedSeconds: null,
  controlGroup: '',
});

const fx = app('firefox', 'app-ssc-firefox@0000000000000001.service');
const s1 = app('sleep', 'app-ssc-sleep@0000000000000002.service');
const s2 = app('sleep', 'app-ssc-sleep@0000000000000003.service', 'user');
const tab = app('bash', 'app-ssc-bash-0000000000000004.scope');
const apps = [fx, s1, s2, tab];

describe('ssc stop: which apps', () => {
  it('takes an app by its name when it is the only one of that name, or by its unit', () => {
    expect(chooseTargets(apps, ['firefox'], false)).toEqual([fx]);
    expect(chooseTargets(apps, [s2.unit, tab.unit], false)).toEqual([s2, tab]);
  });

  it('refuses a name several apps have unless --all, and lists them', () => {
    let err: unknown;
    try {
      chooseTargets(apps, ['sleep'], false);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TargetError);
    expect((err as TargetError).message).toBe('2 apps of yours are named sleep: name one by its unit, or add --all');
    expect((err as TargetError).ambiguous).toEqual([s1, s2]);
    expect(chooseTargets(apps, ['sleep'], true)).toEqual([s1, s2]);
  });

  it('names what matched nothing, and takes an app named twice once', () => {
    expect(() => chooseTargets(apps, ['chromium'], false)).toThrow('no app of yours named chromium is running');
    expect(() => chooseTargets(apps, ['app-ssc-x@0000000000000009.service'], false)).toThrow(/is not an app of yours that is running/);
    expect(chooseTargets(apps, ['firefox', fx.unit], false)).toEqual([fx]);
  });
});
