// Bundle the two entries into single files: dist/ssc.js (front end) and
// dist/broker.js (root broker). One file each, because Node's module
// resolution walks up every parent directory looking for node_modules: a
// multi-file tree would make every ancestor trusted code for the root process.
// Native modules (our addon, usocket's uwrap) are loaded by absolute path
// beside the bundle, never through node_modules.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

/** usocket finds its addon with the `bindings` package (a directory walk); point it at the file beside the bundle. */
const usocketBeside = {
  name: 'usocket-beside-bundle',
  setup(b) {
    b.onLoad({ filter: /node_modules[\\/]usocket[\\/]index\.js$/ }, async (args) => {
      const src = readFileSync(args.path, 'utf8');
      const patched = src.replace("require('bindings')('uwrap')", "require(require('path').join(__dirname, 'uwrap.node'))");
      if (patched === src) throw new Error('usocket/index.js no longer loads uwrap through bindings: update scripts/bundle.mjs');
      return { contents: patched, loader: 'js' };
    });
  },
};

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minifySyntax: true,
  minifyWhitespace: true,
  legalComments: 'linked',
  logLevel: 'warning',
  define: { SSC_VERSION: JSON.stringify(pkg.version) },
  plugins: [usocketBeside],
  // dbus-next's X11 session-bus lookup; never reached: ssc's bus addresses are fixed.
  external: ['x11'],
};

await build({ ...common, entryPoints: { ssc: 'src/entry/ssc.ts', broker: 'src/entry/broker.ts' }, outdir: 'dist' });
