/**
 * Rootless mode: the unit goes to the caller's own systemd user manager over
 * the session bus, with the same profiles, and ssc checks that the profile's
 * caps can be in effect there (systemd ignores a limit whose cgroup controller
 * is missing, without a word: systemd issue 9641).
 *
 * Everything here runs as the caller, unprivileged. In a user manager the user
 * can lift their own limits (`systemctl --user set-property`): it protects the
 * user from runaway apps, not an administrator's machine from the user.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import type { Profile } from '../plan/profiles.js';

/** The session bus: $DBUS_SESSION_BUS_ADDRESS when it is a unix: address, else $XDG_RUNTIME_DIR/bus. Null: none. */
export function sessionBusAddress(env: ReadonlyMap<string, string>): string | null {
  const given = env.get('DBUS_SESSION_BUS_ADDRESS');
  if (given) {
    // The first unix: entry (the address may list fallbacks); never unixexec: or tcp: (dbus-next's unixexec is stubbed out).
    const unix = given.split(';').find((a) => /^unix:(path|abstract)=/.test(a));
    if (unix) return unix;
  }
  const runtime = env.get('XDG_RUNTIME_DIR');
  return runtime && runtime.startsWith('/') ? `unix:path=${runtime}/bus` : null;
}

/** A cap of a profile and the cgroup controller it needs. */
export interface Cap {
  name: string;
  controller: 'memory' | 'cpu';
}

export function capsOf(profile: Profile): Cap[] {
  const caps: Cap[] = [
    { name: `MemoryMax ${profile.memoryMax / 100}%`, controller: 'memory' },
    { name: `MemorySwapMax ${profile.memorySwapMax / 100}%`, controller: 'memory' },
  ];
  if (profile.cpuQuota !== null) caps.push({ name: 'CPUQuota', controller: 'cpu' });
  return caps;
}

export interface CgroupView {
  /** Contents of a file under /sys/fs/cgroup, or null. */
  read(path: string): string | null;
  exists(path: string): boolean;
  /** The names in a directory under /sys/fs/cgroup, or none. */
  list(path: string): string[];
}

/**
 * Where systemd's own tree of unit cgroups is mounted, listing every process:
 * /sys/fs/cgroup on v2, its unified hierarchy on hybrid, the name=systemd one on v1.
 */
export function unitTreeRoot(exists: (path: string) => boolean = existsSync): string {
  if (exists('/sys/fs/cgroup/cgroup.controllers')) return '/sys/fs/cgroup';
  if (exists('/sys/fs/cgroup/unified/cgroup.controllers')) return '/sys/fs/cgroup/unified';
  return '/sys/fs/cgroup/systemd';
}

export const realCgroups: CgroupView = {
  read: (p) => {
    try {
      return readFileSync(p, 'utf8');
    } catch {
      return null;
    }
  },
  exists: existsSync,
  list: (p) => {
    try {
      return readdirSync(p);
    } catch {
      return [];
    }
  },
};

/**
 * The caps of the profile that cannot be in effect in this user's manager, each
 * with the reason: cgroup v1 (user managers get no controllers there), or a
 * controller the system did not delegate to user@UID.service.
 */
export function missingCaps(profile: Profile, uid: number, cg: CgroupView = realCgroups): { cap: Cap; why: string }[] {
  const unified = cg.exists('/sys/fs/cgroup/cgroup.controllers');
  const caps = capsOf(profile);
  if (!unified) return caps.map((cap) => ({ cap, why: 'cgroup v1: a user manager gets no cgroup controllers' }));
  const controllers = cg.read(`/sys/fs/cgroup/user.slice/user-${uid}.slice/user@${uid}.service/cgroup.controllers`);
  if (controllers === null) return caps.map((cap) => ({ cap, why: 'your user manager is not running' }));
  const have = new Set(controllers.trim().split(/\s+/));
  return caps
    .filter((c) => !have.has(c.controller))
    .map((cap) => ({ cap, why: `the ${cap.controller} controller is not delegated to your user manager` }));
}

/** After the start: the caps the unit's own cgroup does not carry. */
export function capsInEffect(profile: Profile, controlGroup: string, cg: CgroupView = realCgroups): string[] {
  const dir = `/sys/fs/cgroup${controlGroup}`;
  // A program that already ended took its cgroup with it: nothing to read, nothing to claim.
  if (!cg.exists(`${dir}/cgroup.procs`)) return [];
  const missing: string[] = [];
  const value = (f: string) => cg.read(`${dir}/${f}`)?.trim() ?? null;
  const max = value('memory.max');
  if (max === null || max === 'max') missing.push('MemoryMax');
  const swap = value('memory.swap.max');
  if (swap === null || swap === 'max') missing.push('MemorySwapMax');
  if (profile.cpuQuota !== null) {
    const cpu = value('cpu.max');
    if (cpu === null || cpu.startsWith('max')) missing.push('CPUQuota');
  }
  return missing;
}
