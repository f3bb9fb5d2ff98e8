/**
 * `ssc stop NAME|UNIT…`: stop the caller's own apps, in both managers.
 *
 * Units of the caller's user manager are stopped over their session bus, as
 * they are; units of the system manager through the root broker, which stops
 * only those in the caller's own slice. `--signal SIG` sends a signal instead,
 * with kill(2) as the caller: never through root.
 */
import { Command } from 'commander';
import { Bus } from '../../systemd/bus.js';
import { activeStateOf, stopUnit } from '../../systemd/client.js';
import { systemBusUnreachable } from '../../systemd/errors.js';
import { SYSTEM_BUS_ADDRESS } from '../../systemd/signatures.js';
import { checkEnvironment } from '../../plan/environment.js';
import type { AppFigures } from '../../status/figures.js';
import { parseSignal, signalProcesses } from '../../status/signal.js';
import { chooseTargets, TargetError } from '../../status/targets.js';
import { SscError, warn } from '../errors.js';
import { EXIT } from '../exit-codes.js';
import type { Invocation } from '../invocation.js';
import { sessionBusAddress } from '../user-manager.js';
import { gatherApps } from './ps.js';

/** systemd's own default stop timeout (DefaultTimeoutStopSec=90s) and a little more. */
const STOP_WAIT_MS = 100_000;
const POLL_MS = 50;

/** Wait until each unit is inactive, failed or collected. */
async function waitStopped(address: string, units: readonly string[]): Promise<string[]> {
  if (units.length === 0) return [];
  const bus = await Bus.connect({ address, timeoutMs: 5_000 });
  try {
    const until = Date.now() + STOP_WAIT_MS;
    let left = [...units];
    while (left.length > 0 && Date.now() < until) {
      const states = await Promise.all(left.map((u) => activeStateOf(bus, u)));
      left = left.filter((_, i) => states[i] !== null && states[i] !== 'inactive' && states[i] !== 'failed');
      if (left.length > 0) await new Promise((r) => setTimeout(r, POLL_MS));
    }
    return left;
  } finally {
    bus.close();
  }
}

async function stopSystemUnits(inv: Invocation, units: readonly string[]): Promise<void> {
  if (units.length === 0) return;
  if (!(inv.header.privileged && inv.viaLauncher))
    throw new SscError(EXIT.failed, 'stopping an app of the system manager needs ssc installed setuid root (it is not running so here)');
  const { brokerStop, ChannelError } = await import('../../start/channels.js');
  const reply = await brokerStop(units).catch((e: unknown) => {
    throw e instanceof ChannelError ? new SscError(EXIT.failed, e.message) : e;
  });
  if (!reply.ok) throw new SscError(EXIT.failed, `the privileged helper refused the stop: ${reply.message}`);
  // A unit gone since the listing has ended: nothing left to stop.
  const refused = reply.units.filter((u) => !u.stopped && u.message !== 'no such unit');
  // Listed as the caller's a moment ago; refused now: it ended meanwhile, or it is not theirs after all.
  if (refused.length > 0)
    throw new SscError(EXIT.failed, refused.map((u) => `cannot stop ${u.unit}: ${u.message ?? 'refused'}`).join('; '));
}

async function stopUserUnits(address: string, units: readonly string[]): Promise<void> {
  if (units.length === 0) return;
  const bus = await Bus.connect({ address, timeoutMs: 5_000 });
  try {
    for (const u of units) await stopUnit(bus, u);
  } finally {
    bus.close();
  }
}

export function stopCommand(inv: Invocation): Command {
  return new Command('stop')
    .description('stop your contained apps, by name (as ssc ps shows it) or by unit, in both managers')
    .argument('<app...>', 'an app name (the program, e.g. firefox) or a unit name')
    .option('--all', 'stop every app of a name that several of yours have')
    .option('-s, --signal <signal>', "send this signal to the app's processes instead (as you: kill(2)), e.g. HUP, USR1, 9")
    .addHelpText('after', '\nExamples:\n  ssc stop firefox\n  ssc stop --signal HUP app-ssc-nginx@0123456789abcdef.service')
    .action(async (targets: string[], opts: { all?: boolean; signal?: string }) => {
      const signal = opts.signal === undefined ? null : parseSignal(opts.signal);
      if (opts.signal !== undefined && signal === null) throw new SscError(EXIT.usage, `no such signal: ${opts.signal}`);
      const apps = await gatherApps(inv, { all: false, sampleMs: 0 });
      let chosen: AppFigures[];
      try {
        chosen = chooseTargets(apps, targets, opts.all ?? false);
      } catch (e) {
        if (!(e instanceof TargetError)) throw e;
        for (const a of e.ambiguous) process.stderr.write(`  ${a.unit} (${a.manager} manager)\n`);
        throw new SscError(e.ambiguous.length > 0 ? EXIT.usage : EXIT.failed, e.message);
      }
      if (signal !== null) {
        for (const a of chosen) {
          // A unit still starting has no cgroup yet: never the root cgroup's processes.
          if (a.controlGroup === '' || a.controlGroup === '/') {
            warn(`${a.unit} has no processes yet; not signalled`);
            continue;
          }
          const r = signalProcesses(a.controlGroup, signal);
          if (r.refused > 0) warn(`${r.refused} process(es) of ${a.unit} are not yours and were not signalled`);
        }
        return;
      }
      const system = chosen.filter((a) => a.manager === 'system').map((a) => a.unit);
      const user = chosen.filter((a) => a.manager === 'user').map((a) => a.unit);
      const address = sessionBusAddress(checkEnvironment(inv.env).vars);
      await stopSystemUnits(inv, system);
      if (user.length > 0 && address !== null) await stopUserUnits(address, user);
      const left = [
        ...(await waitStopped(SYSTEM_BUS_ADDRESS, system).catch((e: unknown) => {
          throw new SscError(EXIT.failed, systemBusUnreachable(e));
        })),
        ...(address === null ? [] : await waitStopped(address, user)),
      ];
      if (left.length > 0) throw new SscError(EXIT.failed, `still stopping after ${STOP_WAIT_MS / 1000} s: ${left.join(', ')}`);
    });
}
