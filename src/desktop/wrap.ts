/**
 * Turning an application's desktop entry into ssc's: every Exec (the main one
 * and each [Desktop Action]) runs the original command through ssc, D-Bus
 * activation is turned off (a desktop would otherwise start the app over
 * D-Bus and never read Exec), and marker keys say it is ssc's, with which
 * profile, from which source file and which version of it. Everything else
 * (Name and its translations, Icon, TryExec, MimeType, Categories,
 * StartupWMClass, Actions, comments) stays as it was. Pure: text in, text out.
 */
import { DesktopEntry } from './entry.js';
import { escapeString, unescapeString, unwrapExec, wrapExec } from './exec.js';

export const MAIN_GROUP = 'Desktop Entry';
export const MARKER = {
  isolation: 'X-SSC-Isolation',
  source: 'X-SSC-Source',
  sourceSha256: 'X-SSC-Source-SHA256',
  backup: 'X-SSC-Backup',
} as const;

export interface WrapOptions {
  /** Absolute path of the installed ssc. */
  ssc: string;
  profile: string;
  /** The source file's absolute path and the SHA-256 of its bytes. */
  sourcePath: string;
  sourceSha256: string;
  /** Where the user's own entry with this ID was kept, if one was replaced. */
  backup?: string;
}

export class WrapError extends Error {}

export interface Marker {
  profile: string;
  source: string;
  sourceSha256: string;
  backup: string | null;
}

/** ssc's marker in an entry, or null when ssc did not write it. */
export function readMarker(text: string): Marker | null {
  const e = DesktopEntry.parse(text);
  const profile = e.get(MAIN_GROUP, MARKER.isolation);
  const source = e.get(MAIN_GROUP, MARKER.source);
  const sourceSha256 = e.get(MAIN_GROUP, MARKER.sourceSha256);
  if (profile === null || source === null || sourceSha256 === null) return null;
  const backup = e.get(MAIN_GROUP, MARKER.backup);
  return { profile, source: unescapeString(source), sourceSha256, backup: backup === null ? null : unescapeString(backup) };
}

/** The action groups an entry declares and has. */
function actionGroups(e: DesktopEntry): string[] {
  return e.groups().filter((g) => g.startsWith('Desktop Action '));
}

export function wrapEntry(sourceText: string, o: WrapOptions): string {
  const e = DesktopEntry.parse(sourceText);
  if (!e.groups().includes(MAIN_GROUP)) throw new WrapError('not a desktop entry: no [Desktop Entry] group');
  if (readMarker(sourceText) !== null) throw new WrapError('this entry is already one ssc wrote');
  const type = e.get(MAIN_GROUP, 'Type');
  if (type !== 'Application') throw new WrapError(`not an application (Type=${type ?? 'missing'})`);
  const exec = e.get(MAIN_GROUP, 'Exec');
  if (exec === null) throw new WrapError('the entry has no Exec line (D-Bus activation only): there is no command to contain');
  for (const group of [MAIN_GROUP, ...actionGroups(e)]) {
    const value = e.get(group, 'Exec');
    if (value === null) continue;
    if (unwrapExec(value, o.ssc) !== null) throw new WrapError(`[${group}] already runs through ssc`);
    e.set(group, 'Exec', wrapExec(value, o.ssc, o.profile));
  }
  if (e.get(MAIN_GROUP, 'DBusActivatable') !== null) e.set(MAIN_GROUP, 'DBusActivatable', 'false');
  e.set(MAIN_GROUP, MARKER.isolation, o.profile);
  e.set(MAIN_GROUP, MARKER.source, escapeString(o.sourcePath));
  e.set(MAIN_GROUP, MARKER.sourceSha256, o.sourceSha256);
  if (o.backup) e.set(MAIN_GROUP, MARKER.backup, escapeString(o.backup));
  return e.toString();
}
