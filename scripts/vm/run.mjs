#!/usr/bin/env node
// Runs one command inside a throw-away cgroup v2 VM (Debian booted with systemd
// as PID 1: bookworm, Debian 12, systemd 252; or trixie, Debian 13, systemd 257)
// and brings back its exit status, console output and the files it leaves in
// /opt/ssc-src/build/vm-results/.
//
//   node scripts/vm/run.mjs [--suite bookworm|trixie] [--keep] [--verbose] [--timeout SEC] [--accel kvm|tcg] -- CMD [ARG...]
//   import { runInVm } from './scripts/vm/run.mjs';
//   const { exitCode, output, results } = await runInVm({ suite: 'trixie', command: ['sh', '-c', '...'], timeoutMs });
//
// The root tree comes from scripts/vm/build-base.sh (.vm-cache/SUITE/base; SSC_VM_DIR
// moves the whole cache; not under build/, which node-gyp rebuild deletes). For each
// run a staging tree is assembled as a hard-link farm (cp -al: no data copied)
// of the base plus node, the project and the job unit, turned into a sparse
// ext4 image by `mke2fs -d` (no loop mount, no root-only mount needed), and
// booted with qemu (KVM when /dev/kvm is usable, else TCG; SSC_VM_ACCEL=tcg|kvm
// forces one). The job's output, a status line and the result files
// (base64) all come back on the serial console, ttyS0.
//
// Exit code of the CLI: the command's exit status; 125 when the VM timed out
// or ended without a status line.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(here, '../..');
/** The cache root; each suite has its own directory in it. */
export const VM_ROOT = path.resolve(process.env.SSC_VM_DIR || path.join(REPO, '.vm-cache'));
export const BUILD_BASE = path.join(here, 'build-base.sh');
/** The Debian suites a VM can be built from (build-base.sh knows the same), and their VM names. */
export const SUITES = {
  bookworm: { name: 'debian12', description: 'Debian 12 (bookworm): systemd 252, kernel 6.1' },
  trixie: { name: 'debian13', description: 'Debian 13 (trixie): systemd 257, kernel 6.12' },
};
export const DEFAULT_SUITE = process.env.SSC_VM_SUITE || 'bookworm';

/** The cache paths of one suite's VM. */
export function vmPaths(suite = DEFAULT_SUITE) {
  if (!Object.hasOwn(SUITES, suite)) throw new Error(`unknown VM suite ${suite} (known: ${Object.keys(SUITES).join(', ')})`);
  const dir = path.join(VM_ROOT, suite);
  const base = path.join(dir, 'base');
  return {
    suite,
    dir,
    base,
    stamp: path.join(base, '.ssc-vm-base-stamp'),
    consoleLog: path.join(dir, 'console.log'),
    results: path.join(dir, 'results'),
  };
}
/** Where the project sits inside the VM, and where the job drops result files. */
export const GUEST_SRC = '/opt/ssc-src';
export const GUEST_RESULTS = `${GUEST_SRC}/build/vm-results`;
export const EXIT_NO_STATUS = 125;

const QEMU = 'qemu-system-x86_64';
const IMAGE_SIZE = '4G';

/** First directory of PATH holding an executable `name`, or null. */
export function which(name) {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    const p = path.join(dir || '.', name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      /* not here */
    }
  }
  // root's tools live in sbin, which a non-login PATH may lack.
  for (const dir of ['/usr/sbin', '/sbin']) {
    const p = path.join(dir, name);
    if (fs.existsSync(p)) return p;
  }
  return null;
}

export function baseIsBuilt(suite = DEFAULT_SUITE) {
  const p = vmPaths(suite);
  return fs.existsSync(p.stamp) && fs.existsSync(path.join(p.base, 'boot/ssc-vmlinuz'));
}

/**
 * Why the VM cannot run on this machine, as a sentence, or null when it can.
 * (A built base may still be stale: build-base.sh decides that, cheaply.)
 */
