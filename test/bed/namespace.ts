/**
 * The "namespace" bed: a private systemd booted as PID 1 of fresh pid, mount,
 * cgroup, UTS, IPC and network namespaces on this host, by scripts/bed/boot.sh.
 * Commands enter it with nsenter.
 *
 * Lifecycle: bootNamespaceBed() starts `boot.sh supervise` (detached, its own
 * session), reads the host PID of the bed's systemd from it, waits for
 * `systemctl is-system-running --wait`, runs install.sh inside, and returns
 * { pid, stop }. stop() asks systemd to exit (`systemctl exit 0`), falls back
 * to SIGKILL of the bed's PID 1 (which kills everything in its pid
 * namespace); the supervisor then removes the bed's cgroups and exits.
 * If this process dies, the supervisor's stdin (a pipe from us) reaches EOF
 * and it kills the bed itself.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Bed, RunOptions, RunResult } from './bed.js';
import { REPO_ROOT, commandLine, installEnvironment, spawnCollect } from './local.js';
import { TEST_USERS } from './users.js';

/** Capabilities removed from every process in the bed; same list as boot.sh. */
export const BED_DROPPED_CAPS =
  '-sys_module,-sys_rawio,-sys_time,-wake_alarm,-sys_boot,-syslog,-mac_admin,-mac_override,-sys_pacct,-sys_tty_config';

export const BOOT_SCRIPT = path.join(REPO_ROOT, 'scripts/bed/boot.sh');
/** Boot logs and the bed's journal, kept after the run for diagnosis. */
export const BED_LOG_DIR = path.join(REPO_ROOT, 'build/bed-logs');

export interface NamespaceBedInfo {
  /** Host PID of the bed's systemd (PID 1 inside). */
  pid: number;
  cgroup: 'v1' | 'v2';
  /** The bed's root cgroup directory in each host hierarchy; commands join these. */
  cgroupDirs: string[];
  /** The bed's pid namespace (readlink /proc/PID/ns/pid): nothing enters PID unless it is still the bed's. */
  pidNs: string;
}

export interface BootOptions {
  /** Install script run (as root, cwd = repository) once systemd is up; false: none. Default $SSC_BED_INSTALL or REPO/install.sh. */
  install?: string | false;
  /** Identifier of the bed (cgroup names, log file names). Default: this process's PID and a counter. */
  id?: string;
  /** 'private' (default): own network namespace with only lo; 'host': share the host's. */
  network?: 'private' | 'host';
  /** How long boot (not install) may take. Default 60 s. */
  bootTimeoutMs?: number;
  /** Progress messages (default: none). */
  log?: (msg: string) => void;
}

export interface BootedNamespaceBed extends NamespaceBedInfo {
  /** The supervisor's log file (boot.sh's stderr). */
  logFile: string;
  /** Milliseconds spent booting systemd and installing ssc. */
  timings: { bootMs: number; installMs: number };
  bed: NamespaceBed;
  /** Stop the bed and wait until it and its cgroups are gone. Idempotent. */
  stop(): Promise<void>;
  /** Synchronous last resort (signal and exit handlers): SIGKILL the bed's PID 1. */
  killNow(): void;
}

/** Why the namespace bed cannot run here, or false. */
export function namespaceBedUnavailable(): string | false {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'the namespace bed needs root (run the tests with sudo)';
  for (const tool of ['unshare', 'nsenter', 'setpriv']) {
    if (spawnSync('sh', ['-c', 'command -v "$1"', 'sh', tool]).status !== 0) return `${tool} (util-linux) is not installed`;
  }
  if (!fs.existsSync('/lib/systemd/systemd')) return 'systemd is not installed (/lib/systemd/systemd)';
  const probe = spawnSync('unshare', ['--pid', '--fork', '--mount', '--cgroup', '--uts', '--ipc', '--net', 'true'], { encoding: 'utf8' });
  if (probe.status !== 0) return `unshare cannot create namespaces here: ${(probe.stderr || probe.error?.message || '').trim()}`;
  return false;
}

export function testUsersSpec(): string {
  return Object.values(TEST_USERS)
    .map((u) => [u.name, u.uid, u.gid, u.home, ...u.extraGroups.map((g) => `${g.name}:${g.gid}`)].join(' '))
    .join('\n');
}

let counter = 0;

