/**
 * Programs a profile cannot run, told before anything starts.
 *
 * Under NoNewPrivileges (strict) the kernel ignores setuid and setgid bits,
 * so a program that exists to gain privileges fails inside the unit, often
 * with a message that does not say why: sudo, pkexec, su, passwd, and every
 * snap, which starts through the setuid snap-confine. The common cases are
 * recognised from the resolved program, as the caller, and refused with one
 * line that names the cause and the profile that runs them.
 *
 * Not recognised (they fail inside the unit as before): file capabilities
 * (security.capability), and setuid helpers a program runs later.
 */
import fs from 'node:fs';
import { posix } from 'node:path';
import type { Profile } from '../plan/profiles.js';

/** What is known about the resolved program, gathered as the caller. */
export interface ProgramFacts {
  /** The path ssc will exec (after the PATH lookup). */
  path: string;
  /** realpath(3) of it, or null when it cannot be resolved. */
  realPath: string | null;
  /** stat(2) of it (symlinks followed, as exec does): mode bits and owner. */
  mode: number;
  uid: number;
  gid: number;
  /** For a `#!` script that execs a snap launcher which exists: that launcher's path. */
  scriptExecsSnap: string | null;
}

export interface Caller {
  uid: number;
  gid: number;
  /** Supplementary groups. */
  groups: readonly number[];
}

const S_ISUID = 0o4000;
const S_ISGID = 0o2000;
const S_IXGRP = 0o010;

export const SNAP_BIN_DIR = '/snap/bin/';
export const SNAP_LAUNCHER = '/usr/bin/snap';

/**
 * Why the program cannot work without gaining privileges, as a phrase about
 * it ("is setuid root"), or null. A set-id bit to an id the caller already
 * has gains nothing and is not counted; the kernel applies setgid only with
 * group execute.
 */
export function privilegeNeed(f: ProgramFacts, caller: Caller): string | null {
  if (f.mode & S_ISUID && f.uid !== caller.uid) return `is setuid ${f.uid === 0 ? 'root' : `to uid ${f.uid}`}`;
  if ((f.mode & (S_ISGID | S_IXGRP)) === (S_ISGID | S_IXGRP) && f.gid !== caller.gid && !caller.groups.includes(f.gid))
    return `is setgid to group ${f.gid}`;
  if (posix.normalize(f.path).startsWith(SNAP_BIN_DIR) || f.realPath === SNAP_LAUNCHER)
    return 'is a snap, which starts through the setuid snap-confine';
  if (f.scriptExecsSnap !== null) return `runs the snap ${f.scriptExecsSnap}, which starts through the setuid snap-confine`;
  return null;
}

/** The refusal line for this program under this profile, or null when it may run. */
export function refusal(f: ProgramFacts, profile: Profile, caller: Caller): string | null {
  if (!profile.noNewPrivileges) return null;
  const need = privilegeNeed(f, caller);
  if (need === null) return null;
  return `${f.path} ${need}, and the ${profile.name} profile forbids gaining privileges (NoNewPrivileges); run it with --isolation=relaxed`;
}

/** How much of a script is read to look for `exec /snap/bin/…`; Ubuntu's wrappers are a few KiB. */
export const SCRIPT_HEAD_BYTES = 16 * 1024;

/**
 * The snap launcher a shell script hands over to with `exec /snap/bin/NAME`
 * (Ubuntu's /usr/bin/firefox and friends), on a line that is not a comment;
 * null for anything else.
 */
export function snapExecTarget(head: string): string | null {
  if (!head.startsWith('#!')) return null;
  const m = /^[^#\n]*\bexec[ \t]+["']?(\/snap\/bin\/[A-Za-z0-9._+-]+)/m.exec(head);
  return m?.[1] ?? null;
}

function readHead(path: string): string {
  const fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
  try {
    const buf = Buffer.alloc(SCRIPT_HEAD_BYTES);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    return buf.subarray(0, n).toString('latin1');
  } finally {
    fs.closeSync(fd);
  }
}

/** Gather the facts about a resolved program, as the caller. Throws when it cannot be stat'ed. */
export function programFacts(path: string): ProgramFacts {
  const st = fs.statSync(path);
  let realPath: string | null = null;
  try {
    realPath = fs.realpathSync(path);
  } catch {
    /* not resolvable: judged by its own path */
  }
  let scriptExecsSnap: string | null = null;
  try {
    const target = snapExecTarget(readHead(path));
    // Only a launcher that exists: a script that merely may hand over to a snap runs as it is.
    if (target !== null && fs.existsSync(target)) scriptExecsSnap = target;
  } catch {
    /* executable but not readable: it cannot be a script anyway */
  }
  return { path, realPath, mode: st.mode, uid: st.uid, gid: st.gid, scriptExecsSnap };
}

/** The refusal line for the resolved program under this profile, or null; never throws. */
export function checkProgram(path: string, profile: Profile, caller: Caller): string | null {
  if (!profile.noNewPrivileges) return null;
  let facts: ProgramFacts;
  try {
    facts = programFacts(path);
  } catch {
    return null; // it vanished since the lookup: systemd will say so
  }
  return refusal(facts, profile, caller);
}
