/**
 * A cap on how many starts of one user hold a root-authenticated bus
 * connection at once.
 *
 * dbus-daemon allows each uid a fixed number of connections (256 on the system
 * bus), and every broker's connection counts against root's. A user who starts
 * many ssc at once, or stops their front ends half-way, must not be able to
 * lock root's daemons off the bus: each broker holds a slot, a file
 * `active-<uid>-<pid>` in the root-only directory /run/ssc, from before it
 * connects until it exits, and refuses when the user already holds the cap.
 * Entries of brokers that died are swept by the next broker that counts.
 */

export const MAX_STARTS_PER_USER = 16;

export interface SlotStore {
  /** Names in the directory. */
  list(): string[];
  /** Create a name that does not exist yet (O_EXCL). */
  create(name: string): void;
  remove(name: string): void;
  /** Is a process with this PID alive? */
  alive(pid: number): boolean;
}

export interface Slot {
  release(): void;
}

/** Take a slot for `uid` as broker `pid`; null when the user already holds `max`. */
export function takeSlot(store: SlotStore, uid: number, pid: number, max = MAX_STARTS_PER_USER): Slot | null {
  const prefix = `active-${uid}-`;
  const own = `${prefix}${pid}`;
  // First create, then count: two brokers counting at once both see each other.
  store.create(own);
  let held = 0;
  for (const name of store.list()) {
    if (!name.startsWith(prefix) || name === own) continue;
    const other = Number(name.slice(prefix.length));
    if (!Number.isInteger(other) || other <= 0 || !store.alive(other)) store.remove(name);
    else held++;
  }
  if (held + 1 > max) {
    store.remove(own);
    return null;
  }
  return { release: () => store.remove(own) };
}
