/**
 * vitest globalSetup of the 'integration' project: brings up the test bed once
 * per run and tells the test files which one (inject('bed'), see index.ts).
 *
 *  - SSC_BED=local: this machine is the bed (the cgroup v2 VM): create the test
 *    users, run install.sh.
 *  - SSC_BED=none: no bed; the integration tests skip, saying why.
 *  - otherwise, as root with working namespaces: boot the namespace bed.
 *    Without root or namespaces: no bed, the tests skip with the reason.
 *
 * The namespace bed is always stopped: by the returned teardown, and on
 * SIGINT/SIGTERM/SIGHUP or process exit (vitest exits on Ctrl-C without
 * running teardowns) by a synchronous SIGKILL of the bed's PID 1; if this
 * process is killed outright, boot.sh's watchdog sees its stdin close and
 * kills the bed.
 */
import type { TestProject } from 'vitest/node';
import { localCgroupVersion, prepareLocalBed } from './local.js';
import { bootNamespaceBed, namespaceBedUnavailable } from './namespace.js';

export type ProvidedBed =
  | { kind: 'namespace'; pid: number; pidNs: string; cgroup: 'v1' | 'v2'; cgroupDirs: string[] }
  | { kind: 'local'; cgroup: 'v1' | 'v2' }
  | { kind: 'none'; reason: string };

declare module 'vitest' {
  export interface ProvidedContext {
    bed: ProvidedBed;
  }
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const mode = process.env.SSC_BED ?? '';
  if (mode === 'local') {
    await prepareLocalBed();
    project.provide('bed', { kind: 'local', cgroup: localCgroupVersion() });
    return undefined;
  }
  if (mode === 'none') {
    project.provide('bed', { kind: 'none', reason: 'SSC_BED=none' });
    return undefined;
  }
  if (mode !== '' && mode !== 'namespace') throw new Error(`SSC_BED=${mode}: expected local, namespace or none`);
  const unavailable = namespaceBedUnavailable();
  if (unavailable) {
    if (mode === 'namespace') throw new Error(`SSC_BED=namespace: ${unavailable}`);
    console.warn(`integration tests skipped: ${unavailable}`);
    project.provide('bed', { kind: 'none', reason: unavailable });
    return undefined;
  }

  const t0 = Date.now();
  const bed = await bootNamespaceBed({ log: (m) => console.log(m) });
  console.log(`namespace bed up: boot ${bed.timings.bootMs} ms, install ${bed.timings.installMs} ms (logs in ${bed.logFile})`);

  const onSignal = (signal: NodeJS.Signals) => {
    bed.killNow();
    // Nobody else will act on it (vitest's own handler is gone after its close): die of it.
    if (process.listenerCount(signal) === 1) {
      removeHandlers();
      process.kill(process.pid, signal);
    }
  };
  const onExit = () => bed.killNow();
  const removeHandlers = () => {
    for (const s of SIGNALS) process.off(s, onSignal);
    process.off('exit', onExit);
  };
  for (const s of SIGNALS) process.on(s, onSignal);
  process.on('exit', onExit);

  try {
    project.provide('bed', { kind: 'namespace', pid: bed.pid, pidNs: bed.pidNs, cgroup: bed.cgroup, cgroupDirs: bed.cgroupDirs });
  } catch (e) {
    removeHandlers();
    await bed.stop();
    throw e;
  }

  return async () => {
    const t = Date.now();
    try {
      await bed.stop();
    } finally {
      removeHandlers();
    }
    console.log(`namespace bed stopped in ${Date.now() - t} ms (up ${Date.now() - t0} ms in all)`);
  };
}
