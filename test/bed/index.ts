/**
 * What integration test files use:
 *
 *   const skip = bedSkipReason();
 *   describe.skipIf(skip)(`… ${skip ? `(skipped: ${skip})` : ''}`, () => {
 *     let bed: Bed;
 *     beforeAll(() => { bed = getBed(); });
 *     …
 *   });
 *
 * The bed itself is started once per run by global-setup.ts.
 */
import { inject } from 'vitest';
import type { Bed, TestUserName } from './bed.js';
import type { ProvidedBed } from './global-setup.js';
import { LocalBed } from './local.js';
import { NamespaceBed } from './namespace.js';
import type { TestUser } from './users.js';

function provided(): ProvidedBed {
  const p = inject('bed') as ProvidedBed | undefined;
  return p ?? { kind: 'none', reason: "no bed was provided (run the 'integration' project, whose globalSetup boots it)" };
}

let cached: Bed | undefined;

/** The bed of this run. Throws when there is none: guard with bedSkipReason(). */
export function getBed(): Bed {
  if (cached) return cached;
  const p = provided();
  switch (p.kind) {
    case 'namespace':
      return (cached = new NamespaceBed(p.pid, { cgroup: p.cgroup, cgroupDirs: p.cgroupDirs, pidNs: p.pidNs }));
    case 'local':
      return (cached = new LocalBed(p.cgroup));
    case 'none':
      throw new Error(`no test bed: ${p.reason}`);
  }
}

/** Why the integration tests cannot run (a sentence for the skipped suite's name), or false. */
export function bedSkipReason(): string | false {
  const p = provided();
  return p.kind === 'none' ? p.reason : false;
}

/** cgroup layout of the bed's systemd, or null without a bed. */
export function bedCgroup(): 'v1' | 'v2' | null {
  const p = provided();
  return p.kind === 'none' ? null : p.cgroup;
}

/** Kind of the bed ('namespace' | 'local'), or null without one. */
export function bedKind(): 'namespace' | 'local' | null {
  const p = provided();
  return p.kind === 'none' ? null : p.kind;
}

/**
 * `systemctl show -p A -p B … UNIT` as a record. Every requested property is
 * present (empty string when systemctl printed nothing for it). Throws when
 * systemctl fails.
 */
export async function systemctlShow(bed: Bed, unit: string, props: string[]): Promise<Record<string, string>> {
  const r = await bed.run(['systemctl', 'show', ...props.flatMap((p) => ['-p', p]), '--', unit]);
  if (r.code !== 0) throw new Error(`systemctl show ${unit} failed (${r.code ?? r.signal}): ${r.stderr}`);
  const out: Record<string, string> = {};
  for (const p of props) out[p] = '';
  for (const line of r.stdout.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/** Every unit ssc started in the bed (loaded, active or not), sorted. */
export async function sscUnits(bed: Bed): Promise<string[]> {
  const r = await bed.run(['systemctl', 'list-units', '--all', '--no-legend', '--plain', 'app-ssc-*']);
  return r.stdout
    .split('\n')
    .map((l) => l.split(/\s+/)[0] ?? '')
    .filter((u) => u.startsWith('app-ssc-'))
    .sort();
}

/**
 * Start `user`'s manager (user@UID.service) and wait until it is up. logind
 * stops a user's manager UserStopDelaySec (10 s) after their last session
 * ended; a test that starts it by hand inside that window has it stopped under
 * its feet (seen in CI after the session tests). So first wait, bounded, until
 * logind has let go of a closing user.
 */
export async function startUserManager(bed: Bed, user: TestUser): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const s = await bed.run(['loginctl', 'show-user', '--property=State', '--value', String(user.uid)]);
    if (s.code !== 0 || s.stdout.trim() !== 'closing') break;
    if (Date.now() > deadline) throw new Error(`logind still closing user ${user.name} after 30 s`);
    await new Promise((r) => setTimeout(r, 250));
  }
  const start = await bed.run(['systemctl', 'start', `user@${user.uid}.service`]);
  if (start.code !== 0) throw new Error(`systemctl start user@${user.uid}.service: ${start.code} ${start.stderr}`);
  const r = await bed.run(['systemctl', '--user', 'is-system-running', '--wait'], {
    user: user.name,
    env: { XDG_RUNTIME_DIR: `/run/user/${user.uid}`, DBUS_SESSION_BUS_ADDRESS: `unix:path=/run/user/${user.uid}/bus` },
  });
  if (!['running\n', 'degraded\n'].includes(r.stdout)) {
    throw new Error(`${user.name}'s manager is not up: is-system-running said ${JSON.stringify(r.stdout)}, ${r.stderr}`);
  }
}

/**
 * Connections the broker's socket holds now (accepted or waiting in its
 * backlog), from /proc/net/unix, where a listening socket's connections show
 * its path: St 03 accepted, 02 not yet accepted. Throws when the listening
 * socket itself is not listed, so that a count of 0 always means something
 * (the VMs have no `ss`).
 */
export async function brokerConnections(bed: Bed): Promise<number> {
  const r = await bed.run(['cat', '/proc/net/unix']);
  const rows = r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[7] === '/run/ssc-broker.sock');
  if (!rows.some((f) => f[5] === '01')) throw new Error('the broker socket is not listening (not in /proc/net/unix)');
  return rows.filter((f) => f[5] === '02' || f[5] === '03').length;
}

/**
 * The V8 flags the installed entry's node runs with: none for the front end, the broker unit's
 * ExecStart= ones for the broker. V8 takes a code cache only under the flags it was made with.
 */
export async function entryNodeFlags(bed: Bed, entry: 'ssc' | 'broker'): Promise<string[]> {
  if (entry === 'ssc') return [];
  const unit = (await bed.run(['cat', '/usr/local/lib/systemd/system/ssc-broker.service'])).stdout;
  const execStart = /^ExecStart=\S+ (.*) \/usr\/local\/lib\/ssc\/broker\.js$/m.exec(unit);
  if (!execStart) throw new Error('the installed ssc-broker.service has no ExecStart= with node flags');
  return execStart[1]!.split(' ');
}

/** The broker service's main PID (0 when it is not running). */
export async function brokerPid(bed: Bed): Promise<number> {
  return Number((await bed.run(['systemctl', 'show', '-P', 'MainPID', 'ssc-broker.service'])).stdout.trim());
}

/** The unique names on the system bus that process `pid` holds (busctl list shows every connection's PID to anyone). */
export async function busNamesOf(bed: Bed, pid: number, user?: TestUserName): Promise<string[]> {
  const list = (await bed.run(['busctl', 'list', '--no-legend', '--unique'], user ? { user } : {})).stdout;
  return list
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => pid > 0 && Number(f[1]) === pid)
    .map((f) => f[0] as string);
}
