/**
 * Terminal mode: the program runs on the terminal the tab gave ssc, in a
 * transient scope, and nothing of ssc stays in between.
 *
 * The broker asks systemd for a scope holding this very process (the PID the
 * launcher recorded). Then, privileges checked dropped once more and every
 * descriptor but 0-2 closed on exec, this process
 * execs LIBDIR/ssc-tab (not setuid), which forks the program on the same
 * controlling terminal and stays only to end the rest of the scope when the
 * program ends or the tab hangs up (native/tab/tab.c). Job control, the window
 * size and every byte are the terminal's own. Strict: a scope takes no
 * PrivateTmp= or NoNewPrivileges=, so ssc-tab's child goes through the setuid
 * launcher once more ("ssc-private-tmp"), which mounts an empty /tmp and
 * /var/tmp in a new mount namespace, drops back and sets no_new_privs.
 */
import { lstatSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { BrokerReply } from '../ipc.js';
import type { LaunchRequest } from '../plan/plan.js';
import type { Profile } from '../plan/profiles.js';
import { scopeName } from '../plan/unit-name.js';
import { execve, isSyscallError, setCloexec, setNoNewPrivs, useNative } from '../native/index.js';
import { randomHex } from '../random.js';
import { SscError, warn } from './errors.js';
import { EXIT } from './exit-codes.js';
import type { Invocation } from './invocation.js';
import { bundledNative, verifyDropped } from './verify.js';

/** The supervisor, beside the bundle in the root-owned library directory the launcher checked. */
export function tabHelperPath(): string {
  return join(dirname(process.argv[1] as string), 'ssc-tab');
}

/** The setuid launcher of this installation (PREFIX/bin/ssc beside PREFIX/lib/ssc): strict's private /tmp. */
export function launcherPath(): string {
  return join(dirname(dirname(dirname(process.argv[1] as string))), 'bin', 'ssc');
}

/** Trust a helper only as the launcher trusts its files: root-owned, a regular file, not group/other-writable. */
function checkHelper(path: string, setuid = false): void {
  let ok = false;
  try {
    const st = lstatSync(path);
    ok = st.isFile() && st.uid === 0 && (st.mode & 0o022) === 0 && (st.mode & 0o111) !== 0 && (!setuid || (st.mode & 0o4000) !== 0);
  } catch {
    ok = false;
  }
  if (!ok)
    throw new SscError(
      EXIT.failed,
      `${path} is missing or not a root-owned ${setuid ? 'setuid ' : ''}executable; reinstall ssc (install.sh)`,
    );
}

/** Node leaves inherited descriptors (the hand-off memfd, the broker's socket) open across exec: close them there. */
export function closeStrayDescriptorsOnExec(): void {
  for (const name of readdirSync('/proc/self/fd')) {
    const fd = Number(name);
    if (fd <= 2) continue;
    try {
      setCloexec(fd);
    } catch {
      // the directory's own descriptor, gone by now
    }
  }
}

/**
 * The program's argv as the caller's bytes: PROGRAM and its arguments are the
 * tail of the launcher's argv (everything from PROGRAM on is literal), so
 * bytes that are not UTF-8 pass through unchanged.
 */
export function programArgv(rawArgs: readonly Buffer[], program: string, args: readonly string[]): Buffer[] {
  const tail = rawArgs.slice(rawArgs.length - (args.length + 1));
  const same = tail.length === args.length + 1 && [program, ...args].every((s, i) => (tail[i] as Buffer).toString('utf8') === s);
  return same ? [...tail] : [program, ...args].map((s) => Buffer.from(s, 'utf8'));
}

/**
 * The caller's environment, byte-exact, except the variables ssc itself
 * rewrote (XAUTHORITY pointing at the cookie's copy outside /tmp, for strict's
 * private /tmp): those entries carry the new value.
 */
export function withChanges(env: readonly Buffer[], before: ReadonlyMap<string, string>, after: ReadonlyMap<string, string>): Buffer[] {
  return env.map((entry) => {
    const eq = entry.indexOf(0x3d);
    if (eq <= 0) return entry;
    const name = entry.subarray(0, eq).toString('utf8');
    const now = after.get(name);
    return now !== undefined && now !== before.get(name) ? Buffer.from(`${name}=${now}`, 'utf8') : entry;
  });
}

export interface TerminalLaunch {
  /** In the caller's own user manager: no setuid launcher for strict's private /tmp. */
  rootless?: boolean;
  /** The program's environment (withChanges). */
  env: Buffer[];
  profile: Profile;
  execPath: string;
  program: string;
  args: string[];
  cwd: string;
  verbose: boolean;
  /** The app's name (--name), for the scope's name; the program's file name by default. */
  name?: string;
  /** Starts the user's notifier (notifier.ts), once the scope exists. */
  notifier?: () => Promise<void>;
}

export async function launchOnTerminal(
  inv: Invocation,
  t: TerminalLaunch,
  broker: (request: LaunchRequest) => Promise<{ start(): Promise<BrokerReply>; close(): void }>,
): Promise<never> {
  const helper = tabHelperPath();
  checkHelper(helper);
  // A scope takes no PrivateTmp=: the setuid launcher makes the private /tmp (and sets
  // no_new_privs). Rootless there is none to ask: say so rather than claim it.
  const withPrivateTmp = t.profile.privateTmp && !t.rootless;
  if (t.profile.privateTmp && t.rootless)
    warn(
      'warning: no private /tmp in a terminal started in your user manager (a scope takes no PrivateTmp=, and the setuid helper is not available)',
    );
  const privateTmp = withPrivateTmp ? ['--private-tmp', launcherPath()] : [];
  if (withPrivateTmp) checkHelper(launcherPath(), true);
  const unit = scopeName(t.name ?? t.execPath, randomHex(8));
  const channel = await broker({
    kind: 'scope',
    profile: t.profile.name,
    unit,
    execPath: t.execPath,
    argv: [t.program],
    cwd: t.cwd,
    environment: [],
    stdio: 'inherit',
  });
  const reply = await channel.start();
  channel.close();
  if (!reply.ok)
    throw new SscError(
      reply.kind === 'unsafe' ? EXIT.usage : EXIT.failed,
      reply.kind === 'start' ? `${reply.message}: result ${reply.result ?? 'unknown'}` : reply.message,
    );
  if (t.verbose) warn(`started ${unit}`);
  await t.notifier?.();

  useNative(bundledNative());
  verifyDropped(inv.header);
  // With a private /tmp the setuid launcher still has to run: it sets no_new_privs itself.
  if (t.profile.noNewPrivileges && !withPrivateTmp) setNoNewPrivs();
  closeStrayDescriptorsOnExec();
  try {
    execve(helper, ['ssc-tab', ...privateTmp, t.execPath, ...programArgv(inv.args, t.program, t.args)], t.env);
  } catch (e) {
    if (isSyscallError(e)) throw new SscError(EXIT.failed, `cannot start ${helper}: ${e.message}`);
    throw e;
  }
}
