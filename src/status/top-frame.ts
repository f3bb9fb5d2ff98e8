/**
 * `ssc top`'s screen, as text lines that fit the terminal. Pure.
 */
import { formatTable, sortApps, type AppFigures, type SortKey } from './figures.js';

export interface FrameInput {
  apps: readonly AppFigures[];
  width: number;
  height: number;
  sort: SortKey;
  intervalSeconds: number;
  now: Date;
}

/** Cut a line to `width` columns (the table is ASCII but for names, escaped; one column a character). */
function fit(line: string, width: number): string {
  const chars = [...line];
  return chars.length <= width ? line : `${chars.slice(0, Math.max(0, width - 1)).join('')}>`;
}

/** The lines of one screen: a title, the table's header and as many apps as fit, the rest counted. */
export function frameLines({ apps, width, height, sort, intervalSeconds, now }: FrameInput): string[] {
  const w = Math.max(10, width);
  const h = Math.max(3, height);
  const title = `ssc top: ${apps.length} app${apps.length === 1 ? '' : 's'}, by ${sort}, every ${intervalSeconds} s; q quits, m/c/n sort by memory/cpu/name`;
  const table = formatTable(sortApps(apps, sort), now).trimEnd().split('\n');
  const room = h - 2; // the title and a blank line
  let rows = table;
  if (table.length > room) {
    const shown = table.slice(0, Math.max(1, room - 1));
    rows = [...shown, `... ${table.length - shown.length} more`];
  }
  return [title, '', ...rows].map((l) => fit(l, w));
}
