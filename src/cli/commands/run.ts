/**
 * `ssc [options] [--] PROGRAM [ARGS...]`: run PROGRAM contained.
 */
import { Command, Option } from 'commander';
import { DEFAULT_PROFILE, PROFILE_NAMES, PROFILES, type ProfileName } from '../../plan/profiles.js';
import type { Invocation } from '../invocation.js';
import { launch } from '../launch.js';

const EXIT_HELP = `
Exit status:
  the program's own status   when ssc waits for it (--wait, or a terminal)
  128+N                      the program died of signal N (137: killed, e.g. out of memory)
  0                          without --wait: the program was started
  125                        ssc itself failed (no systemd or bus, the start failed, bad installation)
  126                        the program was found but cannot be executed
  127                        the program was not found
  2                          usage error

The original ssc's flags work too: -isolation=strict, -isolation relaxed, -tty=false, -tty.

Without setuid (or with --manager user) the unit goes to your own user manager: the same
profiles, but you can lift its caps yourself (systemctl --user set-property), so it protects
you from runaway apps, not an administrator's machine from you. ssc warns about a cap that
would not be in effect there (cgroup v1, or a controller not delegated); --require-caps refuses.

Your contained apps, their memory, caps, CPU and OOM kills: ssc ps (alias list; ssc ps --help).
  e.g. ssc ps --json
The same, live on a terminal: ssc top [--interval SECONDS] [--sort memory|cpu|name].
  e.g. ssc top --sort cpu
Stop one of them (yours only; both managers): ssc stop NAME|UNIT... [--all] [--signal SIG].
  e.g. ssc stop firefox
Their journal, as you: ssc logs NAME|UNIT [journalctl options].
  e.g. ssc logs firefox -f
Menus, docks and "Open with": ssc desktop add|remove|list|refresh (ssc desktop --help).
  e.g. ssc desktop add firefox
A program named desktop, ps, list, top, stop or logs: ssc -- ps.`;

export function runCommand(inv: Invocation, setExit: (code: number) => void): Command {
  const profiles = PROFILE_NAMES.map((p) => `${p}: ${PROFILES[p].summary}`).join('; ');
  return new Command('ssc')
    .description('Run PROGRAM as you, inside a transient systemd unit with an isolation profile.')
    .usage('[options] [--] PROGRAM [ARGS...]')
    .addOption(new Option('--isolation <profile>', `isolation profile (${profiles})`).choices(PROFILE_NAMES).default(DEFAULT_PROFILE))
    .option('--tty', 'terminal mode (default when stdin is a terminal)')
    .option('--no-tty', 'GUI mode: start the program and return')
    .option('--wait', "wait for the program to end and exit with its status; stdin/stdout/stderr are ssc's own")
    .option('-v, --verbose', 'print the unit name')
    .option('--name <name>', "what ssc ps, stop and logs call the app (letters, digits, ':_.-'); the program's file name by default")
    .addOption(
      new Option(
        '--manager <manager>',
        'system: the system manager (needs ssc installed setuid; the default then); user: your own user manager (the default otherwise)',
      ).choices(['system', 'user']),
    )
    .option(
      '--require-caps',
      'refuse to start when a cap of the profile would not be in effect (in a user manager without the cgroup controllers)',
    )
    .argument('<program>', 'the program to run (found with your PATH)')
    .argument('[args...]', 'its arguments, passed literally')
    .passThroughOptions()
    .addHelpText('after', EXIT_HELP)
    .action(
      async (
        program: string,
        args: string[],
        opts: {
          isolation: ProfileName;
          tty?: boolean;
          wait?: boolean;
          verbose?: boolean;
          manager?: 'system' | 'user';
          requireCaps?: boolean;
          name?: string;
        },
      ) => {
        setExit(
          await launch(
            inv,
            {
              isolation: opts.isolation,
              tty: opts.tty,
              wait: opts.wait ?? false,
              verbose: opts.verbose ?? false,
              manager: opts.manager,
              requireCaps: opts.requireCaps ?? false,
              name: opts.name,
            },
            program,
            args,
          ),
        );
      },
    );
}
