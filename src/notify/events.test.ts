import { describe, expect, it } from 'vitest';
import { KillTracker, notificationText, RateLimit, type KillEvent } from './events.js';
import { appDirs, readApp, type AppDir, type CgroupFs, type Reading } from './scan.js';
import { bodyFor } from './watcher.js';

const app: AppDir = {
  dir: '/sys/fs/cgroup/ssc.slice/ssc-1000.slice/app-ssc-firefox@0123456789abcdef.service',
  unit: 'app-ssc-firefox@0123456789abcdef.service',
  name: 'firefox',
  manager: 'system',
  slices: ['/sys/fs/cgroup/ssc.slice/ssc-1000.slice', '/sys/fs/cgroup/ssc.slice'],
};
const reading = (over: Partial<Reading> = {}): Reading => ({
  oomKills: 0,
  ownCapHits: 0,
  sliceCapHits: [0, 0],
  caps: [1 << 30, null, 8 * 2 ** 30],
  usedBytes: 1 << 30,
  ...over,
});

describe('the notifier: which kills to tell', () => {
  it('says nothing of kills an app had before the notifier first saw it, and tells each later one once', () => {
    const t = new KillTracker();
    expect(t.update(app, reading({ oomKills: 3 }))).toBeNull();
    t.endScan([app.dir]);
    expect(t.update(app, reading({ oomKills: 3 }))).toBeNull();
    const e = t.update(app, reading({ oomKills: 4, ownCapHits: 1 }));
    expect(e).toMatchObject({ name: 'firefox', kills: 1, total: 4, cap: 0, capBytes: 1 << 30 });
    expect(t.update(app, reading({ oomKills: 4, ownCapHits: 1 }))).toBeNull();
  });

  it('counts an app first seen after the first scan from zero: a kill at its start is told', () => {
    const t = new KillTracker();
    t.endScan([]);
    expect(t.update(app, reading({ oomKills: 1, sliceCapHits: [0, 1] }))).toMatchObject({
      kills: 1,
      cap: 2,
      capName: 'ssc.slice',
      capBytes: 8 * 2 ** 30,
    });
  });

  it("names the cap that was hit: the app's own, its user's slice, or none known", () => {
    const t = new KillTracker();
    t.endScan([]);
    expect(t.update(app, reading({ oomKills: 1, sliceCapHits: [1, 0] }))).toMatchObject({ cap: 1, capName: 'ssc-1000.slice' });
    expect(t.update(app, reading({ oomKills: 2, sliceCapHits: [1, 0] }))).toMatchObject({ cap: null, capBytes: null });
  });

  it('a cap hit in a reading before the kill still counts as the one that bit (v1 counts every hit of the limit)', () => {
    const t = new KillTracker();
    t.endScan([]);
    expect(t.update(app, reading({ oomKills: 0, ownCapHits: 0 }))).toBeNull();
    expect(t.update(app, reading({ oomKills: 0, ownCapHits: 3 }))).toBeNull();
    expect(t.update(app, reading({ oomKills: 1, ownCapHits: 3 }))).toMatchObject({ cap: 0 });
    // The next kill, with no cap hit since the last one told: not known.
    expect(t.update(app, reading({ oomKills: 2, ownCapHits: 3 }))).toMatchObject({ cap: null });
  });

  it("takes a shared slice's count as it was when first seen: its older hits never name it for a new app's kill", () => {
    const t = new KillTracker();
    t.noteSlice(app.slices[1] as string, 5);
    t.endScan([]);
    expect(t.update(app, reading({ oomKills: 1, ownCapHits: 1, sliceCapHits: [0, 5] }))).toMatchObject({ cap: 0 });
    expect(t.update(app, reading({ oomKills: 2, ownCapHits: 1, sliceCapHits: [0, 6] }))).toMatchObject({ cap: 2, capName: 'ssc.slice' });
  });

  it('rate-limits: one notification per app per 10 s, 10 a minute in all; what is held back comes with the next', () => {
    const limit = new RateLimit();
    const ev = (unit: string, kills = 1) => ({ unit, kills }) as KillEvent;
    expect(limit.take([ev('a')], 0)).toHaveLength(1);
    expect(limit.take([ev('a', 2)], 1_000)).toHaveLength(0);
    expect(limit.pending).toBe(true);
    expect(limit.take([], 10_000)).toEqual([expect.objectContaining({ unit: 'a', kills: 2 })]);
    const many = Array.from({ length: 15 }, (_, i) => ev(`u${i}`));
    expect(limit.take(many, 20_000)).toHaveLength(8); // 2 sent within the minute already
    expect(limit.take([], 60_001)).toHaveLength(1); // the one sent at 0 is a minute old
    expect(limit.take([], 70_001)).toHaveLength(1); // and the one at 10 s
    expect(limit.take([], 80_001)).toHaveLength(5); // the 8 of 20 s: the rest goes
  });

  it('says which app, which cap and what it used', () => {
    const base = { name: 'firefox', unit: app.unit, manager: 'system', kills: 1, total: 1, usedBytes: 1536 << 20 } as const;
    expect(notificationText({ ...base, cap: 0, capBytes: 1536 << 20, capName: null })).toEqual({
      summary: 'firefox: a process killed for memory',
      body: `The kernel killed a process of firefox (${app.unit}, system manager): it reached its own memory cap of 1.5G, having used 1.5G. 1 so far.`,
    });
    expect(notificationText({ ...base, kills: 2, total: 3, cap: 2, capBytes: 8 * 2 ** 30, capName: 'ssc.slice' }).body).toBe(
      `The kernel killed 2 processes of firefox (${app.unit}, system manager): it reached the cap all contained apps share (ssc.slice, 8G), having used 1.5G. 3 so far.`,
    );
  });

  it('shows a hostile name as ps does, and escapes markup where the server reads it', () => {
    const base = {
      unit: app.unit,
      manager: 'user',
      kills: 1,
      total: 1,
      usedBytes: null,
      cap: null,
      capBytes: null,
      capName: null,
    } as const;
    // A downloaded file's name: a newline, a bidi override that would turn "exe.txt" around, a zero-width space, markup.
    const { summary, body } = notificationText({ ...base, name: 'a\nb\u202etxt.exe\u200b<a href="x">' });
    expect(summary).toBe('a\\x0ab\\u202etxt.exe\\u200b<a href="x">: a process killed for memory');
    expect(`${summary}${body}`).not.toMatch(/[\n\u202e\u200b]/);
    expect(bodyFor(body, true)).toContain('\\u200b&lt;a href="x"&gt; (');
    expect(bodyFor(body, true)).not.toMatch(/[<>]/);
    // The control: a server without body-markup shows the text as it is.
    expect(bodyFor(body, false)).toBe(body);
    expect(body).toContain('<a href="x">');
  });
});

