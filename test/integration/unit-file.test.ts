/**
 * What systemd persists: every transient unit is written to
 * /run/systemd/transient/<unit> and read back on `daemon-reload` and
 * `daemon-reexec`. Nothing the caller types may become a line of that file,
 * and every unit must come back from it the same, on each manager and version
 * of the beds (252 in the namespace bed and the Debian 12 VM, 257 in the
 * Debian 13 VM).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bed, RunResult } from '../bed/bed.js';
import { bedSkipReason, getBed, startUserManager } from '../bed/index.js';
import { REPO_ROOT } from '../bed/local.js';
import { Tmux } from '../bed/tmux.js';
import { SSC_BIN, SSC_PREFIX, TEST_USERS } from '../bed/users.js';
import {
  base64url,
  EXEC_EX_WRITTEN_AS_EXEC_START,
  execWords,
  LONG_LINE_MAX,
  writtenExecLine,
  type ExecPlan,
} from '../../src/plan/unit-file.js';

const skip = bedSkipReason();
const alice = TEST_USERS.sscalice;
const ENV = { XDG_RUNTIME_DIR: `/run/user/${alice.uid}`, DBUS_SESSION_BUS_ADDRESS: `unix:path=/run/user/${alice.uid}/bus` };
/** A non-setuid copy: rootless mode, the caller's own user manager. */
const PLAIN = `${SSC_PREFIX}/bin/ssc-rootless-unitfile`;
const PROOF = '/run/ssc-unitfile-proof';
const INJECT = `ExecStopPost=+/bin/touch ${PROOF}`;
/** Cases of the reload property test; SSC_UNITFILE_CASES=300 for a longer run (scripts or by hand). */
const CASES = Number(process.env.SSC_UNITFILE_CASES ?? 30);

type Manager = 'system' | 'user';

