/**
 * The one interface every integration test talks to: a machine with a real
 * systemd as PID 1 and ssc installed by its own install.sh.
 *
 * Two implementations:
 *  - namespace: a private systemd booted as PID 1 of fresh pid/mount/cgroup
 *    namespaces on this host (cgroup v1/hybrid here); commands enter it with nsenter.
 *  - local: the tests themselves run inside the cgroup v2 VM, whose PID 1 is
 *    systemd; commands run directly.
 */
export interface RunOptions {
  /** Run as this test user (see users.ts); root when absent. */
  user?: TestUserName;
  /** Extra environment; the base is a clean login-like environment for the user. */
  env?: Record<string, string>;
  /** Replace the base environment entirely instead of extending it. */
  cleanEnv?: boolean;
  /** Bytes for the command's stdin; stdin is /dev/null when absent. */
  input?: string | Buffer;
  /** Working directory inside the bed (default: the user's home, / for root). */
  cwd?: string;
  /** Kill the command after this many milliseconds (default 60 000). */
  timeoutMs?: number;
}

export interface RunResult {
  /** Exit status, or null when killed by a signal. */
  code: number | null;
  /** Signal name when killed by one, else null. */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Bed {
  readonly kind: 'namespace' | 'local';
  /** cgroup layout of the bed's systemd: 'v1' (hybrid/legacy) or 'v2' (unified). */
  readonly cgroup: 'v1' | 'v2';
  /** Run argv (no shell) inside the bed. Never throws for a non-zero exit. */
  run(argv: string[], opts?: RunOptions): Promise<RunResult>;
  /** Convenience: run `sh -c script` inside the bed. */
  sh(script: string, opts?: RunOptions): Promise<RunResult>;
}

export type TestUserName = 'sscalice' | 'sscbob';
