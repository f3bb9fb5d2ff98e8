/**
 * The profiles: the only unit settings a caller can choose between.
 *
 * This table is the single source of every resource and sandboxing value ssc
 * sends to systemd. Nothing a caller passes on the command line or in the
 * environment can add to it or change a value in it.
 */

/** A share of the machine's RAM in permyriad (1/10 000), as systemd's *Scale properties take. */
export type Permyriad = number;

export interface Profile {
  readonly name: ProfileName;
  /** One line for --help. */
  readonly summary: string;
  /**
   * Hard memory cap: the unit is OOM-killed above it (MemoryMax). There is
   * deliberately no MemoryHigh below it: measured in the cgroup v2 VM with swap,
   * a program between MemoryHigh and MemoryMax is throttled into a crawl for
   * 14 s to over 150 s before the kill (test/integration/swap.test.ts), the
   * slow freeze ssc exists to prevent; without it the kill comes in seconds.
   */
  readonly memoryMax: Permyriad;
  /** Swap the unit may use; bounded so that swap or zram cannot turn the cap into a slow freeze (MemorySwapMax). */
  readonly memorySwapMax: Permyriad;
  /** CPU cap: 'all-but-one' leaves one core to the rest of the desktop (CPUQuota); null for none. */
  readonly cpuQuota: 'all-but-one' | null;
  readonly noNewPrivileges: boolean;
  readonly privateTmp: boolean;
}

export const PROFILE_NAMES = ['strict', 'relaxed'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];
export const DEFAULT_PROFILE: ProfileName = 'strict';

export const PROFILES: Readonly<Record<ProfileName, Profile>> = Object.freeze({
  strict: Object.freeze({
    name: 'strict',
    summary: 'memory 70% of RAM, CPU all cores but one, no new privileges, private /tmp',
    memoryMax: 7000,
    memorySwapMax: 1000,
    cpuQuota: 'all-but-one',
    noNewPrivileges: true,
    privateTmp: true,
  }),
  relaxed: Object.freeze({
    name: 'relaxed',
    summary: 'memory 70% of RAM',
    memoryMax: 7000,
    memorySwapMax: 1000,
    cpuQuota: null,
    noNewPrivileges: false,
    privateTmp: false,
  }),
});

export function isProfileName(name: string): name is ProfileName {
  return (PROFILE_NAMES as readonly string[]).includes(name);
}

/**
 * systemd's *Scale properties take a fraction of 2^32-1:
 * value = (permyriad * 4294967295 + 5000) / 10000, rounded down, as systemctl computes it.
 */
export function permyriadToScale(p: Permyriad): number {
  if (!Number.isInteger(p) || p < 0 || p > 10000) throw new RangeError(`permyriad out of range: ${p}`);
  return Number((BigInt(p) * 4294967295n + 5000n) / 10000n);
}

/** CPUQuotaPerSecUSec for a quota of `cores` whole cores: 1 000 000 µs per core per second. */
export function cpuQuotaPerSecUSec(quota: Profile['cpuQuota'], cores: number): number | null {
  if (quota === null) return null;
  if (!Number.isInteger(cores) || cores < 1) throw new RangeError(`core count must be a positive integer: ${cores}`);
  return Math.max(1, cores - 1) * 1_000_000;
}
