/**
 * Finding and loading ssc_native.node.
 *
 * Candidates, in order (nativeCandidates):
 *   1. the path the caller gives;
 *   2. beside the running entry file: <dir of process.argv[1]>/ssc_native.node. Installed,
 *      that is the launcher's checked, root-owned SSC_LIBDIR;
 *   3. <repo>/build/Release/ssc_native.node, where <repo> is the nearest directory holding
 *      binding.gyp above the entry file or above this code (tests, dist/ in a checkout).
 * Never the cwd, NODE_PATH or node_modules: the broker runs as root in the caller's cwd.
 * When every candidate fails, one NativeLoadError lists each path and why.
 */
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, join, parse, resolve } from 'node:path';
import type { Native } from './native.js';

export const ADDON_FILE = 'ssc_native.node';

/** Every function the addon must export; the assertion below keeps it in step with Native. */
export const NATIVE_EXPORTS = [
  'getCredentials',
  'lookupUser',
  'groupList',
  'setCloexec',
  'getSeals',
  'setDumpable',
  'setNoNewPrivs',
  'execve',
  'peerCredentials',
  'receiveWithFds',
  'pidfdExited',
  'closeInBackground',
] as const satisfies readonly (keyof Native)[];
const _allExportsListed: [Exclude<keyof Native, (typeof NATIVE_EXPORTS)[number]>] extends [never] ? true : false = true;
void _allExportsListed;

export interface LoadAttempt {
  path: string;
  reason: string;
}

export class NativeLoadError extends Error {
  constructor(readonly tried: readonly LoadAttempt[]) {
    super(
      tried.length === 0
        ? `cannot load ${ADDON_FILE}: no candidate path`
        : `cannot load ${ADDON_FILE}; tried:\n${tried.map((t) => `  ${t.path}: ${t.reason}`).join('\n')}`,
    );
    this.name = 'NativeLoadError';
  }
}

/** The nearest directory at or above `start` that holds binding.gyp. */
function findRepo(start: string): string | undefined {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'binding.gyp'))) return dir;
    if (dir === parse(dir).root) return undefined;
  }
}

/** This code's directory when it runs as a CommonJS bundle (dist/*.js); undefined under ESM. */
function bundleDir(): string | undefined {
  return typeof __dirname === 'string' ? __dirname : undefined;
}

/** The paths loadNative(explicit) tries, in order, without duplicates. */
export function nativeCandidates(explicit?: string): string[] {
  const out: string[] = [];
  if (explicit !== undefined) out.push(resolve(explicit));
  const entry = process.argv[1];
  const entryDir = entry ? dirname(resolve(entry)) : undefined;
  if (entryDir !== undefined) out.push(join(entryDir, ADDON_FILE));
  for (const start of [entryDir, bundleDir()]) {
    const repo = start === undefined ? undefined : findRepo(start);
    if (repo !== undefined) out.push(join(repo, 'build', 'Release', ADDON_FILE));
  }
  return [...new Set(out)];
}

const loaded = new Map<string, Native>();

/** Load the first of `paths` that is a working ssc_native.node. */
export function loadNativeFrom(paths: readonly string[]): Native {
  const tried: LoadAttempt[] = [];
  for (const path of paths) {
    const cached = loaded.get(path);
    if (cached) return cached;
    if (!existsSync(path)) {
      tried.push({ path, reason: 'not found' });
      continue;
    }
    const mod: { exports: Record<string, unknown> } = { exports: {} };
    try {
      process.dlopen(mod, path, constants.dlopen.RTLD_NOW);
    } catch (e) {
      tried.push({ path, reason: e instanceof Error ? e.message : String(e) });
      continue;
    }
    const missing = NATIVE_EXPORTS.filter((name) => typeof mod.exports[name] !== 'function');
    if (missing.length > 0) {
      tried.push({ path, reason: `loaded, but it does not export ${missing.join(', ')}` });
      continue;
    }
    const native = mod.exports as unknown as Native;
    loaded.set(path, native);
    return native;
  }
  throw new NativeLoadError(tried);
}

/** Load ssc_native.node from `explicit` or the default candidates (see the top of this file). */
export function loadNative(explicit?: string): Native {
  return loadNativeFrom(nativeCandidates(explicit));
}
