/**
 * Files of this installation, found beside the running entry (LIBDIR/ssc.js or
 * LIBDIR/broker.js, which install.sh puts in PREFIX/lib/ssc): never from the
 * caller's environment.
 */
import { dirname, join } from 'node:path';

/** LIBDIR/ssc-exec: the program's command on systemd < 254 (src/plan/unit-file.ts). */
export function execHelperPath(): string {
  return join(dirname(process.argv[1] as string), 'ssc-exec');
}
