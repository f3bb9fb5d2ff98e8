/**
 * The front end: parse the command line, run the command, map every expected
 * failure to one `ssc:` line and an exit code.
 */
import { Command, CommanderError } from 'commander';
import { decodeUtf8 } from '../plan/environment.js';
import { normalizeArgs, UsageError } from './argv.js';
import { runCommand } from './commands/run.js';
import { SscError, warn } from './errors.js';
import { EXIT } from './exit-codes.js';
import { readInvocation, type Invocation } from './invocation.js';

/** The commands besides running a program, by the first argument; each loaded only when used. */
const SUBCOMMANDS: Record<string, (inv: Invocation, setExit: (code: number) => void) => Promise<Command>> = {
  desktop: async (inv) => (await import('./commands/desktop.js')).desktopCommand(inv),
  ps: async (inv) => (await import('./commands/ps.js')).psCommand(inv),
  list: async (inv) => (await import('./commands/ps.js')).psCommand(inv),
  stop: async (inv) => (await import('./commands/stop.js')).stopCommand(inv),
  logs: async (inv) => (await import('./commands/logs.js')).logsCommand(inv),
  top: async (inv, setExit) => (await import('./commands/top.js')).topCommand(inv, setExit),
};

declare const SSC_VERSION: string | undefined;
const VERSION = typeof SSC_VERSION === 'string' ? SSC_VERSION : '0.0.0-dev';

export async function main(): Promise<number> {
  try {
    const inv = readInvocation();
    const args = inv.args.map((a, i) => {
      const s = decodeUtf8(a);
      if (s === null) throw new UsageError(`argument ${i + 1} is not valid UTF-8, which systemd cannot take`);
      return s;
    });
    let code: number = EXIT.ok;
    const output = {
      writeOut: (s: string) => process.stdout.write(s),
      writeErr: (s: string) => process.stderr.write(s),
      outputError: (s: string, write: (s: string) => void) => write(`ssc: ${s.replace(/^error: /, '').trimEnd()}\n`),
    };
    // `ssc desktop ...`, `ssc ps` (programs of those names: `ssc -- desktop`). Loaded only then.
    const sub = SUBCOMMANDS[args[0] ?? ''];
    if (sub !== undefined) {
      const top = new Command('ssc')
        .exitOverride()
        .configureOutput(output)
        .addCommand(await sub(inv, (c) => (code = c)));
      for (const c of [top, ...top.commands, ...top.commands.flatMap((c) => c.commands)]) c.exitOverride().configureOutput(output);
      await top.parseAsync(args, { from: 'user' });
      return code;
    }
    const cmd = runCommand(inv, (c) => (code = c))
      .version(VERSION, '-V, --version')
      .exitOverride()
      .configureOutput(output);
    await cmd.parseAsync(normalizeArgs(args), { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version exit 0; every other commander error is a usage error (already printed).
      return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (e instanceof UsageError || e instanceof SscError) {
      warn(e.message);
      return e instanceof SscError ? e.exitCode : EXIT.usage;
    }
    const err = e as Error & { type?: string };
    warn(`internal error: ${err.type ? `${err.type}: ` : ''}${err.message}`);
    return EXIT.failed;
  }
}