export async function bootNamespaceBed(opts: BootOptions = {}): Promise<BootedNamespaceBed> {
  const log = opts.log ?? (() => {});
  const id = opts.id ?? `${process.pid}-${++counter}`;
  const install = opts.install ?? process.env.SSC_BED_INSTALL ?? path.join(REPO_ROOT, 'install.sh');
  fs.mkdirSync(BED_LOG_DIR, { recursive: true });
  pruneLogs();
  const logFile = path.join(BED_LOG_DIR, `${id}.log`);
  const logFd = fs.openSync(logFile, 'w');
  const started = Date.now();

  let child: ChildProcess;
  try {
    child = spawn(BOOT_SCRIPT, ['supervise'], {
      detached: true, // own session: a Ctrl-C on the terminal is ours to handle, not the bed's
      stdio: ['pipe', 'pipe', logFd],
      env: {
        PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
        LANG: 'C.UTF-8',
        SSC_BED_ID: id,
        SSC_BED_REPO: REPO_ROOT,
        SSC_BED_INSTALL: install === false ? 'none' : install,
        SSC_BED_USERS: testUsersSpec(),
        SSC_BED_NET: opts.network ?? 'private',
      },
    });
  } finally {
    fs.closeSync(logFd);
  }
  const sup = new Supervisor(child, logFile);
  let pid = 0;
  let pidNs = '';
  const killNow = () => {
    if (pid > 0 && !sup.exited && isBed({ pid, pidNs })) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    sup.closeStdin();
  };

  try {
    const ready = await sup.waitForPid(opts.bootTimeoutMs ?? 60_000);
    pid = ready.pid;
    pidNs = fs.readlinkSync(`/proc/${pid}/ns/pid`);
    log(`bed ${id}: systemd is host PID ${pid}`);
    const target = { pid, pidNs, cgroupDirs: ready.cgroupDirs };
    const cgroup: 'v1' | 'v2' =
      (await enterRaw(target, ['stat', '-fc', '%T', '/sys/fs/cgroup'])).stdout.trim() === 'cgroup2fs' ? 'v2' : 'v1';
    const bed = new NamespaceBed(pid, { cgroup, cgroupDirs: ready.cgroupDirs, pidNs });
    await waitUntilRunning(bed, sup, started + (opts.bootTimeoutMs ?? 60_000), log);
    const bootMs = Date.now() - started;

    const installStart = Date.now();
    if (install !== false && install !== 'none') {
      const r = await bed.run([install], { cwd: REPO_ROOT, env: installEnvironment(), timeoutMs: 10 * 60_000 });
      if (r.code !== 0) {
        const hint = /read-only file system/i.test(r.stderr + r.stdout)
          ? '\n(the repository is read-only inside the bed: build on the host first, e.g. npm ci or npm run build)'
          : '';
        throw new Error(`${install} failed inside the bed (${r.code ?? r.signal}):\n${r.stdout}${r.stderr}${hint}`);
      }
      log(`bed ${id}: ${r.stdout.trim().split('\n').pop() ?? 'installed'}`);
    }
    const installMs = Date.now() - installStart;

    let stopping: Promise<void> | undefined;
    const stop = () => (stopping ??= stopBed(bed, sup, id, killNow, log));
    return { pid, pidNs, cgroup, cgroupDirs: ready.cgroupDirs, logFile, timings: { bootMs, installMs }, bed, stop, killNow };
  } catch (e) {
    const journal = pid > 0 && pidNs && !sup.exited ? await saveJournal({ pid, pidNs, cgroupDirs: sup.cgroupDirs }, id) : '';
    killNow();
    await sup.waitForExit(15_000);
    const tail = readTail(logFile);
    const msg = e instanceof Error ? e.message : String(e);
    throw new Error(
      `the namespace test bed did not come up: ${msg}` +
        (tail ? `\n--- ${logFile} ---\n${tail}` : '') +
        (journal ? `\n--- the bed's journal: ${journal} ---\n${readTail(journal, 60)}` : ''),
    );
  }
}

