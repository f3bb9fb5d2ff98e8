// Kept apart from bus.ts so that the front end can word this without loading dbus-next.
import { SYSTEM_BUS_PATH } from './signatures.js';

/** One line for a failed connect to the system bus, the same from the front end and the broker. */
export function systemBusUnreachable(e: unknown): string {
  const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
  return `cannot connect to the system bus at ${SYSTEM_BUS_PATH} (${why}); is systemd running?`;
}
