/**
 * The numbered attacks of SECURITY.md ("Tests that try to break it") that are
 * not in invariants.test.ts: each runs as the unprivileged user sscalice
 * against the installed setuid ssc and fails if the attack works.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bed } from '../bed/bed.js';
import { bedKind, bedSkipReason, brokerConnections, getBed, sscUnits } from '../bed/index.js';
import { Tmux } from '../bed/tmux.js';
import { SSC_BIN, SSC_PREFIX, TEST_USERS } from '../bed/users.js';

const skip = bedSkipReason();
/** Hundreds of runs (or 300 Node processes at once) are for the namespace bed; the VM runs under TCG with 3 GB. */
const heavy = bedKind() === 'local' ? 'in the VM: hundreds of runs under TCG, 3 GB of RAM; run in the namespace bed' : false;
const heavyNote = heavy ? ` (skipped: ${heavy})` : '';
const alice = TEST_USERS.sscalice;
const LIBDIR = `${SSC_PREFIX}/lib/ssc`;

/** Root-owned files anywhere the user could see them, besides what the bed itself had: none may appear. */
const ROOT_FILES =
  'find /run /tmp /var/tmp /home /dev/shm -xdev -mindepth 1 -user root -newer /run/ssc-adversarial-start 2>/dev/null | grep -v "^/run/systemd\\|^/run/ssc$\\|^/run/user$\\|^/run/log\\|^/run/dbus\\|^/run/ssc-broker.sock$\\|/systemd-private-[0-9a-f]*-ssc-broker.service-" || true';

