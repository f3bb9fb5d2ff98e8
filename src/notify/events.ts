/**
 * From the kernel's counts to notifications: which app lost processes to the
 * OOM killer since the last reading, which cap bit, and how often the user
 * hears of it. Pure.
 */
import { humanBytes, printable } from '../status/figures.js';
import type { AppDir, Reading } from './scan.js';

export interface KillEvent {
  name: string;
  unit: string;
  manager: 'system' | 'user';
  /** Kills since the last notification of this app. */
  kills: number;
  /** Kills of this app so far. */
  total: number;
  /** The cap that was hit: 0 the app's own, 1.. its slices' (AppDir.slices), null unknown. */
  cap: number | null;
  capBytes: number | null;
  capName: string | null;
  usedBytes: number | null;
}

interface Seen {
  kills: number;
  /** The cap counts when the app was first seen or a kill last told: a cap hit since then is the one that bit. */
  own: number | null;
  slices: (number | null)[];
}

function rose(now: number | null, before: number | null): boolean {
  return now !== null && before !== null && now > before;
}

/** The apps' counts between readings; an app seen in the first scan is a baseline, one seen later counts from zero. */
export class KillTracker {
  private readonly seen = new Map<string, Seen>();
  /**
   * Each slice's cap count when it was first seen or a kill under it last told: slices are shared
   * and outlive apps, so an app's kill is compared with these, never with zero.
   */
  private readonly sliceBase = new Map<string, number | null>();
  private first = true;

  /** A slice's cap count as a scan found it; kept only when the slice is new to the tracker. */
  noteSlice(dir: string, hits: number | null): void {
    if (!this.sliceBase.has(dir) && hits !== null) this.sliceBase.set(dir, hits);
  }

  /** Ends a scan: apps not in `present` are forgotten, and later apps are new. */
  endScan(present: readonly string[]): void {
    for (const k of [...this.seen.keys()]) if (!present.includes(k)) this.seen.delete(k);
    this.first = false;
  }

  update(app: AppDir, r: Reading): KillEvent | null {
    const before = this.seen.get(app.dir) ?? (this.first ? null : { kills: 0, own: 0, slices: [] });
    if (before === null || r.oomKills <= before.kills) {
      // No kill: the cap counts stay as they were at the last kill (a cap pushed against for a
      // while before the kill must still count as hit when the kill comes).
      this.seen.set(app.dir, before ?? { kills: r.oomKills, own: r.ownCapHits, slices: r.sliceCapHits });
      return null;
    }
    this.seen.set(app.dir, { kills: r.oomKills, own: r.ownCapHits, slices: r.sliceCapHits });
    // A slice not noted before appeared since the notifier started: its count began at 0.
    const sliceBefore = app.slices.map((d) => this.sliceBase.get(d) ?? 0);
    app.slices.forEach((d, i) => this.sliceBase.set(d, r.sliceCapHits[i] ?? null));
    let cap: number | null = null;
    if (rose(r.ownCapHits, before.own)) cap = 0;
    else {
      const i = r.sliceCapHits.findIndex((h, j) => rose(h, sliceBefore[j] ?? null));
      if (i >= 0) cap = i + 1;
    }
    return {
      name: app.name,
      unit: app.unit,
      manager: app.manager,
      kills: r.oomKills - before.kills,
      total: r.oomKills,
      cap,
      capBytes: cap === null ? null : (r.caps[cap] ?? null),
      capName: cap === null || cap === 0 ? null : (app.slices[cap - 1]?.split('/').pop() ?? null),
      usedBytes: r.usedBytes,
    };
  }
}

/** At most one notification per app per `perAppMs`, and `perMinute` in all; what is held back is added to the next. */
export class RateLimit {
  private readonly lastByApp = new Map<string, number>();
  private readonly sent: number[] = [];
  private readonly held = new Map<string, KillEvent>();

  constructor(
    private readonly perAppMs = 10_000,
    private readonly perMinute = 10,
  ) {}

  /** The events to send now (held ones merged in), given new ones. */
  take(events: readonly KillEvent[], now: number): KillEvent[] {
    for (const e of events) {
      const h = this.held.get(e.unit);
      this.held.set(
        e.unit,
        h
          ? { ...e, kills: h.kills + e.kills, cap: e.cap ?? h.cap, capBytes: e.capBytes ?? h.capBytes, capName: e.capName ?? h.capName }
          : e,
      );
    }
    while (this.sent.length > 0 && (this.sent[0] as number) <= now - 60_000) this.sent.shift();
    const out: KillEvent[] = [];
    for (const [unit, e] of this.held) {
      if (this.sent.length >= this.perMinute) break;
      const last = this.lastByApp.get(unit);
      if (last !== undefined && now - last < this.perAppMs) continue;
      this.held.delete(unit);
      this.lastByApp.set(unit, now);
      this.sent.push(now);
      out.push(e);
    }
    return out;
  }

  /** Whether anything waits for its turn. */
  get pending(): boolean {
    return this.held.size > 0;
  }
}

/** The notification's summary and body. */
export function notificationText(e: KillEvent): { summary: string; body: string } {
  // The name comes from a file name the user may not have chosen (a download): shown as ps shows it.
  const name = printable(e.name);
  const what = e.kills === 1 ? 'a process' : `${e.kills} processes`;
  const summary = `${name}: ${what} killed for memory`;
  let cap: string;
  if (e.cap === 0) cap = `it reached its own memory cap${e.capBytes === null ? '' : ` of ${humanBytes(e.capBytes)}`}`;
  else if (e.cap !== null) {
    const whose =
      e.capName === 'ssc.slice'
        ? 'the cap all contained apps share'
        : e.capName === 'app.slice'
          ? "the cap of your user manager's apps"
          : 'the cap all your contained apps share';
    cap = `it reached ${whose} (${e.capName ?? 'a slice'}${e.capBytes === null ? '' : `, ${humanBytes(e.capBytes)}`})`;
  } else cap = 'the kernel ran out of memory for it';
  const used = e.usedBytes === null ? '' : `, having used ${humanBytes(e.usedBytes)}`;
  return {
    summary,
    body: `The kernel killed ${what} of ${name} (${e.unit}, ${e.manager} manager): ${cap}${used}. ${e.total} so far.`,
  };
}
