/**
 * Finding the program as the caller: with the caller's PATH and the caller's
 * permissions (the front end runs unprivileged), like execvp(3).
 */
import { accessSync, constants, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';

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

export function resolveProgram(program: string, pathVar: string | undefined, cwd: string): Resolution {
  if (program === '') return { ok: false, code: 127, message: 'empty program name' };
  if (program.includes('/')) {
    const p = isAbsolute(program) ? program : resolve(cwd, program);
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
