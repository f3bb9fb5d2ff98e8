/**
 * V8's code cache for the installed bundles.
 *
 * Start-up is most of what ssc costs, and a good part of that was V8 compiling
 * each bundle's functions the first time they ran (the D-Bus marshaller, the
 * handshake, the CLI). install.sh has the installed node compile each bundle
 * once, every function eagerly, and keeps V8's serialized result beside it
 * (NAME.cache); the installed entry (load.ts) hands it back to V8, which then
 * compiles nothing. V8 accepts a cache only from the same V8 version and flags
 * and for a source of the same length; anything else it rejects, and the bundle
 * is compiled as usual (slower, never wrong).
 *
 * Both sides must compile exactly the same source: the bundle inside the same
 * CommonJS wrapper, built here.
 */
import { Script } from 'node:vm';
import { setFlagsFromString } from 'node:v8';

/** The CommonJS wrapper the loader runs a bundle in (the same one Node uses). */
export function wrapBundle(source: string): string {
  return `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
}

export function compileBundle(source: string, filename: string, cachedData?: Buffer): Script {
  return new Script(wrapBundle(source), cachedData === undefined ? { filename } : { filename, cachedData });
}

/**
 * A cache with every function of the bundle compiled. V8 compiles eagerly
 * while --no-lazy is set; the flag is set back before serializing, because V8
 * refuses a cache made under other flags than its own (the loader runs Node
 * with none).
 */
export function makeCodeCache(source: string, filename: string): Buffer {
  setFlagsFromString('--no-lazy');
  let script: Script;
  try {
    script = compileBundle(source, filename);
  } finally {
    setFlagsFromString('--lazy');
  }
  return script.createCachedData();
}

/** Whether this process's V8 takes `cache` for `source` (install checks, tests). */
export function cacheAccepted(source: string, filename: string, cache: Buffer): boolean {
  return compileBundle(source, filename, cache).cachedDataRejected === false;
}
