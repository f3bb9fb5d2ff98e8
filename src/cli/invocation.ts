/**
 * What the caller asked for, as data: from the launcher's hand-off when ssc is
 * installed, or from this process when it runs un-installed.
 */
import { decodeHandoff, readHandoffFd, type HandoffHeader } from '../handoff.js';

export interface Invocation {
  header: HandoffHeader;
  /** Arguments after argv[0], as raw bytes. */
  args: Buffer[];
  env: Buffer[];
  cwd: Buffer | null;
  /** Started by the launcher (fd 3 held a hand-off). */
  viaLauncher: boolean;
}

export function readInvocation(): Invocation {
  const raw = readHandoffFd();
  if (raw !== null) {
    const h = decodeHandoff(raw);
    return { header: h.header, args: h.argv.slice(1), env: h.env, cwd: h.cwd, viaLauncher: true };
  }
  // Un-installed: node dist/ssc.js ... (process.argv is already decoded; fine for an unprivileged run).
  const env = Object.entries(process.env).map(([k, v]) => Buffer.from(`${k}=${v ?? ''}`));
  let cwd: Buffer | null = null;
  let cwdErrno = 0;
  try {
    cwd = Buffer.from(process.cwd());
  } catch {
    cwdErrno = 2;
  }
  const umask = process.umask();
  return {
    header: {
      flags: 0,
      privileged: false,
      ruid: process.getuid?.() ?? 0,
      rgid: process.getgid?.() ?? 0,
      umask,
      cwdErrno,
      nofileSoft: 0,
      groups: process.getgroups?.() ?? [],
    },
    args: process.argv.slice(2).map((a) => Buffer.from(a)),
    env,
    cwd,
    viaLauncher: false,
  };
}
