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

/**
 * Modules that ssc's paths never use, replaced by stubs so that they are neither
 * parsed nor run at start-up (and so that nothing on the privileged path reads
 * DEBUG from an environment): dbus-next's unixexec: transport (event-stream,
 * child_process) and DBUS_COOKIE_SHA1 authentication (crypto), commander's
 * executable subcommands (child_process), usocket's debug logging.
 */
const UNUSED = [
  { importer: /node_modules[\\/]dbus-next[\\/]lib[\\/]connection\.js$/, module: /^(event-stream|child_process)$/ },
  { importer: /node_modules[\\/]dbus-next[\\/]lib[\\/]handshake\.js$/, module: /^crypto$/ },
  { importer: /node_modules[\\/]commander[\\/]lib[\\/]command\.js$/, module: /^node:child_process$/ },
  { importer: /node_modules[\\/]usocket[\\/]index\.js$/, module: /^debug$/ },
];
const STUBS = {
  debug: 'module.exports = () => Object.assign(() => {}, { enabled: false });',
  other: `const fail = () => { throw new Error('not available in ssc'); };
module.exports = new Proxy({}, { get: () => fail });`,
};
const unusedStubbed = {
  name: 'unused-stubbed',
  setup(b) {
    b.onResolve({ filter: /^(event-stream|child_process|node:child_process|crypto|debug)$/ }, (args) => {
      const hit = UNUSED.find((u) => u.importer.test(args.importer) && u.module.test(args.path));
      return hit ? { path: args.path, namespace: 'ssc-unused' } : undefined;
    });
    b.onLoad({ filter: /.*/, namespace: 'ssc-unused' }, (args) => ({
      contents: args.path === 'debug' ? STUBS.debug : STUBS.other,
      loader: 'js',
    }));
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
  plugins: [usocketBeside, unusedStubbed],
  // dbus-next's X11 session-bus lookup; never reached: ssc's bus addresses are fixed.
  external: ['x11'],
};

await build({
  ...common,
  entryPoints: { ssc: 'src/entry/ssc.ts', broker: 'src/entry/broker.ts', notify: 'src/entry/notify.ts' },
  outdir: 'dist',
});
// The installed entries (copies of load.js, run by the launcher) and install.sh's
// code-cache maker: small, and nothing of the bundles' dependencies.
await build({
  ...common,
  plugins: [],
  entryPoints: { load: 'src/entry/load.ts', 'make-code-cache': 'src/entry/make-code-cache.ts' },
  outdir: 'dist',
  outExtension: { '.js': '.cjs' },
});