describe("the notifier: the user's app cgroups", () => {
  const files: Record<string, string> = {
    '/sys/fs/cgroup/ssc.slice/ssc-1000.slice/app-ssc-firefox@0123456789abcdef.service/memory.events':
      'low 0\nhigh 0\nmax 9\noom 2\noom_kill 2\n',
    '/sys/fs/cgroup/ssc.slice/ssc-1000.slice/app-ssc-firefox@0123456789abcdef.service/memory.events.local': 'max 7\noom 2\noom_kill 2\n',
    '/sys/fs/cgroup/ssc.slice/ssc-1000.slice/app-ssc-firefox@0123456789abcdef.service/memory.max': '1073741824\n',
    '/sys/fs/cgroup/ssc.slice/ssc-1000.slice/app-ssc-firefox@0123456789abcdef.service/memory.peak': '1073700000\n',
    '/sys/fs/cgroup/ssc.slice/memory.max': 'max\n',
  };
  const fs: CgroupFs = {
    read: (p) => files[p] ?? null,
    list: (d) =>
      d === '/sys/fs/cgroup/ssc.slice/ssc-1000.slice'
        ? ['app-ssc-firefox@0123456789abcdef.service', 'memory.events', 'app-other.scope']
        : d === '/sys/fs/cgroup/ssc.slice/ssc-1001.slice'
          ? ['app-ssc-bash-0123456789abcdef.scope']
          : [],
  };

  it("lists only the caller's own ssc apps (their slice, their user manager), and reads what the kernel counts", () => {
    const dirs = appDirs(fs, 'v2', 1000);
    expect(dirs.map((d) => d.unit)).toEqual(['app-ssc-firefox@0123456789abcdef.service']);
    expect(readApp(fs, 'v2', dirs[0] as AppDir)).toEqual({
      oomKills: 2,
      ownCapHits: 2,
      sliceCapHits: [null, null],
      caps: [1073741824, null, null],
      usedBytes: 1073700000,
    });
    expect(readApp(fs, 'v2', { ...app, dir: '/gone' })).toBeNull();
  });
});
