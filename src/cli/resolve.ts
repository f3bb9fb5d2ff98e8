/**
 * Finding the program as the caller: with the caller's PATH and the caller's
 * permissions (the front end runs unprivileged), like execvp(3).
 */
import { accessSync, constants, realpathSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';

export const DEFAULT_PATH = '/usr/local/bin:/usr/bin:/bin';

export type Resolution = { ok: true; path: string } | { ok: false; code: 126 | 127; message: string };

function check(path: string): Resolution | null {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES') return { ok: false, code: 126, message: `${path}: permission denied` };
    return null;
  }
  if (st.isDirectory()) return { ok: false, code: 126, message: `${path}: is a directory` };
  try {
    accessSync(path, constants.X_OK);
  } catch {
    return { ok: false, code: 126, message: `${path}: permission denied (not executable)` };
  }
  return { ok: true, path };
}

/**
 * The path as systemd keeps it (it simplifies what it is given, and ssc's plan
 * refuses what it would change): no `//` or `.`; a `..` resolved through the
 * real directory, since after a symlink it is not lexical.
 */
export function normalized(path: string): string {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (!parts.includes('..')) return `/${parts.join('/')}`;
  try {
    return join(realpathSync(dirname(path)), basename(path));
  } catch {
    return path; // not there: check() says so
  }
}

export function resolveProgram(program: string, pathVar: string | undefined, cwd: string): Resolution {
  if (program === '') return { ok: false, code: 127, message: 'empty program name' };
  if (program.includes('/')) {
    const p = isAbsolute(program) ? normalized(program) : resolve(cwd, program);
    return check(p) ?? { ok: false, code: 127, message: `${program}: no such file` };
  }
  let denied: Resolution | null = null;
  for (const dir of (pathVar ?? DEFAULT_PATH).split(':')) {
    const d = dir === '' ? cwd : isAbsolute(dir) ? dir : resolve(cwd, dir);
    const r = check(join(d, program));
    if (r?.ok) return r;
    if (r && !denied) denied = r;
  }
  return denied ?? { ok: false, code: 127, message: `${program}: command not found` };
}