describe.skipIf(skip)(`attacks on the setuid path, numbered as in SECURITY.md${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let bed: Bed;
  beforeAll(async () => {
    bed = getBed();
    await bed.run(['touch', '/run/ssc-adversarial-start']);
  });
  afterAll(async () => {
    await bed.sh('systemctl stop "app-ssc-*" 2>/dev/null; rm -f /run/ssc-adversarial-start; pkill -u sscalice sleep || true');
  });

  const asAlice = (script: string, env?: Record<string, string>) => bed.run(['bash', '-c', script], { user: 'sscalice', env });

  describe('4. file descriptors and limits', () => {
    it('fds 0, 1 and 2 closed at start: the program runs, its stdio is /dev/null, nothing lands on a reused fd', async () => {
      // find writes its listing to a file it opens itself: a shell's redirection would move fd 1.
      const r = await asAlice(
        `exec 0<&- 1>&- 2>&- ; ${SSC_BIN} --no-tty --wait find /proc/self/fd -mindepth 1 -maxdepth 1 -name '[012]' -fprintf $HOME/std.txt '%f %l\\n'; echo $? > $HOME/std-status.txt`,
      );
      expect(r.code).toBe(0);
      expect((await bed.run(['cat', `${alice.home}/std-status.txt`])).stdout).toBe('0\n');
      // glibc gives a setuid program /dev/full or /dev/null for a closed fd 0-2; ssc passes them on.
      const std = (await bed.run(['cat', `${alice.home}/std.txt`])).stdout.trim().split('\n').sort();
      expect(std).toHaveLength(3);
      for (const line of std) expect(line).toMatch(/^[012] \/dev\/(null|full)$/);
    });

    it('1000 inherited fds reach neither the program nor the privileged part', async () => {
      const r = await asAlice(
        `for i in $(seq 10 1009); do eval "exec $i</dev/null"; done; exec ${SSC_BIN} --no-tty --wait sh -c 'ls /proc/self/fd | wc -l'`,
      );
      expect(r).toMatchObject({ code: 0, stdout: '4\n' }); // 0, 1, 2 and ls's own directory
    });

    it('RLIMIT_NOFILE 3 and a small RLIMIT_AS are refused in one line, before Node', async () => {
      // With 3 descriptors the dynamic loader cannot even open libc: its own one line, nothing ran.
      const three = await asAlice(`ulimit -n 3; exec ${SSC_BIN} --no-tty --wait true`);
      expect(three.code).toBe(127);
      expect(three.stderr).toMatch(/^[^\n]*error while loading shared libraries[^\n]*\n$/);
      const nofile = await asAlice(`ulimit -n 10; exec ${SSC_BIN} --no-tty --wait true`);
      expect(nofile.code).toBe(125);
      expect(nofile.stderr).toMatch(/^ssc: the open-files limit \(ulimit -n\) is 10; [^\n]*\n$/);
      const as = await asAlice(`ulimit -v 300000; exec ${SSC_BIN} --no-tty --wait true`);
      expect(as.code).toBe(125);
      expect(as.stderr).toMatch(/^ssc: the address-space limit \(ulimit -v\) is 300000 KiB; [^\n]*\n$/);
    });

    it("RLIMIT_FSIZE 0 and umask 0777 make no root write fail: the program runs, with the caller's umask", async () => {
      // A large environment: the root-written environment file is well over 0 bytes.
      const env = { BIG: 'x'.repeat(100_000) };
      const soft = await asAlice(`ulimit -S -f 0; umask 0777; exec ${SSC_BIN} --no-tty --wait sh -c 'umask; echo \${#BIG}'`, env);
      expect(soft).toMatchObject({ code: 0, stdout: '0777\n100000\n', stderr: '' });
      // A hard limit of 0 only root with CAP_SYS_RESOURCE can lift (these machines' bounding set
      // lacks it): a correct run where it can, one line and nothing started where it cannot.
      const hard = await asAlice(`ulimit -f 0; exec ${SSC_BIN} --no-tty --wait sh -c 'echo \${#BIG}'`, env);
      if (hard.code === 0) expect(hard.stdout).toBe('100000\n');
      else
        expect(hard).toMatchObject({
          code: 125,
          stdout: '',
          stderr: "ssc: cannot lift the caller's RLIMIT_FSIZE for the privileged side: Operation not permitted\n",
        });
    });
  });

  describe.skipIf(heavy)(`5. ptrace${heavyNote}`, () => {
    it('a process of the same uid cannot attach to ssc or read its fds and environment while it holds root', async () => {
      // The attacker is ssc's parent (allowed to trace its child under any Yama mode), stops ssc at
      // random moments, and tries every process of the launch that runs as root.
      const py = `
import ctypes, os, random, signal, subprocess, time, sys
libc = ctypes.CDLL(None, use_errno=True)
def euid(pid):
    try:
        for l in open(f'/proc/{pid}/status'):
            if l.startswith('Uid:'): return int(l.split()[2])
    except OSError: return None
def brokers():
    out = subprocess.run(['pgrep', '-f', 'ssc/broker[.]js'], capture_output=True, text=True).stdout.split()
    return [int(p) for p in out]
tried = 0
for i in range(40):
    p = subprocess.Popen(['${SSC_BIN}', '--no-tty', '--wait', 'sleep', '0.2'])
    time.sleep(random.random() * 0.06)
    targets = [p.pid] + brokers()
    os.kill(p.pid, signal.SIGSTOP)
    for t in targets:
        if euid(t) != 0: continue
        tried += 1
        if libc.ptrace(16, t, 0, 0) == 0:
            print(f'ATTACHED {t}'); libc.ptrace(17, t, 0, 0)
        for f in ('environ', 'fd'):
            try:
                (os.listdir if f == 'fd' else (lambda x: open(x).read()))(f'/proc/{t}/{f}')
                print(f'READ {t} {f}')
            except OSError: pass
    os.kill(p.pid, signal.SIGCONT)
    p.wait()
print(f'tried {tried}')
# The control: the same attach and reads work on a child of the same uid that never held root
# (under Yama's mode 3 nothing could be attached at all, and the check above would prove nothing).
c = subprocess.Popen(['sleep', '5'])
time.sleep(0.05)
if libc.ptrace(16, c.pid, 0, 0) == 0:
    os.waitpid(c.pid, 0); libc.ptrace(17, c.pid, 0, 0); print('control attached')
os.listdir(f'/proc/{c.pid}/fd'); print('control read')
c.kill(); c.wait()
`;
      const r = await bed.run(['/usr/bin/python3', '-c', py], { user: 'sscalice', timeoutMs: 120_000 });
      expect(r.stdout).not.toMatch(/ATTACHED|READ/);
      expect(Number(/tried (\d+)/.exec(r.stdout)?.[1])).toBeGreaterThan(0);
      expect(r.stdout).toMatch(/^control attached\ncontrol read$/m);
    });
  });

  describe.skipIf(heavy)(`6. signals${heavyNote}`, () => {
    it('200 runs killed at random moments leave no root-owned file, no environment file and no broker behind', async () => {
      const py = `
import os, random, signal, subprocess, time
sigs = [signal.SIGKILL, signal.SIGTERM, 'STOP']
for i in range(200):
    p = subprocess.Popen(['${SSC_BIN}', '--no-tty', '--wait', 'sleep', '0.3'], stderr=subprocess.DEVNULL)
    time.sleep(random.random() * 0.12)
    s = sigs[i % 3]
    if s == 'STOP':
        os.kill(p.pid, signal.SIGSTOP); time.sleep(0.01); os.kill(p.pid, signal.SIGKILL)
    else:
        os.kill(p.pid, s)
    p.wait()
print('done')
`;
      const r = await bed.run(['/usr/bin/python3', '-c', py], { user: 'sscalice', timeoutMs: 300_000 });
      expect(r.stdout).toBe('done\n');
      // The last programs end within their 0.3 s; a broker waits at most for its start job.
      let units: string[] = [];
      for (let i = 0; i < 50; i++) {
        units = await sscUnits(bed);
        if (units.length === 0) break;
        await new Promise((res) => setTimeout(res, 200));
      }
      expect(units).toEqual([]);
      // The broker service stays (until it is idle a minute) but holds no connection of theirs.
      expect(await brokerConnections(bed)).toBe(0);
      expect((await bed.sh('ls -A /run/ssc')).stdout).toBe('');
      expect((await bed.sh(ROOT_FILES)).stdout).toBe('');
      // The control: a root-owned file left in /tmp is listed.
      await bed.run(['touch', '/tmp/ssc-root-file-control']);
      const listed = await bed.sh(ROOT_FILES).finally(() => bed.run(['rm', '-f', '/tmp/ssc-root-file-control']));
      expect(listed.stdout).toBe('/tmp/ssc-root-file-control\n');
    });
  });

  describe('7. working directory', () => {
    it("a cwd whose parent is swapped for a symlink to a root-only directory: a clean error, or a run with the user's permissions only", async () => {
      await bed.sh('mkdir -p /root/secret && echo hidden > /root/secret/file && chmod 700 /root');
      const py = `
import os, random, subprocess, time
home = os.environ['HOME']
results = []
for i in range(20):
    base = f'{home}/swap{i}'
    os.makedirs(f'{base}/a/secret', exist_ok=True)
    p = subprocess.Popen(['${SSC_BIN}', '--no-tty', '--wait', 'sh', '-c', 'pwd -P; cat file 2>&1 || true'], cwd=f'{base}/a/secret', stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(random.random() * 0.08)
    os.rename(f'{base}/a', f'{base}/old')
    os.symlink('/root', f'{base}/a')
    out, err = p.communicate()
    results.append((p.returncode, out, err))
for code, out, err in results:
    print(repr((code, out.strip(), err.strip())))
`;
      const r = await bed.run(['/usr/bin/python3', '-c', py], { user: 'sscalice', timeoutMs: 120_000 });
      expect(r.code).toBe(0);
      const lines = r.stdout.trim().split('\n');
      expect(lines).toHaveLength(20);
      for (const line of lines) {
        expect(line).not.toMatch(/hidden|\/root\/secret'/);
        // Either it ran where the user could enter, or it failed in one ssc: line.
        expect(line).toMatch(/^\(0, '\/home\/sscalice\/swap\d+\/(a|old)\/secret|^\(125, '', 'ssc: [^\\]*'\)$/);
      }
      // The race was won at least once: the swap landed while ssc was starting the program.
      expect(lines.filter((l) => /\/old\/secret|^\(125,/.test(l)).length).toBeGreaterThan(0);
      // The control: whoever follows the path after the swap with root's rights reads the secret.
      expect((await bed.run(['cat', `${alice.home}/swap0/a/secret/file`])).stdout).toBe('hidden\n');
    });
  });

  describe.skipIf(heavy)(`8. size${heavyNote}`, () => {
    // As many as one unit file line holds (1 MiB after systemd's escaping; unit-file.test.ts tests its bound).
    const BIG_ARGS = `big=$(head -c 131071 /dev/zero | tr '\\0' a); set -- "$big" $(seq 1 49999)`;
    const MANY_VARS = 'for i in $(seq 1 50000); do export V$i=value$i; done';

    it('50,000 arguments with one of 128 KiB, and 50,000 variables, each arrive whole, leaving no environment file', async () => {
      const args = await asAlice(
        `ulimit -s unlimited; ${BIG_ARGS}; exec ${SSC_BIN} --no-tty --wait sh -c 'echo "$# \${#1} \${50000}"' sh "$@"`,
      );
      expect(args).toMatchObject({ code: 0, stdout: '50000 131071 49999\n', stderr: '' });
      const vars = await asAlice(
        `ulimit -s unlimited; ${MANY_VARS}; exec ${SSC_BIN} --no-tty --wait sh -c 'echo "$V50000"; env | grep -c ^V'`,
      );
      expect(vars).toMatchObject({ code: 0, stdout: 'value50000\n50000\n', stderr: '' });
      expect((await bed.sh('ls -A /run/ssc')).stdout).toBe('');
    });

    it("both at once exceed what the unit's execve takes: a clear error before anything starts", async () => {
      const r = await asAlice(`ulimit -s unlimited; ${BIG_ARGS}; ${MANY_VARS}; exec ${SSC_BIN} --no-tty --wait true "$@"`);
      expect(r.code).toBe(126);
      expect(r.stderr).toMatch(
        /^ssc: the arguments and environment together are \d+ bytes; a program systemd starts takes at most \d+[^\n]*\n$/,
      );
      expect(await sscUnits(bed)).toEqual([]);
      expect((await bed.sh('ls -A /run/ssc')).stdout).toBe('');
    });

    it('what execve refuses never reaches ssc, and ssc is not left half-started', async () => {
      const r = await asAlice(`exec ${SSC_BIN} --no-tty --wait true $(seq 1 2000000)`);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/Argument list too long/);
      expect(await sscUnits(bed)).toEqual([]);
    });
  });

  describe('9. encoding', () => {
    it('an argument that is not UTF-8 is a usage error; variables whose name or value is not UTF-8 are dropped with one warning', async () => {
      const arg = await asAlice(`exec ${SSC_BIN} --no-tty --wait printf '%s' "$(printf 'a\\377b')"`);
      expect(arg.code).toBe(2);
      expect(arg.stderr).toMatch(/^ssc: [^\n]*UTF-8[^\n]*\n$/);
      const env = await asAlice(
        `exec env "$(printf 'N\\377')=x" "GOOD=1" "BAD=$(printf 'v\\377')" ${SSC_BIN} --no-tty --wait sh -c 'echo "$GOOD|\${BAD-unset}"'`,
      );
      expect(env.code).toBe(0);
      expect(env.stdout).toBe('1|unset\n');
      expect(env.stderr.split('\n').filter(Boolean)).toHaveLength(1);
      expect(env.stderr).toMatch(/^ssc: not passing 2 environment variable\(s\)/);
    });
  });

  describe('11. nesting', () => {
    it('ssc inside a strict unit: the setuid bit is inert, and both ways say so in one line', async () => {
      const direct = await asAlice(`exec ${SSC_BIN} --no-tty --wait ${SSC_BIN} --no-tty --wait true`);
      expect(direct.code).toBe(126);
      expect(direct.stderr).toMatch(/^ssc: [^\n]*(setuid|NoNewPrivileges)[^\n]*\n$/);
      const viaShell = await asAlice(`exec ${SSC_BIN} --no-tty --wait sh -c '${SSC_BIN} --no-tty --wait true'`);
      // The inner ssc is unprivileged: it says why (no_new_privs) and turns to the user manager, unreachable here.
      expect(viaShell.code).toBe(125);
      expect(viaShell.stderr).toMatch(
        /^ssc: no_new_privs is set here \(inside a strict unit\), so the setuid bit of ssc is ignored; starting true in your own user manager instead[^\n]*\nssc: no session bus[^\n]*\n$/,
      );
      // In a strict terminal tab too.
      const tmux = new Tmux(bed, 'sscalice', 'ssc-nesting');
      try {
        await tmux.start('n', `${SSC_BIN} -isolation=strict /bin/bash -i`);
        await tmux.waitFor('n', /[$] *$/m);
        await tmux.line('n', `${SSC_BIN} --no-tty --wait true; echo "R:$?"`);
        const screen = await tmux.waitFor('n', /^R:\d+$/m);
        expect(screen).toMatch(/no_new_privs is set here/);
        expect(screen).toMatch(/^R:125$/m);
      } finally {
        await tmux.killServer();
      }
    });
  });

  describe('12. installation integrity', () => {
    it('the launcher refuses when node, an entry, a bundle, a code cache, the addon or an ancestor directory is writable by a non-root user', async () => {
      const node = /node=([^;]*);/.exec(
        (await bed.sh(`grep -ao 'ssc-launcher-config: [^;]*;' ${SSC_BIN} | head -1`)).stdout,
      )?.[1] as string;
      const entries = ['ssc.js', 'broker.js', 'ssc.bundle.js', 'broker.bundle.js', 'ssc.cache', 'broker.cache'].map(
        (f) => `${LIBDIR}/${f}`,
      );
      for (const path of [node, ...entries, `${LIBDIR}/ssc_native.node`, LIBDIR, `${SSC_PREFIX}/lib`]) {
        const mode = (await bed.run(['stat', '-c', '%a', path])).stdout.trim();
        await bed.run(['chmod', 'g+w', path]);
        try {
          const r = await bed.run([SSC_BIN, '--no-tty', '--wait', 'true'], { user: 'sscalice' });
          expect(r.code, path).toBe(125);
          expect(r.stderr, path).toMatch(/^ssc: [^\n]*(group|writable)[^\n]*\n$/);
        } finally {
          await bed.run(['chmod', mode, path]);
        }
      }
      expect((await bed.run([SSC_BIN, '--no-tty', '--wait', 'true'], { user: 'sscalice' })).code).toBe(0);
    });
  });

  describe.skipIf(heavy)(`13. exhaustion${heavyNote}`, () => {
    it('300 waiting ssc of one user do not lock root off the system bus or fill /run; the cap on starts is a clear error', async () => {
      const ready = `${alice.home}/exhaust-ready`;
      const checked = `${alice.home}/exhaust-checked`;
      // Waits until every ssc either has its program running or has exited (never a fixed time),
      // holds them while the test checks root's side, then ends them.
      const py = `
import os, subprocess, sys, time
def programs():
    n = 0
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            if open(f'/proc/{pid}/cmdline', 'rb').read() == b'sleep\\x00617\\x00' and os.stat(f'/proc/{pid}').st_uid == os.getuid(): n += 1
        except OSError: pass
    return n
ps = [subprocess.Popen(['${SSC_BIN}', '--no-tty', '--wait', 'sleep', '617'], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for i in range(300)]
deadline = time.time() + 150
while True:
    exited, units = sum(1 for p in ps if p.poll() is not None), programs()
    if units + exited >= 300: break
    if time.time() > deadline: print('stalled', units, exited, flush=True); break
    time.sleep(0.2)
running = sum(1 for p in ps if p.poll() is None)
print('running', running, 'exited', 300 - running, flush=True)
open('${ready}', 'w').close()
deadline = time.time() + 60
while not os.path.exists('${checked}') and time.time() < deadline: time.sleep(0.05)
errors = set()
for p in ps:
    if p.poll() is not None and p.returncode != 0: errors.add((p.returncode, p.stderr.read().strip()))
for p in ps:
    if p.poll() is None: p.terminate()
for p in ps: p.wait()
for e in sorted(errors): print('error', e)
`;
      const run = bed.run(['/usr/bin/python3', '-c', py], { user: 'sscalice', timeoutMs: 300_000 });
      try {
        const up = await bed.sh(`for i in $(seq 2000); do [ -e ${ready} ] && exit 0; sleep 0.1; done; exit 1`, { timeoutMs: 220_000 });
        expect(up.code, 'the 300 launches never settled').toBe(0);
        // Root can still connect and call while they run.
        const root = await bed.run(['busctl', 'call', 'org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'GetId'], {
          timeoutMs: 10_000,
        });
        expect(root.code).toBe(0);
        expect((await bed.sh('ls -A /run/ssc | wc -l')).stdout.trim()).toBe('0');
      } finally {
        await bed.run(['touch', checked]);
      }
      const r = await run;
      expect(r.stdout).not.toMatch(/^stalled/m);
      const [, running, exited] = /^running (\d+) exited (\d+)$/m.exec(r.stdout)!.map(Number) as [number, number, number];
      expect(running).toBeGreaterThan(0);
      expect(running + exited).toBe(300);
      // Whoever did not get in was told why in one line: the user's own bus connection limit, or ssc's cap.
      const errors = r.stdout.split('\n').filter((l) => l.startsWith('error'));
      expect(errors.length > 0).toBe(exited > 0);
      for (const line of errors) {
        expect(line).toMatch(/^error \(125, 'ssc: [^\\]+'\)$/);
        expect(line).not.toMatch(/internal error/); // an expected refusal, not a socket's errno
      }
      await bed.run(['rm', '-f', ready, checked]);
    });
    // The cap itself, held by starts in progress: broker-service.test.ts.
  });
});
