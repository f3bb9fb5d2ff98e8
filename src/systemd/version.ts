/**
 * The manager's version, as its `Version` property states it: what it writes
 * into a transient unit's file and reads back, and which settings a unit type
 * takes, differ from one version to the next, so the plan depends on it
 * (src/plan/unit-file.ts, src/plan/plan.ts).
 */

/** What the plan needs to know of the manager's version. */
export interface ManagerVersion {
  major: number;
  /** Scopes take OOMPolicy= (upstream 253; backported to the 252 stable series in 252.5). */
  scopeOomPolicy: boolean;
}

/** The major and stable-series numbers of a `Version` string ("252.38-1~deb12u1", "257.9-1~deb13u1", "258", "v255"), or null. */
export function managerRelease(version: string): { major: number; minor: number | null } | null {
  const m = /^v?(\d{1,4})(?:\.(\d{1,4}))?(?:[.~\-+_ ]|$)/.exec(version.trim());
  if (!m) return null;
  const major = Number(m[1]);
  return major > 0 ? { major, minor: m[2] === undefined ? null : Number(m[2]) } : null;
}

/** The major version of a `Version` string, or null. */
export function managerMajor(version: string): number | null {
  return managerRelease(version)?.major ?? null;
}

export function parseManagerVersion(version: string): ManagerVersion | null {
  const r = managerRelease(version);
  if (r === null) return null;
  return { major: r.major, scopeOomPolicy: r.major >= 253 || (r.major === 252 && (r.minor ?? 0) >= 5) };
}
