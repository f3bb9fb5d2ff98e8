/**
 * The notifier's loop, as the user: read the caller's app cgroups, and send a
 * desktop notification (org.freedesktop.Notifications on the session bus) for
 * each app that lost processes to the OOM killer.
 *
 * The counts are read every POLL_MS (1 s on v2, 500 ms on v1), and on cgroup v2 also as soon as the
 * kernel signals a change of an app's memory.events (inotify), which comes
 * when a kill is counted, before the process has even died: an app killed
 * outright is read before systemd removes its cgroup. On v1 there is no such
 * signal, and a kill is seen within 500 ms (README).
 *
 * It exits after IDLE_MS without any contained app of the user's; the front
 * end starts it again at the next launch.
 */
import { watch, type FSWatcher } from 'node:fs';
import type { Bus } from '../systemd/bus.js';
import { KillTracker, notificationText, RateLimit, type KillEvent } from './events.js';
import { appDirs, appParents, capHits, readApp, type AppDir, type CgroupFs, type Layout } from './scan.js';

/** v2: inotify tells of every kill; the poll finds new apps. v1: the poll is all there is. */
export const POLL_MS = { v2: 1_000, v1: 500 } as const;
export const IDLE_MS = 60_000;
const NOTIFY_TIMEOUT_MS = 5_000;

export interface NotifierOptions {
  bus: Bus;
  fs: CgroupFs;
  layout: Layout;
  uid: number;
  /** For tests: a shorter idle exit. */
  idleMs?: number;
  log?: (line: string) => void;
}

/** The body as text the server shows as it is: where it reads markup (its "body-markup" capability), &, < and > escaped. */
export function bodyFor(text: string, markup: boolean): string {
  return markup ? text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;') : text;
}

let markup: Promise<boolean> | null = null;

async function notify(bus: Bus, e: KillEvent): Promise<void> {
  markup ??= bus.call('org.freedesktop.Notifications', '/org/freedesktop/Notifications', 'GetCapabilities').then(
    ([caps]) => Array.isArray(caps) && caps.includes('body-markup'),
    () => true,
  );
  const { summary, body: text } = notificationText(e);
  const body = bodyFor(text, await markup);
  await Promise.race([
    bus.call('org.freedesktop.Notifications', '/org/freedesktop/Notifications', 'Notify', [
      'ssc',
      0,
      'dialog-warning',
      summary,
      body,
      [],
      {},
      -1,
    ]),
    new Promise((_, reject) => setTimeout(() => reject(new Error('no answer from the notification server')), NOTIFY_TIMEOUT_MS)),
  ]);
}

/** Runs until idle for idleMs (resolves) or the bus is lost (rejects). */
export function runNotifier({ bus, fs, layout, uid, idleMs = IDLE_MS, log = () => undefined }: NotifierOptions): Promise<void> {
  const tracker = new KillTracker();
  const limit = new RateLimit();
  const watchers = new Map<string, FSWatcher>();
  let apps: AppDir[] = [];
  let lastSeenApp = Date.now();
  let stopped = false;
  return new Promise<void>((resolve, reject) => {
    const send = (events: KillEvent[]) => {
      for (const e of limit.take(events, Date.now()))
        notify(bus, e).then(
          () => log(`notified: ${e.unit} ${e.kills}`),
          (err: unknown) => log(`could not notify: ${(err as Error).message}`),
        );
    };
    const readOne = (app: AppDir): KillEvent | null => {
      const r = readApp(fs, layout, app);
      return r === null ? null : tracker.update(app, r);
    };
    const scan = () => {
      for (const parent of appParents(layout, uid)) for (const d of parent.slices) tracker.noteSlice(d, capHits(fs, layout, d));
      apps = appDirs(fs, layout, uid);
      const events = apps.map(readOne).filter((e): e is KillEvent => e !== null);
      tracker.endScan(apps.map((a) => a.dir));
      if (layout === 'v2') follow(apps);
      if (apps.length > 0) lastSeenApp = Date.now();
      send(events);
      if (apps.length === 0 && !limit.pending && Date.now() - lastSeenApp >= idleMs) finish();
    };
    // v2: each app's memory.events, read again at every change the kernel signals.
    const follow = (now: readonly AppDir[]) => {
      const dirs = new Set(now.map((a) => a.dir));
      for (const [dir, w] of watchers)
        if (!dirs.has(dir)) {
          w.close();
          watchers.delete(dir);
        }
      for (const app of now) {
        if (watchers.has(app.dir)) continue;
        try {
          const w = watch(`${app.dir}/memory.events`, () => {
            const e = readOne(app);
            if (e !== null) send([e]);
          });
          w.on('error', () => undefined);
          watchers.set(app.dir, w);
        } catch {
          // gone already
        }
      }
    };
    const timer = setInterval(scan, POLL_MS[layout]);
    const finish = () => {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      for (const w of watchers.values()) w.close();
      resolve();
    };
    bus.onClose((err) => {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      for (const w of watchers.values()) w.close();
      reject(err);
    });
    scan();
  });
}
