import { describe, expect, it } from 'vitest';
import {
  appName,
  COLUMNS,
  cpuPercent,
  figure,
  formatTable,
  humanBytes,
  numberFrom,
  oomKillsFrom,
  printable,
  profileOf,
  sliceOwner,
  sortApps,
  swapFrom,
  type AppFigures,
} from './figures.js';

const app = (over: Partial<AppFigures> = {}): AppFigures => ({
  name: 'firefox',
  unit: 'app-ssc-firefox@0123456789abcdef.service',
  profile: 'strict',
  manager: 'system',
  kind: 'service',
  uid: 1000,
  memoryBytes: 300 << 20,
  memoryMaxBytes: 1 << 30,
  memoryPercent: (300 / 1024) * 100,
  memoryPeakBytes: 400 << 20,
  swapBytes: 0,
  cpuPercent: 12.5,
  cpuSeconds: 3.5,
  tasks: 42,
  oomKills: 0,
  startedSeconds: null,
  controlGroup: '/ssc.slice/ssc-1000.slice/app-ssc-firefox@0123456789abcdef.service',
  ...over,
});

describe('ssc ps figures', () => {
  it("reads systemd's uint64 figures, and its 'none' (2^64-1) as no figure", () => {
    expect(figure(123n)).toBe(123);
    expect(figure(2n ** 64n - 1n)).toBeNull();
    expect(figure(undefined)).toBeNull();
    expect(figure('12')).toBeNull();
  });

  it('names the app from the unit name, unescaped, for services and scopes, and nothing else', () => {
    expect(appName('app-ssc-firefox@0123456789abcdef.service')).toBe('firefox');
    expect(appName('app-ssc-bash-0123456789abcdef.scope')).toBe('bash');
    expect(appName('app-ssc-my\\x2dapp@0123456789abcdef.service')).toBe('my-app');
    expect(appName('app-ssc-caf\\xc3\\xa9@0123456789abcdef.service')).toBe('café');
    expect(appName('app-gnome-firefox-1234.scope')).toBeNull();
    expect(appName('app-ssc-firefox@xyz.service')).toBeNull();
  });

  it("takes the profile from the Description ssc wrote, in both modes, and nothing from another's", () => {
    expect(profileOf('firefox (ssc strict)')).toBe('strict');
    expect(profileOf('bash (ssc relaxed, terminal)')).toBe('relaxed');
    expect(profileOf('Firefox Web Browser')).toBeNull();
  });

  it("knows a unit's owner only from a slice ssc-UID.slice, a plain decimal uid", () => {
    expect(sliceOwner('ssc-1000.slice')).toBe(1000);
    expect(sliceOwner('ssc-0.slice')).toBe(0);
    for (const other of ['ssc.slice', 'ssc-01000.slice', 'ssc-1000-x.slice', 'user-1000.slice', 'ssc-.slice', 'ssc-99999999999.slice'])
      expect(sliceOwner(other)).toBeNull();
  });

  it('reads swap on v2, and on v1 only with swap accounting (memsw less memory); never a guess', () => {
    expect(swapFrom('4096\n', null, null)).toBe(4096);
    expect(swapFrom(null, '3000\n', '1000\n')).toBe(2000);
    expect(swapFrom(null, null, '1000\n')).toBeNull();
    expect(swapFrom('max\n', null, null)).toBeNull();
    expect(numberFrom('77\n')).toBe(77);
    expect(numberFrom(null)).toBeNull();
    expect(oomKillsFrom('low 0\nhigh 0\nmax 3\noom 2\noom_kill 2\n')).toBe(2);
    expect(oomKillsFrom('oom_kill_disable 0\nunder_oom 0\noom_kill 5\n')).toBe(5);
    expect(oomKillsFrom('oom_kill_disable 0\nunder_oom 0\n')).toBeNull();
  });

  it('computes CPU use as a share of one core over the interval, and none from a missing or reset reading', () => {
    expect(cpuPercent(1_000_000, 51_000_000, 100_000_000)).toBe(50);
    expect(cpuPercent(0, 200_000_000, 100_000_000)).toBe(200);
    expect(cpuPercent(null, 5, 100)).toBeNull();
    expect(cpuPercent(10, 5, 100)).toBeNull();
  });

  it('shows sizes 1024-based with at most three figures', () => {
    expect(humanBytes(0)).toBe('0B');
    expect(humanBytes(512)).toBe('512B');
    expect(humanBytes(1536)).toBe('1.5K');
    expect(humanBytes(300 << 20)).toBe('300M');
    expect(humanBytes(12.34 * 2 ** 30)).toBe('12.3G');
    expect(humanBytes(null)).toBe('-');
  });

  it("prints a header and one aligned row per app, '-' where there is no figure", () => {
    const text = formatTable([
      app(),
      app({ name: 'bash', unit: 'app-ssc-bash-0123456789abcdef.scope', swapBytes: null, memoryPeakBytes: null }),
    ]);
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]?.split(/\s+/)).toEqual([...COLUMNS]);
    expect(lines[1]?.split(/\s+/)).toEqual([
      'firefox',
      'app-ssc-firefox@0123456789abcdef.service',
      'strict',
      'system',
      '300M',
      '1G',
      '29%',
      '400M',
      '0B',
      '13%',
      '42',
      '0',
      '-',
    ]);
    expect(lines[2]?.split(/\s+/).slice(7, 9)).toEqual(['-', '-']);
    // Columns line up: each field starts where its header does.
    expect(lines[1]?.indexOf('strict')).toBe(lines[0]?.indexOf('PROFILE'));
    expect(lines[2]?.indexOf('strict')).toBe(lines[0]?.indexOf('PROFILE'));
  });

  it('escapes control characters in a name, so a program name cannot rewrite the terminal or forge a row', () => {
    const evil = app({ name: 'x\n\x1b[2Jroot' });
    const text = formatTable([evil]);
    expect(text.trimEnd().split('\n')).toHaveLength(2);
    expect(text).toContain('x\\x0a\\x1b[2Jroot');
    expect(text).not.toContain('\x1b');
    expect(printable('a\x9bb')).toBe('a\\x9bb');
  });

  it('escapes bidi overrides, zero-width and separator characters, so that no name reorders or hides part of a row', () => {
    // U+202E turns what follows around on screen; U+2066 opens an isolate; U+200B and U+FEFF are invisible.
    expect(printable('bob\u202e\u2066x\u200b\ufeff\u2028y')).toBe('bob\\u202e\\u2066x\\u200b\\ufeff\\u2028y');
    const text = formatTable([app({ name: 'evil\u202eroot' })]);
    expect(text).not.toMatch(/[\u202e]/);
    // The control: ordinary non-ASCII names stay as they are.
    expect(printable('éditeur 😀 日本')).toBe('éditeur 😀 日本');
  });

  it('sorts by memory or CPU, largest first, then by name', () => {
    const a = app({ name: 'a', memoryBytes: 1, cpuPercent: 9 });
    const b = app({ name: 'b', memoryBytes: 5, cpuPercent: 1 });
    const c = app({ name: 'c', memoryBytes: null, cpuPercent: null });
    expect(sortApps([a, b, c], 'memory').map((x) => x.name)).toEqual(['b', 'a', 'c']);
    expect(sortApps([a, b, c], 'cpu').map((x) => x.name)).toEqual(['a', 'b', 'c']);
    expect(sortApps([c, b, a], 'name').map((x) => x.name)).toEqual(['a', 'b', 'c']);
  });
});
