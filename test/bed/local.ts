/**
 * The "local" bed: the tests themselves run inside a machine whose PID 1 is
 * systemd (the cgroup v2 VM, SSC_BED=local), so commands run directly.
 *
 * Also home of what both beds share: how a command line is built for a test
 * user (setpriv + env -i, no shell) and how it is run (own process group,
 * timeout, never throws for a non-zero exit).
 */
import { spawn, execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Bed, RunOptions, RunResult } from './bed.js';
import { TEST_USERS } from './users.js';

const execFileP = promisify(execFile);

/** The repository checkout: the nearest directory above this module with scripts/bed/boot.sh (also when bundled into build/). */
export const REPO_ROOT = findRepoRoot(path.dirname(fileURLToPath(import.meta.url)));

function findRepoRoot(from: string): string {
  for (let d = from; ; d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, 'scripts/bed/boot.sh')) && fs.existsSync(path.join(d, 'package.json'))) return d;
    if (d === path.dirname(d)) return path.resolve(from, '../..');
  }
}

/**
 * The environment REPO_ROOT/install.sh runs in, as root: empty for a root-owned
 * checkout (CI), and SUDO_UID of its owner for a user's clone (tests run with
 * sudo from it), as sudo sets it: install.sh then accepts the tree that user
 * may write and builds as them. It believes SUDO_UID only from root.
 */
export function installEnvironment(): Record<string, string> {
  const uid = fs.statSync(path.join(REPO_ROOT, 'install.sh')).uid;
  return uid === 0 ? {} : { SUDO_UID: String(uid) };
}

export const DEFAULT_TIMEOUT_MS = 60_000;
const ROOT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const USER_PATH = '/usr/local/bin:/usr/bin:/bin';

/** cgroup layout of the machine this process runs on. */
export function localCgroupVersion(): 'v1' | 'v2' {
  const CGROUP2_SUPER_MAGIC = 0x63677270;
  return fs.statfsSync('/sys/fs/cgroup').type === CGROUP2_SUPER_MAGIC ? 'v2' : 'v1';
}

/** The login-like base environment of root or a test user. */
export function baseEnvironment(user: RunOptions['user']): [string, string][] {
  const u = user ? TEST_USERS[user] : undefined;
  const name = u ? u.name : 'root';
  return [
    ['HOME', u ? u.home : '/root'],
    ['USER', name],
    ['LOGNAME', name],
    ['SHELL', '/bin/bash'],
    ['PATH', u ? USER_PATH : ROOT_PATH],
    ['LANG', 'C.UTF-8'],
  ];
}

function checkNoNul(what: string, s: string): void {
  if (s.includes('\0')) throw new Error(`${what} contains a NUL byte: ${JSON.stringify(s)}`);
}

/**
 * argv that runs `argv` as opts.user (root when absent) with exactly the
 * requested environment and working directory, without a shell:
 *   [setpriv [--bounding-set=…] [--reuid --regid --init-groups] --] env -i -C CWD -- K=V… argv…
 * setpriv does not set no_new_privs, so a setuid program (ssc) works.
 */
export function commandLine(argv: string[], opts: RunOptions = {}, boundingSet?: string): string[] {
  if (argv.length === 0) throw new Error('run: empty argv');
  const first = argv[0] as string;
  // env(1) would take a first word with '=' for an assignment.
  if (first.includes('=')) throw new Error(`run: the program name may not contain '=': ${first}`);
  for (const a of argv) checkNoNul('argument', a);

  const user = opts.user ? TEST_USERS[opts.user] : undefined;
  if (opts.user && !user) throw new Error(`run: unknown test user ${opts.user}`);
  const env = new Map<string, string>(opts.cleanEnv ? [] : baseEnvironment(opts.user));
  // Object.entries keeps own keys such as "__proto__"; a Map never touches prototypes.
  for (const [k, v] of Object.entries(opts.env ?? {})) {
    if (k === '' || k.includes('=')) throw new Error(`run: invalid environment variable name ${JSON.stringify(k)}`);
    checkNoNul('environment variable', k);
    checkNoNul(`value of ${k}`, v);
    env.set(k, v);
  }
  const cwd = opts.cwd ?? (user ? user.home : '/');
  checkNoNul('cwd', cwd);

  const cmd: string[] = [];
  if (boundingSet || user) {
    cmd.push('setpriv');
    if (boundingSet) cmd.push(`--bounding-set=${boundingSet}`);
    if (user) cmd.push(`--reuid=${user.uid}`, `--regid=${user.gid}`, '--init-groups');
    cmd.push('--');
  }
  cmd.push('env', '-i', '-C', cwd, '--');
  for (const [k, v] of env) cmd.push(`${k}=${v}`);
  cmd.push(...argv);
  return cmd;
}

