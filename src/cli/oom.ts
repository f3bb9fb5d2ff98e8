/**
 * Was a process of the program killed for memory, and was it the program itself?
 *
 * Units run with OOMPolicy=continue (src/plan/plan.ts): the kernel's victim is
 * all the app loses, and systemd no longer says Result=oom-kill. The unit's own
 * cgroup counts its OOM kills (memory.events on cgroup v2, which the kernel
 * signals as a file change; memory.oom_control on v1, read every 250 ms): the
 * front end follows that count while the program runs. At each new kill it
 * looks at the main process: dead, a zombie, or with a SIGKILL pending is the
 * victim; otherwise another process of the program was. Polled (v1, or no
 * file change events), a kill in the last interval before the unit's cgroup
 * went away can be missed: then a SIGKILL death while the kernel's own
 * oom_kill counter (/proc/vmstat) rose since the last read is reported as out
 * of memory, as ssc did before for the whole run.
 */
import { existsSync, readFileSync, watch, type FSWatcher } from 'node:fs';
import { constants } from 'node:os';
import { CLD_KILLED, type Ending } from './exit-codes.js';

/** The oom_kill counter from /proc/vmstat's, memory.events' or memory.oom_control's text, or null when absent. */
export function parseOomKills(text: string): number | null {
  const m = /^oom_kill (\d+)$/m.exec(text);
  return m ? Number(m[1]) : null;
}

export function readOomKills(file = '/proc/vmstat'): number | null {
  try {
    return parseOomKills(readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

/** The file that counts a cgroup's OOM kills (`controlGroup` as systemd's ControlGroup property says it). */
export function oomKillFile(controlGroup: string, unified = existsSync('/sys/fs/cgroup/cgroup.controllers')): string {
  return unified ? `/sys/fs/cgroup${controlGroup}/memory.events` : `/sys/fs/cgroup/memory${controlGroup}/memory.oom_control`;
}

const SIGKILL_BIT = 1n << BigInt(constants.signals.SIGKILL - 1);

/**
 * Is this process (the caller's own) ending by SIGKILL: gone, a zombie, or
 * with SIGKILL pending? Read from /proc/PID/stat and status, whose texts are given.
 */
export function isDying(stat: string | null, status: string | null): boolean {
  if (stat === null) return true;
  // The command name may hold ") ": the state follows the last one.
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  if (state === 'Z' || state === 'X' || state === 'x') return true;
  if (status === null) return true;
  for (const key of ['SigPnd', 'ShdPnd']) {
    const m = new RegExp(`^${key}:\\s*([0-9a-f]+)$`, 'm').exec(status);
    if (m && (BigInt(`0x${m[1]}`) & SIGKILL_BIT) !== 0n) return true;
  }
  return false;
}

function readOrNull(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

function mainIsDying(pid: number): boolean {
  if (pid <= 0) return false;
  return isDying(readOrNull(`/proc/${pid}/stat`), readOrNull(`/proc/${pid}/status`));
}

export interface OomWatch {
  /** The kills of the main process seen so far (0 or 1), and of other processes. */
  readonly seen: { main: boolean; others: number; total: number };
  /** Whether the count was ever read: false when the cgroup had no such file (no memory controller). */
  readonly readable: boolean;
  /**
   * Whether no kill can have gone unread: the kernel signals each change (v2),
   * and every change it signalled was read before the cgroup went away.
   */
  readonly complete: boolean;
  /** The kernel's oom_kill counter when the unit's count was last read. */
  readonly kernelAtLastRead: number | null;
  /** Read the count once more (at the end); false when the cgroup is gone. */
  refresh(): boolean;
  close(): void;
}

/**
 * Follow a unit's OOM kills. `onOther(n)` is called for each kill of a
 * process other than the main one, with the count so far.
 */
export function watchOomKills(
  file: string,
  mainPid: () => number,
  onOther: (n: number) => void,
  { pollMs = 250, unified = file.endsWith('/memory.events') } = {},
): OomWatch {
  const seen = { main: false, others: 0, total: 0 };
  let readable = false;
  let kernelAtLastRead: number | null = null;
  let lost = false;
  const check = (): boolean => {
    const kernel = readOomKills();
    const n = readOomKills(file);
    if (n === null) return false;
    readable = true;
    kernelAtLastRead = kernel;
    while (seen.total < n) {
      seen.total++;
      if (!seen.main && mainIsDying(mainPid())) seen.main = true;
      else onOther(++seen.others);
    }
    return true;
  };
  let watcher: FSWatcher | null = null;
  let timer: NodeJS.Timeout | null = null;
  if (unified) {
    try {
      // kernfs signals every change of memory.events as a modification; the
      // cgroup's removal comes as a 'rename'. A change read too late is lost.
      watcher = watch(file, { persistent: false }, (event) => {
        if (!check() && event === 'change') lost = true;
      });
      watcher.on('error', () => undefined);
    } catch {
      watcher = null;
    }
  }
  if (watcher === null) {
    timer = setInterval(check, pollMs);
    timer.unref();
  }
  check();
  return {
    seen,
    get readable() {
      return readable;
    },
    get kernelAtLastRead() {
      return kernelAtLastRead;
    },
    get complete() {
      return watcher !== null && !lost;
    },
    refresh: check,
    close() {
      watcher?.close();
      if (timer) clearInterval(timer);
    },
  };
}

/**
 * Whether the program itself died for memory. `unit`: what the unit's own count
 * said (null when it could never be read); `certain` when no kill of the unit
 * can have gone unread (file change events, or a read after the end).
 * `oomBefore`/`oomAfter`: the kernel's counter since the unit's was last read
 * (or around the whole run), for the kill that may have gone unread.
 */
export function killedForMemory(
  end: Ending,
  oomBefore: number | null,
  oomAfter: number | null,
  unit: { main: boolean; certain: boolean } | null = null,
): boolean {
  if (end.result === 'oom-kill') return true;
  const sigkill = end.execMainCode === CLD_KILLED && end.execMainStatus === constants.signals.SIGKILL;
  if (!sigkill) return false;
  if (unit?.main) return true;
  if (unit?.certain) return false;
  return oomBefore !== null && oomAfter !== null && oomAfter > oomBefore;
}
