// Exercises the setuid launcher for real. Run through launcher-check.sh, which puts this in a
// private mount namespace: everything lives on a tmpfs mounted over $SSC_CHECK_BASE (default
// /mnt) that vanishes with the namespace, so nothing is left on the host.
//
// It compiles native/launcher/*.c and native/common/*.c with SSC_LIBDIR=<base>/lib and SSC_NODE=<base>/bin/node
// (a symlink to the real node), installs it root:root 4755 beside stand-in ssc.js/broker.js
// (standin.mjs), listens on the broker socket in the check's private /run with a stand-in broker
// (standin-broker.py) and runs it as uid 65534 in several situations. Output is TAP-like; exit 1
// on any failure.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, '../..');
const base = process.env.SSC_CHECK_BASE || '/mnt';
const node = fs.realpathSync(process.env.SSC_CHECK_NODE || process.execPath);
const lib = `${base}/lib`;
const out = `${base}/out`;
const bin = `${base}/bin/ssc`;
const nobody = 65534;
// The built addon, if any, goes beside the stand-ins so they can report the memfd's seals.
const addon = path.join(repo, 'build/Release/ssc_native.node');
const haveAddon = fs.existsSync(addon);

let failures = 0;
let count = 0;
function check(ok, what, detail) {
  count++;
  console.log(`${ok ? 'ok' : 'not ok'} ${count} - ${what}`);
  if (!ok) {
    failures++;
    if (detail !== undefined) console.log(`  # ${String(typeof detail === 'string' ? detail : JSON.stringify(detail)).replace(/\n/g, '\n  # ')}`);
  }
}
function equal(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  check(a === e, what, `expected ${e}\n got     ${a}`);
}

// ---- safety: never run outside a private mount namespace ----
if (process.getuid() !== 0) throw new Error('launcher-check: must run as root');
const outer = process.env.SSC_CHECK_OUTER_MNTNS;
if (!outer || fs.readlinkSync('/proc/self/ns/mnt') === outer)
  throw new Error('launcher-check: not in a private mount namespace; run test/native/launcher-check.sh');

// ---- set-up ----
const run = (cmd, args, opts = {}) => execFileSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], ...opts });
run('mount', ['--make-rprivate', '/']);
run('mount', ['-t', 'tmpfs', '-o', 'mode=0755,uid=0,gid=0', 'ssc-launcher-check', base]);
for (const d of ['lib', 'bin', 'dev-lib', 'evil', 'userbin']) fs.mkdirSync(`${base}/${d}`, { mode: 0o755 });
fs.mkdirSync(out, { mode: 0o1777 });
fs.chmodSync(out, 0o1777);
fs.chownSync(`${base}/userbin`, nobody, nobody);
fs.symlinkSync(node, `${base}/bin/node`);
// SSC_CHECK_SANITIZE=1: the same checks against a launcher built with ASan and UBSan (any finding
// aborts it, which fails the check that ran it).
const sanitize = process.env.SSC_CHECK_SANITIZE === '1';
const cflags = sanitize
  ? ['-std=gnu11', '-Wall', '-Wextra', '-Werror', '-O1', '-g', '-fsanitize=address,undefined', '-fno-sanitize-recover=all', '-fno-omit-frame-pointer', '-fPIE', '-pie']
  : ['-std=gnu11', '-Wall', '-Wextra', '-Werror', '-O2', '-D_FORTIFY_SOURCE=2', '-fstack-protector-strong', '-fPIE', '-pie'];
