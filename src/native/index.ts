/**
 * Typed wrappers over ssc_native.node. Every argument is validated here, before it crosses
 * into C++: a TypeError (wrong type, code ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE) or a
 * RangeError (ERR_OUT_OF_RANGE) names the function and the argument. System call failures
 * come from the addon as NativeSyscallError (see ./native.d.ts).
 *
 * The addon is loaded on first use with the default candidates (./loader.js); call
 * useNative(loadNative(path)) first to pick a specific file.
 */
import { loadNative } from './loader.js';
import type { Credentials, ExecArg, Native, NativeSyscallError, UserEntry } from './native.js';

export type { Credentials, ExecArg, Native, NativeSyscallError, UserEntry } from './native.js';
export { ADDON_FILE, loadNative, loadNativeFrom, nativeCandidates, NativeLoadError } from './loader.js';

/** The largest uid/gid accepted: (uid_t)-1 means "leave unchanged" to the set*id calls. */
export const MAX_ID = 0xfffffffe;
const MAX_FD = 0x7fffffff;

/** F_SEAL_* bits as returned by getSeals. */
export const SEAL = { SEAL: 0x1, SHRINK: 0x2, GROW: 0x4, WRITE: 0x8, FUTURE_WRITE: 0x10 } as const;
/** The seals the launcher puts on the hand-off memfd (native/launcher/handoff.h). */
export const HANDOFF_SEALS = SEAL.SEAL | SEAL.SHRINK | SEAL.GROW | SEAL.WRITE;

let bound: Native | undefined;

/** Use this addon instance for every wrapper below (e.g. one loaded from an explicit path). */
export function useNative(native: Native): void {
  bound = native;
}

function native(): Native {
  bound ??= loadNative();
  return bound;
}

// ---- validation ----

function typeError(fn: string, what: string, value: unknown): TypeError {
  const err = new TypeError(`${fn}: ${what}, got ${describe(value)}`);
  (err as TypeError & { code: string }).code = 'ERR_INVALID_ARG_TYPE';
  return err;
}

function valueError(fn: string, what: string): TypeError {
  const err = new TypeError(`${fn}: ${what}`);
  (err as TypeError & { code: string }).code = 'ERR_INVALID_ARG_VALUE';
  return err;
}

function rangeError(fn: string, what: string, value: number): RangeError {
  const err = new RangeError(`${fn}: ${what}, got ${value}`);
  (err as RangeError & { code: string }).code = 'ERR_OUT_OF_RANGE';
  return err;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `a string`;
  if (typeof value === 'object') return `an object`;
  return `${typeof value} ${String(value)}`;
}

function checkInteger(fn: string, name: string, value: unknown, max: number): number {
  if (typeof value !== 'number') throw typeError(fn, `${name} must be a number`, value);
  if (!Number.isInteger(value) || value < 0 || value > max) throw rangeError(fn, `${name} must be an integer from 0 to ${max}`, value);
  return value;
}

const checkId = (fn: string, name: string, value: unknown) => checkInteger(fn, name, value, MAX_ID);
const checkFd = (fn: string, name: string, value: unknown) => checkInteger(fn, name, value, MAX_FD);

function checkExecArg(fn: string, name: string, value: unknown): ExecArg {
  if (typeof value === 'string') {
    if (value.includes('\0')) throw valueError(fn, `${name} contains a NUL character`);
    return value;
  }
  if (value instanceof Uint8Array) {
    if (value.includes(0)) throw valueError(fn, `${name} contains a NUL byte`);
    return value;
  }
  throw typeError(fn, `${name} must be a string or a Uint8Array`, value);
}

function checkExecArgs(fn: string, name: string, value: unknown): ExecArg[] {
  if (!Array.isArray(value)) throw typeError(fn, `${name} must be an array`, value);
  return value.map((v, i) => checkExecArg(fn, `${name}[${i}]`, v));
}

// ---- wrappers ----

export function getCredentials(): Credentials {
  return native().getCredentials();
}

export function lookupUser(uid: number): UserEntry | null {
  return native().lookupUser(checkId('lookupUser', 'uid', uid));
}

export function groupList(name: string, gid: number): number[] {
  const fn = 'groupList';
  if (typeof name !== 'string') throw typeError(fn, 'name must be a string', name);
  if (name === '' || name.includes('\0')) throw valueError(fn, 'name must be non-empty and free of NUL characters');
  return native().groupList(name, checkId(fn, 'gid', gid));
}

export function setCloexec(fd: number): void {
  native().setCloexec(checkFd('setCloexec', 'fd', fd));
}

export function getSeals(fd: number): number {
  return native().getSeals(checkFd('getSeals', 'fd', fd));
}

/** True when fd is a memfd carrying at least the hand-off's seals. */
export function hasHandoffSeals(fd: number): boolean {
  let seals: number;
  try {
    seals = getSeals(fd);
  } catch (e) {
    if (isSyscallError(e) && e.code === 'EINVAL') return false;
    throw e;
  }
  return (seals & HANDOFF_SEALS) === HANDOFF_SEALS;
}

export function setDumpable(dumpable: boolean): void {
  if (typeof dumpable !== 'boolean') throw typeError('setDumpable', 'dumpable must be a boolean', dumpable);
  native().setDumpable(dumpable);
}

export function setNoNewPrivs(): void {
  native().setNoNewPrivs();
}

/** See Native.execve. Pass Uint8Array for bytes that are not UTF-8 (the caller's argv may hold any). */
export function execve(path: ExecArg, argv: readonly ExecArg[], env: readonly ExecArg[]): never {
  const fn = 'execve';
  const p = checkExecArg(fn, 'path', path);
  if (p.length === 0) throw valueError(fn, 'path must not be empty');
  const a = checkExecArgs(fn, 'argv', argv);
  const e = checkExecArgs(fn, 'env', env);
  return native().execve(p, a, e);
}

/** True for an error thrown by a failing system call in the addon. */
export function isSyscallError(e: unknown): e is NativeSyscallError {
  return (
    e instanceof Error &&
    typeof (e as Partial<NativeSyscallError>).code === 'string' &&
    typeof (e as Partial<NativeSyscallError>).syscall === 'string' &&
    typeof (e as Partial<NativeSyscallError>).errno === 'number'
  );
}
