/**
 * `ssc ps` (alias `ssc list`): the caller's own contained apps, in the system
 * manager and their own user manager, one line each, or as JSON.
 *
 * Runs only as the caller and never asks the broker: everything shown is what
 * systemd and the cgroup files publish to every local user anyway.
 */
import { Command, Option } from 'commander';
import { checkEnvironment } from '../../plan/environment.js';
import { collectApps } from '../../status/collect.js';
import { formatTable, sortApps, type AppFigures, type SortKey } from '../../status/figures.js';
import { Bus } from '../../systemd/bus.js';
import { systemBusUnreachable } from '../../systemd/errors.js';
import { SYSTEM_BUS_ADDRESS } from '../../systemd/signatures.js';
import { SscError, warn } from '../errors.js';
import { EXIT } from '../exit-codes.js';
import type { Invocation } from '../invocation.js';
import { realCgroups, sessionBusAddress } from '../user-manager.js';

/** CPU use is measured over this long. */
export const SAMPLE_MS = 100;
const BUS_TIMEOUT_MS = 5_000;

export interface PsOptions {
  all: boolean;
  sampleMs: number;
}

/**
 * The caller's apps in both managers, over connections kept open between
 * readings (top reads again every interval). The system bus must answer; the
 * user manager is asked only when the caller has a session bus, and one that
 * does not answer is said once, its apps left out.
 */
export class AppSource {
  private system: Bus | null = null;
  /** What does not change while a unit runs, per manager (collect.ts). */
  private readonly fixed = { system: new Map(), user: new Map() } as const;
  private user: Bus | null = null;
  private userAddress: string | null;
  private readonly uid: number;

  constructor(
    inv: Invocation,
    private readonly all: boolean,
  ) {
    this.uid = inv.header.ruid;
    this.userAddress = this.uid === 0 ? null : sessionBusAddress(checkEnvironment(inv.env).vars);
  }

  private async connect(): Promise<void> {
    if (this.system === null || this.system.isClosed)
      this.system = await Bus.connect({ address: SYSTEM_BUS_ADDRESS, timeoutMs: BUS_TIMEOUT_MS }).catch((e: unknown) => {
        throw new SscError(EXIT.failed, systemBusUnreachable(e));
      });
    if (this.userAddress !== null && (this.user === null || this.user.isClosed))
      this.user = await Bus.connect({ address: this.userAddress, timeoutMs: BUS_TIMEOUT_MS }).catch((e: unknown) => {
        this.dropUser(e);
        return null;
      });
  }

  private dropUser(e: unknown): void {
    warn(`your user manager's apps are not shown: ${(e as Error).message}`);
    this.userAddress = null;
    this.user?.close();
    this.user = null;
  }

  /** One reading; CPU over `sampleMs` (0: none, cpuPercent null). */
  async read(sampleMs: number): Promise<AppFigures[]> {
    await this.connect();
    const system = collectApps(
      this.system as Bus,
      { manager: 'system', uid: this.uid, all: this.all },
      realCgroups,
      sampleMs,
      this.fixed.system,
    ).catch((e: unknown) => {
      throw new SscError(EXIT.failed, systemBusUnreachable(e));
    });
    const userBus = this.user;
    const user =
      userBus === null
        ? Promise.resolve([])
        : collectApps(userBus, { manager: 'user', uid: this.uid }, realCgroups, sampleMs, this.fixed.user).catch((e: unknown) => {
            this.dropUser(e);
            return [];
          });
    const [s, u] = await Promise.all([system, user]);
    return [...s, ...u];
  }

  close(): void {
    this.system?.close();
    this.user?.close();
  }
}

/** The caller's apps in both managers, read once. */
export async function gatherApps(inv: Invocation, opts: PsOptions): Promise<AppFigures[]> {
  const source = new AppSource(inv, opts.all);
  try {
    return await source.read(opts.sampleMs);
  } finally {
    source.close();
  }
}

/** JSON: numbers in bytes, seconds and percent; null where the system gives no figure. */
export function appsJson(apps: readonly AppFigures[]): string {
  return `${JSON.stringify(apps, null, 2)}\n`;
}

export function psCommand(inv: Invocation): Command {
  return new Command('ps')
    .alias('list')
    .description('list your contained apps in both managers: memory and its cap, peak, swap, CPU, tasks, OOM kills')
    .option('--json', 'print the list as JSON (numbers in bytes, seconds and percent; null where the system has no figure)')
    .option('--all', "root only: every user's apps in the system manager")
    .addOption(new Option('--sort <key>', 'order of the apps').choices(['memory', 'cpu', 'name']).default('memory'))
    .addHelpText('after', '\nExample:\n  ssc ps --sort cpu')
    .action(async (opts: { json?: boolean; all?: boolean; sort: SortKey }) => {
      if (opts.all && inv.header.ruid !== 0) throw new SscError(EXIT.usage, "only root may list every user's apps (--all)");
      const apps = sortApps(await gatherApps(inv, { all: opts.all ?? false, sampleMs: SAMPLE_MS }), opts.sort);
      process.stdout.write(opts.json ? appsJson(apps) : formatTable(apps));
    });
}