export function whyVmCannotRun(suite = DEFAULT_SUITE) {
  if (process.platform !== 'linux' || process.arch !== 'x64')
    return `VM test bed needs linux/x64, this is ${process.platform}/${process.arch}`;
  if (!which(QEMU)) return `${QEMU} is not installed (apt-get install qemu-system-x86)`;
  if (!which('mke2fs')) return 'mke2fs is not installed (apt-get install e2fsprogs)';
  if (process.getuid?.() !== 0) return 'the VM test bed builds its image as root and this is not root';
  if (!baseIsBuilt(suite) && !which('debootstrap'))
    return `no VM base in ${vmPaths(suite).base} and debootstrap is not installed to build it (apt-get install debootstrap)`;
  return null;
}

/**
 * Whether KVM can run a stock kernel here: /dev/kvm opens read-write AND it is
 * hardware KVM (kvm_intel / kvm_amd). A /dev/kvm from another backend (seen:
 * kvm_pvm inside a Firecracker VM, which only runs PVM-enabled guest kernels)
 * hangs a Debian kernel or aborts qemu, so it counts as unusable.
 */
export function kvmUsable() {
  try {
    fs.closeSync(fs.openSync('/dev/kvm', 'r+'));
  } catch {
    return false;
  }
  return fs.existsSync('/sys/module/kvm_intel') || fs.existsSync('/sys/module/kvm_amd');
}

/** 'kvm' or 'tcg': SSC_VM_ACCEL (or `requested`) when set, else KVM when usable. */
export function chooseAccel(requested = process.env.SSC_VM_ACCEL) {
  if (requested === 'tcg' || requested === 'kvm') return requested;
  if (requested) throw new Error(`SSC_VM_ACCEL must be kvm or tcg, not ${requested}`);
  return kvmUsable() ? 'kvm' : 'tcg';
}

/** Runs scripts/vm/build-base.sh (a no-op when the base is current). */
export function buildBase({ verbose = false, suite = DEFAULT_SUITE } = {}) {
  return new Promise((resolve, reject) => {
    vmPaths(suite); // a known suite
    // Like qemu: if we die, the build is told (SIGTERM) and cleans up after itself.
    const setpriv = which('setpriv');
    const build = ['bash', BUILD_BASE, '--suite', suite];
    const [cmd, args] = setpriv ? [setpriv, ['--pdeathsig', 'SIGTERM', '--', ...build]] : [build[0], build.slice(1)];
    const child = spawn(cmd, args, { stdio: ['ignore', verbose ? 'inherit' : 'pipe', verbose ? 'inherit' : 'pipe'] });
    let out = '';
    child.stdout?.on('data', (d) => (out += d));
    child.stderr?.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve(out);
      else reject(new Error(`build-base.sh failed (${signal ?? `exit ${code}`}):\n${out.split('\n').slice(-50).join('\n')}`));
    });
  });
}

// ---------------------------------------------------------------------------
// Helpers

function sh(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(' ')}: ${signal ?? `exit ${code}`}\n${out}`));
    });
  });
}

/** Single-quote a word for bash. */
function shq(word) {
  return `'${String(word).replaceAll("'", `'\\''`)}'`;
}

/**
 * Write a new file in the staging tree. Staging files may be hard links to the
 * base or the repository, so never write through an existing path: unlink first.
 */
function writeFresh(file, content, mode = 0o644) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.rmSync(file, { force: true });
  fs.writeFileSync(file, content, { mode });
  fs.chmodSync(file, mode);
}

/** Hard-link copies (cp -al) of sources into destDir; plain copies if linking fails (other file system). */
async function linkTree(sources, destDir) {
  if (sources.length === 0) return;
  try {
    await sh('cp', ['-al', '--', ...sources, destDir]);
  } catch {
    await sh('cp', ['-a', '--', ...sources, destDir]);
  }
}

