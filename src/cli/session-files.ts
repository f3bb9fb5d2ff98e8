/**
 * What a desktop session keeps under /tmp, carried into a profile with a
 * private /tmp (PrivateTmp: the program sees an empty /tmp and /var/tmp).
 *
 * - XAUTHORITY: some display managers put the X11 cookie file under /tmp. The
 *   front end, running as the caller, reads it (no symlink, a regular file the
 *   caller owns, at most 64 KiB) and writes a copy into the caller's private
 *   $XDG_RUNTIME_DIR/ssc/, named after a hash of the cookie so that repeated
 *   launches reuse one file; XAUTHORITY in the request then names the copy.
 *   Not a bind mount: systemd resolves a bind source as root, so a caller who
 *   swaps the path between a check and the bind could expose a file they
 *   cannot read themselves (SECURITY.md). Here every file operation runs with
 *   the caller's own permissions.
 * - SSH_AUTH_SOCK: a socket cannot be copied, and a hard link cannot cross
 *   into the runtime directory's file system: the agent stays unreachable and
 *   the caller is told in one line.
 *
 * The file operations are injected (SessionFileOps) so the decisions have unit
 * tests; nodeSessionFileOps is the real thing.
 */
import fs, { constants } from 'node:fs';
import { posix } from 'node:path';
import type { Profile } from '../plan/profiles.js';
import { randomHex } from '../random.js';

/** A cookie file is a few hundred bytes; anything above this is not one. */
export const COOKIE_MAX_BYTES = 64 * 1024;

export interface FileInfo {
  kind: 'file' | 'directory' | 'other';
  uid: number;
  /** Permission bits (mode & 0o7777). */
  mode: number;
}

export type ReadResult = { ok: true; data: Buffer; info: FileInfo } | { ok: false; missing: boolean; reason: string };

export interface SessionFileOps {
  /** lstat(2); null when nothing is there. */
  lstat(path: string): FileInfo | null;
  /**
   * Read a whole regular file without following a symlink in its last
   * component (O_NOFOLLOW) and without blocking on a FIFO; fails when it is
   * not a regular file or holds more than `max` bytes.
   */
  readNoFollow(path: string, max: number): ReadResult;
  /** mkdir with mode 0700 whatever the umask; throws like fs (code EEXIST when something is there). */
  mkdirPrivate(path: string): void;
  /** Create a new file (O_CREAT|O_EXCL|O_NOFOLLOW) with mode 0600 whatever the umask, holding `data`. */
  writeNewPrivate(path: string, data: Buffer): void;
  rename(from: string, to: string): void;
  unlink(path: string): void;
  /** A fresh random token for a temporary name. */
  randomToken(): string;
}

function info(st: fs.Stats): FileInfo {
  return { kind: st.isFile() ? 'file' : st.isDirectory() ? 'directory' : 'other', uid: st.uid, mode: st.mode & 0o7777 };
}

function errCode(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? String(e);
}

export const nodeSessionFileOps: SessionFileOps = {
  lstat(path) {
    try {
      return info(fs.lstatSync(path));
    } catch (e) {
      if (errCode(e) === 'ENOENT' || errCode(e) === 'ENOTDIR') return null;
      throw e;
    }
  },
  readNoFollow(path, max) {
    let fd: number;
    try {
      fd = fs.openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY);
    } catch (e) {
      const code = errCode(e);
      if (code === 'ENOENT' || code === 'ENOTDIR') return { ok: false, missing: true, reason: 'it does not exist' };
      if (code === 'ELOOP') return { ok: false, missing: false, reason: 'it is a symbolic link' };
      return { ok: false, missing: false, reason: `it cannot be opened (${code})` };
    }
    try {
      const st = info(fs.fstatSync(fd));
      if (st.kind !== 'file') return { ok: false, missing: false, reason: 'it is not a regular file' };
      const buf = Buffer.alloc(max + 1);
      let n = 0;
      for (;;) {
        const got = fs.readSync(fd, buf, n, buf.length - n, null);
        if (got === 0) break;
        n += got;
        if (n > max) return { ok: false, missing: false, reason: `it is larger than ${max} bytes` };
      }
      return { ok: true, data: buf.subarray(0, n), info: st };
    } catch (e) {
      return { ok: false, missing: false, reason: `it cannot be read (${errCode(e)})` };
    } finally {
      fs.closeSync(fd);
    }
  },
  mkdirPrivate(path) {
    fs.mkdirSync(path, 0o700);
    fs.chmodSync(path, 0o700);
  },
  writeNewPrivate(path, data) {
    const fd = fs.openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      fs.fchmodSync(fd, 0o600);
      fs.writeFileSync(fd, data);
    } finally {
      fs.closeSync(fd);
    }
  },
  rename: (from, to) => fs.renameSync(from, to),
  unlink: (path) => fs.unlinkSync(path),
  randomToken: () => randomHex(8),
};

/** Is this absolute path inside /tmp or /var/tmp, the directories PrivateTmp replaces? */
export function isUnderPrivateTmp(path: string): boolean {
  if (!posix.isAbsolute(path)) return false;
  return /^\/(?:var\/)?tmp\/./.test(posix.normalize(path));
}

/** The directory copies go to: $XDG_RUNTIME_DIR/ssc. */
export const RUNTIME_SUBDIR = 'ssc';

/** The copy's file name: a hash of the cookie, so identical cookies share one file. */
export function cookieCopyName(cookie: Uint8Array): string {
  // Loaded here, not at start-up: only a cookie copy needs a hash.
  const { createHash } = process.getBuiltinModule('node:crypto');
  return `xauth-${createHash('sha256').update(cookie).digest('hex').slice(0, 32)}`;
}

