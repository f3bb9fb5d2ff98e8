// The broker's entry: root, fixed environment, started only by the setuid launcher.
import { runBroker } from '../broker/broker.js';
import { loadNative } from '../native/loader.js';

runBroker(loadNative()).then(
  (code) => process.exit(code),
  () => process.exit(125),
);
