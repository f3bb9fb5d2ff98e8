/**
 * `ssc logs NAME|UNIT [journalctl options]`: the journal of the caller's own
 * app, by exec'ing journalctl as the caller (this process has dropped
 * privileges for good): it shows what the caller may read, nothing more.
 *
 * A name means every unit ssc made for that program, in both managers, ended
 * ones too: app-ssc-NAME@*.service and app-ssc-NAME-*.scope (the name is
 * escaped as in the unit names, where '-' is never left plain, so the patterns
 * match that program only).
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { checkEnvironment } from '../../plan/environment.js';
import { programId } from '../../plan/unit-name.js';
import { execve, isSyscallError, useNative } from '../../native/index.js';
import { SscError, warn } from '../errors.js';
import { EXIT } from '../exit-codes.js';
import type { Invocation } from '../invocation.js';
import { closeStrayDescriptorsOnExec } from '../terminal.js';
import { bundledNative, verifyDropped } from '../verify.js';

/** Fixed: never found through the caller's PATH. */
export const JOURNALCTL = '/usr/bin/journalctl';

/** Groups whose members read every journal file. */
const JOURNAL_READERS = ['adm', 'systemd-journal', 'wheel'];

/** journalctl's unit options for an app name or a unit name, system and user manager both. */
export function unitMatches(target: string): string[] {
  if (/^app-ssc-.+\.(service|scope)$/.test(target)) return [`--unit=${target}`, `--user-unit=${target}`];
  const id = programId(target);
  const patterns = [`app-ssc-${id}@*.service`, `app-ssc-${id}-*.scope`];
  return [...patterns.map((p) => `--unit=${p}`), ...patterns.map((p) => `--user-unit=${p}`)];
}

/** The gids of JOURNAL_READERS, from the group database file. */
function readerGids(): number[] {
  try {
    return readFileSync('/etc/group', 'utf8')
      .split('\n')
      .map((l) => l.split(':'))
      .filter((f) => JOURNAL_READERS.includes(f[0] as string) && /^\d+$/.test(f[2] ?? ''))
      .map((f) => Number(f[2]));
  } catch {
    return [];
  }
}

export function logsCommand(inv: Invocation): Command {
  return new Command('logs')
    .description(
      "show the journal of your app (its own output, and systemd's lines about it where you may read them), as you, through journalctl",
    )
    .argument('<app>', 'an app name (the program, e.g. firefox) or a unit name')
    .argument('[journalctl-options...]', 'passed to journalctl as they are, e.g. -f, -n 50, --since today')
    .allowUnknownOption()
    .addHelpText('after', '\nExamples:\n  ssc logs firefox -f\n  ssc logs app-ssc-make@0123456789abcdef.service -n 100')
    .action((app: string, options: string[]) => {
      const { vars } = checkEnvironment(inv.env);
      const native = bundledNative();
      useNative(native);
      verifyDropped(inv.header);
      const groups = new Set([inv.header.rgid, ...inv.header.groups]);
      const reader = readerGids().some((gid) => groups.has(gid));
      if (!reader)
        warn(
          "shown: your app's own output, where the journal keeps your own file (a persistent journal, /var/log/journal); systemd's lines about the unit need the adm or systemd-journal group",
        );
      closeStrayDescriptorsOnExec();
      const env = [...vars].map(([k, v]) => `${k}=${v}`);
      try {
        execve(JOURNALCTL, ['journalctl', ...unitMatches(app), ...options], env);
      } catch (e) {
        if (isSyscallError(e)) throw new SscError(EXIT.failed, `cannot run ${JOURNALCTL}: ${e.message}`);
        throw e;
      }
    });
}
