/**
 * ssc's desktop entries in the user's own applications directory: finding an
 * application's entry, writing the wrapped one, listing, removing, refreshing.
 *
 * Runs only as the caller (the launcher dropped privileges before the front end
 * started, and these commands never ask the broker for anything); the
 * directories come from the caller's own environment (XDG_DATA_HOME,
 * XDG_DATA_DIRS, HOME), as a desktop session looks them up.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { readMarker, wrapEntry, type Marker } from './wrap.js';

export class DesktopError extends Error {}

export interface Dirs {
  /** $XDG_DATA_HOME/applications: where ssc writes. */
  user: string;
  /** $XDG_DATA_DIRS/applications, in order: where applications' own entries are. */
  system: string[];
  /** Where a user's own entry that ssc replaced (--force) is kept. */
  backups: string;
}

export function dirsFrom(env: ReadonlyMap<string, string>): Dirs {
  const home = env.get('HOME');
  const dataHome = env.get('XDG_DATA_HOME') || (home ? `${home}/.local/share` : null);
  if (!dataHome || !path.isAbsolute(dataHome)) throw new DesktopError('neither XDG_DATA_HOME nor HOME names your data directory');
  const dataDirs = (env.get('XDG_DATA_DIRS') || '/usr/local/share:/usr/share').split(':').filter((d) => path.isAbsolute(d));
  const user = `${dataHome}/applications`;
  return { user, system: dataDirs.map((d) => `${d}/applications`), backups: `${user}/.ssc-backup` };
}

/** A desktop file ID from what the user typed: `firefox`, `firefox.desktop` or a path. */
export function desktopId(app: string): string {
  const base = app.includes('/') ? path.basename(app) : app;
  return base.endsWith('.desktop') ? base : `${base}.desktop`;
}

export interface Source {
  id: string;
  path: string;
  text: string;
  sha256: string;
}

function sha256(data: Buffer): string {
  return process.getBuiltinModule('node:crypto').createHash('sha256').update(data).digest('hex');
}

function readSource(file: string, id: string): Source {
  const data = fs.readFileSync(file);
  return { id, path: file, text: data.toString('utf8'), sha256: sha256(data) };
}

/** The application's own entry: a path as given, or the first one in XDG_DATA_DIRS. */
export function findSource(app: string, dirs: Dirs, cwd: string): Source {
  const id = desktopId(app);
  if (app.includes('/')) {
    const file = path.resolve(cwd, app);
    if (!fs.existsSync(file)) throw new DesktopError(`${file} does not exist`);
    return readSource(file, id);
  }
  for (const d of dirs.system) {
    const file = `${d}/${id}`;
    if (fs.existsSync(file)) return readSource(file, id);
  }
  throw new DesktopError(`no desktop entry ${id} in ${dirs.system.join(', ')}`);
}

function writeAtomically(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
  const tmp = `${path.dirname(file)}/.${path.basename(file)}.ssc-new`;
  fs.writeFileSync(tmp, text, { mode: 0o644 });
  fs.renameSync(tmp, file);
}

function readIfExists(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/** update-desktop-database on the user's directory, when the tool exists (menus notice the change sooner). */
export function refreshDatabase(dirs: Dirs): void {
  spawnSync('update-desktop-database', [dirs.user], { stdio: 'ignore' });
}

export interface AddResult {
  id: string;
  file: string;
  changed: boolean;
  backup: string | null;
}

export function addEntry(app: string, profile: string, o: { dirs: Dirs; cwd: string; ssc: string; force: boolean }): AddResult {
  const src = findSource(app, o.dirs, o.cwd);
  const target = `${o.dirs.user}/${src.id}`;
  if (path.resolve(src.path) === path.resolve(target))
    throw new DesktopError(`${target} is the entry ssc would write; name the application's own entry`);
  const existing = readIfExists(target);
  let backup: string | null = null;
  if (existing !== null) {
    const mine = readMarker(existing);
    if (mine === null) {
      if (!o.force)
        throw new DesktopError(
          `${target} is your own entry, not one ssc wrote; --force replaces it and keeps it in ${o.dirs.backups} for "ssc desktop remove" to restore`,
        );
      backup = `${o.dirs.backups}/${src.id}`;
      fs.mkdirSync(o.dirs.backups, { recursive: true, mode: 0o755 });
      fs.copyFileSync(target, backup);
    } else backup = mine.backup;
  }
  const text = wrapEntry(src.text, { ssc: o.ssc, profile, sourcePath: src.path, sourceSha256: src.sha256, backup: backup ?? undefined });
  if (existing === text) return { id: src.id, file: target, changed: false, backup };
  writeAtomically(target, text);
  return { id: src.id, file: target, changed: true, backup };
}

export interface Listed {
  id: string;
  file: string;
  profile: string;
  source: string;
  /** 'current': as written; 'changed': the source changed since (refresh); 'missing': the source is gone. */
  status: 'current' | 'changed' | 'missing';
  backup: string | null;
}

function statusOf(m: Marker): Listed['status'] {
  let data: Buffer;
  try {
    data = fs.readFileSync(m.source);
  } catch {
    return 'missing';
  }
  return sha256(data) === m.sourceSha256 ? 'current' : 'changed';
}

export function listEntries(dirs: Dirs): Listed[] {
  let names: string[];
  try {
    names = fs.readdirSync(dirs.user);
  } catch {
    return [];
  }
  const out: Listed[] = [];
  for (const name of names.filter((n) => n.endsWith('.desktop')).sort()) {
    const file = `${dirs.user}/${name}`;
    const m = readMarker(readIfExists(file) ?? '');
    if (m) out.push({ id: name, file, profile: m.profile, source: m.source, status: statusOf(m), backup: m.backup });
  }
  return out;
}

/** Delete ssc's entry (and put back the user's own one it replaced). */
export function removeEntry(app: string, dirs: Dirs): { id: string; restored: string | null } {
  const id = desktopId(app);
  const target = `${dirs.user}/${id}`;
  const text = readIfExists(target);
  if (text === null) throw new DesktopError(`ssc has no entry ${id} in ${dirs.user}`);
  const m = readMarker(text);
  if (m === null) throw new DesktopError(`${target} is not an entry ssc wrote; leaving it alone`);
  if (m.backup && fs.existsSync(m.backup)) {
    fs.renameSync(m.backup, target);
    return { id, restored: target };
  }
  fs.unlinkSync(target);
  return { id, restored: null };
}

/** Write again, from the current source, every entry whose source changed. */
export function refreshEntries(dirs: Dirs, ssc: string): { refreshed: string[]; missing: string[] } {
  const refreshed: string[] = [];
  const missing: string[] = [];
  for (const l of listEntries(dirs)) {
    if (l.status === 'missing') missing.push(l.id);
    if (l.status !== 'changed') continue;
    const src = readSource(l.source, l.id);
    writeAtomically(
      l.file,
      wrapEntry(src.text, { ssc, profile: l.profile, sourcePath: src.path, sourceSha256: src.sha256, backup: l.backup ?? undefined }),
    );
    refreshed.push(l.id);
  }
  return { refreshed, missing };
}