if (sanitize) console.log('# launcher built with -fsanitize=address,undefined');
// Every C file of the launcher and of what it shares with ssc-tab (binding.gyp's ssc-launcher target).
const launcherSources = ['native/launcher', 'native/common'].flatMap((dir) =>
  fs
    .readdirSync(path.join(repo, dir))
    .filter((f) => f.endsWith('.c'))
    .sort()
    .map((f) => path.join(repo, dir, f)),
);
run('gcc', [
  ...cflags,
  '-Wl,-z,relro,-z,now',
  `-DSSC_LIBDIR="${lib}"`,
  `-DSSC_NODE="${base}/bin/node"`,
  '-o',
  bin,
  ...launcherSources,
]);
fs.chmodSync(bin, 0o4755);
fs.copyFileSync(bin, `${base}/bin/ssc-nosuid`);
fs.chmodSync(`${base}/bin/ssc-nosuid`, 0o755);
for (const dir of [lib, `${base}/dev-lib`]) {
  fs.copyFileSync(path.join(here, 'standin.mjs'), `${dir}/ssc.js`);
  fs.copyFileSync(path.join(here, 'standin.mjs'), `${dir}/broker.js`);
  if (haveAddon) fs.copyFileSync(addon, `${dir}/ssc_native.node`);
  else fs.writeFileSync(`${dir}/ssc_native.node`, '');
  fs.writeFileSync(`${dir}/uwrap.node`, '');
  // What the installed entries read (bundle and code cache): only their trust is checked here.
  for (const f of ['ssc.bundle.js', 'ssc.cache', 'broker.bundle.js', 'broker.cache']) fs.writeFileSync(`${dir}/${f}`, '');
  fs.writeFileSync(`${dir}/package.json`, '{ "type": "module" }\n');
}
// A file the caller holds open on fd 7: it must not reach Node.
fs.writeFileSync(`${base}/stray-fd-marker`, 'x');
// Payloads that leave a marker in out/ if the loader or Node honoured the caller's environment.
fs.writeFileSync(`${base}/evil/evil.cjs`, `require('fs').writeFileSync('${out}/pwned-node-options-' + process.pid, '')\n`);
fs.writeFileSync(
  `${base}/evil/evil.c`,
  `#include <fcntl.h>\n#include <stdio.h>\n#include <unistd.h>\n__attribute__((constructor)) static void pwn(void) {\n` +
    `  char p[256]; snprintf(p, sizeof p, "${out}/pwned-ld-preload-%d", (int)getpid());\n  close(open(p, O_CREAT | O_WRONLY, 0644));\n}\n`,
);
run('gcc', ['-shared', '-fPIC', '-o', `${base}/evil/evil.so`, `${base}/evil/evil.c`]);
fs.writeFileSync(
  `${base}/evil/argc0.c`,
  '#include <unistd.h>\nint main(int c, char **v, char **e) { (void)c; char *none[] = {NULL}; execve(v[1], none, e); return 127; }\n',
);
run('gcc', ['-o', `${base}/evil/argc0`, `${base}/evil/argc0.c`]);
// The broker service's socket, in this namespace's own /run (launcher-check.sh mounted it).
const brokerSocket = /#define SSC_BROKER_SOCKET "([^"]+)"/.exec(fs.readFileSync(path.join(repo, 'native/launcher/handoff.h'), 'utf8'))[1];
const standinBroker = spawn('python3', [path.join(here, 'standin-broker.py'), brokerSocket, out], { stdio: ['ignore', 'pipe', 'inherit'] });
process.on('exit', () => standinBroker.kill());
await new Promise((resolve, reject) => {
  standinBroker.stdout.once('data', resolve);
  standinBroker.once('exit', () => reject(new Error('standin-broker.py did not start')));
});

// ---- helpers ----
function clearOut() {
  for (const f of fs.readdirSync(out)) fs.rmSync(`${out}/${f}`, { recursive: true, force: true });
}
/** Run `sh -c script` as uid/gid 65534 (or root when asRoot), with $BASE, $OUT, $BIN set. */
function runAs(script, { asRoot = false, setprivArgs = ['--clear-groups'], wantBroker = true, extraArgs = [] } = {}) {
  clearOut();
  const shArgs = ['-c', script, 'sh', ...extraArgs];
  const env = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', BASE: base, OUT: out, BIN: bin };
  const r = asRoot
    ? spawnSync('/bin/sh', shArgs, { env, timeout: 30_000 })
    : spawnSync('setpriv', [`--reuid=${nobody}`, `--regid=${nobody}`, ...setprivArgs, '--', '/bin/sh', ...shArgs], { env, timeout: 30_000 });
  const read = (name) => {
    try {
      return JSON.parse(fs.readFileSync(`${out}/${name}.json`, 'utf8'));
    } catch {
      return null;
    }
  };
  // The broker may finish a moment after the front end.
  const deadline = Date.now() + 10_000;
  while (wantBroker && read('broker') === null && Date.now() < deadline) spawnSync('sleep', ['0.05']);
  return { status: r.status, stderr: r.stderr.toString(), stdout: r.stdout.toString(), front: read('front'), broker: read('broker'), dev: read('dev-front') };
}

