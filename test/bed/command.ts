/**
 * The program's command as systemd shows a unit's ExecStart. Before systemd 254
 * ssc runs LIBDIR/ssc-exec with the path and argv as base64url words (see
 * src/plan/unit-file.ts): decoded here, so a test reads the same command on
 * every version.
 */
import type { Bed } from './bed.js';

/** The manager's major version in the bed. */
export async function systemdVersion(bed: Bed): Promise<number> {
  const v = /^systemd (\d+)/.exec((await bed.run(['systemctl', '--version'])).stdout)?.[1];
  if (v === undefined) throw new Error('systemctl --version said no version');
  return Number(v);
}

/** `systemctl show -p ExecStart --value` with ssc-exec's words decoded into the path and argv they carry. */
export function shownCommand(execStart: string): string {
  const head = '/ssc-exec ; argv[]=ssc-exec ';
  const at = execStart.indexOf(head);
  if (at < 0) return execStart;
  const start = execStart.lastIndexOf('path=', at);
  const end = execStart.indexOf(' ;', at + head.length);
  // A word with a leading `.` continues the argument before it.
  const words: Buffer[] = [];
  for (const w of execStart.slice(at + head.length, end).split(' ')) {
    const b = Buffer.from(w.replace(/^\./, ''), 'base64url');
    if (w.startsWith('.') && words.length > 1) words.push(Buffer.concat([words.pop() as Buffer, b]));
    else words.push(b);
  }
  const [path, ...argv] = words.map((b) => b.toString('utf8'));
  return `${execStart.slice(0, start)}path=${path} ; argv[]=${argv.join(' ')}${execStart.slice(end)}`;
}
