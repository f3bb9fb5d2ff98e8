import { describe, expect, it } from 'vitest';
import { cacheAccepted, compileBundle, makeCodeCache, wrapBundle } from './code-cache.js';

// A stand-in bundle with functions that only run later (V8 compiles those lazily).
const SOURCE = `
function add(a, b) { return a + b; }
function later() { const xs = []; for (let i = 0; i < 10; i++) xs.push(add(i, i)); return xs.join(','); }
module.exports = { later, file: __filename, dir: __dirname, req: typeof require };
`;

describe('code cache', () => {
  it('is taken by V8 for the very source it was made from', () => {
    expect(cacheAccepted(SOURCE, '/x/b.js', makeCodeCache(SOURCE, '/x/b.js'))).toBe(true);
  });

  it('does not depend on the file name (made from the checkout, run from the installation)', () => {
    expect(cacheAccepted(SOURCE, '/usr/local/lib/ssc/b.bundle.js', makeCodeCache(SOURCE, '/work/dist/b.js'))).toBe(true);
  });

  it('is refused by V8 for a source of another length, which then compiles as usual', () => {
    const other = `${SOURCE}\n// one more line`;
    const cache = makeCodeCache(SOURCE, '/x/b.js');
    expect(cacheAccepted(other, '/x/b.js', cache)).toBe(false);
    const script = compileBundle(other, '/x/b.js', cache);
    const module = { exports: {} as { later?: () => string } };
    (script.runInThisContext() as (...a: unknown[]) => void)(module.exports, () => null, module, '/x/b.js', '/x');
    expect(module.exports.later?.()).toBe('0,2,4,6,8,10,12,14,16,18');
  });

  it('holds every function compiled, not only the top level, and leaves V8 lazy afterwards', () => {
    // Three sources (V8 keeps compiled scripts per source in the process): same code, same length.
    const [a, b, c] = ['a', 'b', 'c'].map((x) => `${SOURCE}//${x}`) as [string, string, string];
    const lazy = compileBundle(a, '/x/b.js').createCachedData().length;
    const eager = makeCodeCache(b, '/x/b.js').length;
    expect(eager).toBeGreaterThan(lazy);
    // The flag is back: a plain compile caches only the top level again.
    expect(compileBundle(c, '/x/b.js').createCachedData().length).toBe(lazy);
  });

  it('runs the bundle as CommonJS with the loader’s module, require, file and directory', () => {
    const cache = makeCodeCache(SOURCE, '/x/b.js');
    const module = { exports: {} as Record<string, unknown> };
    const req = () => null;
    (compileBundle(SOURCE, '/lib/b.bundle.js', cache).runInThisContext() as (...a: unknown[]) => void)(
      module.exports,
      req,
      module,
      '/lib/b.bundle.js',
      '/lib',
    );
    expect(module.exports).toMatchObject({ file: '/lib/b.bundle.js', dir: '/lib', req: 'function' });
    expect(wrapBundle('x')).toBe('(function (exports, require, module, __filename, __dirname) {x\n})');
  });
});