/** Independent decoder of the hand-off (format: native/launcher/handoff.h). */
function decode(b64) {
  const b = Buffer.from(b64, 'base64');
  let off = 0;
  const u32 = () => {
    const v = b.readUInt32LE(off);
    off += 4;
    return v;
  };
  const bytes = () => {
    const n = u32();
    const s = b.subarray(off, off + n);
    off += n;
    return s;
  };
  const magic = b.subarray(0, 4).toString('latin1');
  off = 4;
  const h = { magic, version: u32(), headerLen: u32(), flags: u32(), ruid: u32(), rgid: u32(), umask: u32(), cwdErrno: u32(), nofile: u32(), pid: u32() };
  const ngroups = u32();
  h.groups = Array.from({ length: ngroups }, u32);
  const argv = Array.from({ length: u32() }, bytes);
  const env = Array.from({ length: u32() }, bytes);
  const cwd = bytes();
  return { header: h, argv, env, cwd, trailing: b.length - off };
}
const hex = (bufs) => bufs.map((x) => x.toString('hex'));
const ids = (id) => `${id}\t${id}\t${id}\t${id}`;
const pwned = () => fs.readdirSync(out).filter((f) => f.startsWith('pwned') || f === 'cov');

// ---- 0. control: the payloads work when a process does honour them ----
{
  runAs(`exec env "NODE_OPTIONS=--require $BASE/evil/evil.cjs" "LD_PRELOAD=$BASE/evil/evil.so" ${node} -e 0`, { wantBroker: false });
  const markers = pwned().map((f) => f.replace(/-\d+$/, ''));
  equal([...new Set(markers)].sort(), ['pwned-ld-preload', 'pwned-node-options'], 'control: NODE_OPTIONS and LD_PRELOAD payloads fire in a plain node');
}