async function waitUntilRunning(bed: NamespaceBed, sup: Supervisor, deadline: number, log: (m: string) => void): Promise<void> {
  for (;;) {
    if (sup.exited) throw new Error(`the bed exited during boot (${sup.exitStatus})`);
    const left = deadline - Date.now();
    if (left <= 0) throw new Error('systemd did not finish booting in time');
    const r = await bed.run(['systemctl', 'is-system-running', '--wait'], { timeoutMs: left });
    const state = r.stdout.trim();
    if (state === 'running') return;
    if (state === 'degraded') {
      const failed = await bed.run(['systemctl', '--failed', '--no-legend', '--plain']);
      log(`bed: systemd is degraded; failed units:\n${failed.stdout}`);
      return;
    }
    if (state === 'maintenance' || state === 'stopping') throw new Error(`systemd is ${state}`);
    // not yet listening (offline / cannot connect): try again shortly
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stopBed(bed: NamespaceBed, sup: Supervisor, id: string, killNow: () => void, log: (m: string) => void): Promise<void> {
  const phases: string[] = [];
  let t = Date.now();
  const phase = (name: string) => {
    phases.push(`${name} ${Date.now() - t} ms`);
    t = Date.now();
  };
  if (!sup.exited) {
    await saveJournal(bed, id);
    phase('journal');
    // Clean shutdown: stops user managers and units, then systemd exits.
    const r = await bed.run(['systemctl', 'exit', '0'], { timeoutMs: 10_000 }).catch((e: unknown) => String(e));
    phase(`systemctl exit (${typeof r === 'string' ? r : (r.code ?? r.signal)})`);
    if (!(await sup.waitForExit(20_000))) {
      phase('waited for a clean exit');
      killNow();
      if (!(await sup.waitForExit(20_000))) {
        sup.terminate();
        await sup.waitForExit(10_000);
      }
    }
    phase('bed and cgroups gone');
  }
  const total = phases.reduce((n, p) => n + Number(/(\d+) ms$/.exec(p)?.[1] ?? 0), 0);
  if (total > 3000) log(`bed ${id}: slow stop: ${phases.join(', ')}`);
  sup.closeStdin();
  if (!sup.exited) throw new Error(`the bed's supervisor (PID ${sup.child.pid}) did not exit; see ${sup.logFile}`);
  if (sup.exitStatus !== 0) {
    // The bed ended on its own or was killed; say so, but a stopped bed is a stopped bed.
    console.warn(`bed ${id}: supervisor ended with ${sup.exitStatus}; see ${sup.logFile}`);
  }
  const left = sup.cgroupDirs.filter((d) => fs.existsSync(d));
  if (left.length > 0) throw new Error(`the bed's cgroups were not removed: ${left.join(' ')}`);
}

async function saveJournal(target: BedTarget, id: string): Promise<string> {
  const file = path.join(BED_LOG_DIR, `${id}.journal.txt`);
  try {
    const r = await enterRaw(target, ['journalctl', '-b', '--no-pager', '-o', 'short-monotonic'], 10_000);
    fs.writeFileSync(file, r.stdout + r.stderr);
    return file;
  } catch {
    return '';
  }
}

function readTail(file: string, lines = 40): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** Keep the newest few bed logs. */
function pruneLogs(keep = 24): void {
  try {
    const files = fs
      .readdirSync(BED_LOG_DIR)
      .map((f) => path.join(BED_LOG_DIR, f))
      .map((f) => ({ f, t: fs.statSync(f).mtimeMs }))
      .sort((a, b) => b.t - a.t);
    for (const { f } of files.slice(keep)) fs.rmSync(f, { force: true });
  } catch {
    /* best effort */
  }
}

/** boot.sh supervise, seen from here: its stdout protocol, exit, and stdin (the watchdog pipe). */
class Supervisor {
  exited = false;
  exitStatus: number | string | null = null;
  cgroupDirs: string[] = [];
  private lines: string[] = [];
  private waiters = new Set<() => void>();

  constructor(
    readonly child: ChildProcess,
    readonly logFile: string,
  ) {
    let buf = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (s: string) => {
      buf += s;
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        this.lines.push(line);
        if (line.startsWith('SSC_BED_CGROUPS=')) this.cgroupDirs = line.slice('SSC_BED_CGROUPS='.length).split(':').filter(Boolean);
        this.wake();
      }
    });
    child.stdin?.on('error', () => {});
    child.on('exit', (code, signal) => {
      this.exited = true;
      this.exitStatus = code ?? signal;
      this.wake();
    });
    child.on('error', () => {
      this.exited = true;
      this.exitStatus = 'spawn error';
      this.wake();
    });
    // Neither the child nor its pipes may keep this process alive: the
    // watchdog takes over if we exit without stopping the bed.
    child.unref();
    for (const s of [child.stdout, child.stdin]) (s as unknown as { unref?: () => void } | null)?.unref?.();
  }

  private wake(): void {
    for (const w of this.waiters) w();
  }

  private until(cond: () => boolean, ms: number): Promise<boolean> {
    if (cond()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (v: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(v);
      };
      const check = () => cond() && done(true);
      const timer = setTimeout(() => done(cond()), ms);
      this.waiters.add(check);
    });
  }

  async waitForPid(ms: number): Promise<{ pid: number; cgroupDirs: string[] }> {
    const find = () => this.lines.find((l) => l.startsWith('SSC_BED_PID='));
    await this.until(() => !!find() || this.exited, ms);
    const line = find();
    if (!line)
      throw new Error(this.exited ? `boot.sh exited (${this.exitStatus}) before systemd started` : 'systemd did not start in time');
    return { pid: Number(line.slice('SSC_BED_PID='.length)), cgroupDirs: this.cgroupDirs };
  }

  waitForExit(ms: number): Promise<boolean> {
    return this.until(() => this.exited, ms);
  }

  closeStdin(): void {
    this.child.stdin?.destroy();
  }

  terminate(): void {
    if (!this.exited && this.child.pid) {
      try {
        process.kill(this.child.pid, 'SIGTERM');
      } catch {
        /* gone */
      }
    }
  }
}

