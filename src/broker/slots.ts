/**
 * How many connections each user holds to the broker, counted from the moment
 * of accept (the connecting launcher's real uid, read from /proc), so that one
 * user can neither take every connection nor hold more than a few root-authenticated
 * bus connections at once.
 *
 * dbus-daemon allows each uid a fixed number of connections (256 on the system
 * bus), and every start's connection counts against root's. The counts live in
 * the broker's memory: a connection's count goes when its socket closes, so a
 * dead or stopped client cannot keep one beyond the broker's deadlines.
 */

/** Starts of one user in progress at once; more are refused with a clear line. */
export const MAX_STARTS_PER_USER = 16;
/** Beyond this many connections (refusals included), a user's connections are closed unanswered. */
export const MAX_CONNECTIONS_PER_USER = 2 * MAX_STARTS_PER_USER;
/** Request bytes one user's connections may hold in the broker at once: two of the largest. */
export const MAX_REQUEST_BYTES_PER_USER = 32 * 1024 * 1024;

export class UserCounts {
  private readonly counts = new Map<number, number>();
  private readonly bytes = new Map<number, number>();

  constructor(private readonly maxBytes = MAX_REQUEST_BYTES_PER_USER) {}

  /**
   * Count one more connection of uid. `reserve(n)` takes n bytes of the user's request budget
   * for this connection (false when that would exceed it); `release` gives back the
   * connection and its bytes (once).
   */
  take(uid: number): { held: number; reserve: (n: number) => boolean; release: () => void } {
    const held = (this.counts.get(uid) ?? 0) + 1;
    this.counts.set(uid, held);
    let released = false;
    let reserved = 0;
    return {
      held,
      reserve: (n) => {
        const used = this.bytes.get(uid) ?? 0;
        if (released || used + n > this.maxBytes) return false;
        this.bytes.set(uid, used + n);
        reserved += n;
        return true;
      },
      release: () => {
        if (released) return;
        released = true;
        const n = (this.counts.get(uid) ?? 1) - 1;
        if (n <= 0) this.counts.delete(uid);
        else this.counts.set(uid, n);
        const left = (this.bytes.get(uid) ?? 0) - reserved;
        if (left <= 0) this.bytes.delete(uid);
        else this.bytes.set(uid, left);
      },
    };
  }

  get total(): number {
    let n = 0;
    for (const c of this.counts.values()) n += c;
    return n;
  }
}