/** Removes work dirs of runs whose process is gone (killed before cleaning up). */
function removeStaleWorkDirs(dir) {
  let entries = [];
  try {
    entries = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const name of entries) {
    const m = /^work\.(\d+)\./.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch (e) {
      alive = e.code === 'EPERM';
    }
    if (!alive || pid === process.pid) fs.rmSync(path.join(dir, name), { recursive: true, force: true });
  }
}

/** Libraries `ldd` says node needs that the base tree lacks (names as ldd prints them). */
function missingNodeLibs(nodePath, baseDir) {
  const r = spawnSync('ldd', [nodePath], { encoding: 'utf8' });
  if (r.status !== 0) return [];
  const missing = [];
  for (const line of r.stdout.split('\n')) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (!m) continue;
    // Resolve inside the base: /lib -> usr/lib etc. (merged /usr symlinks are relative there).
    const lib = m[1];
    const candidates = [lib, lib.replace(/^\/lib/, '/usr/lib'), lib.replace(/^\/usr\/lib/, '/lib')];
    if (!candidates.some((c) => fs.existsSync(path.join(baseDir, c)))) missing.push(lib);
  }
  return missing;
}

// ---------------------------------------------------------------------------
// The guest side: a target to boot into and a oneshot-like job unit.

const TARGET_UNIT = `[Unit]
Description=ssc VM: multi-user system plus the job
Requires=multi-user.target
After=multi-user.target
AllowIsolate=yes
`;

const JOB_UNIT = `[Unit]
Description=ssc VM job (scripts/vm/run.mjs)
After=multi-user.target
# The job ends the VM, whatever its outcome; the status travels on the console.
SuccessAction=poweroff-force
FailureAction=poweroff-force

[Service]
# exec, not oneshot: a start job that lasts the whole run would make systemd
# print "A start job is running..." onto the console in the middle of the output.
Type=exec
ExecStart=/usr/libexec/ssc-vm-job
StandardInput=null
StandardOutput=tty
StandardError=inherit
TTYPath=/dev/ttyS0
TimeoutStartSec=infinity

[Install]
WantedBy=ssc-vm.target
`;

function jobScript(command) {
  return `#!/bin/bash
# Generated by scripts/vm/run.mjs: runs the command, ships the result files,
# prints the status line. stdout is /dev/ttyS0 (see ssc-vm-job.service).
read -r up _ </proc/uptime
echo "@@SSC-VM-START $up@@"
# Keep kernel messages (OOM kills, ...) from landing inside our output lines.
dmesg -n 1 2>/dev/null || true
export SSC_BED=local CI=true HOME=/root USER=root LOGNAME=root LANG=C.UTF-8 \\
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# The harness's own temp files (vitest keeps world-readable copies of the
# transformed test files, secrets in test code included) stay out of the /tmp
# the tests examine, as they do with the namespace bed: in root's 0700 home.
install -d -m 0700 /root/tmp
export TMPDIR=/root/tmp
cd ${GUEST_SRC} || { echo "@@SSC-VM-EXIT 125@@"; exit 0; }
mkdir -p ${GUEST_RESULTS}
cmd=(${command.map(shq).join(' ')})
# Through a pipe, as on CI: the command sees no terminal. Its status is taken
# when it exits; a straggler it left holding the pipe gets 10 s, then cat is
# stopped so that nothing more lands between the lines below.
exec 3> >(exec cat)
catpid=$!
"\${cmd[@]}" </dev/null >&3 2>&3 3>&-
status=$?
exec 3>&-
for _ in $(seq 100); do kill -0 "$catpid" 2>/dev/null || break; sleep 0.1; done
kill "$catpid" 2>/dev/null && echo "[ssc-vm-job] output still open 10 s after the command ended; cut off"
cd ${GUEST_RESULTS} && find . -type f -print0 | sort -z | while IFS= read -r -d '' f; do
  echo "@@SSC-VM-FILE \${f#./}@@"
  base64 -w 76 -- "$f"
  echo "@@SSC-VM-END $(sha256sum <"$f" | cut -d' ' -f1)@@"
done
echo "@@SSC-VM-EXIT $status@@"
`;
}