type BedTarget = Pick<NamespaceBedInfo, 'pid' | 'pidNs' | 'cgroupDirs'>;

/** Is PID still the bed's PID 1 (and not a reused PID of the host)? */
function isBed(t: Pick<BedTarget, 'pid' | 'pidNs'>): boolean {
  try {
    return fs.readlinkSync(`/proc/${t.pid}/ns/pid`) === t.pidNs;
  } catch {
    return false;
  }
}

/**
 * Command line that runs argv inside the bed: a host-side sh checks that PID
 * still is the bed's PID 1 (its pid namespace is the recorded one, so a
 * reused PID can never make a command run on the host), moves itself into
 * the bed's root cgroup (so inside, /proc/self/cgroup reads "/" rather than a
 * path outside the bed), then execs nsenter into every namespace of that
 * PID. No string is ever part of a shell script: all are positional arguments.
 */
function enterArgv(t: BedTarget, inner: string[]): string[] {
  const script = [
    'pid=$1; ns=$2; n=$3; shift 3',
    'if [ "$(readlink "/proc/$pid/ns/pid")" != "$ns" ]; then echo "bed: the namespace bed (PID $pid) is gone" >&2; exit 125; fi',
    'while [ "$n" -gt 0 ]; do echo $$ >"$1/cgroup.procs" || exit 125; shift; n=$((n - 1)); done',
    'exec nsenter -t "$pid" -m -p -C -u -i -n -- "$@"',
  ].join('\n');
  return ['sh', '-c', script, 'sh', String(t.pid), t.pidNs, String(t.cgroupDirs.length), ...t.cgroupDirs, ...inner];
}

function enterRaw(t: BedTarget, argv: string[], timeoutMs = 30_000): Promise<RunResult> {
  return spawnCollect(enterArgv(t, argv), { timeoutMs }, true);
}

export class NamespaceBed implements Bed {
  readonly kind = 'namespace' as const;
  readonly cgroup: 'v1' | 'v2';
  readonly cgroupDirs: string[];
  readonly pidNs: string;

  constructor(
    readonly pid: number,
    info: { cgroup: 'v1' | 'v2'; cgroupDirs: string[]; pidNs: string },
  ) {
    this.cgroup = info.cgroup;
    this.cgroupDirs = info.cgroupDirs;
    this.pidNs = info.pidNs;
    if (info.pidNs === fs.readlinkSync('/proc/self/ns/pid')) throw new Error(`PID ${pid} is in this process's pid namespace: not a bed`);
  }

  run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
    return spawnCollect(enterArgv(this, commandLine(argv, opts, BED_DROPPED_CAPS)), opts, true);
  }

  sh(script: string, opts: RunOptions = {}): Promise<RunResult> {
    return this.run(['sh', '-c', script], opts);
  }
}
