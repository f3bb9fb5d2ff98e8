/**
 * `ssc top`: `ssc ps`, live, on a terminal. The screen is redrawn every
 * interval, at a key and at a resize; `q` (or Ctrl-C) quits and the terminal
 * is left as it was found. Not on a terminal: one snapshot, as `ssc ps`.
 *
 * CPU use between two screens comes from the units' CPU time at each reading:
 * one reading per interval, over connections kept open, so that watching costs
 * little (README: bench figures).
 */
import { Command, Option } from 'commander';
import { closeSync } from 'node:fs';
import { BROKER_FD } from '../../handoff.js';
import { constants } from 'node:os';
import { cpuPercent, formatTable, sortApps, type AppFigures, type SortKey } from '../../status/figures.js';
import { frameLines } from '../../status/top-frame.js';
import { SscError } from '../errors.js';
import { EXIT } from '../exit-codes.js';
import type { Invocation } from '../invocation.js';
import { AppSource, SAMPLE_MS } from './ps.js';

const ENTER = '\x1b[?1049h\x1b[?25l'; // the alternate screen, no cursor
const LEAVE = '\x1b[?25h\x1b[?1049l';
const KEYS: Record<string, SortKey> = { m: 'memory', c: 'cpu', n: 'name' };

/** CPU use since the last reading, from each unit's CPU time. */
function withCpuSince(apps: AppFigures[], before: Map<string, number>, wallNs: number): AppFigures[] {
  return apps.map((a) => {
    const prev = before.get(`${a.manager}:${a.unit}`);
    if (prev === undefined || a.cpuSeconds === null) return a;
    return { ...a, cpuPercent: cpuPercent(prev * 1e9, a.cpuSeconds * 1e9, wallNs) };
  });
}

async function live(source: AppSource, sortFirst: SortKey, intervalSeconds: number): Promise<number> {
  const out = process.stdout;
  const input = process.stdin;
  let sort = sortFirst;
  let apps: AppFigures[] = [];
  let over = false;
  let done!: (code: number) => void;
  const finished = new Promise<number>((resolve) => (done = (code) => ((over = true), resolve(code))));
  const draw = () => {
    if (over) return; // a reading that came in after q must not draw on the restored screen
    const lines = frameLines({ apps, width: out.columns || 80, height: out.rows || 24, sort, intervalSeconds, now: new Date() });
    out.write(`\x1b[H${lines.join('\x1b[K\r\n')}\x1b[K\x1b[J`);
  };
  const onKey = (b: Buffer) => {
    const k = b.toString('latin1');
    if (k === 'q' || k === 'Q' || k === '\x03' || k === '\x04') done(EXIT.ok);
    else if (KEYS[k] !== undefined) {
      sort = KEYS[k];
      draw();
    }
  };
  const onSignal = (sig: NodeJS.Signals) => done(128 + constants.signals[sig]);
  const signals: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP', 'SIGINT'];
  out.write(ENTER);
  if (input.isTTY) input.setRawMode(true);
  input.on('data', onKey);
  input.resume();
  out.on('resize', draw);
  for (const s of signals) process.on(s, onSignal);
  let timer: NodeJS.Timeout | undefined;
  let failure: unknown = null;
  try {
    let before = new Map<string, number>();
    let t = process.hrtime.bigint();
    // The first screen measures CPU over a short sample; each later one over the interval.
    apps = await source.read(SAMPLE_MS);
    const loop = async () => {
      if (over) return;
      const seen = new Map(apps.filter((a) => a.cpuSeconds !== null).map((a) => [`${a.manager}:${a.unit}`, a.cpuSeconds as number]));
      before = seen;
      t = process.hrtime.bigint();
      draw();
      timer = setTimeout(() => {
        source
          .read(0)
          .then((next) => {
            apps = withCpuSince(next, before, Number(process.hrtime.bigint() - t));
            return loop();
          })
          .catch((e: unknown) => {
            failure = e;
            done(EXIT.failed);
          });
      }, intervalSeconds * 1000);
    };
    await loop();
    const code = await finished;
    if (failure !== null) throw failure;
    return code;
  } finally {
    clearTimeout(timer);
    for (const s of signals) process.off(s, onSignal);
    out.off('resize', draw);
    input.off('data', onKey);
    if (input.isTTY) input.setRawMode(false);
    input.pause();
    out.write(LEAVE);
  }
}

export function topCommand(inv: Invocation, setExit: (code: number) => void): Command {
  return new Command('top')
    .description('your contained apps, live: memory against its cap, CPU, OOM kills (one snapshot when not on a terminal)')
    .option('-d, --interval <seconds>', 'seconds between screens', '2')
    .addOption(
      new Option('--sort <key>', 'order of the apps (keys m, c, n change it)').choices(['memory', 'cpu', 'name']).default('memory'),
    )
    .option('--all', "root only: every user's apps in the system manager")
    .addHelpText('after', '\nExample:\n  ssc top --sort cpu -d 1')
    .action(async (opts: { interval: string; sort: SortKey; all?: boolean }) => {
      const interval = Number(opts.interval);
      if (!Number.isFinite(interval) || interval < 0.2 || interval > 3600)
        throw new SscError(EXIT.usage, `--interval takes seconds from 0.2 to 3600, not ${JSON.stringify(opts.interval)}`);
      if (opts.all && inv.header.ruid !== 0) throw new SscError(EXIT.usage, "only root may list every user's apps (--all)");
      // The launcher's connection to the broker, which top never uses: closed now, so that a top
      // left running does not hold one of the connections the broker allows each user.
      if (inv.viaLauncher && inv.header.privileged)
        try {
          closeSync(BROKER_FD);
        } catch {
          // not open
        }
      const source = new AppSource(inv, opts.all ?? false);
      try {
        if (!process.stdout.isTTY) {
          process.stdout.write(formatTable(sortApps(await source.read(SAMPLE_MS), opts.sort)));
          return;
        }
        const code = await live(source, opts.sort, interval);
        setExit(code);
      } finally {
        source.close();
      }
    });
}
