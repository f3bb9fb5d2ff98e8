/**
 * Random hex for unit names and file names, read from the kernel's
 * /dev/urandom (a fixed device path), so that the launch path does not load
 * node:crypto, which costs more start-up time than all of ssc's planning.
 */
import { closeSync, openSync, readSync } from 'node:fs';

export function randomHex(bytes: number): string {
  const buf = Buffer.alloc(bytes);
  const fd = openSync('/dev/urandom', 'r');
  try {
    let off = 0;
    while (off < bytes) {
      const n = readSync(fd, buf, off, bytes - off, null);
      if (n <= 0) throw new Error('/dev/urandom gave no bytes');
      off += n;
    }
  } finally {
    closeSync(fd);
  }
  return buf.toString('hex');
}
