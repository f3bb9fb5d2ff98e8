/**
 * `ssc desktop add|remove|list|refresh`: contain the apps people start from
 * menus, docks and "Open with", through user-level desktop entries.
 *
 * These commands run only as the caller and never reach the broker: no
 * root-authenticated connection is opened for them, and no file of the user's
 * is read or written with privileges.
 */
import { Command, Option } from 'commander';
import { checkEnvironment } from '../../plan/environment.js';
import { DEFAULT_PROFILE, PROFILE_NAMES } from '../../plan/profiles.js';
import {
  addEntry,
  DesktopError,
  dirsFrom,
  listEntries,
  refreshDatabase,
  refreshEntries,
  removeEntry,
  type Dirs,
} from '../../desktop/store.js';
import { WrapError } from '../../desktop/wrap.js';
import { ExecError } from '../../desktop/exec.js';
import { SscError } from '../errors.js';
import { EXIT } from '../exit-codes.js';
import type { Invocation } from '../invocation.js';
import { launcherPath } from '../terminal.js';

function context(inv: Invocation): { dirs: Dirs; cwd: string } {
  const { vars } = checkEnvironment(inv.env);
  const cwd = inv.cwd?.toString('utf8') ?? '/';
  return { dirs: dirsFrom(vars), cwd };
}

/** Expected failures become one ssc: line and exit 125. */
function expected<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof DesktopError || e instanceof WrapError || e instanceof ExecError) throw new SscError(EXIT.failed, e.message);
    const err = e as NodeJS.ErrnoException;
    if (typeof err.code === 'string' && typeof err.path === 'string') throw new SscError(EXIT.failed, `${err.path}: ${err.code}`);
    throw e;
  }
}

export function desktopCommand(inv: Invocation): Command {
  const desktop = new Command('desktop').description(
    'Contain applications started from menus, docks and "Open with" (user-level desktop entries).',
  );

  desktop
    .command('add')
    .description(
      'write a desktop entry for APP (an ID such as firefox.desktop, or a path) that runs it through ssc; the menu, the dock and "Open with" then use it',
    )
    .argument('<app>', 'desktop file ID (firefox, firefox.desktop) or path to a .desktop file')
    .addOption(new Option('--isolation <profile>', 'isolation profile').choices(PROFILE_NAMES).default(DEFAULT_PROFILE))
    .option('--force', 'replace your own entry with this ID, keeping it for "remove" to restore')
    .action((app: string, opts: { isolation: string; force?: boolean }) => {
      const { dirs, cwd } = context(inv);
      const r = expected(() => addEntry(app, opts.isolation, { dirs, cwd, ssc: launcherPath(), force: opts.force ?? false }));
      if (r.changed) refreshDatabase(dirs);
      process.stdout.write(
        `${r.changed ? 'wrote' : 'unchanged'} ${r.file} (${opts.isolation})${r.backup ? `; your own entry is kept in ${r.backup}` : ''}\n`,
      );
    });

  desktop
    .command('remove')
    .description("delete the entries ssc wrote (your own replaced entry comes back), so the application's own entry shows again")
    .argument('[app]', 'desktop file ID or path')
    .option('--all', 'every entry ssc wrote')
    .action((app: string | undefined, opts: { all?: boolean }) => {
      const { dirs } = context(inv);
      if ((app === undefined) === !opts.all) throw new SscError(EXIT.usage, 'name one APP or give --all');
      const ids = opts.all ? listEntries(dirs).map((l) => l.id) : [app as string];
      for (const id of ids) {
        const r = expected(() => removeEntry(id, dirs));
        process.stdout.write(`removed ${r.id}${r.restored ? `; restored your own ${r.restored}` : ''}\n`);
      }
      if (ids.length > 0) refreshDatabase(dirs);
    });

  desktop
    .command('list')
    .description('the applications ssc contains, their profiles, and whether their source changed since (then: refresh)')
    .option('--json', 'as JSON')
    .action((opts: { json?: boolean }) => {
      const { dirs } = context(inv);
      const entries = expected(() => listEntries(dirs));
      if (opts.json) {
        process.stdout.write(
          `${JSON.stringify(
            entries.map(({ id, profile, source, status, backup }) => ({ id, profile, source, status, backup })),
            null,
            2,
          )}\n`,
        );
        return;
      }
      for (const e of entries)
        process.stdout.write(`${e.id}\t${e.profile}\t${e.status === 'current' ? 'current' : `source ${e.status}`}\t${e.source}\n`);
    });

  desktop
    .command('refresh')
    .description('write again the entries whose source changed (a package upgrade changes Exec lines, actions, translations)')
    .action(() => {
      const { dirs } = context(inv);
      const r = expected(() => refreshEntries(dirs, launcherPath()));
      for (const id of r.refreshed) process.stdout.write(`refreshed ${id}\n`);
      for (const id of r.missing) process.stderr.write(`ssc: the source of ${id} is gone; "ssc desktop remove ${id}" removes it\n`);
      if (r.refreshed.length > 0) refreshDatabase(dirs);
    });

  return desktop;
}
