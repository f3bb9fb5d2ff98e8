/**
 * The namespace bed goes when the process that booted it is killed outright
 * (SIGKILL: no exit handler runs): boot.sh's watchdog sees its stdin close and
 * kills the bed. Run as root by .ci/run (`node scripts/run-ts.mjs
 * test/bed/teardown-check.ts`), outside vitest, so that no other bed is up;
 * prints TAP.
 *
 * The parent spawns itself with --child, which boots a bed, prints its PID 1
 * and cgroup directories and waits; the parent checks that bed is there (the
 * control: the same checks see a live bed), SIGKILLs the child and waits, with
 * a deadline, for the bed's PID 1 and its cgroup directories to be gone.
 */
import { spawn } from 'node:child_process';
import { existsSync, readlinkSync, rmdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { bootNamespaceBed, namespaceBedUnavailable } from './namespace.js';

interface Booted {
  pid: number;
  pidNs: string;
  cgroupDirs: string[];
}

if (process.argv[2] === '--child') {
  const bed = await bootNamespaceBed({ log: () => undefined });
  process.stdout.write(`${JSON.stringify({ pid: bed.pid, pidNs: bed.pidNs, cgroupDirs: bed.cgroupDirs })}\n`);
  setInterval(() => undefined, 60_000);
} else if (namespaceBedUnavailable()) {
  // Where no bed can boot the integration tests skip, saying why; so does this (a skip in TAP).
  console.log(`1..0 # SKIP ${namespaceBedUnavailable() as string}`);
} else {
  let n = 0;
  let failed = 0;
  const check = (ok: boolean, what: string, detail = '') => {
    n++;
    if (!ok) failed++;
    console.log(`${ok ? 'ok' : 'not ok'} ${n} - ${what}${ok || !detail ? '' : ` (${detail})`}`);
  };
  /** The bed's PID 1 still runs, and is still the bed's (same pid namespace). */
  const alive = (b: Booted) => {
    try {
      return readlinkSync(`/proc/${b.pid}/ns/pid`) === b.pidNs;
    } catch {
      return false;
    }
  };
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--child'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string | null>((resolve) => {
    const rl = createInterface({ input: child.stdout });
    rl.once('line', resolve);
    child.once('exit', () => resolve(null));
    setTimeout(() => resolve(null), 60_000);
  });
  if (line === null) {
    check(false, 'a bed boots for the check', 'the child printed nothing');
    child.kill('SIGKILL');
  } else {
    const bed = JSON.parse(line) as Booted;
    check(
      alive(bed) && bed.cgroupDirs.length > 0 && bed.cgroupDirs.every((d) => existsSync(d)),
      'the booted bed is seen running, with its cgroup directories',
    );
    child.kill('SIGKILL');
    const deadline = Date.now() + 15_000;
    while ((alive(bed) || bed.cgroupDirs.some((d) => existsSync(d))) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    check(!alive(bed), "the bed's PID 1 is gone within 15 s of SIGKILL to the process that booted it", `PID ${bed.pid} still runs`);
    const left = bed.cgroupDirs.filter((d) => existsSync(d));
    check(left.length === 0, 'its cgroup directories are removed', left.join(' '));
    // What this check found still there goes now, so that no later step shares the host with it.
    if (alive(bed)) process.kill(bed.pid, 'SIGKILL');
    for (const d of left.reverse()) {
      try {
        rmdirSync(d);
      } catch {
        // busy a moment longer, or already gone: the host check says if anything stayed
      }
    }
  }
  console.log(`1..${n}`);
  process.exit(failed === 0 ? 0 : 1);
}
