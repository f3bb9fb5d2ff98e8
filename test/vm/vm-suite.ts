// The 'vm' project: the integration tests again, inside a Debian VM booted with
// systemd on cgroup v2 (what every current desktop runs and what the namespace
// bed on a hybrid-cgroup host cannot show). One test file per VM
// (debian12.test.ts, debian13.test.ts) calls defineVmTests(suite) at its top
// level. scripts/vm/run.mjs boots the VM and brings back the inner vitest's JSON
// report; every inner test becomes a test here under its own name, inside
// `in VM <name>: <file>`, so a failure inside the VM reads like one outside.
//
// Nothing is turned into a skip silently: an inner test that did not pass and
// did not fail is a host skip under the inner test's exact name, and
// scripts/check-skips.mjs (run by .ci/run) compares every skip of the run with
// test/expected-skips.json. A VM that cannot run here is a skip locally (with
// the reason) and a failure under CI=true; SSC_VM_FILTER (narrowing the inner
// run to some files) adds a skipped test that says so, which the skip check
// refuses.
//
// Why the VM runs in a top-level await: vitest collects a file's tests by
// evaluating it, synchronously as far as describe/it go, and the names of the
// inner tests are only known once the VM has run. beforeAll runs after
// collection, too late to declare tests; a globalSetup would run the VM for
// every project, even when only unit tests are asked for. The top-level await
// runs it only when the file is collected (the vm project), once, and a
// failure is caught and reported by the first test rather than as a
// collection error without a name.
import path from 'node:path';
import { describe, expect, it } from 'vitest';

// scripts/vm/run.mjs is plain JS without types: this is the part used here.
interface VmRun {
  exitCode: number;
  timedOut: boolean;
  output: string;
  jobOutput: string;
  results: Record<string, Buffer>;
  resultsDir: string;
  consoleLog: string;
  accel: 'kvm' | 'tcg';
  timings: Record<string, number | null>;
}
export type Suite = 'bookworm' | 'trixie';
interface VmModule {
  SUITES: Record<Suite, { name: string; description: string }>;
  vmPaths(suite: Suite): { consoleLog: string };
  whyVmCannotRun(suite: Suite): string | null;
  buildBase(opts: { verbose?: boolean; suite: Suite }): Promise<string>;
  runInVm(opts: { suite: Suite; command: string[]; timeoutMs?: number; onJobLine?: (line: string) => void }): Promise<VmRun>;
  GUEST_SRC: string;
}
// A URL, not a literal specifier: keeps tsc from looking for the .mjs's types.
const vm = (await import(new URL('../../scripts/vm/run.mjs', import.meta.url).href)) as VmModule;

/** vitest's JSON reporter (jest-compatible), the fields read here. */
interface JsonReport {
  numTotalTests: number;
  numFailedTests: number;
  numPassedTests: number;
  success: boolean;
  testResults: {
    name: string;
    status: string;
    message?: string;
    assertionResults: { fullName: string; title: string; status: string; failureMessages: string[] }[];
  }[];
}

const INNER_JSON = 'integration.json';
const CGROUP_FS = 'cgroup-fs.txt';
const SYSTEMD_VERSION = 'systemd-version.txt';

/** SSC_VM_FILTER=test/integration/x.test.ts: only those files inside the VM (development; CI runs all). */
export function vmFilter(): string[] {
  return (process.env.SSC_VM_FILTER ?? '').split(/\s+/).filter((f) => /^[\w./-]+$/.test(f));
}

/**
 * Cases of unit-file.test.ts's reload property test inside each VM: under TCG each case costs
 * about 12 s (30 took 370 s of Debian 12's 23 min), so CI's VMs run a slice with a new seed each
 * time, beside the namespace bed's 30 and the version-bound fixed cases; a longer run sets
 * SSC_VM_UNITFILE_CASES (or runs npm run soak:unit-files).
 */
const VM_UNITFILE_CASES = /^\d{1,4}$/.test(process.env.SSC_VM_UNITFILE_CASES ?? '') ? Number(process.env.SSC_VM_UNITFILE_CASES) : 10;

function innerCommand(): string[] {
  const filter = vmFilter();
  return [
    'sh',
    '-c',
    [
      `stat -fc %T /sys/fs/cgroup >build/vm-results/${CGROUP_FS}`,
      `systemctl --version | head -n 1 >build/vm-results/${SYSTEMD_VERSION}`,
      `export SSC_UNITFILE_CASES=${VM_UNITFILE_CASES}`,
      'exec node node_modules/vitest/vitest.mjs run --project integration --reporter=default --reporter=json' +
        ` --outputFile.json=build/vm-results/${INNER_JSON}` +
        (filter.length ? ` ${filter.join(' ')}` : ''),
    ].join('\n'),
  ];
}

// The whole VM part (base build on a fresh machine + image + boot + inner run)
// takes 17-22 min with TCG on 2 cores (unit-file.test.ts's reload rounds are
// most of it; 0.4's commands added about 2 min): a VM still running after 28 min
// is killed and reported (within vitest's 30-min hook bound) rather than left to eat CI's time. (Debian 12's ran past
// 20 min in a CI run beside other work on the same cores.)
const VM_TIMEOUT_MS = 28 * 60_000;

