// The 'vm' project: the integration tests again, inside a Debian VM booted with
// systemd on cgroup v2 (what every current desktop runs and what the namespace
// bed on a hybrid-cgroup host cannot show). scripts/vm/run.mjs boots the VM and
// brings back the inner vitest's JSON report; every inner test becomes a test
// here under its own name, so a failure inside the VM reads like one outside.
//
// Why the VM runs in a top-level await: vitest collects a file's tests by
// evaluating it, synchronously as far as describe/it go, and the names of the
// inner tests are only known once the VM has run. beforeAll runs after
// collection, too late to declare tests; a globalSetup would run the VM for
// every project, even when only unit tests are asked for. The top-level await
// runs it only when this file is collected (the vm project), once, and a
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
  accel: 'kvm' | 'tcg';
  timings: Record<string, number | null>;
}
interface VmModule {
  whyVmCannotRun(): string | null;
  buildBase(opts?: { verbose?: boolean }): Promise<string>;
  runInVm(opts: { command: string[]; timeoutMs?: number; onJobLine?: (line: string) => void }): Promise<VmRun>;
  CONSOLE_LOG: string;
  GUEST_RESULTS: string;
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
const INNER_COMMAND = [
  'sh',
  '-c',
  [
    `stat -fc %T /sys/fs/cgroup >build/vm-results/${CGROUP_FS}`,
    'exec node node_modules/vitest/vitest.mjs run --project integration --reporter=default --reporter=json' +
      ` --outputFile.json=build/vm-results/${INNER_JSON}` +
      // SSC_VM_FILTER=test/integration/x.test.ts: only those files (development; CI runs all).
      (process.env.SSC_VM_FILTER
        ? ` ${process.env.SSC_VM_FILTER.split(/\s+/)
            .filter((f) => /^[\w./-]+$/.test(f))
            .join(' ')}`
        : ''),
  ].join('\n'),
];
// The whole VM part (base build on a fresh machine + image + boot + inner run)
// takes about 2 min with TCG on 2 cores and must stay well under 15 min: a VM
// still running after 14 min is killed and reported rather than left to eat CI's time.
const VM_TIMEOUT_MS = 14 * 60_000;

const skipReason = vm.whyVmCannotRun();
// The default reporter doesn't print a skipped suite's title: say it here too.
if (skipReason) process.stderr.write(`[vm] the cgroup v2 VM tests are skipped: ${skipReason}\n`);
let run: VmRun | undefined;
let failure: unknown;
let report: JsonReport | undefined;
let reportError: string | undefined;

if (!skipReason) {
  const t0 = Date.now();
  try {
    await vm.buildBase({ verbose: true });
    const tBase = Date.now();
    // The job's output, live, so a long CI step shows progress; SSC_VM_QUIET=1 silences it.
    const echo = process.env.SSC_VM_QUIET ? undefined : (line: string) => process.stderr.write(`vm| ${line}\n`);
    run = await vm.runInVm({ command: INNER_COMMAND, timeoutMs: VM_TIMEOUT_MS, onJobLine: echo });
    const s = (ms: number | null | undefined) => (ms === null || ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`);
    process.stderr.write(
      `[vm] accel ${run.accel}: base ${s(tBase - t0)}, image ${s(run.timings.assembleMs)}, boot to job ${s(run.timings.bootToJobMs)}, ` +
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

const stripAnsi = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');

/** The end of the job's output (or of the console, when the job never started), for failure messages. */
function tail(n = 60): string {
  if (!run) return '';
  const text = run.jobOutput || run.output;
  return stripAnsi(text.split('\n').slice(-n).join('\n'));
}

const title = `integration tests inside the cgroup v2 VM${skipReason ? ` (skipped: ${skipReason})` : ''}`;

describe.skipIf(skipReason)(title, () => {
  it('boots, runs the integration project and brings its report back', () => {
    if (failure) throw failure;
    expect(run, 'runInVm returned').toBeDefined();
    const r = run as VmRun;
    if (r.timedOut) throw new Error(`the VM timed out after ${VM_TIMEOUT_MS / 60_000} min; console in ${vm.CONSOLE_LOG}:\n${tail()}`);
    if (!report) throw new Error(`${reportError}; inner exit ${r.exitCode}, console in ${vm.CONSOLE_LOG}; last lines:\n${tail()}`);
  });

  it('ran on cgroup v2 (unified hierarchy)', () => {
    expect(run?.results[CGROUP_FS]?.toString('utf8').trim()).toBe('cgroup2fs');
  });

  it('ran at least one test and none failed', () => {
    expect(report, reportError).toBeDefined();
    const r = report as JsonReport;
    const broken = r.testResults.filter((f) => f.status === 'failed' && f.assertionResults.length === 0);
    expect(broken.map((f) => `${path.basename(f.name)}: ${f.message ?? ''}`)).toEqual([]);
    expect(r.numTotalTests).toBeGreaterThan(0);
    expect(r.numPassedTests).toBeGreaterThan(0);
    expect(r.numFailedTests).toBe(0);
    expect(run?.exitCode).toBe(0);
  });

  // One host test per inner test, named after it.
  for (const file of report?.testResults ?? []) {
    const rel = path.relative('/opt/ssc-src', file.name);
    describe(`in VM: ${rel}`, () => {
      for (const t of file.assertionResults) {
        const name = t.fullName || t.title;
        if (t.status === 'passed') it(name, () => {});
        else if (t.status === 'failed')
          it(name, () => {
            throw new Error(`failed inside the VM:\n${stripAnsi(t.failureMessages.join('\n'))}`);
          });
        else it.skip(`${name} (${t.status} inside the VM)`, () => {});
      }
    });
  }
});
