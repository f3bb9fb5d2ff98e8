/**
 * Exit codes, like env(1) and docker run: the program's own status when ssc
 * waited for it, 128+N when it died of signal N, and a few reserved codes for
 * ssc's own failures.
 */
import { constants } from 'node:os';

export const EXIT = {
  ok: 0,
  usage: 2,
  /** ssc itself failed: no systemd or bus, the start failed, a bad installation, not privileged. */
  failed: 125,
  /** The program was found but cannot be executed. */
  cannotExecute: 126,
  /** The program was not found. */
  notFound: 127,
} as const;

/** siginfo codes systemd reports as ExecMainCode. */
export const CLD_EXITED = 1;
export const CLD_KILLED = 2;
export const CLD_DUMPED = 3;

/** Did the main process die of a signal (with or without a core dump)? */
export function diedOfSignal(execMainCode: number): boolean {
  return execMainCode === CLD_KILLED || execMainCode === CLD_DUMPED;
}

export function signalName(n: number): string {
  for (const [name, num] of Object.entries(constants.signals)) if (num === n) return name;
  return `signal ${n}`;
}

export interface Ending {
  result: string;
  execMainCode: number;
  execMainStatus: number;
}

/** The exit code for how the program ended, as a shell would report it. */
export function exitCodeFor(end: Ending): number {
  if (end.execMainCode === CLD_EXITED) return end.execMainStatus & 0xff;
  if (diedOfSignal(end.execMainCode)) return 128 + end.execMainStatus;
  if (end.result === 'oom-kill') return 128 + constants.signals.SIGKILL;
  return EXIT.failed;
}