// ---- 1. the normal path, as an unprivileged caller with odd argv, env and state ----
{
  const script = `
    cd /; umask 027; ulimit -S -n 1000; ulimit -S -c 1024; ulimit -S -s 16384; trap '' INT HUP
    cat /proc/$$/limits > "$OUT/caller-limits"
    exec 7<"$BASE/stray-fd-marker"
    exec env -i "FOO=a=b" "EMPTY=" "NODE_OPTIONS=--require $BASE/evil/evil.cjs" "LD_PRELOAD=$BASE/evil/evil.so" \\
      "NODE_V8_COVERAGE=$OUT/cov" "DBUS_SYSTEM_BUS_ADDRESS=unixexec:path=/bin/true" "SSC_DEV_LIBDIR=$BASE/dev-lib" \\
      "$BIN" case1 "$(printf 'line1\\nline2')" "$(printf '\\377\\376bytes')" ""`;
  const callerLimits = () => fs.readFileSync(`${out}/caller-limits`, 'utf8');
  const r = runAs(script, { setprivArgs: ['--groups=100,65533'] });
  check(r.status === 0 && r.front !== null, 'privileged launch: front end ran', r);
  check(r.broker !== null, 'privileged launch: broker ran', r.stderr);
  if (r.front && r.broker) {
    const f = r.front;
    const k = r.broker;
    equal([f.uid, f.gid, f.groups.trim()], [ids(nobody), ids(nobody), '100 65533'], 'front end: all uids/gids are the caller\'s, groups restored');
    equal([k.peer.uid, k.peer.pid], [0, f.pid], 'broker: the peer connected as root (SO_PEERCRED), from the front end\'s PID');
    equal([f.argv0, f.argv, f.execArgv], ['ssc', [`${lib}/ssc.js`], []], 'front end: argv {"ssc", LIBDIR/ssc.js}, no Node options');
    equal([k.hello, k.fds.length, k.pidfdPid], ['SSC1', 5, f.pid], 'broker: one hello with five descriptors; the pidfd is the launcher\'s (the front end\'s PID)');
    equal(f.exe, node, 'the front end execs the resolved node, not the symlink');
    equal(f.env, { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' }, 'fixed environment only');
    equal(pwned(), [], 'NODE_OPTIONS, LD_PRELOAD, NODE_V8_COVERAGE in the caller env did nothing');
    equal([f.exchange, k.exchange], [{ sent: 'ping', got: 'pong' }, { got: 'ping' }], 'the connection on fd 4 reaches the broker');
    equal(f.umask, '0027', 'umask: the caller\'s for the front end');
    equal([f.sigBlk, f.sigIgn], ['0000000000000000', '0000000001001000'], 'signals: nothing blocked, only what Node ignores itself (PIPE, XFSZ; the caller ignored INT, HUP)');
    // Node raises its own soft RLIMIT_NOFILE to the hard limit at start-up, and the kernel caps
    // the soft RLIMIT_STACK at 8 MiB on a setuid exec (before main): allow for both.
    const limits = (text) => {
      const m = Object.fromEntries(text.split('\n').slice(1).filter(Boolean).map((l) => [l.slice(0, 26).trim(), l.slice(26).trim().split(/\s+/).slice(0, 2)]));
      m['Max open files'][0] = 'node';
      if (Number(m['Max stack size'][0]) > 8388608) m['Max stack size'][0] = '8388608';
      // ASan sets its own soft RLIMIT_CORE to 0 before main (disable_coredump).
      if (sanitize) m['Max core file size'][0] = 'asan';
      return m;
    };
    equal(limits(f.limits), limits(callerLimits()), 'front end: every rlimit is the caller\'s again (but NOFILE soft: Node; STACK soft: kernel)');
    const leaked = [...Object.values(f.fds), ...k.fds].filter((t) => t && t.includes('stray-fd-marker'));
    equal(leaked, [], 'a caller fd above 2 reaches neither process');
    check(f.fds['3']?.startsWith('/memfd:ssc-handoff') && k.fds[0]?.startsWith('/memfd:ssc-handoff'), 'the memfd: fd 3 of the front end, first in the hello', [f.fds['3'], k.fds[0]]);
    check(f.fds['4']?.startsWith('socket:'), 'fd 4 of the front end is a socket', f.fds['4']);
    equal(k.fds.slice(2), [f.fds['0'], f.fds['1'], f.fds['2']], 'broker: the caller\'s fds 0-2 (handed to systemd for --wait), nothing else');
    equal([f.handoff.write, f.handoff.flags & 3, k.write], ['EBADF', 0, 'EPERM'], 'hand-off: read-only (O_RDONLY) in the front end; sealed against writes in the broker');
    check(f.handoff.data === k.handoff && f.handoff.data.length > 0, 'both read the whole hand-off from offset 0 (own file offsets)');
    if (haveAddon) equal([f.native.seals, k.seals], [15, 15], 'hand-off sealed: F_SEAL_SEAL|SHRINK|GROW|WRITE (read with the addon)');
    else console.log('# build/Release/ssc_native.node missing: seals not checked');
    const d = decode(f.handoff.data);
    equal(
      d.header,
      { magic: 'SSCH', version: 2, headerLen: 52, flags: 1, ruid: nobody, rgid: nobody, umask: 0o027, cwdErrno: 0, nofile: 1000, pid: f.pid, groups: [100, 65533] },
      'hand-off header: kernel facts about the caller, the launcher\'s PID = the front end\'s',
    );
    equal(
      hex(d.argv),
      hex([Buffer.from(bin), Buffer.from('case1'), Buffer.from('line1\nline2'), Buffer.from([0xff, 0xfe, ...Buffer.from('bytes')]), Buffer.alloc(0)]),
      'hand-off argv: exact bytes (newline, invalid UTF-8, empty)',
    );
    const env = d.env.map((e) => e.toString('latin1'));
    equal(
      env,
      ['FOO=a=b', 'EMPTY=', `NODE_OPTIONS=--require ${base}/evil/evil.cjs`, `NODE_V8_COVERAGE=${out}/cov`, 'DBUS_SYSTEM_BUS_ADDRESS=unixexec:path=/bin/true', `SSC_DEV_LIBDIR=${base}/dev-lib`],
      'hand-off env: as given (glibc already removed LD_PRELOAD under AT_SECURE)',
    );
    equal([d.cwd.toString(), d.trailing], ['/', 0], 'hand-off cwd, nothing trailing');
    equal(r.dev, null, 'SSC_DEV_LIBDIR ignored when privileged');
  }
}

// ---- 2. closed stdin/stdout/stderr at start ----
{
  // Setuid, glibc fills closed 0-2 before main (AT_SECURE): /dev/full on 0, /dev/null on 1, 2.
  const r = runAs('cd /; exec "$BIN" case2 <&- >&- 2>&-');
  check(r.front !== null && r.broker !== null, 'closed fds 0-2: both ran', r);
  if (r.front && r.broker) {
    const std = (x) => [x.fds['0'], x.fds['1'], x.fds['2']];
    check(['/dev/null', '/dev/full'].includes(r.front.fds['0']), 'closed fds 0-2: front end fd 0 filled', std(r.front));
    equal(std(r.front).slice(1), ['/dev/null', '/dev/null'], 'closed fds 0-2: front end fds 1, 2 on /dev/null');
    equal(r.broker.fds.slice(2), std(r.front), 'closed fds 0-2: the broker has the same filled-in fds');
    equal(decode(r.front.handoff.data).header.groups, [], 'setpriv --clear-groups: no groups in the header');
  }
  // Not setuid, nothing else fills them: ensure_std_fds must.
  const u = runAs('cd /; exec "$BASE/bin/ssc-nosuid" case2 <&- >&- 2>&-', { wantBroker: false });
  check(u.front !== null, 'closed fds 0-2, unprivileged: front end ran', u);
  if (u.front) equal([u.front.fds['0'], u.front.fds['1'], u.front.fds['2']], ['/dev/null', '/dev/null', '/dev/null'], 'closed fds 0-2, unprivileged: /dev/null on each');
}

// ---- 3. a hand-off far larger than a pipe buffer; a deleted cwd ----
{
  const script = `mkdir "$OUT/gone" && cd "$OUT/gone" && rmdir "$OUT/gone" && exec env -i "BIG=$2" "$BIN" case3 "$1"`;
  const r = runAs(script, { extraArgs: ['a'.repeat(120_000), 'b'.repeat(120_000)] });
  check(r.front !== null && r.broker !== null, 'large hand-off: both ran', r.stderr);
  if (r.front) {
    const d = decode(r.front.handoff.data);
    equal([d.argv[2]?.length, d.env[0]?.length, r.front.handoff.size > 240_000], [120_000, 120_004, true], 'large hand-off: 240 KB arrives whole');
    equal([d.header.cwdErrno, d.cwd.length], [2, 0], 'deleted cwd: cwd_errno ENOENT, empty cwd');
  }
}

// ---- 4. argc == 0 ----
{
  const r = runAs('cd /; exec "$BASE/evil/argc0" "$BIN"');
  check(r.front !== null && r.broker !== null, 'argc 0: launcher runs normally', r.stderr);
  if (r.front) {
    const argv = decode(r.front.handoff.data).argv;
    check(argv.length === 0 || (argv.length === 1 && argv[0].length === 0), 'argc 0: hand-off argv empty (or the kernel\'s lone "")', hex(argv));
  }
}

// ---- 5. refusals: an installation a non-root user could have changed ----
function refusal(what, mutate, restore, expected) {
  mutate();
  const r = runAs('cd /; exec "$BIN" refused', { wantBroker: false });
  restore();
  check(r.status === 125 && r.stderr === `ssc: refusing to run: ${expected}\n` && !r.front && !r.broker, `refuses: ${what}`, r);
}
refusal('group-writable library directory', () => fs.chmodSync(lib, 0o775), () => fs.chmodSync(lib, 0o755), `${lib} is group-writable`);
refusal('other-writable broker.js', () => fs.chmodSync(`${lib}/broker.js`, 0o646), () => fs.chmodSync(`${lib}/broker.js`, 0o644), `${lib}/broker.js is writable by others`);
refusal('group-writable code cache', () => fs.chmodSync(`${lib}/broker.cache`, 0o664), () => fs.chmodSync(`${lib}/broker.cache`, 0o644), `${lib}/broker.cache is group-writable`);
refusal(
  'bundle not owned by root',
  () => fs.chownSync(`${lib}/ssc.bundle.js`, 1, 1),
  () => fs.chownSync(`${lib}/ssc.bundle.js`, 0, 0),
  `${lib}/ssc.bundle.js is owned by uid 1, not root`,
);
refusal(
  'addon not owned by root',
  () => fs.chownSync(`${lib}/ssc_native.node`, nobody, nobody),
  () => fs.chownSync(`${lib}/ssc_native.node`, 0, 0),
  `${lib}/ssc_native.node is owned by uid ${nobody}, not root`,
);
refusal(
  'missing front end',
  () => fs.renameSync(`${lib}/ssc.js`, `${lib}/ssc.js.away`),
  () => fs.renameSync(`${lib}/ssc.js.away`, `${lib}/ssc.js`),
  `cannot resolve ${lib}/ssc.js: No such file or directory`,
);
refusal(
  'node symlink into a user-owned directory',
  () => {
    fs.writeFileSync(`${base}/userbin/node`, '', { mode: 0o755 });
    fs.unlinkSync(`${base}/bin/node`);
    fs.symlinkSync(`${base}/userbin/node`, `${base}/bin/node`);
  },
  () => {
    fs.unlinkSync(`${base}/bin/node`);
    fs.symlinkSync(node, `${base}/bin/node`);
  },
  `${base}/userbin is owned by uid ${nobody}, not root`,
);
// A symlinked entry: what the loader reads beside itself is checked beside the file the link
// resolves to, where it will be read, not beside the link. Every copy there is sound but the addon.
const alt = `${base}/alt`;
const besideEntry = ['ssc.js', 'ssc.bundle.js', 'ssc.cache', 'ssc_native.node', 'uwrap.node'];
refusal(
  'a symlinked entry whose addon beside its target is not root-owned',
  () => {
    fs.mkdirSync(alt, { mode: 0o755 });
    for (const f of besideEntry) fs.copyFileSync(`${lib}/${f}`, `${alt}/${f}`);
    fs.chownSync(`${alt}/ssc_native.node`, nobody, nobody);
    fs.renameSync(`${lib}/ssc.js`, `${lib}/ssc.js.orig`);
    fs.symlinkSync(`${alt}/ssc.js`, `${lib}/ssc.js`);
  },
  () => {
    fs.unlinkSync(`${lib}/ssc.js`);
    fs.renameSync(`${lib}/ssc.js.orig`, `${lib}/ssc.js`);
    fs.rmSync(alt, { recursive: true });
  },
  `${alt}/ssc_native.node is owned by uid ${nobody}, not root`,
);
{
  // The control: the same symlinked entry with every file beside its target sound runs.
  fs.mkdirSync(alt, { mode: 0o755 });
  for (const f of besideEntry) fs.copyFileSync(`${lib}/${f}`, `${alt}/${f}`);
  fs.renameSync(`${lib}/ssc.js`, `${lib}/ssc.js.orig`);
  fs.symlinkSync(`${alt}/ssc.js`, `${lib}/ssc.js`);
  const r = runAs('cd /; exec "$BIN" linked');
  fs.unlinkSync(`${lib}/ssc.js`);
  fs.renameSync(`${lib}/ssc.js.orig`, `${lib}/ssc.js`);
  fs.rmSync(alt, { recursive: true });
  check(r.front !== null && r.broker !== null, 'a symlinked entry with sound files beside its target runs', r.stderr);
}

// ---- 6. too few file descriptors for Node ----
{
  const r = runAs('cd /; ulimit -n 20; exec "$BIN" nofile', { wantBroker: false });
  check(r.status === 125 && /^ssc: the open-files limit \(ulimit -n\) is 20; Node needs at least 32\n$/.test(r.stderr) && !r.front, 'RLIMIT_NOFILE below 32: one clear line', r);
}

// ---- 6b. a caller's lowered hard limit: lifted with CAP_SYS_RESOURCE, else refused ----
{
  const capBnd = BigInt('0x' + /^CapBnd:\s*(\S+)/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]);
  const canRaise = (capBnd >> 24n) & 1n; // CAP_SYS_RESOURCE
  const r = runAs('cd /; ulimit -f 100000; cat /proc/$$/limits > "$OUT/caller-limits"; exec "$BIN" fsize', { wantBroker: canRaise === 1n });
  if (canRaise) {
    check(r.front !== null && r.broker !== null, 'hard RLIMIT_FSIZE lowered by the caller: both ran', r);
    const fsize = (text) => /^Max file size.*$/m.exec(text)?.[0];
    if (r.front) equal(fsize(r.front.limits), fsize(fs.readFileSync(`${out}/caller-limits`, 'utf8')), 'front end: the caller\'s RLIMIT_FSIZE again');
  } else {
    check(
      r.status === 125 && r.stderr === "ssc: cannot lift the caller's RLIMIT_FSIZE for the privileged side: Operation not permitted\n",
      'hard RLIMIT_FSIZE lowered and no CAP_SYS_RESOURCE in the bounding set: refused',
      r,
    );
  }
}

// ---- 7. not privileged (no setuid bit): no broker, SSC_DEV_LIBDIR honoured ----
{
  const r = runAs(`cd /; exec env SSC_DEV_LIBDIR="$BASE/dev-lib" "$BASE/bin/ssc-nosuid" dev`, { wantBroker: false });
  check(r.status === 0 && r.dev !== null && r.front === null, 'unprivileged: SSC_DEV_LIBDIR front end ran', r);
  if (r.dev) {
    equal([r.dev.uid, (r.dev.fds['4'] ?? '').startsWith('socket:'), r.dev.env], [ids(nobody), false, { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' }], 'unprivileged: caller ids, no socket on fd 4, fixed environment');
    equal(decode(r.dev.handoff.data).header.flags, 0, 'unprivileged: flags without SSC_HANDOFF_F_PRIVILEGED');
    equal(decode(r.dev.handoff.data).header.pid, r.dev.pid, 'unprivileged: hand-off pid is the front end\'s (no fork)');
  }
  const plain = runAs('cd /; exec "$BASE/bin/ssc-nosuid" plain', { wantBroker: false });
  check(plain.status === 0 && plain.front !== null && plain.dev === null, 'unprivileged without SSC_DEV_LIBDIR: the compiled-in front end');
}

// ---- 8. root as the caller ----
{
  const r = runAs('cd /; exec "$BIN" root', { asRoot: true });
  check(r.front !== null && r.broker !== null, 'root caller: both ran', r.stderr);
  if (r.front) equal([r.front.uid, decode(r.front.handoff.data).header.flags], [ids(0), 1], 'root caller: front end root, privileged flag');
  if (r.front) equal(decode(r.front.handoff.data).header.pid, r.front.pid, 'root caller: hand-off pid is the front end\'s');
}

// ---- 9. randomized exec harness: random argv, environment, umask, limits and fds ----
// Each run execs the setuid launcher as uid 65534 with random bytes for arguments and variables
// (python's os.execve passes bytes exactly), a random umask and RLIMIT_NOFILE, random extra fds
// and some of fds 0-2 closed; the stand-in front end must then find exactly those argv and
// variables in the hand-off, and the launcher must never die of a signal.
{
  const runs = Number(process.env.SSC_CHECK_FUZZ_RUNS ?? 150);
  let seed = Number(process.env.SSC_CHECK_FUZZ_SEED ?? Date.now() % 2147483647);
  console.log(`# randomized exec harness: ${runs} runs, seed ${seed} (SSC_CHECK_FUZZ_SEED to repeat)`);
  const rand = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
  const int = (n) => Math.floor(rand() * n);
  const bytes = (max) => Buffer.from(Array.from({ length: int(max + 1) }, () => 1 + int(255)));
  const runner = `
import json, os, resource, sys
spec = json.loads(sys.argv[1])
os.umask(spec['umask'])
soft = spec['nofile']
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, hard), hard))
for fd in spec['extra']:
    os.dup2(os.open('/dev/null', os.O_RDONLY), fd)
    os.set_inheritable(fd, True)
for fd in spec['close']:
    os.close(fd)
os.setgroups([]); os.setresgid(65534, 65534, 65534); os.setresuid(65534, 65534, 65534)
argv = [bytes.fromhex(a) for a in spec['argv']]
env = [bytes.fromhex(e) for e in spec['env']]
os.execve(spec['bin'], argv, dict(e.split(b'=', 1) for e in env))
`;
  let bad = 0;
  for (let i = 0; i < runs && bad < 5; i++) {
    const argv = [Buffer.concat([Buffer.from('s'), bytes(40)]), ...Array.from({ length: int(20) }, () => bytes(int(4) === 0 ? 3000 : 60))];
    const names = new Set();
    const env = [];
    for (let k = int(30); k > 0; k--) {
      // F_ names: never one of glibc's "unsecure" variables, which a setuid exec removes before main.
      const name = `F_${int(1e6)}`;
      if (names.has(name)) continue;
      names.add(name);
      env.push(Buffer.concat([Buffer.from(`${name}=`), bytes(100)]));
    }
    const nofile = 64 + int(4000);
    const spec = {
      bin,
      umask: int(0o1000),
      nofile,
      extra: Array.from({ length: int(5) }, () => 5 + int(Math.min(nofile - 6, 200))),
      close: [0, 1, 2].filter(() => int(4) === 0),
      argv: argv.map((a) => a.toString('hex')),
      env: env.map((e) => e.toString('hex')),
    };
    clearOut();
    const r = spawnSync('python3', ['-c', runner, JSON.stringify(spec)], { cwd: '/', timeout: 30_000 });
    const front = (() => {
      try {
        return JSON.parse(fs.readFileSync(`${out}/front.json`, 'utf8'));
      } catch {
        return null;
      }
    })();
    const d = front?.handoff?.data ? decode(front.handoff.data) : null;
    const problems = [];
    if (r.signal !== null || r.status !== 0) problems.push(`status ${r.status} signal ${r.signal}: ${r.stderr}`);
    if (d === null) problems.push('no hand-off reached the front end');
    else {
      if (JSON.stringify(hex(d.argv)) !== JSON.stringify(spec.argv)) problems.push('argv differs');
      if (JSON.stringify(hex(d.env)) !== JSON.stringify(spec.env)) problems.push('environment differs');
      if (d.header.umask !== spec.umask) problems.push(`umask ${d.header.umask} != ${spec.umask}`);
      if (d.trailing !== 0) problems.push('trailing bytes');
    }
    if (problems.length > 0) {
      bad++;
      check(false, `randomized exec run ${i}`, { problems, spec: { ...spec, argv: spec.argv.length, env: spec.env.length } });
    }
  }
  check(bad === 0, `randomized exec harness: ${runs} runs, every hand-off exact, no crash`);
}

// ---- 10. valgrind memcheck on the launcher (both paths) ----
if (sanitize) console.log('# valgrind skipped: it cannot run an ASan build');
else if (spawnSync('valgrind', ['--version']).status !== 0) console.log('# valgrind not installed: memcheck skipped');
else {
  const vg = ['valgrind', '--quiet', '--error-exitcode=99', '--child-silent-after-fork=no', '--trace-children=no'];
  // As root the setuid binary takes the privileged path (fork, become_root, drop_privs); as a
  // user valgrind cannot honour the setuid bit, so the unprivileged path runs.
  const priv = runAs(`cd /; exec ${vg.join(' ')} "$BIN" vg-root`, { asRoot: true });
  check(priv.status !== 99 && !/ERROR SUMMARY: [1-9]|Invalid|uninitialised/.test(priv.stderr), 'valgrind memcheck: no errors on the privileged path', priv.stderr);
  const unpriv = runAs(`cd /; exec ${vg.join(' ')} "$BIN" vg-user`, { wantBroker: false });
  check(unpriv.status !== 99 && !/ERROR SUMMARY: [1-9]|Invalid|uninitialised/.test(unpriv.stderr), 'valgrind memcheck: no errors on the unprivileged path', unpriv.stderr);
}

console.log(`1..${count}`);
if (failures > 0) console.log(`# ${failures} failed`);
process.exit(failures > 0 ? 1 : 0);
