/**
 * Starting the user's notifier (ssc-notify.service in their user manager) at
 * a launch, so that a cap that bites shows on the desktop whether or not
 * anyone waits on ssc. As the caller, over their session bus; bounded, and
 * silent: a user without a session bus or a user manager simply gets none.
 */
import { Bus } from '../systemd/bus.js';
import { SYSTEMD_BUS_NAME, SYSTEMD_OBJECT_PATH } from '../systemd/signatures.js';
import { sessionBusAddress } from './user-manager.js';

export const NOTIFIER_UNIT = 'ssc-notify.service';
const BOUND_MS = 1_000;

export async function startNotifier(vars: ReadonlyMap<string, string>, uid: number): Promise<void> {
  if (uid === 0) return; // root has no desktop of its own to notify; its apps are not watched
  const address = sessionBusAddress(vars);
  if (address === null) return;
  let bus: Bus | null = null;
  const timer = new Promise<void>((resolve) => setTimeout(resolve, BOUND_MS).unref());
  const start = (async () => {
    bus = await Bus.connect({ address, timeoutMs: BOUND_MS });
    // "replace": a running notifier is left as it is; a stopped one is started.
    await bus.call(SYSTEMD_BUS_NAME, SYSTEMD_OBJECT_PATH, 'StartUnit', [NOTIFIER_UNIT, 'replace']);
  })().catch(() => undefined);
  await Promise.race([start, timer]);
  // Closed once the call settles, also when the bound came first.
  void start.finally(() => (bus as Bus | null)?.close());
}
