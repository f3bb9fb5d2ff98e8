/**
 * Who is at the other end of a broker connection, established before a byte of
 * the caller's is read.
 *
 * The socket is root-only, so the peer connected as root: the setuid launcher
 * before its drop (or root itself). Its first message carries, as SCM_RIGHTS,
 * the sealed hand-off memfd, a pidfd of the launcher and the launcher's stdin,
 * stdout and stderr; descriptors sent later are never accepted (the socket is
 * read through libuv from then on, and the kernel closes descriptors a plain
 * read leaves behind). The caller's ids come only from the memfd's header,
 * which the launcher wrote from what the kernel said; the broker checks them
 * against the real uid and gid of the pidfd's process while that pidfd shows
 * it alive, so a PID reused by another process cannot stand in.
 */
import { closeSync, readFileSync, readlinkSync } from 'node:fs';
import type { Socket } from 'node:net';
import { decodeHeader, readHandoffFd, type LauncherHeader } from '../handoff.js';
import type { Native } from '../native/native.js';

/** What the launcher's first message holds: 4 bytes and 5 descriptors, in this order. */
export const HELLO = 'SSC1';
const HELLO_FDS = 5;
/** F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE, as the launcher seals the memfd. */
const HANDOFF_SEALS = 0x1 | 0x2 | 0x4 | 0x8;

export class PeerRefused extends Error {}
/** The peer closed before its hello: nothing to report (a launcher killed at once, a flood). */
export class PeerGone extends PeerRefused {}

/** A launcher whose identity was checked; close() releases every descriptor it sent. */
export interface Launcher {
  header: LauncherHeader;
  pidfd: number;
  /** The launcher's stdin, stdout and stderr: the program's for --wait, never read or written here. */
  stdio: readonly [number, number, number];
  close(): void;
}

/** The fd of a socket libuv holds (Node has no public accessor). */
export function socketFd(sock: Socket): number {
  const fd = (sock as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new PeerRefused('the connection has no descriptor');
  return fd;
}

/** The real uid and gid of a process, from /proc: null when it is gone. */
export function realIds(pid: number): { uid: number; gid: number } | null {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'latin1');
  } catch {
    return null;
  }
  const uid = /^Uid:\s+(\d+)/m.exec(status)?.[1];
  const gid = /^Gid:\s+(\d+)/m.exec(status)?.[1];
  if (uid === undefined || gid === undefined) return null;
  return { uid: Number(uid), gid: Number(gid) };
}

/** The PID a pidfd refers to (its fdinfo), or null. */
function pidOfPidfd(fd: number): number | null {
  try {
    if (readlinkSync(`/proc/self/fd/${fd}`) !== 'anon_inode:[pidfd]') return null;
    const pid = /^Pid:\s+(-?\d+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'latin1'))?.[1];
    return pid === undefined ? null : Number(pid);
  } catch {
    return null;
  }
}

/** Caller-sent descriptors are closed off the event loop (Native.closeInBackground says why). */
function closeAll(native: Native, fds: readonly number[]): void {
  try {
    native.closeInBackground(fds);
  } catch {
    for (const fd of fds)
      try {
        closeSync(fd);
      } catch {
        /* already closed */
      }
  }
}

/**
 * Wait for the launcher's first message without blocking the event loop (the
 * connection is paused: libuv does not read it meanwhile), then check who sent
 * it. Refuses (and closes whatever came) on anything unexpected or after `ms`.
 */
export async function acceptLauncher(native: Native, sock: Socket, peerPid: number, ms: number): Promise<Launcher> {
  const fd = socketFd(sock);
  const until = Date.now() + ms;
  let message: { data: Buffer; fds: number[] } | null = null;
  // The launcher sends right after connecting: the first tries almost always find it.
  for (let wait = 1; message === null; wait = Math.min(wait * 2, 50)) {
    message = native.receiveWithFds(fd);
    if (message !== null) break;
    if (Date.now() >= until) throw new PeerRefused('the launcher sent nothing in time');
    await new Promise((r) => setTimeout(r, wait));
  }
  const fds = message.fds;
  try {
    if (message.data.length === 0) throw new PeerGone('closed before its hello');
    if (message.data.toString('latin1') !== HELLO || fds.length !== HELLO_FDS) throw new PeerRefused('not a launcher hello');
    const [memfd, pidfd, stdin, stdout, stderr] = fds as [number, number, number, number, number];
    if ((native.getSeals(memfd) & HANDOFF_SEALS) !== HANDOFF_SEALS) throw new PeerRefused('the hand-off is not sealed');
    const raw = readHandoffFd(memfd);
    if (raw === null) throw new PeerRefused('no hand-off memfd');
    const { header } = decodeHeader(raw);
    if (!header.privileged) throw new PeerRefused('the hand-off is not from a privileged launcher');
    if (pidOfPidfd(pidfd) !== peerPid || header.pid !== peerPid) throw new PeerRefused('the pidfd is not the connecting process');
    const ids = realIds(peerPid);
    // Read, then check the process is still the one the pidfd holds: its PID was not reused in between.
    if (ids === null || native.pidfdExited(pidfd)) throw new PeerRefused('the launcher is gone');
    if (ids.uid !== header.ruid || ids.gid !== header.rgid) throw new PeerRefused("the hand-off's ids are not the launcher's");
    closeAll(native, [memfd]);
    return {
      header,
      pidfd,
      stdio: [stdin, stdout, stderr],
      close: () => closeAll(native, [pidfd, stdin, stdout, stderr]),
    };
  } catch (e) {
    closeAll(native, fds);
    throw e;
  }
}