// ---------------------------------------------------------------------------

/** Assembles the root tree for one run in `stage` (a hard-link farm: nothing is written through). */
async function assembleStage(stage, command, baseDir) {
  fs.mkdirSync(stage);
  const baseEntries = fs.readdirSync(baseDir).filter((e) => e !== '.ssc-vm-base-stamp');
  await linkTree(
    baseEntries.map((e) => path.join(baseDir, e)),
    stage,
  );

  const nodePath = fs.realpathSync(process.execPath);
  const missing = missingNodeLibs(nodePath, baseDir);
  if (missing.length) throw new Error(`node (${nodePath}) needs libraries the VM base lacks: ${missing.join(', ')}`);
  const usrBin = path.join(stage, 'usr/bin');
  fs.rmSync(path.join(usrBin, 'node'), { force: true });
  await linkTree([nodePath], usrBin);
  if (path.basename(nodePath) !== 'node') fs.renameSync(path.join(usrBin, path.basename(nodePath)), path.join(usrBin, 'node'));

  const src = path.join(stage, GUEST_SRC.slice(1));
  fs.mkdirSync(src, { recursive: true });
  // Not .git, not the VM cache itself; build/ is linked entry by entry below.
  const skip = new Set(['.git', 'build', '.vm-cache']);
  const top = fs.readdirSync(REPO).filter((e) => !skip.has(e) && path.join(REPO, e) !== VM_ROOT);
  await linkTree(
    top.map((e) => path.join(REPO, e)),
    src,
  );
  if (fs.existsSync(path.join(REPO, 'build'))) {
    fs.mkdirSync(path.join(src, 'build'));
    const inBuild = fs
      .readdirSync(path.join(REPO, 'build'))
      .filter((e) => e !== 'vm' && e !== 'vm-results' && path.join(REPO, 'build', e) !== VM_ROOT);
    await linkTree(
      inBuild.map((e) => path.join(REPO, 'build', e)),
      path.join(src, 'build'),
    );
  }

  const sd = path.join(stage, 'etc/systemd/system');
  writeFresh(path.join(sd, 'ssc-vm.target'), TARGET_UNIT);
  writeFresh(path.join(sd, 'ssc-vm-job.service'), JOB_UNIT);
  fs.mkdirSync(path.join(sd, 'ssc-vm.target.wants'), { recursive: true });
  fs.symlinkSync('../ssc-vm-job.service', path.join(sd, 'ssc-vm.target.wants/ssc-vm-job.service'));
  writeFresh(path.join(stage, 'usr/libexec/ssc-vm-job'), jobScript(command), 0o755);
}

/** A sparse ext4 image filled straight from the tree: no loop mount. */
async function makeImage(stage, image) {
  fs.rmSync(image, { force: true });
  await sh(which('mke2fs') ?? 'mke2fs', [
    '-q',
    '-F',
    '-t',
    'ext4',
    '-m',
    '0',
    '-L',
    'ssc-vm',
    // Lazy init: the image lives for one boot, nothing to gain from zeroing tables.
    '-E',
    'lazy_itable_init=1,lazy_journal_init=1,root_owner=0:0',
    '-d',
    stage,
    image,
    IMAGE_SIZE,
  ]);
}

