/**
 * The front end checks, through the addon, that the launcher really dropped it
 * to the caller: every real, effective and saved id is the caller's. The
 * launcher verified this before exec; this is the second, independent check
 * the design promises ("privileges drop for good: addon, verified").
 */
import { dirname, join } from 'node:path';
import type { HandoffHeader } from '../handoff.js';
import { loadNativeFrom } from '../native/loader.js';
import type { Credentials, Native } from '../native/native.js';
import { SscError } from './errors.js';
import { EXIT } from './exit-codes.js';

export function credentialsAreCaller(c: Credentials, h: HandoffHeader): boolean {
  return c.ruid === h.ruid && c.euid === h.ruid && c.suid === h.ruid && c.rgid === h.rgid && c.egid === h.rgid && c.sgid === h.rgid;
}

/** The addon beside this bundle (the root-owned library directory the launcher checked), never found by a search. */
export function bundledNative(): Native {
  return loadNativeFrom([join(dirname(process.argv[1] as string), 'ssc_native.node')]);
}

export function verifyDropped(h: HandoffHeader): void {
  const c = bundledNative().getCredentials();
  if (!credentialsAreCaller(c, h))
    throw new SscError(
      EXIT.failed,
      `refusing to continue: running as uid ${c.ruid}/${c.euid}/${c.suid} gid ${c.rgid}/${c.egid}/${c.sgid}, not the caller's ${h.ruid}/${h.rgid}`,
    );
}
