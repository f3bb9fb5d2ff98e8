/**
 * The broker's one connection to the system bus, shared by every start: opened
 * when a front end first says "launch", opened again on the next one after it
 * is lost, closed with the broker's process.
 *
 * One connection rather than one per start: no handshake on a warm launch
 * (about 5 ms of the launch path), one JobRemoved match for all starts, and a
 * fixed number of root connections however many starts are in progress
 * (dbus-daemon caps connections per uid, root's included, at 256 by default:
 * one per start let a few users' held starts take them all). Other users
 * cannot break it: what they may send it is skipped unread (wire.ts).
 */
import type { Native } from '../native/native.js';
import { Bus } from '../systemd/bus.js';
import { SYSTEM_BUS_ADDRESS } from '../systemd/signatures.js';

/** How long connecting and authenticating may take: a bus that hangs there must not hold a start for ever. */
const BUS_TIMEOUT_MS = 10_000;

export class SharedSystemBus {
  private current: Promise<Bus> | null = null;

  constructor(
    private readonly native: Native,
    private readonly address = SYSTEM_BUS_ADDRESS,
  ) {}

  /** The connection, connecting if there is none (or it was lost). */
  get(): Promise<Bus> {
    if (this.current !== null) return this.current;
    const p = Bus.connect({ address: this.address, unixFd: true, timeoutMs: BUS_TIMEOUT_MS }).then((bus) => {
      const fd = bus.fd;
      if (fd !== undefined) this.native.setCloexec(fd);
      bus.onClose(() => {
        if (this.current === p) this.current = null;
      });
      return bus;
    });
    // One that failed (or timed out, its socket closed by Bus.connect) is not kept; the next start tries again.
    p.catch(() => {
      if (this.current === p) this.current = null;
    });
    this.current = p;
    return p;
  }
}
