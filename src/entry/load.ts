// The installed entry: LIBDIR/ssc.js and LIBDIR/broker.js are copies of this
// file. It runs the bundle beside it (NAME.bundle.js) with V8's code cache for it
// (NAME.cache, made by install.sh with the installed node), so that neither the
// front end nor the root broker spends its start compiling. The launcher checked
// this file, the bundle, the cache and every directory above them (root-owned,
// writable by nobody else) before exec'ing node; nothing here is searched for.
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { compileBundle } from './code-cache.js';

/** The cache, or none while install.sh is replacing it (the bundle then compiles as usual). */
function readCache(path: string): Buffer | undefined {
  try {
    return readFileSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

const name = basename(__filename, '.js');
const bundle = join(__dirname, `${name}.bundle.js`);
const script = compileBundle(readFileSync(bundle, 'utf8'), bundle, readCache(join(__dirname, `${name}.cache`)));
(script.runInThisContext() as (e: unknown, r: unknown, m: unknown, f: string, d: string) => void)(
  module.exports,
  require,
  module,
  bundle,
  __dirname,
);