/**
 * Run a prepared command line on this machine. The child gets its own process
 * group, killed on timeout (nsenter's child inside a pid namespace is in that
 * group too). umask 022 like a login.
 *
 * leaderLast: on timeout kill the group's other members first and the leader
 * (nsenter) only if it does not exit by itself. nsenter then reaps its child,
 * as it must: a process of the bed whose parent outside the bed died would
 * be left to the host's init to reap, and a pid namespace cannot end (its
 * systemd cannot exit) until every one of its processes has been reaped.
 */
export function spawnCollect(cmd: string[], opts: RunOptions = {}, leaderLast = false): Promise<RunResult> {
  const [file, ...args] = cmd as [string, ...string[]];
  return new Promise((resolve, reject) => {
    const old = process.umask(0o022);
    let child;
    try {
      child = spawn(file, args, {
        stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
        detached: true,
        env: { PATH: ROOT_PATH, LANG: 'C.UTF-8' },
      });
    } finally {
      process.umask(old);
    }
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    if (opts.input !== undefined && child.stdin) {
      child.stdin.on('error', () => {}); // the command may not read its input
      child.stdin.end(opts.input);
    }
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (!leaderLast) return killGroup(child.pid);
      killGroupMembers(child.pid);
      setTimeout(() => killGroup(child.pid), 2000).unref();
    }, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stderr = Buffer.concat(err).toString('utf8');
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: timedOut ? `${stderr}[bed: killed after ${opts.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms]\n` : stderr,
      });
    });
  });
}

/** SIGKILL every process of process group PGID except its leader. */
function killGroupMembers(pgid: number | undefined): void {
  if (pgid === undefined) return;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === pgid) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // pid (comm) state ppid pgrp …: comm may contain anything, so split after its last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) !== pgid) continue;
    try {
      process.kill(Number(entry), 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

export class LocalBed implements Bed {
  readonly kind = 'local' as const;
  readonly cgroup: 'v1' | 'v2';

  constructor(cgroup: 'v1' | 'v2' = localCgroupVersion()) {
    this.cgroup = cgroup;
  }

  run(argv: string[], opts: RunOptions = {}): Promise<RunResult> {
    return spawnCollect(commandLine(argv, opts), opts);
  }

  sh(script: string, opts: RunOptions = {}): Promise<RunResult> {
    return this.run(['sh', '-c', script], opts);
  }
}

async function exists(cmd: string, ...args: string[]): Promise<boolean> {
  try {
    await execFileP(cmd, args);
    return true;
  } catch {
    return false;
  }
}

/**
 * Make this machine a bed: the test users and groups (created when missing,
 * checked when present) and ssc installed by the repository's install.sh.
 */
export async function prepareLocalBed(opts: { install?: string | false } = {}): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('SSC_BED=local: the tests must run as root');
  const groups = new Map<string, number>();
  for (const u of Object.values(TEST_USERS)) {
    groups.set(u.name, u.gid);
    for (const g of u.extraGroups) groups.set(g.name, g.gid);
  }
  for (const [name, gid] of groups) {
    if (!(await exists('getent', 'group', name))) await execFileP('groupadd', ['-g', String(gid), name]);
    const line = (await execFileP('getent', ['group', name])).stdout.trim();
    if (line.split(':')[2] !== String(gid)) throw new Error(`group ${name} exists with another gid: ${line}`);
  }
  for (const u of Object.values(TEST_USERS)) {
    if (!(await exists('getent', 'passwd', u.name))) {
      await execFileP('useradd', [
        '-m',
        '-u',
        String(u.uid),
        '-g',
        String(u.gid),
        '-G',
        u.extraGroups.map((g) => g.name).join(','),
        '-d',
        u.home,
        '-s',
        '/bin/bash',
        '-c',
        'ssc test user',
        u.name,
      ]);
    }
    const line = (await execFileP('getent', ['passwd', u.name])).stdout.trim();
    const f = line.split(':');
    if (f[2] !== String(u.uid) || f[3] !== String(u.gid) || f[5] !== u.home) {
      throw new Error(`user ${u.name} exists with other ids or home: ${line}`);
    }
    fs.chmodSync(u.home, 0o700);
  }
  const install = opts.install ?? process.env.SSC_BED_INSTALL ?? path.join(REPO_ROOT, 'install.sh');
  if (install === false || install === 'none') return;
  if (!fs.existsSync(install))
    throw new Error(`install script ${install} does not exist: the bed installs ssc with the project's install.sh`);
  const r = await new LocalBed().run([install], { cwd: REPO_ROOT, env: installEnvironment(), timeoutMs: 10 * 60_000 });
  if (r.code !== 0) throw new Error(`${install} failed (${r.code ?? r.signal}):\n${r.stdout}${r.stderr}`);
}