describe.skipIf(skip)(`unit files: what systemd persists and re-reads${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let bed: Bed;
  let version = 0;
  const as = (argv: string[], opts: { cwd?: string; manager?: Manager; timeoutMs?: number; env?: Record<string, string> } = {}) =>
    bed.run(opts.manager === 'user' ? [PLAIN, '--manager=user', ...argv.slice(1)] : argv, {
      user: 'sscalice',
      cwd: opts.cwd,
      env: { ...ENV, ...opts.env },
      timeoutMs: opts.timeoutMs,
    });
  const systemctl = (manager: Manager, ...args: string[]) =>
    manager === 'user' ? bed.run(['systemctl', '--user', ...args], { user: 'sscalice', env: ENV }) : bed.run(['systemctl', ...args]);

  /** Every ssc unit either manager knows, and every ssc transient file: none must exist after a refusal. */
  async function leftovers(): Promise<string> {
    const sys = await bed.run(['systemctl', 'list-units', '--all', '--no-legend', '--plain', 'app-ssc-*']);
    const usr = await systemctl('user', 'list-units', '--all', '--no-legend', '--plain', 'app-ssc-*');
    const files = await bed.sh(
      `ls -A /run/systemd/transient/ /run/user/${alice.uid}/systemd/transient/ 2>/dev/null | grep app-ssc || true`,
    );
    return [sys.stdout, usr.stdout, files.stdout].join('').trim();
  }

  async function reloadAll(manager: Manager): Promise<void> {
    for (const op of ['daemon-reload', 'daemon-reload', 'daemon-reexec']) {
      const r = await systemctl(manager, op);
      expect(r.code, `${manager} ${op}: ${r.stderr}`).toBe(0);
    }
    // A reexec'd manager answers again once it is back.
    for (let i = 0; i < 100; i++) {
      if ((await systemctl(manager, 'show', '-p', 'Version')).code === 0) return;
      await new Promise((res) => setTimeout(res, 100));
    }
    throw new Error(`the ${manager} manager did not answer within 10 s of its daemon-reexec`);
  }

  beforeAll(async () => {
    bed = getBed();
    version = Number(/^systemd (\d+)/.exec((await bed.run(['systemctl', '--version'])).stdout)?.[1]);
    expect(version).toBeGreaterThanOrEqual(252);
    expect((await bed.run(['install', '-o', 'root', '-g', 'root', '-m', '0755', SSC_BIN, PLAIN])).code).toBe(0);
    await startUserManager(bed, alice);
    await bed.run(['rm', '-f', PROOF]);
  });
  afterAll(async () => {
    await bed?.sh(`rm -rf ${PLAIN} ${PROOF} ${alice.home}/uf; systemctl stop user@${alice.uid}.service; systemctl reset-failed`);
  });

  describe('the local root exploit: a newline in the working directory or the program name', () => {
    const evil = `${alice.home}/uf/x\n${INJECT}`;

    it('injects a root ExecStopPost when the same bytes are handed to systemd directly (positive control)', async () => {
      // As root, with busctl: the WorkingDirectory ssc used to pass through, and a reload.
      // Both directories: the one the first line names is where the injected command starts.
      await bed.run(['mkdir', '-p', evil, `${alice.home}/uf/x`], { user: 'sscalice' });
      const unit = 'ssc-unitfile-control.service';
      const start = await bed.run([
        'busctl', 'call', '--', 'org.freedesktop.systemd1', '/org/freedesktop/systemd1', 'org.freedesktop.systemd1.Manager',
        'StartTransientUnit', 'ssa(sv)a(sa(sv))', unit, 'fail', '2',
        'ExecStart', 'a(sasb)', '1', '/bin/sleep', '2', 'sleep', '300', 'false',
        'WorkingDirectory', 's', evil, '0',
      ]); // prettier-ignore
      expect(start.code, start.stderr).toBe(0);
      const file = (await bed.run(['cat', `/run/systemd/transient/${unit}`])).stdout;
      expect(file.split('\n')).toContain(INJECT);
      expect((await bed.run(['systemctl', 'daemon-reload'])).code).toBe(0);
      expect((await bed.run(['systemctl', 'show', '-p', 'ExecStopPost', unit])).stdout).toContain(`argv[]=/bin/touch ${PROOF}`);
      expect((await bed.run(['systemctl', 'stop', unit])).code).toBe(0);
      // The injected line ran, as root.
      expect((await bed.run(['stat', '-c', '%U', PROOF])).stdout).toBe('root\n');
      await bed.run(['rm', '-f', PROOF]);
    });

    for (const manager of ['system', 'user'] as const)
      for (const mode of ['--no-tty', '--no-tty --wait', '--tty'] as const)
        it(`refuses a working directory with a newline: ${manager} manager, ${mode}: exit 2, one ssc: line, nothing started`, async () => {
          await bed.run(['mkdir', '-p', evil], { user: 'sscalice' });
          const ssc = manager === 'user' ? `${PLAIN} --manager=user` : SSC_BIN;
          const cmd = `${ssc} --isolation=relaxed ${mode} sleep 300`;
          // --tty needs a terminal: script(1) gives it one (its output is the terminal's).
          const r =
            mode === '--tty'
              ? await bed.run(['script', '-qec', cmd, '/dev/null'], { user: 'sscalice', cwd: evil, env: ENV })
              : await bed.run(['sh', '-c', cmd], { user: 'sscalice', cwd: evil, env: ENV });
          expect(r.code).toBe(2);
          const out = mode === '--tty' ? r.stdout.replaceAll('\r', '') : r.stderr;
          expect(out).toMatch(/^ssc: the current directory "[^\n]*\\nExecStopPost=[^\n]*" contains a newline[^\n]*\n$/);
          if (mode !== '--tty') expect(r.stdout).toBe('');
          expect(await leftovers()).toBe('');
          await bed.run(['systemctl', 'daemon-reload']);
          expect((await bed.run(['test', '-e', PROOF])).code).toBe(1);
        });

    for (const manager of ['system', 'user'] as const)
      for (const mode of ['--no-tty', '--tty'] as const)
        it(`refuses a program whose name has a newline: ${manager} manager, ${mode}: exit 2, one ssc: line, nothing started`, async () => {
          const dir = `${alice.home}/uf/bin`;
          // A file name holds no slash: the injected command is looked up in systemd's search path.
          const prog = `${dir}/p\nExecStopPost=+touch ssc-unitfile-proof`;
          await bed.run(['mkdir', '-p', dir], { user: 'sscalice' });
          await bed.run(['sh', '-c', 'printf "#!/bin/sh\\nsleep 300\\n" > "$1" && chmod 755 "$1"', 'sh', prog], { user: 'sscalice' });
          const ssc = manager === 'user' ? `${PLAIN} --manager=user` : SSC_BIN;
          const r =
            mode === '--tty'
              ? await bed.run(['script', '-qec', `${ssc} --isolation=relaxed --tty "$SSC_PROG"`, '/dev/null'], {
                  user: 'sscalice',
                  env: { ...ENV, SSC_PROG: prog },
                })
              : await bed.run([...ssc.split(' '), '--isolation=relaxed', mode, prog], { user: 'sscalice', env: ENV });
          expect(r.code).toBe(2);
          const out = mode === '--tty' ? r.stdout.replaceAll('\r', '') : r.stderr;
          expect(out).toMatch(/^ssc: the program's path "[^\n]*\\nExecStopPost=[^\n]*" contains a newline[^\n]*\n$/);
          expect(await leftovers()).toBe('');
        });
  });

  it.each([
    ['ends in a space', 'x ', /ends in white space/],
    ['ends in a backslash', 'x\\', /ends in a backslash/],
    ['holds a carriage return', 'x\ry', /carriage return/],
    ['holds DEL', 'x\u007fy', /U\+007F/],
    ['holds a C1 control', 'x\u0085y', /U\+0085/],
  ])('a working directory that %s is refused: exit 2, one ssc: line, nothing started', async (_what, name, why) => {
    const dir = `${alice.home}/uf/${name}`;
    expect((await bed.run(['mkdir', '-p', dir], { user: 'sscalice' })).code).toBe(0);
    const r = await bed.run([SSC_BIN, '--no-tty', '--wait', 'true'], { user: 'sscalice', cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^ssc: the current directory "[^\\n]*" [^\\n]*${why.source}[^\\n]*\\n$`));
    expect(await leftovers()).toBe('');
  });

  it('a working directory whose name is not UTF-8 is refused: exit 2, one ssc: line, nothing started', async () => {
    const r = await bed.run(
      ['sh', '-c', `d="$(printf '${alice.home}/uf/x\\377y')" && mkdir -p "$d" && cd "$d" && exec ${SSC_BIN} --no-tty --wait true`],
      {
        user: 'sscalice',
      },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^ssc: the current directory's path is not valid UTF-8[^\n]*\n$/);
    expect(await leftovers()).toBe('');
  });

  it("a command line is refused exactly when systemd's parser could not read its unit file line back", async () => {
    // Arguments of 100 000 bytes (one argument may have 128 KiB), the last one sized to the bound.
    const helper = `${SSC_PREFIX}/lib/ssc/ssc-exec`;
    // Before 254 the words are base64url, a third longer: fewer fillers.
    const fillers = version >= EXEC_EX_WRITTEN_AS_EXEC_START ? 10 : 7;
    const argvOf = (last: number) => [
      '/bin/sh',
      '-c',
      'exec sleep 300',
      'sh',
      // Characters systemd escapes (from 254) or that take two bytes, so the model is tested against the file.
      ...Array<string>(fillers).fill(`${'x'.repeat(99_980)}é"\\%$;'\t€`),
      'y'.repeat(last),
    ];
    const bytes = (last: number) => {
      const argv = argvOf(last);
      // planExec refuses beyond the bound: the model's line length either way.
      const plan: ExecPlan =
        version >= EXEC_EX_WRITTEN_AS_EXEC_START
          ? ['ExecStartEx', [['/bin/sh', argv, ['no-env-expand']]]]
          : ['ExecStart', [[helper, ['ssc-exec', base64url('/bin/sh'), ...argv.flatMap(execWords)], false]]];
      return Buffer.byteLength(writtenExecLine(version, plan));
    };
    let lo = 0;
    let hi = 200_000;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (bytes(mid) <= LONG_LINE_MAX - 1) lo = mid;
      else hi = mid;
    }
    // The longest that fits is within a base64 quantum of the parser's limit.
    expect(lo).toBeGreaterThan(0);
    expect(bytes(lo)).toBeLessThanOrEqual(LONG_LINE_MAX - 1);
    expect(bytes(lo)).toBeGreaterThan(LONG_LINE_MAX - 1 - 4);
    expect(bytes(lo + 1)).toBeGreaterThan(LONG_LINE_MAX - 1);
    const over = await bed.run([SSC_BIN, '--no-tty', '--', ...argvOf(lo + 1)], { user: 'sscalice' });
    expect(over.code).toBe(2);
    expect(over.stderr).toMatch(
      /^ssc: the command line would be \d+ bytes in systemd's unit file, which takes at most 1048575 on one line[^\n]*\n$/,
    );
    expect(await leftovers()).toBe('');
    const fits = await bed.run([SSC_BIN, '--no-tty', '--verbose', '--', ...argvOf(lo)], { user: 'sscalice' });
    expect(fits.code, fits.stderr).toBe(0);
    const unit = /started (app-ssc-sh@[0-9a-f]{16}\.service)/.exec(fits.stderr)?.[1] as string;
    expect(unit).toBeDefined();
    const line = (await bed.run(['grep', '^ExecStart=.', `/run/systemd/transient/${unit}`])).stdout;
    expect(Buffer.byteLength(line)).toBe(bytes(lo) + 1); // and its newline: the model is the file
    await reloadAll('system');
    const state = await bed.run(['systemctl', 'show', '-p', 'LoadState', '-p', 'ActiveState', unit]);
    expect(state.stdout).toBe('LoadState=loaded\nActiveState=active\n');
    await bed.run(['systemctl', 'stop', unit]);
  });

  it('install.sh --check-units lists units planted the way ssc before 0.2 let a caller plant them, and none ssc makes now; install.sh then does not reload', async () => {
    // Units ssc makes now, from an odd but legal directory, in GUI and --wait mode: never reported.
    const odd = `${alice.home}/uf/odd "dir" it's $HOME %h`;
    await bed.run(['mkdir', '-p', odd], { user: 'sscalice' });
    const genuine = await bed.run([SSC_BIN, '--no-tty', '--verbose', 'sleep', '300'], { user: 'sscalice', cwd: odd });
    expect(genuine.code, genuine.stderr).toBe(0);
    const waiting = bed.run([SSC_BIN, '--no-tty', '--wait', 'sh', '-c', 'sleep 300'], { user: 'sscalice', cwd: odd, timeoutMs: 120_000 });
    const genuineUnits = async () => (await bed.run(['systemctl', 'list-units', '--no-legend', '--plain', 'app-ssc-s*'])).stdout;
    for (let i = 0; !/app-ssc-sh@/.test(await genuineUnits()); i++) {
      if (i > 600) throw new Error(`the --wait unit did not start: ${JSON.stringify(await waiting)}`);
      await new Promise((res) => setTimeout(res, 50));
    }
    const check = () => bed.run([`${REPO_ROOT}/install.sh`, '--check-units'], { cwd: REPO_ROOT });
    const clean = await check();
    expect(clean.code, clean.stdout + clean.stderr).toBe(0);
    // Positive controls: exactly what ssc before 0.2 asked systemd for, a WorkingDirectory with a
    // newline, and one with a carriage return (systemd ends a line there too; awk does not).
    const planted: string[] = [];
    for (const [i, sep] of ['\n', '\r'].entries()) {
      const evil = `${alice.home}/uf/x${sep}${INJECT}`;
      await bed.run(['mkdir', '-p', evil], { user: 'sscalice' });
      const unit = `app-ssc-sleep@00000000000000f${i}.service`;
      const start = await bed.run([
        'busctl', 'call', '--', 'org.freedesktop.systemd1', '/org/freedesktop/systemd1', 'org.freedesktop.systemd1.Manager',
        'StartTransientUnit', 'ssa(sv)a(sa(sv))', unit, 'fail', '3',
        'ExecStart', 'a(sasb)', '1', '/bin/sleep', '2', 'sleep', '300', 'false',
        'User', 's', String(alice.uid), 'WorkingDirectory', 's', evil, '0',
      ]); // prettier-ignore
      expect(start.code, start.stderr).toBe(0);
      planted.push(unit);
    }
    const found = await check();
    expect(found.code).toBe(1);
    expect(found.stdout).toContain(`/run/systemd/transient/${planted[0]}:\n    ${INJECT}\n`);
    // cat -v shows the carriage return as ^M.
    expect(found.stdout).toContain(`/run/systemd/transient/${planted[1]}:\n    WorkingDirectory=${alice.home}/uf/x^M${INJECT}\n`);
    for (const u of (await genuineUnits()).split('\n').filter(Boolean)) {
      const name = u.split(' ')[0] as string;
      if (!planted.includes(name)) expect(found.stdout).not.toContain(name);
    }
    // A whole install now says so and does not reload either (enabling ssc-broker.socket would,
    // without --no-reload): systemd has not read the planted lines, and stopping the units does not run them.
    const install = await bed.run([`${REPO_ROOT}/install.sh`], { cwd: REPO_ROOT, timeoutMs: 300_000 });
    expect(install.code, install.stderr).toBe(0);
    expect(install.stderr).toContain('not reloading');
    expect((await bed.run(['systemctl', 'stop', ...planted])).code).toBe(0);
    expect((await bed.run(['test', '-e', PROOF])).code).toBe(1);
    expect((await check()).code).toBe(0);
    await bed.sh(`systemctl stop 'app-ssc-sleep@*' 'app-ssc-sh@*'`);
    await waiting;
  });

  describe('units come back the same from two reloads and a reexec', () => {
    /** Hostile but legal: what a desktop's file names, arguments and variables may hold. */
    const unitChars = fc.constantFrom(...[...'ab Z09 %$;\'"\\{}=@:+-é€😀\u00a0'].filter((c, i, a) => a.indexOf(c) === i));
    const name = fc
      .string({ unit: unitChars, minLength: 1, maxLength: 10 })
      .map((s) => (/[ \\\u00a0]$/.test(s) ? `${s}x` : s))
      .filter((s) => s !== '.' && s !== '..');
    // Arguments may hold anything but NUL: a C1 control too.
    const arg = fc.string({ unit: fc.oneof(unitChars, fc.constantFrom('\n', '\t', '\u0001', '\u007f', '\u0085')), maxLength: 12 });
    const value = fc.string({ unit: fc.oneof(unitChars, fc.constantFrom('\n', '\t')), maxLength: 12 });
    const caseArb = fc.record({
      manager: fc.constantFrom<Manager>('system', 'user'),
      profile: fc.constantFrom('strict', 'relaxed'),
      cwd: name,
      // A quote or backslash in the program's path is refused (systemd's parser does): not a round trip.
      program: name.map((s) => s.replace(/["'\\]/g, '_')),
      viaPath: fc.boolean(),
      // The typed path with // and /. in it: ssc hands on the normalized one.
      sloppy: fc.boolean(),
      args: fc.array(arg, { maxLength: 5 }),
      a: value,
      b: value,
      status: fc.integer({ min: 0, max: 255 }),
    });
    const seed = Number(process.env.SSC_UNITFILE_SEED ?? Date.now() % 1_000_000);
    const RECORD = `${SSC_PREFIX}/lib/ssc-unitfile-record`;
    const SHOWN = [
      'ExecStart', 'ExecStartEx', 'WorkingDirectory', 'Description', 'SyslogIdentifier', 'EnvironmentFiles', 'Environment',
      'MemoryMax', 'MemorySwapMax', 'CPUQuotaPerSecUSec', 'NoNewPrivileges', 'PrivateTmp', 'PrivateUsers', 'Slice', 'User',
      'Group', 'UMask', 'Type', 'CollectMode', 'LoadState', 'ActiveState', 'SubState', 'MainPID', 'StandardInput',
      'StandardOutput', 'StandardError', 'OOMPolicy',
    ]; // prettier-ignore

    it(
      `${CASES} hostile but legal launches (seed ${seed}) keep their unit, their program and --wait's exact status`,
      async () => {
        // The program: records its arguments, cwd and variables, then waits for its exit status.
        const script = [
          '#!/bin/sh',
          'o=$SSC_RT_OUT',
          'printf "%s\\0" "$0" "$@" > "$o/args"',
          'pwd -P > "$o/cwd"',
          'printf "%s\\0" "$SSC_RT_A" "$SSC_RT_B" > "$o/env"',
          'grep -o "app-ssc-[^/]*\\.service" /proc/self/cgroup | tail -1 > "$o/unit"',
          'while [ ! -e "$o/go" ]; do sleep 0.05; done',
          'exit "$(cat "$o/go")"',
        ].join('\n');
        expect((await bed.run(['sh', '-c', `cat > ${RECORD} && chmod 755 ${RECORD}`], { input: `${script}\n` })).code).toBe(0);
        const cases = fc.sample(caseArb, { seed, numRuns: CASES });
        const runs: { c: (typeof cases)[number]; out: string; run: Promise<RunResult>; unit?: string }[] = [];
        const root = `${alice.home}/uf/rt`;
        for (const [i, c] of cases.entries()) {
          const base = `${root}/${i}`;
          const cwd = `${base}/${c.cwd}`;
          const bin = `${base}/bin`;
          const out = `${base}/out`;
          const made = await bed.run(
            ['sh', '-c', 'mkdir -p "$1" "$2" "$3" && ln -s "$4" "$2/$5"', 'sh', cwd, bin, out, RECORD, c.program],
            {
              user: 'sscalice',
            },
          );
          expect(made.code, made.stderr).toBe(0);
          const argv = [
            SSC_BIN,
            `--isolation=${c.profile}`,
            '--no-tty',
            '--wait',
            '--',
            c.viaPath ? c.program : c.sloppy ? `${base}//./bin//${c.program}` : `${bin}/${c.program}`,
            ...c.args,
          ];
          const env = { SSC_RT_OUT: out, SSC_RT_A: c.a, SSC_RT_B: c.b, PATH: `${bin}:/usr/bin:/bin` };
          const run = as(argv, { cwd, manager: c.manager, env, timeoutMs: 15 * 60_000 });
          let settled: RunResult | null = null;
          void run.then((r) => (settled = r));
          runs.push({ c, out, run });
          // Started one after another: no more than a few starts of one user in progress at once.
          const deadline = Date.now() + 120_000;
          while ((await bed.run(['test', '-s', `${out}/unit`])).code !== 0) {
            if (settled !== null || Date.now() > deadline)
              throw new Error(`case ${i} did not start: ${JSON.stringify(c)}\n${JSON.stringify(await run)}`);
            await new Promise((res) => setTimeout(res, 50));
          }
        }
        const show = async (r: (typeof runs)[number]) => {
          r.unit ??= (await bed.run(['cat', `${r.out}/unit`])).stdout.trim();
          const s = await systemctl(r.c.manager, 'show', ...SHOWN.flatMap((p) => ['-p', p]), '--', r.unit);
          const cat = await systemctl(r.c.manager, 'cat', '--', r.unit);
          // The command's runtime record (start time, pid) is not kept across a reexec on 252; MainPID is compared.
          return {
            show: s.stdout.replace(/ ; start_time=\[.*?\] ; stop_time=\[.*?\] ; pid=\d+ ; code=\S+ ; status=\S+ \}/g, ' }'),
            cat: cat.stdout,
          };
        };
        const before = await Promise.all(runs.map(show));
        for (const b of before) expect(b.show).toMatch(/^LoadState=loaded$/m);
        // Nothing of the caller's outside its own setting: the file holds only lines ssc's plan makes.
        for (const [i, b] of before.entries()) {
          const keys = b.cat
            .split('\n')
            .filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith('['))
            .map((l) => l.slice(0, l.indexOf('=')));
          for (const k of keys)
            expect(
              [
              'Description', 'Type', 'ExecStart', 'ExecStartEx', 'User', 'Group', 'UMask', 'WorkingDirectory', 'CollectMode',
              'Slice', 'SyslogIdentifier', 'MemoryMax', 'MemorySwapMax', 'CPUQuota', 'OOMPolicy', 'NoNewPrivileges', 'PrivateTmp',
              'PrivateUsers', 'Environment', 'EnvironmentFile', 'StandardInput', 'StandardOutput', 'StandardError',
              'BindsTo', 'After', 'StopPropagatedFrom',
            ], // prettier-ignore
              `case ${i}: ${JSON.stringify(runs[i]?.c)}`,
            ).toContain(k);
        }
        await reloadAll('system');
        await reloadAll('user');
        const after = await Promise.all(runs.map(show));
        for (const [i, r] of runs.entries()) {
          const what = `case ${i} (seed ${seed}): ${JSON.stringify(r.c)}`;
          expect(after[i], what).toEqual(before[i]);
          expect(after[i]?.show, what).toMatch(/^ActiveState=active$/m);
        }
        // Each program still runs, and --wait still reports its exact status.
        for (const r of runs) await bed.run(['sh', '-c', 'echo "$1" > "$2/go"', 'sh', String(r.c.status), r.out], { user: 'sscalice' });
        for (const [i, r] of runs.entries()) {
          const what = `case ${i} (seed ${seed}): ${JSON.stringify(r.c)}`;
          const res = await r.run;
          expect(res.code, `${what}\n${res.stderr}`).toBe(r.c.status);
          expect(
            res.stderr.split('\n').filter((l) => l.startsWith('ssc:') && !l.includes('user manager')),
            what,
          ).toEqual([]);
          const args = (await bed.run(['cat', `${r.out}/args`])).stdout.split('\0').slice(0, -1);
          const dir = `${root}/${i}`;
          expect(args, what).toEqual([`${dir}/bin/${r.c.program}`, ...r.c.args]);
          expect((await bed.run(['cat', `${r.out}/cwd`])).stdout, what).toBe(`${dir}/${r.c.cwd}\n`);
          expect((await bed.run(['cat', `${r.out}/env`])).stdout, what).toBe(`${r.c.a}\0${r.c.b}\0`);
        }
        await bed.run(['rm', '-rf', root, RECORD]);
      },
      20 * 60_000,
    );
  });

  describe('running programs through a reload and a reexec', () => {
    it('a terminal tab keeps its scope, job control, resizes and its exit status', async () => {
      const tmux = new Tmux(bed, 'sscalice');
      const file = `${alice.home}/uf-tab-status`;
      try {
        await tmux.start('u', `sh -c '${SSC_BIN} -isolation=relaxed /bin/bash -i; echo $? > ${file}'`, { width: 120, height: 30 });
        await tmux.waitFor('u', /[$] *$/m);
        await tmux.line('u', 'echo "CG:$(grep -o "app-ssc-bash-[0-9a-f]*\\.scope" /proc/self/cgroup | tail -1)"');
        const scope = /^CG:(app-ssc-bash-[0-9a-f]{16}\.scope)/m.exec(await tmux.waitFor('u', /^CG:app-ssc.*$/m))?.[1] as string;
        expect(scope).toBeDefined();
        await reloadAll('system');
        const state = await bed.run(['systemctl', 'show', '-p', 'LoadState', '-p', 'ActiveState', '-p', 'Description', scope]);
        expect(state.stdout).toMatch(/^LoadState=loaded$/m);
        expect(state.stdout).toMatch(/^ActiveState=active$/m);
        expect(state.stdout).toMatch(/^Description=bash \(ssc relaxed, terminal\)$/m);
        // Job control: a job stopped and resumed in the same shell.
        await tmux.line('u', 'sleep 300 &');
        // jobs says Stopped once the shell has reaped the stop (it may take a moment): asked until it does.
        await tmux.line('u', 'kill -STOP %1; for i in $(seq 50); do jobs | grep -q Stopped && break; sleep 0.05; done; jobs');
        await tmux.waitFor('u', /Stopped.*sleep 300/);
        await tmux.line('u', 'kill -CONT %1; kill %1; wait %1; echo "JOB:$?"');
        await tmux.waitFor('u', /^JOB:143/m);
        await tmux.resize('u', 100, 25);
        await tmux.line('u', 'echo "SIZE:$(stty size)"');
        await tmux.waitFor('u', /^SIZE:25 100/m);
        await tmux.line('u', 'exit 7');
        for (let i = 0; i < 100; i++) {
          const r = await bed.run(['cat', file], { user: 'sscalice' });
          if (r.code === 0 && r.stdout.trim() !== '') {
            expect(r.stdout.trim()).toBe('7');
            break;
          }
          if (i === 99) throw new Error(`the tab did not end:\n${await tmux.screen('u')}`);
          await new Promise((res) => setTimeout(res, 100));
        }
      } finally {
        await tmux.killServer();
        await bed.run(['rm', '-f', file]);
      }
    });

    it('a --wait service keeps forwarding signals and reports the status after a reload and a reexec', async () => {
      const dir = `${alice.home}/uf-wait`;
      await bed.run(['mkdir', '-p', dir], { user: 'sscalice' });
      const script = [
        `${SSC_BIN} --no-tty --wait sh -c "trap 'exit 42' TERM; echo up > ${dir}/up; while :; do sleep 0.1; done" &`,
        'pid=$!',
        `while [ ! -e ${dir}/go ]; do sleep 0.05; done`,
        'kill -TERM $pid',
        'wait $pid; echo "status=$?"',
      ].join('\n');
      const run = bed.sh(script, { user: 'sscalice', timeoutMs: 5 * 60_000 });
      for (let i = 0; (await bed.run(['test', '-s', `${dir}/up`])).code !== 0; i++) {
        if (i > 1000) throw new Error(`not started: ${JSON.stringify(await run)}`);
        await new Promise((res) => setTimeout(res, 50));
      }
      await reloadAll('system');
      const units = (await bed.run(['systemctl', 'list-units', '--no-legend', '--plain', 'app-ssc-sh@*'])).stdout;
      expect(units).toMatch(/^app-ssc-sh@[0-9a-f]{16}\.service loaded active running/m);
      // SIGTERM to ssc goes to the program, which exits 42, and ssc with it.
      await bed.run(['touch', `${dir}/go`], { user: 'sscalice' });
      const r = await run;
      expect(r.stdout).toBe('status=42\n');
      expect(r.stderr).toBe('');
      await bed.run(['rm', '-rf', dir]);
    });
  });
});
