/**
 * Was the program killed for memory? cgroup v2 says so (Result=oom-kill); on
 * cgroup v1 systemd 252 sees only a SIGKILL, and the unit's memory cgroup is
 * gone by the time ssc hears of it. The kernel counts every OOM kill in
 * /proc/vmstat (oom_kill): a SIGKILL death while that count rose is reported
 * as out of memory.
 */
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { CLD_KILLED, type Ending } from './exit-codes.js';

/** The oom_kill counter from /proc/vmstat's text, or null when absent. */
export function parseOomKills(vmstat: string): number | null {
  const m = /^oom_kill (\d+)$/m.exec(vmstat);
  return m ? Number(m[1]) : null;
}

export function readOomKills(): number | null {
  try {
    return parseOomKills(readFileSync('/proc/vmstat', 'utf8'));
  } catch {
    return null;
  }
}

export function killedForMemory(end: Ending, oomBefore: number | null, oomAfter: number | null): boolean {
  if (end.result === 'oom-kill') return true;
  const sigkill = end.execMainCode === CLD_KILLED && end.execMainStatus === constants.signals.SIGKILL;
  return sigkill && oomBefore !== null && oomAfter !== null && oomAfter > oomBefore;
}