const stripAnsi = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');

/** Declares the tests of one VM (call it at the top level of a test file, awaited). */
export async function defineVmTests(suite: Suite): Promise<void> {
  const { name, description } = vm.SUITES[suite];
  const consoleLog = vm.vmPaths(suite).consoleLog;
  const cannotRun = vm.whyVmCannotRun(suite);
  // Under CI a VM that cannot run fails the run; elsewhere (no root, no qemu) it is skipped, saying why.
  const mustRun = !!process.env.CI;
  if (cannotRun) process.stderr.write(`[vm ${name}] cannot run: ${cannotRun}${mustRun ? ' (CI: a failure)' : ' (skipped)'}\n`);
  let run: VmRun | undefined;
  let failure: unknown;
  let report: JsonReport | undefined;
  let reportError: string | undefined;

  if (!cannotRun) {
    const t0 = Date.now();
    try {
      await vm.buildBase({ verbose: true, suite });
      const tBase = Date.now();
      // The job's output, live, so a long CI step shows progress; SSC_VM_QUIET=1 silences it.
      const echo = process.env.SSC_VM_QUIET ? undefined : (line: string) => process.stderr.write(`vm ${name}| ${line}\n`);
      run = await vm.runInVm({ suite, command: innerCommand(), timeoutMs: VM_TIMEOUT_MS, onJobLine: echo });
      const s = (ms: number | null | undefined) => (ms === null || ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`);
      process.stderr.write(
        `[vm ${name}] accel ${run.accel}: base ${s(tBase - t0)}, image ${s(run.timings.assembleMs)}, boot to job ${s(run.timings.bootToJobMs)}, ` +
          `job ${s(run.timings.jobMs)}, total ${s(Date.now() - t0)}; inner exit ${run.exitCode}\n`,
      );
      const json = run.results[INNER_JSON];
      if (!json) reportError = `the inner run left no ${INNER_JSON}`;
      else {
        try {
          report = JSON.parse(json.toString('utf8')) as JsonReport;
        } catch (e) {
          reportError = `${INNER_JSON} is not JSON: ${String(e)}`;
        }
      }
    } catch (e) {
      failure = e;
    }
  }

  /** The end of the job's output (or of the console, when the job never started), for failure messages. */
  const tail = (n = 60): string => {
    if (!run) return '';
    const text = run.jobOutput || run.output;
    return stripAnsi(text.split('\n').slice(-n).join('\n'));
  };

  const title = `integration tests inside the ${name} VM, ${description}, cgroup v2`;
  if (cannotRun && !mustRun) {
    describe(title, () => it.skip(`VM ${name} cannot run here: ${cannotRun}`, () => {}));
    return;
  }

  describe(title, () => {
    it(`VM ${name} boots, runs the integration project and brings its report back`, () => {
      if (cannotRun) throw new Error(`VM ${name} cannot run on this machine: ${cannotRun}`);
      if (failure) throw failure;
      expect(run, 'runInVm returned').toBeDefined();
      const r = run as VmRun;
      if (r.timedOut) throw new Error(`the VM timed out after ${VM_TIMEOUT_MS / 60_000} min; console in ${consoleLog}:\n${tail()}`);
      if (!report) throw new Error(`${reportError}; inner exit ${r.exitCode}, console in ${consoleLog}; last lines:\n${tail()}`);
    });

    it(`VM ${name} ran on cgroup v2 (unified hierarchy)`, () => {
      expect(run?.results[CGROUP_FS]?.toString('utf8').trim()).toBe('cgroup2fs');
      process.stderr.write(`[vm ${name}] ${run?.results[SYSTEMD_VERSION]?.toString('utf8').trim() ?? 'systemd version unknown'}\n`);
    });

    it(`VM ${name} ran at least one test and none failed`, () => {
      expect(report, reportError).toBeDefined();
      const r = report as JsonReport;
      const broken = r.testResults.filter((f) => f.status === 'failed' && f.assertionResults.length === 0);
      expect(broken.map((f) => `${path.basename(f.name)}: ${f.message ?? ''}`)).toEqual([]);
      expect(r.numTotalTests).toBeGreaterThan(0);
      expect(r.numPassedTests).toBeGreaterThan(0);
      expect(r.numFailedTests).toBe(0);
      expect(run?.exitCode).toBe(0);
    });

    const filter = vmFilter();
    if (filter.length)
      it.skip(`SSC_VM_FILTER narrowed the run inside VM ${name} to ${filter.join(' ')}: the other files did not run`, () => {});

    // One host test per inner test, under the inner test's exact name: passed,
    // failed (with the inner messages) or skipped (see test/expected-skips.json).
    for (const file of report?.testResults ?? []) {
      const rel = path.relative(vm.GUEST_SRC, file.name);
      describe(`in VM ${name}: ${rel}`, () => {
        for (const t of file.assertionResults) {
          const testName = t.fullName || t.title;
          if (t.status === 'passed') it(testName, () => {});
          else if (t.status === 'failed')
            it(testName, () => {
              throw new Error(`failed inside VM ${name}:\n${stripAnsi(t.failureMessages.join('\n'))}`);
            });
          else it.skip(testName, () => {});
        }
      });
    }
  });
}
