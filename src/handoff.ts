/**
 * Decoding the launcher's hand-off memfd (format: native/launcher/handoff.h).
 *
 * The header is the launcher's word about the caller (ids, groups, umask); the
 * rest is opaque caller data. Decoding is strict: any length that runs past
 * the end, or bytes left over, is an error.
 */
import { fstatSync, readlinkSync, readSync } from 'node:fs';

export const HANDOFF_FD = 3;
export const BROKER_FD = 4;
export const HANDOFF_VERSION = 2;
export const F_PRIVILEGED = 0x1;
const MAGIC = 0x48435353; // "SSCH" read as little-endian u32
const FIXED_HEADER = 44;
/** PID_MAX_LIMIT on 64-bit Linux: no PID is larger. */
const PID_MAX = 4_194_304;

export interface HandoffHeader {
  flags: number;
  privileged: boolean;
  ruid: number;
  rgid: number;
  umask: number;
  cwdErrno: number;
  nofileSoft: number;
  /**
   * The launcher's PID before it forked, which the front end keeps: the process
   * whose logind session the unit binds to. Every decoded header has it; it is
   * optional only so that a header made up without the launcher (the
   * un-installed front end) need not invent one.
   */
  pid?: number;
  groups: number[];
}

/** A header as the launcher wrote it. */
export type LauncherHeader = HandoffHeader & { pid: number };

export interface Handoff {
  header: LauncherHeader;
  argv: Buffer[];
  env: Buffer[];
  /** The caller's cwd as bytes, or null when getcwd() failed (see header.cwdErrno). */
  cwd: Buffer | null;
}

export class HandoffError extends Error {}

class Reader {
  constructor(
    private readonly buf: Buffer,
    public off: number,
  ) {}
  u32(what: string): number {
    if (this.off + 4 > this.buf.length) throw new HandoffError(`hand-off truncated reading ${what}`);
    const v = this.buf.readUInt32LE(this.off);
    this.off += 4;
    return v;
  }
  bytes(what: string): Buffer {
    const n = this.u32(`${what} length`);
    if (n > this.buf.length - this.off) throw new HandoffError(`hand-off truncated reading ${what}`);
    const b = this.buf.subarray(this.off, this.off + n);
    this.off += n;
    return b;
  }
  list(what: string): Buffer[] {
    const n = this.u32(`${what} count`);
    // Each entry needs at least its 4-byte length: bound the count before allocating.
    if (n > (this.buf.length - this.off) / 4) throw new HandoffError(`hand-off ${what} count too large`);
    const out: Buffer[] = [];
    for (let i = 0; i < n; i++) out.push(this.bytes(what));
    return out;
  }
}

export function decodeHeader(buf: Buffer): { header: LauncherHeader; dataOffset: number } {
  if (buf.length < FIXED_HEADER) throw new HandoffError('hand-off shorter than its header');
  const r = new Reader(buf, 0);
  if (r.u32('magic') !== MAGIC) throw new HandoffError('hand-off has a bad magic number');
  const version = r.u32('version');
  if (version !== HANDOFF_VERSION) throw new HandoffError(`hand-off version ${version}, expected ${HANDOFF_VERSION}`);
  const headerLen = r.u32('header length');
  const flags = r.u32('flags');
  const ruid = r.u32('ruid');
  const rgid = r.u32('rgid');
  const umask = r.u32('umask');
  const cwdErrno = r.u32('cwd errno');
  const nofileSoft = r.u32('nofile');
  const pid = r.u32('pid');
  const ngroups = r.u32('ngroups');
  if (ngroups > 65536) throw new HandoffError('hand-off has too many groups');
  if (headerLen !== FIXED_HEADER + 4 * ngroups || headerLen > buf.length)
    throw new HandoffError('hand-off header length does not match its groups');
  const groups: number[] = [];
  for (let i = 0; i < ngroups; i++) groups.push(r.u32('group'));
  if (umask > 0o777) throw new HandoffError('hand-off umask out of range');
  if (pid === 0 || pid > PID_MAX) throw new HandoffError('hand-off pid out of range');
  return {
    header: { flags, privileged: (flags & F_PRIVILEGED) !== 0, ruid, rgid, umask, cwdErrno, nofileSoft, pid, groups },
    dataOffset: headerLen,
  };
}

export function decodeHandoff(buf: Buffer): Handoff {
  const { header, dataOffset } = decodeHeader(buf);
  const r = new Reader(buf, dataOffset);
  const argv = r.list('argument');
  const env = r.list('environment entry');
  const cwdBytes = r.bytes('cwd');
  if (r.off !== buf.length) throw new HandoffError('hand-off has trailing bytes');
  if (header.cwdErrno === 0 && cwdBytes.length === 0) throw new HandoffError('hand-off has no cwd');
  return { header, argv, env, cwd: header.cwdErrno === 0 ? cwdBytes : null };
}

/** Encode a hand-off (tests and the un-installed development path use this). */
export function encodeHandoff(h: Handoff): Buffer {
  const parts: Buffer[] = [];
  const u32 = (v: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0);
    parts.push(b);
  };
  const bytes = (b: Buffer) => {
    u32(b.length);
    parts.push(b);
  };
  u32(MAGIC);
  u32(HANDOFF_VERSION);
  u32(FIXED_HEADER + 4 * h.header.groups.length);
  u32(h.header.flags);
  u32(h.header.ruid);
  u32(h.header.rgid);
  u32(h.header.umask);
  u32(h.header.cwdErrno);
  u32(h.header.nofileSoft);
  u32(h.header.pid);
  u32(h.header.groups.length);
  h.header.groups.forEach(u32);
  u32(h.argv.length);
  h.argv.forEach(bytes);
  u32(h.env.length);
  h.env.forEach(bytes);
  bytes(h.cwd ?? Buffer.alloc(0));
  return Buffer.concat(parts);
}

/** Read the whole hand-off memfd from fd, or null when fd is not the launcher's memfd. */
export function readHandoffFd(fd = HANDOFF_FD): Buffer | null {
  let size: number;
  try {
    // An un-installed run may inherit some unrelated fd 3: only the launcher's memfd counts.
    if (!readlinkSync(`/proc/self/fd/${fd}`).startsWith('/memfd:ssc-handoff')) return null;
    size = fstatSync(fd).size;
  } catch {
    return null;
  }
  const buf = Buffer.alloc(size);
  let off = 0;
  while (off < size) {
    const n = readSync(fd, buf, off, size - off, off);
    if (n === 0) throw new HandoffError('hand-off shorter than its size');
    off += n;
  }
  return buf;
}
