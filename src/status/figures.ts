/**
 * `ssc ps`: what one contained app is using, from what systemd and the cgroup
 * files already publish, and how it is shown. Pure: the readers hand in texts.
 *
 * A figure the system cannot give (a controller missing, cgroup v1 without
 * swap accounting, a kernel without memory.peak) is null, shown as "-": never
 * a guess.
 */
import { parseOomKills } from '../cli/oom.js';

export interface AppFigures {
  /** The program part of the unit name (systemd-escaped as the name has it, unescaped here). */
  name: string;
  unit: string;
  /** The isolation profile, from the Description ssc wrote. */
  profile: string | null;
  manager: 'system' | 'user';
  kind: 'service' | 'scope';
  /** The owner's uid (the slice in the system manager; the manager's own user in a user manager). */
  uid: number | null;
  memoryBytes: number | null;
  memoryMaxBytes: number | null;
  memoryPercent: number | null;
  memoryPeakBytes: number | null;
  swapBytes: number | null;
  /** Of one core, over the sampling interval. */
  cpuPercent: number | null;
  /** CPU time used so far (CPUUsageNSec), in seconds. */
  cpuSeconds: number | null;
  tasks: number | null;
  oomKills: number | null;
  /** When the unit became active, in seconds since the epoch. */
  startedSeconds: number | null;
  /** The unit's cgroup, as systemd names it ('' when it has none). */
  controlGroup: string;
}

/** systemd's "no value" for a 64-bit figure. */
const UNSET = 2n ** 64n - 1n;

/** A uint64 property as a number, or null when systemd says it has none. */
export function figure(value: unknown): number | null {
  if (typeof value !== 'bigint' && typeof value !== 'number') return null;
  const n = BigInt(value);
  return n === UNSET || n < 0n ? null : Number(n);
}

/** The program part of an ssc unit name, unescaped ("app-ssc-firefox@….service" → "firefox"). */
export function appName(unit: string): string | null {
  const m = /^app-ssc-(.+?)(?:@[0-9a-f]{16}\.service|-[0-9a-f]{16}\.scope)$/.exec(unit);
  if (!m) return null;
  const bytes: number[] = [];
  const part = m[1] as string;
  for (let i = 0; i < part.length; i++) {
    const esc = /^\\x([0-9a-f]{2})/.exec(part.slice(i));
    if (esc) {
      bytes.push(parseInt(esc[1] as string, 16));
      i += 3;
    } else bytes.push(...Buffer.from(part[i] === '-' ? '/' : (part[i] as string)));
  }
  return Buffer.from(bytes).toString('utf8');
}

/** The profile in a Description ssc wrote ("firefox (ssc strict)", "bash (ssc relaxed, terminal)"). */
export function profileOf(description: string): string | null {
  return /\(ssc ([a-z]+)(?:, terminal)?\)$/.exec(description)?.[1] ?? null;
}

/** Whose a system-manager unit is, by the slice the broker put it in (ssc-UID.slice); null: none of ssc's. */
export function sliceOwner(slice: string): number | null {
  const m = /^ssc-(0|[1-9][0-9]{0,9})\.slice$/.exec(slice);
  return m ? Number(m[1]) : null;
}

/** Swap in use: memory.swap.current (v2), or memory.memsw.usage_in_bytes less memory.usage_in_bytes (v1 with swap accounting). */
export function swapFrom(v2: string | null, memsw: string | null, usage: string | null): number | null {
  if (v2 !== null && /^\d+\s*$/.test(v2)) return Number(v2.trim());
  if (memsw !== null && usage !== null && /^\d+\s*$/.test(memsw) && /^\d+\s*$/.test(usage))
    return Math.max(0, Number(memsw.trim()) - Number(usage.trim()));
  return null;
}

/** A count read from a file of one number ("123\n"); null for anything else. */
export function numberFrom(text: string | null): number | null {
  return text !== null && /^\d+\s*$/.test(text) ? Number(text.trim()) : null;
}

/** The OOM kill count from memory.events or memory.oom_control. */
export function oomKillsFrom(text: string | null): number | null {
  return text === null ? null : parseOomKills(text);
}

/** CPU use as a percentage of one core between two CPUUsageNSec readings `wallNs` apart. */
export function cpuPercent(before: number | null, after: number | null, wallNs: number): number | null {
  if (before === null || after === null || wallNs <= 0 || after < before) return null;
  return ((after - before) / wallNs) * 100;
}

/** Bytes as ps and top show them: 1024-based, three significant figures ("512K", "1.5G"). */
export function humanBytes(n: number | null): string {
  if (n === null) return '-';
  const units = ['B', 'K', 'M', 'G', 'T', 'P'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  if (u === 0) return `${n}B`;
  return `${v >= 100 ? Math.round(v) : v >= 10 ? v.toFixed(1).replace(/\.0$/, '') : v.toFixed(2).replace(/\.?0+$/, '')}${units[u]}`;
}

function percent(p: number | null): string {
  return p === null ? '-' : `${p >= 10 ? Math.round(p) : p.toFixed(1)}%`;
}

function started(seconds: number | null, now: Date): string {
  if (seconds === null) return '-';
  const d = new Date(seconds * 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  if (d.toDateString() === now.toDateString()) return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

export const COLUMNS = [
  'NAME',
  'UNIT',
  'PROFILE',
  'MANAGER',
  'MEMORY',
  'CAP',
  'MEM%',
  'PEAK',
  'SWAP',
  'CPU%',
  'TASKS',
  'OOM',
  'STARTED',
] as const;

/** One row of text per app, in COLUMNS' order. */
export function rowOf(a: AppFigures, now: Date): string[] {
  return [
    a.name,
    a.unit,
    a.profile ?? '-',
    a.manager,
    humanBytes(a.memoryBytes),
    humanBytes(a.memoryMaxBytes),
    percent(a.memoryPercent),
    humanBytes(a.memoryPeakBytes),
    humanBytes(a.swapBytes),
    percent(a.cpuPercent),
    a.tasks === null ? '-' : String(a.tasks),
    a.oomKills === null ? '-' : String(a.oomKills),
    started(a.startedSeconds, now),
  ];
}

/**
 * The apps as an aligned table, a header first; names and units are shown with
 * control characters escaped, so that no name can move the cursor or forge a row.
 */
export function formatTable(apps: readonly AppFigures[], now = new Date()): string {
  const rows = [[...COLUMNS], ...apps.map((a) => rowOf(a, now).map(printable))];
  const widths = COLUMNS.map((_, i) => Math.max(...rows.map((r) => (r[i] as string).length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] as number))).join('  ')).join('\n') + '\n';
}

/**
 * Control characters (C0, DEL, C1) as \xNN; format characters (bidi overrides and isolates,
 * zero-width ones) and the line and paragraph separators as \uNNNN: none of them can then move
 * the cursor, reorder a row on screen or hide part of a name.
 */
export function printable(s: string): string {
  return s.replace(/[\x00-\x1f\x7f-\x9f]|[\p{Cf}\u2028\u2029]/gu, (c) => {
    const code = c.codePointAt(0) as number;
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

export type SortKey = 'memory' | 'cpu' | 'name';

export function sortApps(apps: readonly AppFigures[], key: SortKey): AppFigures[] {
  const by = (a: AppFigures) => (key === 'memory' ? (a.memoryBytes ?? -1) : key === 'cpu' ? (a.cpuPercent ?? -1) : 0);
  return [...apps].sort((a, b) => by(b) - by(a) || a.name.localeCompare(b.name) || a.unit.localeCompare(b.unit));
}