function isPrivateDirOf(i: FileInfo | null, uid: number): boolean {
  return i !== null && i.kind === 'directory' && i.uid === uid && i.mode === 0o700;
}

/**
 * The caller's runtime directory, checked: an absolute path to a directory
 * the caller owns with mode 0700 (lstat: not a symlink). A reason otherwise.
 */
function runtimeDir(
  vars: ReadonlyMap<string, string>,
  uid: number,
  ops: SessionFileOps,
): { ok: true; path: string } | { ok: false; reason: string } {
  const dir = vars.get('XDG_RUNTIME_DIR');
  if (dir === undefined || dir === '') return { ok: false, reason: 'XDG_RUNTIME_DIR is not set' };
  if (!posix.isAbsolute(dir)) return { ok: false, reason: `XDG_RUNTIME_DIR (${dir}) is not an absolute path` };
  if (!isPrivateDirOf(ops.lstat(dir), uid))
    return { ok: false, reason: `XDG_RUNTIME_DIR (${dir}) is not a directory of yours with mode 0700` };
  return { ok: true, path: dir };
}

/** $XDG_RUNTIME_DIR/ssc, made when missing; it must be the caller's, mode 0700. */
function copyDir(runtime: string, uid: number, ops: SessionFileOps): string | null {
  const dir = posix.join(runtime, RUNTIME_SUBDIR);
  if (ops.lstat(dir) === null) {
    try {
      ops.mkdirPrivate(dir);
    } catch (e) {
      if (errCode(e) !== 'EEXIST') return null; // a concurrent launch made it: check it below
    }
  }
  return isPrivateDirOf(ops.lstat(dir), uid) ? dir : null;
}

/** Write `cookie` to `dir/name` unless an identical private copy is already there. */
function placeCopy(dir: string, cookie: Buffer, uid: number, ops: SessionFileOps): string {
  const target = posix.join(dir, cookieCopyName(cookie));
  const have = ops.readNoFollow(target, COOKIE_MAX_BYTES);
  if (have.ok && have.info.uid === uid && (have.info.mode & 0o077) === 0 && have.data.equals(cookie)) return target;
  // A new name, then an atomic rename: a concurrent launch never sees half a file.
  const tmp = posix.join(dir, `.xauth-${ops.randomToken()}.tmp`);
  ops.writeNewPrivate(tmp, cookie);
  try {
    ops.rename(tmp, target);
  } catch (e) {
    try {
      ops.unlink(tmp);
    } catch {
      /* best effort */
    }
    throw e;
  }
  return target;
}

/**
 * Make the X11 cookie reachable under a profile with a private /tmp: rewrites
 * XAUTHORITY in `vars` to a private copy when it points under /tmp or /var/tmp.
 * Returns a warning line when it cannot (and leaves `vars` unchanged), else null.
 */
export function carryXauthority(vars: Map<string, string>, profile: Profile, uid: number, ops: SessionFileOps): string | null {
  const xauth = vars.get('XAUTHORITY');
  if (!profile.privateTmp || xauth === undefined || !isUnderPrivateTmp(xauth)) return null;
  const cannot = (why: string) =>
    `XAUTHORITY (${xauth}) is in a /tmp the ${profile.name} profile hides, and ${why}: X11 programs may not connect (use --isolation=relaxed)`;
  try {
    return copyCookie(vars, xauth, uid, ops, cannot);
  } catch (e) {
    return cannot(`copying it failed (${errCode(e)})`);
  }
}

function copyCookie(
  vars: Map<string, string>,
  xauth: string,
  uid: number,
  ops: SessionFileOps,
  cannot: (why: string) => string,
): string | null {
  const read = ops.readNoFollow(xauth, COOKIE_MAX_BYTES);
  if (!read.ok) return read.missing ? null : cannot(`it cannot be copied: ${read.reason}`);
  if (read.info.uid !== uid) return cannot('it cannot be copied: it is not your file');

  const runtime = runtimeDir(vars, uid, ops);
  if (!runtime.ok) return cannot(`there is nowhere private to copy it to: ${runtime.reason}`);
  const dir = copyDir(runtime.path, uid, ops);
  if (dir === null) return cannot(`${posix.join(runtime.path, RUNTIME_SUBDIR)} is not a directory of yours with mode 0700`);
  try {
    vars.set('XAUTHORITY', placeCopy(dir, read.data, uid, ops));
  } catch (e) {
    return cannot(`copying it into ${dir} failed (${errCode(e)})`);
  }
  return null;
}

/** A warning line when the ssh agent's socket is in a /tmp the profile hides, else null. */
export function sshAgentWarning(vars: ReadonlyMap<string, string>, profile: Profile): string | null {
  const sock = vars.get('SSH_AUTH_SOCK');
  if (!profile.privateTmp || sock === undefined || !isUnderPrivateTmp(sock)) return null;
  return `SSH_AUTH_SOCK (${sock}) is in a /tmp the ${profile.name} profile hides: the program cannot reach your ssh agent (start the agent with a socket outside /tmp, e.g. ssh-agent -a "$XDG_RUNTIME_DIR/ssh-agent.sock", or use --isolation=relaxed)`;
}

/**
 * Everything a desktop session reaches through /tmp, for this profile:
 * rewrites `vars` in place and returns the warning lines to print.
 */
export function carrySessionFiles(
  vars: Map<string, string>,
  profile: Profile,
  uid: number,
  ops: SessionFileOps = nodeSessionFileOps,
): string[] {
  return [carryXauthority(vars, profile, uid, ops), sshAgentWarning(vars, profile)].filter((w): w is string => w !== null);
}
