// The broker's entry: root, started by systemd through ssc-broker.socket.
// The addon is loaded from beside this bundle only (a root-owned directory),
// never through a search.
import { dirname, join } from 'node:path';
import { runBrokerService } from '../broker/service.js';
import { loadNativeFrom } from '../native/loader.js';

runBrokerService(loadNativeFrom([join(dirname(process.argv[1] as string), 'ssc_native.node')])).then(
  (code) => {
    if (code !== 0) process.exit(code);
  },
  () => process.exit(125),
);
