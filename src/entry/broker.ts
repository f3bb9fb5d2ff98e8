// The broker's entry: root, fixed environment, started only by the setuid launcher.
// The addon is loaded from beside this bundle only (a root-owned directory the
// launcher checked), never through a search.
import { dirname, join } from 'node:path';
import { runBroker } from '../broker/broker.js';
import { loadNativeFrom } from '../native/loader.js';

runBroker(loadNativeFrom([join(dirname(process.argv[1] as string), 'ssc_native.node')])).then(
  (code) => process.exit(code),
  () => process.exit(125),
);
