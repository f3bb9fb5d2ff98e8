/**
 * The notifier's view of the caller's contained apps: their cgroup
 * directories in both managers, and what the kernel counts there. Runs as the
 * user; every file read is world-readable cgroup state.
 *
 * cgroup v2: memory.events of the app (oom_kill: processes the kernel killed;
 * "oom" in memory.events.local: the app's own cap sent an allocation to the OOM killer) and of its
 * slices (the shared caps). cgroup v1 (hybrid): memory.oom_control's oom_kill
 * and memory.failcnt, polled.
 */
import type { CgroupView } from '../cli/user-manager.js';
import { appName } from '../status/figures.js';

/** What the notifier reads of the cgroup files (realCgroups, or a stand-in in tests). */
export type CgroupFs = Pick<CgroupView, 'read' | 'list'>;

export type Layout = 'v2' | 'v1';

export interface AppDir {
  /** The unit's cgroup directory. */
  dir: string;
  unit: string;
  name: string;
  manager: 'system' | 'user';
  /** The slices above it that ssc or the user manager caps, innermost first. */
  slices: string[];
}

/** Where the caller's apps live, for this layout and uid. */
export function appParents(layout: Layout, uid: number): { dir: string; manager: 'system' | 'user'; slices: string[] }[] {
  const root = layout === 'v2' ? '/sys/fs/cgroup' : '/sys/fs/cgroup/memory';
  const own = `${root}/ssc.slice/ssc-${uid}.slice`;
  const userApps = `${root}/user.slice/user-${uid}.slice/user@${uid}.service/app.slice`;
  return [
    { dir: own, manager: 'system', slices: [own, `${root}/ssc.slice`] },
    { dir: userApps, manager: 'user', slices: [userApps] },
  ];
}

/** The caller's app cgroups now. */
export function appDirs(fs: CgroupFs, layout: Layout, uid: number): AppDir[] {
  const out: AppDir[] = [];
  for (const parent of appParents(layout, uid))
    for (const entry of fs.list(parent.dir)) {
      const name = appName(entry);
      if (name !== null) out.push({ dir: `${parent.dir}/${entry}`, unit: entry, name, manager: parent.manager, slices: parent.slices });
    }
  return out;
}

/** A flat "key value" file (memory.events, memory.oom_control) as a map. */
export function keyValues(text: string | null): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of (text ?? '').split('\n')) {
    const f = /^(\S+) (\d+)$/.exec(line);
    if (f) m.set(f[1] as string, Number(f[2]));
  }
  return m;
}

export interface Reading {
  /** Processes of the app the kernel killed for memory, so far. */
  oomKills: number;
  /** Times the app's own cap was hit (v2 memory.events.local oom; v1 memory.failcnt). */
  ownCapHits: number | null;
  /** The same for each slice above it, innermost first. */
  sliceCapHits: (number | null)[];
  /** Caps in bytes (null: none), the app's own first, then its slices'. */
  caps: (number | null)[];
  /** The most the app has used (memory.peak / max_usage_in_bytes), or now. */
  usedBytes: number | null;
}

function bytes(text: string | null): number | null {
  const t = text?.trim();
  return t !== undefined && /^\d+$/.test(t) && t !== '9223372036854771712' ? Number(t) : null;
}

/** Times a cgroup's own cap left an allocation to the OOM killer (v2 memory.events.local "oom"; v1 memory.failcnt). */
export function capHits(fs: CgroupFs, layout: Layout, dir: string): number | null {
  if (layout === 'v2') {
    // "oom", not "max": "max" counts every reclaim against the cap, also those that ended well.
    const local = keyValues(fs.read(`${dir}/memory.events.local`));
    return local.get('oom') ?? local.get('max') ?? null;
  }
  return bytes(fs.read(`${dir}/memory.failcnt`));
}

/** What the kernel counts for an app now; null when its cgroup is gone. */
export function readApp(fs: CgroupFs, layout: Layout, app: AppDir): Reading | null {
  const v2 = layout === 'v2';
  const counts = fs.read(`${app.dir}/${v2 ? 'memory.events' : 'memory.oom_control'}`);
  if (counts === null) return null;
  const limit = v2 ? 'memory.max' : 'memory.limit_in_bytes';
  return {
    oomKills: keyValues(counts).get('oom_kill') ?? 0,
    ownCapHits: capHits(fs, layout, app.dir),
    sliceCapHits: app.slices.map((d) => capHits(fs, layout, d)),
    caps: [app.dir, ...app.slices].map((d) => bytes(fs.read(`${d}/${limit}`))),
    usedBytes: v2
      ? (bytes(fs.read(`${app.dir}/memory.peak`)) ?? bytes(fs.read(`${app.dir}/memory.current`)))
      : bytes(fs.read(`${app.dir}/memory.max_usage_in_bytes`)),
  };
}
