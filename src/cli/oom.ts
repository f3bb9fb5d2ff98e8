/**
 * Was a process of the program killed for memory, and was it the program itself?
 *
 * Units run with OOMPolicy=continue (src/plan/plan.ts): the kernel's victim is
 * all the app loses, and systemd no longer says Result=oom-kill. The unit's own
 * cgroup counts its OOM kills (memory.events on cgroup v2, memory.oom_control
 * on v1): a waiting front end reads that count every 250 ms, and at once when
 * the kernel signals a change of memory.events (v2). At each new kill it looks
 * at the main process: with SIGKILL pending, or a zombie killed by SIGKILL, it
 * was the victim; running without one, another process was; gone, it is
 * decided when the unit's end says how the program died.
 *
 * systemd removes a service's cgroup when the service ends, and the kernel
 * holds back a change signal that comes within 10 ms of the last one: the last
 * kill before the end can go unread. Then a SIGKILL death while the kernel's
 * own oom_kill counter (/proc/vmstat) rose since the last read is reported as
 * out of memory, as ssc did before for the whole run.
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

const SIGKILL = constants.signals.SIGKILL;
const SIGKILL_BIT = 1n << BigInt(SIGKILL - 1);
/** include/linux/sched.h: the task is exiting; it was killed by a signal. */
const PF_EXITING = 0x4;
const PF_SIGNALED = 0x400;
/**
 * The kernel counts an OOM kill before it sends the SIGKILL (mm/oom_kill.c: "raise event before
 * sending signal"): a main process that shows no sign of it yet is looked at again this much later.
 */
const RECHECK_MS = 100;

/**
 * What became of a process (the caller's own) when a kill was counted, from
 * the texts of /proc/PID/stat and status: 'killed' (SIGKILL pending, or a
 * zombie that died of it), 'other' (running with none, or a zombie that ended
 * otherwise), 'unknown' (gone; or a zombie whose exit code reads 0, which is
 * also what the kernel shows a reader it does not trust).
 */
export function victimState(stat: string | null, status: string | null): 'killed' | 'other' | 'unknown' {
  if (stat === null) return 'unknown';
  // The command name may hold ") ": the fields follow the last one.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  // Field 52 of stat (the 50th after the name): the exit status, as waitpid reports it. do_exit
  // sets it before it frees the memory, so a victim still giving its memory back shows it too.
  const exit = Number(fields[49]);
  if (Number.isInteger(exit) && exit !== 0) return (exit & 0x7f) === SIGKILL ? 'killed' : 'other';
  if (state === 'Z' || state === 'X' || state === 'x') return 'unknown';
  // Field 9, the task's flags: PF_EXITING with PF_SIGNALED is a death by a signal not yet written down.
  const flags = Number(fields[6]);
  if (Number.isInteger(flags) && (flags & PF_EXITING) !== 0 && (flags & PF_SIGNALED) !== 0) return 'unknown';
  if (status === null) return 'unknown';
  for (const key of ['SigPnd', 'ShdPnd']) {
    const m = new RegExp(`^${key}:\\s*([0-9a-f]+)$`, 'm').exec(status);
    if (m && (BigInt(`0x${m[1]}`) & SIGKILL_BIT) !== 0n) return 'killed';
  }
  return 'other';
}

function readOrNull(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

function mainState(pid: number): 'killed' | 'other' | 'unknown' {
  if (pid <= 0) return 'other';
  return victimState(readOrNull(`/proc/${pid}/stat`), readOrNull(`/proc/${pid}/status`));
}

export interface OomWatch {
  /** Kills seen so far: of the main process (0 or 1), of others (each said at once), and not yet decided. */
  readonly seen: { main: boolean; others: number; undecided: number; total: number };
  /** Whether the count was ever read: false when the cgroup had no such file (no memory controller). */
  readonly readable: boolean;
  /** The kernel's oom_kill counter when the unit's count was last read. */
  readonly kernelAtLastRead: number | null;
  /** Read the count once more (at the end); false when the cgroup is gone. */
  refresh(): boolean;
  /** The program ended (by SIGKILL or not): the undecided kills are decided, the others said. */
  settle(killedBySigkill: boolean): void;
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
  const seen = { main: false, others: 0, undecided: 0, total: 0 };
  let readable = false;
  let kernelAtLastRead: number | null = null;
  const other = () => onOther(++seen.others);
  const check = (): boolean => {
    const kernel = readOomKills();
    const n = readOomKills(file);
    if (n === null) return false;
    readable = true;
    kernelAtLastRead = kernel;
    for (; seen.total < n; seen.total++) {
      const state = seen.main ? 'other' : mainState(mainPid());
      if (state === 'killed') seen.main = true;
      else if (state === 'unknown') seen.undecided++;
      else if (seen.main) other();
      else {
        // Running, no SIGKILL in sight: perhaps not sent yet. Decided a moment later.
        recheck++;
        recheckTimer ??= setTimeout(decideRechecks, RECHECK_MS);
      }
    }
    return true;
  };
  let recheck = 0;
  let recheckTimer: NodeJS.Timeout | undefined;
  const decideRechecks = () => {
    recheckTimer = undefined;
    const state = seen.main ? 'other' : mainState(mainPid());
    for (; recheck > 0; recheck--) {
      if (state === 'killed' && !seen.main) seen.main = true;
      else if (state === 'unknown' && !seen.main) seen.undecided++;
      else other();
    }
  };
  let watcher: FSWatcher | null = null;
  if (unified) {
    try {
      // kernfs signals a change of memory.events as a modification: said at once, not at the next poll.
      watcher = watch(file, { persistent: false }, () => check());
      watcher.on('error', () => undefined);
    } catch {
      watcher = null;
    }
  }
  const timer = setInterval(check, pollMs);
  timer.unref();
  check();
  return {
    seen,
    get readable() {
      return readable;
    },
    get kernelAtLastRead() {
      return kernelAtLastRead;
    },
    refresh: check,
    settle(killedBySigkill) {
      // The program ended first: what waited for a second look is decided by how it ended.
      clearTimeout(recheckTimer);
      recheckTimer = undefined;
      seen.undecided += recheck;
      recheck = 0;
      for (; seen.undecided > 0; seen.undecided--) {
        if (killedBySigkill && !seen.main) seen.main = true;
        else other();
      }
    },
    close() {
      watcher?.close();
      clearInterval(timer);
      clearTimeout(recheckTimer);
    },
  };
}

/**
 * Whether the program itself died for memory. `unit`: what the unit's own count
 * said (null when it could never be read), `certain` when it was read after the
 * end, so that no kill of the unit went unread. `oomBefore`/`oomAfter`: the
 * kernel's counter since the unit's was last read (or around the whole run),
 * for a kill that went unread.
 */
export function killedForMemory(
  end: Ending,
  oomBefore: number | null,
  oomAfter: number | null,
  unit: { main: boolean; certain: boolean } | null = null,
): boolean {
  if (end.result === 'oom-kill') return true;
  if (!endedBySigkill(end)) return false;
  if (unit?.main) return true;
  if (unit?.certain) return false;
  return oomBefore !== null && oomAfter !== null && oomAfter > oomBefore;
}

export function endedBySigkill(end: Ending): boolean {
  return end.execMainCode === CLD_KILLED && end.execMainStatus === SIGKILL;
}
