// install.sh: node make-code-cache.js BUNDLE OUT    writes BUNDLE's code cache to OUT
//             node make-code-cache.js --check BUNDLE CACHE   exits 0 if this node accepts CACHE
import { readFileSync, writeFileSync } from 'node:fs';
import { cacheAccepted, makeCodeCache } from './code-cache.js';

const [first, ...rest] = process.argv.slice(2);
if (first === '--check') {
  const [bundle, cache] = rest as [string, string];
  const ok = cacheAccepted(readFileSync(bundle, 'utf8'), bundle, readFileSync(cache));
  process.stdout.write(ok ? 'accepted\n' : 'rejected\n');
  process.exitCode = ok ? 0 : 1;
} else {
  const [out] = rest as [string];
  writeFileSync(out, makeCodeCache(readFileSync(first as string, 'utf8'), first as string), { mode: 0o644 });
}
