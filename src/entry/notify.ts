/**
 * ssc-notify.service's program (a user unit, systemd/ssc-notify.service.in):
 * desktop notifications when a contained app of this user loses processes to
 * the OOM killer. Runs as the user, never as root; started on demand by ssc's
 * front end at each launch, it exits when the user has had no contained app
 * for a minute.
 */
import { existsSync } from 'node:fs';
import { realCgroups, sessionBusAddress } from '../cli/user-manager.js';
import { runNotifier } from '../notify/watcher.js';
import { Bus } from '../systemd/bus.js';

async function main(): Promise<number> {
  const uid = process.getuid?.() ?? 0;
  if (uid === 0) {
    process.stderr.write('ssc-notify: not for root: it watches the apps of the user it runs as\n');
    return 2;
  }
  const env = new Map(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined));
  const address = sessionBusAddress(env);
  if (address === null) {
    process.stderr.write('ssc-notify: no session bus (neither DBUS_SESSION_BUS_ADDRESS nor XDG_RUNTIME_DIR)\n');
    return 2;
  }
  const bus = await Bus.connect({ address, timeoutMs: 10_000 });
  const layout = existsSync('/sys/fs/cgroup/cgroup.controllers') ? 'v2' : 'v1';
  await runNotifier({ bus, fs: realCgroups, layout, uid, log: (l) => process.stderr.write(`${l}\n`) });
  bus.close();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`ssc-notify: ${(e as Error).message}\n`);
    process.exit(1);
  },
);