function qemuCommand({ accel, image, memoryMb, cpus, baseDir }) {
  const append = [
    'root=/dev/vda',
    'rw',
    'console=ttyS0',
    'loglevel=6',
    'panic=-1', // a kernel panic reboots, and -no-reboot turns that into qemu exiting
    'systemd.unified_cgroup_hierarchy=1',
    'systemd.unit=ssc-vm.target',
    'systemd.show_status=error',
  ].join(' ');
  const qemuArgs = [
    '-nodefaults',
    '-no-user-config',
    ...(accel === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', 'tcg,thread=multi', '-cpu', 'max']),
    '-m',
    String(memoryMb),
    '-smp',
    String(cpus),
    '-kernel',
    path.join(baseDir, 'boot/ssc-vmlinuz'),
    '-initrd',
    path.join(baseDir, 'boot/ssc-initrd.img'),
    '-append',
    append,
    '-drive',
    `file=${image},format=raw,if=virtio,cache=unsafe`,
    '-device',
    'virtio-rng-pci',
    '-nic',
    'none',
    '-display',
    'none',
    '-monitor',
    'none',
    '-serial',
    'stdio',
    '-no-reboot',
  ];
  // setpriv --pdeathsig: qemu dies with us even if we are SIGKILLed (e.g. a
  // test runner killing its worker) and no handler of ours gets to run.
  const setpriv = which('setpriv');
  const qemuPath = which(QEMU) ?? QEMU;
  return setpriv ? [setpriv, ['--pdeathsig', 'SIGKILL', '--', qemuPath, ...qemuArgs]] : [qemuPath, qemuArgs];
}

/** Carriage returns and terminal control sequences (CSI, OSC) at the start of a console line. */
const LEADING_CONTROL = /^(?:\r|\x1b\[[0-9;?!>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\))+/;

/**
 * One boot: streams the console to `consoleFd`, parses the job protocol.
 * `startTimeoutMs`: give up (kill) when the job hasn't started by then.
 */
async function bootOnce({
  accel,
  image,
  memoryMb,
  cpus,
  baseDir,
  resultsDir,
  timeoutMs,
  startTimeoutMs,
  consoleFd,
  verbose,
  onLine,
  onJobLine,
  track,
}) {
  const [cmd, args] = qemuCommand({ accel, image, memoryMb, cpus, baseDir });
  const tBoot = Date.now();
  const st = {
    tStart: null,
    tExit: null,
    exitStatus: null,
    timedOut: false,
    startTimedOut: false,
    jobLines: [],
    results: {},
    chunks: [],
  };
  let file = null; // { name, lines }
  let partial = Buffer.alloc(0);

  const handleLine = (raw) => {
    // systemd 257 resets the terminal (DECSTR, OSC 104, autowrap) when the job
    // unit takes ttyS0, and those sequences land at the start of the job's first line.
    const line = raw.replace(/\r+$/, '').replace(LEADING_CONTROL, '');
    let m;
    if (/^@@SSC-VM-START\b.*@@$/.test(line)) {
      st.tStart = Date.now();
    } else if ((m = /^@@SSC-VM-FILE (.+)@@$/.exec(line))) {
      file = { name: m[1], lines: [] };
    } else if (file && (m = /^@@SSC-VM-END ?([0-9a-f]*)@@$/.exec(line))) {
      const data = Buffer.from(file.lines.join(''), 'base64');
      const sum = createHash('sha256').update(data).digest('hex');
      const safe = path.normalize(file.name);
      if (m[1] && m[1] !== sum) {
        process.stderr.write(`[vm] result file ${file.name}: checksum mismatch, dropped\n`);
      } else if (safe.startsWith('..') || path.isAbsolute(safe)) {
        process.stderr.write(`[vm] result file ${file.name}: unsafe name, dropped\n`);
      } else {
        st.results[safe] = data;
        const dest = path.join(resultsDir, safe);
        fs.mkdirSync(path.dirname(dest), { recursive: true });
        fs.writeFileSync(dest, data);
      }
      file = null;
    } else if (file) {
      // Base64 lines only: anything else is console noise that slipped in.
      if (/^[A-Za-z0-9+/=]+$/.test(line)) file.lines.push(line);
    } else if ((m = /^@@SSC-VM-EXIT (-?\d+)@@$/.exec(line))) {
      st.exitStatus = Number(m[1]);
      st.tExit = Date.now();
    } else if (st.tStart && !st.tExit) {
      st.jobLines.push(line);
      onJobLine?.(line);
    }
    onLine?.(line);
  };

  let qemu;
  const done = new Promise((resolve, reject) => {
    qemu = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    track(qemu);
    qemu.on('error', reject);
    const onData = (d) => {
      st.chunks.push(d);
      fs.writeSync(consoleFd, d);
      if (verbose) process.stderr.write(d);
    };
    qemu.stdout.on('data', (d) => {
      onData(d);
      let buf = Buffer.concat([partial, d]);
      let nl;
      while ((nl = buf.indexOf(10)) >= 0) {
        handleLine(buf.subarray(0, nl).toString('utf8'));
        buf = buf.subarray(nl + 1);
      }
      partial = buf;
    });
    qemu.stderr.on('data', onData);
    qemu.on('close', (code, signal) => resolve({ code, signal }));
  });
  const timer = setTimeout(() => {
    st.timedOut = true;
    qemu.kill('SIGKILL');
  }, timeoutMs);
  const watch = setInterval(() => {
    if (startTimeoutMs && !st.tStart && Date.now() - tBoot > startTimeoutMs) {
      st.startTimedOut = true;
      qemu.kill('SIGKILL');
    }
    // Once the status line is in, all is in: don't wait long for the power-off.
    if (st.tExit && Date.now() - st.tExit > 20_000) qemu.kill('SIGKILL');
  }, 500);
  try {
    st.qemuEnd = await done;
  } finally {
    clearTimeout(timer);
    clearInterval(watch);
    if (partial.length) handleLine(partial.toString('utf8'));
  }
  st.tBoot = tBoot;
  st.tEnd = Date.now();
  st.output = Buffer.concat(st.chunks).toString('utf8');
  return st;
}

/**
 * Boot the VM, run `command` (argv) in /opt/ssc-src with SSC_BED=local and
 * CI=true, and collect what it left in build/vm-results/.
 * With KVM, a VM whose job hasn't started within kvmStartTimeoutMs (or whose
 * qemu dies before) is retried once with TCG: some hosts have a /dev/kvm that
 * cannot run a stock kernel.
 * @returns {Promise<{exitCode: number, timedOut: boolean, output: string, jobOutput: string,
 *   results: Record<string, Buffer>, resultsDir: string, consoleLog: string, accel: string,
 *   timings: {assembleMs: number, linkMs: number, mkfsMs: number, bootToJobMs: number|null,
 *     jobMs: number|null, shutdownMs: number|null, totalMs: number}}>}
 */
export async function runInVm({
  suite = DEFAULT_SUITE,
  command,
  timeoutMs = 25 * 60_000,
  keep = false,
  verbose = false,
  accel = chooseAccel(),
  memoryMb = 3072,
  cpus = 2,
  kvmStartTimeoutMs = 120_000,
  onLine,
  onJobLine,
} = {}) {
  if (!Array.isArray(command) || command.length === 0) throw new Error('runInVm: command must be a non-empty argv array');
  const paths = vmPaths(suite);
  if (!baseIsBuilt(suite)) throw new Error(`runInVm: no VM base in ${paths.base}; run ${path.relative(REPO, BUILD_BASE)} --suite ${suite}`);
  const t0 = Date.now();
  fs.mkdirSync(paths.dir, { recursive: true });
  removeStaleWorkDirs(paths.dir);
  fs.rmSync(paths.results, { recursive: true, force: true });
  fs.mkdirSync(paths.results, { recursive: true });

  const work = fs.mkdtempSync(path.join(paths.dir, `work.${process.pid}.`));
  const stage = path.join(work, 'root');
  const image = path.join(work, 'image.raw');
  let qemu = null;
  let cleaned = false;
  const killQemu = () => {
    if (qemu && qemu.exitCode === null && qemu.signalCode === null) {
      try {
        qemu.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }
  };
  const cleanup = () => {
    killQemu();
    if (!cleaned && !keep) fs.rmSync(work, { recursive: true, force: true });
    cleaned = true;
  };
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const onSignal = (sig) => {
    cleanup();
    removeSignalHandlers();
    process.kill(process.pid, sig); // the default action, now that qemu and the work dir are gone
  };
  // A test runner's worker (an IPC child) whose runner is killed may live on
  // as an orphan (seen: vitest's main process on SIGTERM): when the parent
  // goes, so do we, rather than keep a VM running for nobody.
  const ppid = process.ppid;
  const parentWatch =
    typeof process.send === 'function'
      ? setInterval(() => {
          if (process.ppid !== ppid || !process.connected) onSignal('SIGTERM');
        }, 1000)
      : null;
  parentWatch?.unref();
  const removeSignalHandlers = () => {
    for (const s of signals) process.removeListener(s, onSignal);
    process.removeListener('exit', cleanup);
    if (parentWatch) clearInterval(parentWatch);
  };
  for (const s of signals) process.on(s, onSignal);
  process.on('exit', cleanup);

  const consoleFd = fs.openSync(paths.consoleLog, 'w');
  try {
    await assembleStage(stage, command, paths.base);
    const linkMs = Date.now() - t0;
    await makeImage(stage, image);
    const assembleMs = Date.now() - t0;
    const mkfsMs = assembleMs - linkMs;

    const boot = (a, startTimeoutMs) =>
      bootOnce({
        accel: a,
        image,
        memoryMb,
        cpus,
        baseDir: paths.base,
        resultsDir: paths.results,
        timeoutMs: Math.max(1000, timeoutMs - (Date.now() - t0)),
        startTimeoutMs,
        consoleFd,
        verbose,
        onLine,
        onJobLine,
        track: (q) => (qemu = q),
      });
    let st = await boot(accel, accel === 'kvm' ? kvmStartTimeoutMs : 0);
    if (accel === 'kvm' && !st.tStart && !st.timedOut) {
      const why = st.startTimedOut
        ? `no job start within ${kvmStartTimeoutMs / 1000} s`
        : `qemu ended (${st.qemuEnd.signal ?? `exit ${st.qemuEnd.code}`})`;
      process.stderr.write(
        `[vm] KVM boot failed (${why}); retrying with TCG. Last console lines:\n${st.output.split('\n').slice(-10).join('\n')}\n`,
      );
      fs.writeSync(consoleFd, `\n[run.mjs] KVM boot failed (${why}); retrying with TCG\n`);
      accel = 'tcg';
      await makeImage(stage, image); // the failed boot may have touched it
      st = await boot('tcg', 0);
    }
    if (!keep) fs.rmSync(stage, { recursive: true, force: true });

    const exitCode = st.exitStatus ?? EXIT_NO_STATUS;
    if (st.exitStatus === null) {
      const tail = st.output.split('\n').slice(-50).join('\n');
      const how = st.timedOut
        ? `timed out after ${Math.round(timeoutMs / 1000)} s`
        : `qemu ended (${st.qemuEnd.signal ?? `exit ${st.qemuEnd.code}`})`;
      process.stderr.write(
        `[vm] ${how} without a status line from the job; last 50 console lines (all in ${path.relative(process.cwd(), paths.consoleLog)}):\n${tail}\n`,
      );
    }
    const tEnd = Date.now();
    return {
      exitCode,
      timedOut: st.timedOut,
      output: st.output,
      jobOutput: st.jobLines.join('\n'),
      results: st.results,
      resultsDir: paths.results,
      consoleLog: paths.consoleLog,
      accel,
      timings: {
        assembleMs,
        linkMs,
        mkfsMs,
        bootToJobMs: st.tStart ? st.tStart - st.tBoot : null,
        jobMs: st.tStart && st.tExit ? st.tExit - st.tStart : null,
        shutdownMs: st.tExit ? st.tEnd - st.tExit : null,
        totalMs: tEnd - t0,
      },
    };
  } finally {
    fs.closeSync(consoleFd);
    cleanup();
    removeSignalHandlers();
    if (keep) {
      // Out of the work.<pid>.* namespace, which the next run sweeps once the pid is gone.
      const kept = path.join(paths.dir, `kept.${path.basename(work).split('.').pop()}`);
      fs.renameSync(work, kept);
      process.stderr.write(`[vm] kept ${path.relative(process.cwd(), kept)} (stage root/, image.raw; remove it when done)\n`);
    }
  }
}

// ---------------------------------------------------------------------------
// CLI

async function main(argv) {
  const usage =
    'usage: node scripts/vm/run.mjs [--suite bookworm|trixie] [--keep] [--verbose] [--timeout SEC] [--accel kvm|tcg] [--build] -- CMD [ARG...]';
  const opts = { suite: DEFAULT_SUITE, keep: false, verbose: false, timeoutMs: 25 * 60_000, accel: undefined, build: false };
  let i = 0;
  for (; i < argv.length && argv[i] !== '--'; i++) {
    const a = argv[i];
    if (a === '--keep') opts.keep = true;
    else if (a === '--verbose' || a === '-v') opts.verbose = true;
    else if (a === '--build') opts.build = true;
    else if (a === '--timeout') opts.timeoutMs = Number(argv[++i]) * 1000;
    else if (a === '--accel') opts.accel = argv[++i];
    else if (a === '--suite') opts.suite = argv[++i];
    else if (a === '--help' || a === '-h') {
      console.log(usage);
      return 0;
    } else {
      console.error(usage);
      return 2;
    }
  }
  const command = argv.slice(i + 1);
  if (command.length === 0 || !(opts.timeoutMs > 0) || !Object.hasOwn(SUITES, opts.suite)) {
    console.error(usage);
    return 2;
  }
  const why = whyVmCannotRun(opts.suite);
  if (why) {
    console.error(`[vm] cannot run: ${why}`);
    return EXIT_NO_STATUS;
  }
  if (opts.build || !baseIsBuilt(opts.suite)) await buildBase({ verbose: true, suite: opts.suite });
  const accel = chooseAccel(opts.accel);
  console.error(`[vm] ${opts.suite}, accel=${accel}; console in ${path.relative(process.cwd(), vmPaths(opts.suite).consoleLog)}`);
  const r = await runInVm({
    suite: opts.suite,
    command,
    timeoutMs: opts.timeoutMs,
    keep: opts.keep,
    verbose: opts.verbose,
    accel,
    // The whole console goes to stderr with --verbose; else just the job's output, live.
    onJobLine: opts.verbose ? undefined : (line) => process.stdout.write(line + '\n'),
  });
  const names = Object.keys(r.results);
  const s = (ms) => (ms == null ? '-' : `${(ms / 1000).toFixed(1)} s`);
  console.error(
    `[vm] exit ${r.exitCode}${r.timedOut ? ' (timeout)' : ''}; accel ${r.accel}; assemble ${s(r.timings.assembleMs)}, ` +
      `(link ${s(r.timings.linkMs)}, mkfs ${s(r.timings.mkfsMs)}), boot to job ${s(r.timings.bootToJobMs)}, job ${s(r.timings.jobMs)}, shutdown ${s(r.timings.shutdownMs)}, total ${s(r.timings.totalMs)}` +
      (names.length ? `; results in ${path.relative(process.cwd(), r.resultsDir)}: ${names.join(', ')}` : ''),
  );
  return r.exitCode;
}

if (process.argv[1] && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err) => {
      console.error(`[vm] ${err?.stack ?? err}`);
      process.exitCode = EXIT_NO_STATUS;
    },
  );
}
