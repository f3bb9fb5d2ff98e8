/**
 * The manager's version, as its `Version` property states it: what it writes
 * into a transient unit's file and reads back differs from one version to the
 * next, so the plan depends on it (src/plan/unit-file.ts).
 */

/** The major version of a `Version` string ("252.38-1~deb12u1", "257.9-1~deb13u1", "258", "v255"), or null. */
export function managerMajor(version: string): number | null {
  const m = /^v?(\d{1,4})(?:[.~\-+_ ]|$)/.exec(version.trim());
  if (!m) return null;
  const n = Number(m[1]);
  return n > 0 ? n : null;
}
