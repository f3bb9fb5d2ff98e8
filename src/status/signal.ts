/**
 * `ssc stop --signal`: a signal to every process of an app, sent by the caller
 * with kill(2), never through root: the kernel refuses what is not theirs.
 */
import { existsSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { unitTreeRoot } from '../cli/user-manager.js';

/** The file listing the processes of a cgroup (systemd's ControlGroup), on v2, hybrid or v1. */
export function procsFile(controlGroup: string, exists: (p: string) => boolean = existsSync): string {
  return `${unitTreeRoot(exists)}${controlGroup}/cgroup.procs`;
}

/** A signal by name ("TERM", "SIGTERM", "term") or number; null when there is no such signal. */
export function parseSignal(text: string): number | null {
  if (/^[0-9]{1,2}$/.test(text)) {
    const n = Number(text);
    return n >= 1 && n <= 64 ? n : null;
  }
  const name = text.toUpperCase().replace(/^SIG/, '');
  const n = (constants.signals as Record<string, number>)[`SIG${name}`];
  return n === undefined ? null : n;
}

export interface SignalResult {
  /** Processes signalled. */
  sent: number;
  /** Processes the kernel refused (EPERM): another user's, e.g. a setuid program the app ran. */
  refused: number;
}

/** Send `signal` to each process of the cgroup, as this process's user. */
export function signalProcesses(
  controlGroup: string,
  signal: number,
  kill = process.kill.bind(process),
  read: (file: string) => string = (f) => readFileSync(f, 'utf8'),
): SignalResult {
  if (!controlGroup.startsWith('/') || controlGroup === '/') throw new RangeError(`not a unit's cgroup: ${JSON.stringify(controlGroup)}`);
  let text = '';
  try {
    text = read(procsFile(controlGroup));
  } catch {
    return { sent: 0, refused: 0 }; // the app ended: its cgroup went with it
  }
  const result = { sent: 0, refused: 0 };
  for (const line of text.split('\n')) {
    const pid = Number(line);
    if (!Number.isInteger(pid) || pid <= 1) continue;
    try {
      kill(pid, signal);
      result.sent++;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EPERM') result.refused++;
      // ESRCH: it ended meanwhile.
    }
  }
  return result;
}
