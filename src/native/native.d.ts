/**
 * The surface of ssc_native.node (native/addon/credentials.cc and peer.cc), typed once.
 *
 * Obtain it with loadNative() from ./loader.js; prefer the wrappers in ./index.js, which
 * validate arguments in TypeScript before anything crosses into C++ (the addon checks them
 * again and throws a TypeError).
 *
 * A failing system call throws a NativeSyscallError: message "<syscall>: <strerror>" (with the
 * detail in parentheses where useful, e.g. "fcntl(F_GET_SEALS): Invalid argument").
 */

/** Process credentials as the kernel reports them (getresuid, getresgid, getgroups, prctl). */
export interface Credentials {
  ruid: number;
  euid: number;
  suid: number;
  rgid: number;
  egid: number;
  sgid: number;
  /** Supplementary groups, sorted ascending. */
  groups: number[];
  /** PR_GET_DUMPABLE != 0 */
  dumpable: boolean;
  /** PR_GET_NO_NEW_PRIVS != 0 */
  noNewPrivs: boolean;
}

/** One passwd entry (getpwuid_r). */
export interface UserEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
  shell: string;
}

/** The error thrown when a system call fails. */
export interface NativeSyscallError extends Error {
  /** The errno name, e.g. 'EPERM', 'ENOENT'. */
  code: string;
  /** The errno value (positive, as in C; Node's own fs errors use the negative). */
  errno: number;
  /** The system call or library function, e.g. 'setresuid', 'fcntl', 'execve'. */
  syscall: string;
}

/** An argument, environment entry or path for execve: a string (encoded as UTF-8) or exact bytes. */
export type ExecArg = string | Uint8Array;

export interface Native {
  getCredentials(): Credentials;
  /** null when the user database has no entry for uid. */
  lookupUser(uid: number): UserEntry | null;
  /** getgrouplist(name, gid): the user's groups from the database, gid included. */
  groupList(name: string, gid: number): number[];
  setCloexec(fd: number): void;
  /** fcntl(F_GET_SEALS): a mask of F_SEAL_* (see SEAL in ./index.js). EINVAL on a non-memfd. */
  getSeals(fd: number): number;
  /** getsockopt(SO_PEERCRED): the connecting process and its ids when it connected. */
  peerCredentials(fd: number): { pid: number; uid: number; gid: number };
  /**
   * One recvmsg (MSG_DONTWAIT, MSG_CMSG_CLOEXEC) of up to 64 bytes and 16 descriptors: null
   * when nothing has arrived yet; empty data when the peer closed. Throws (having closed them)
   * when descriptors came with truncated control data.
   */
  receiveWithFds(fd: number): { data: Buffer; fds: number[] } | null;
  /** Whether the process behind a pidfd has exited (poll readable). */
  pidfdExited(pidfd: number): boolean;
  /**
   * Close the descriptors on a detached thread: a caller's file (on their own FUSE mount) can
   * make close() wait for ever, uninterruptibly, and the event loop must not.
   */
  closeInBackground(fds: readonly number[]): void;
  /** PR_SET_DUMPABLE, read back; a mismatch throws 'ERR_SSC_CREDENTIALS_MISMATCH'. */
  setDumpable(dumpable: boolean): void;
  /** PR_SET_NO_NEW_PRIVS 1 (irreversible), read back; a mismatch throws 'ERR_SSC_CREDENTIALS_MISMATCH'. */
  setNoNewPrivs(): void;
  /**
   * Replaces the process. First the calling thread's signal mask is emptied, every signal
   * disposition is reset to SIG_DFL, and O_NONBLOCK and FD_CLOEXEC are cleared on fds 0-2
   * (Node marks every fd close-on-exec at start-up); every other fd keeps its FD_CLOEXEC. If
   * execve fails all of that is restored and the errno is thrown (ENOENT, EACCES, ENOEXEC ...).
   */
  execve(path: ExecArg, argv: readonly ExecArg[], env: readonly ExecArg[]): never;
}
