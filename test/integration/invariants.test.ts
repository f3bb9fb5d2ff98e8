import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bed } from '../bed/bed.js';
import { bedSkipReason, getBed, sscUnits, systemctlShow } from '../bed/index.js';
import { shownCommand } from '../bed/command.js';
import { REPO_ROOT } from '../bed/local.js';
import { SSC_BIN, TEST_USERS } from '../bed/users.js';

const skip = bedSkipReason();
const alice = TEST_USERS.sscalice;
const ROOT_BUS_FDS = `${REPO_ROOT}/test/bed/root-bus-fds.py`;
const RAW_DBUS = `${REPO_ROOT}/test/bed/raw-dbus.py`;

interface RootBusScan {
  scans: number;
  processes: number;
  own_bus_sockets: number;
  diag_sockets: number;
  root_bus_fds: { pid: number; comm?: string; fd: number; error?: string }[];
}

describe.skipIf(skip)(`the launch path's invariants, attacked by an unprivileged user${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let bed: Bed;
  beforeAll(() => {
    bed = getBed();
  });
  afterAll(async () => {
    await bed.sh('systemctl stop "app-ssc-*" 2>/dev/null; rm -rf /home/sscalice/evil* /home/sscalice/fake* /home/sscalice/marker*');
  });

  it('2. no option, variable or program name gives a unit another uid or gid', async () => {
    for (const opt of [
      ['--uid=0'],
      ['--gid=0'],
      ['-p', 'User=0'],
      ['--property=User=0'],
      ['--unit=x.service'],
      ['--slice=-.slice'],
      ['--user'],
    ]) {
      const r = await bed.run([SSC_BIN, ...opt, 'id'], { user: 'sscalice' });
      expect(r.code, opt.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^ssc: [^\n]+\n$/);
    }
    const env = { USER: 'root', LOGNAME: 'root', HOME: '/root', SUDO_UID: '0', SUDO_GID: '0', SUDO_USER: 'root' };
    const r = await bed.run([SSC_BIN, '--no-tty', '--wait', 'id', '-u'], { user: 'sscalice', env });
    expect(r).toMatchObject({ code: 0, stdout: `${alice.uid}\n` });
    const named = await bed.run([SSC_BIN, '--no-tty', '--wait', '--', '--uid=0'], { user: 'sscalice' });
    expect(named.code).toBe(127);
    expect(named.stderr).toBe('ssc: --uid=0: command not found\n');
  });

  it('3. arguments and values that look like unit settings arrive literally and set nothing', async () => {
    const tricky = ['x\nUser=0', 'User=0', '; id', '%u %U %h $USER ${USER}', '\\x2d', '\'"', 'é ✓ \u{1F600}', '-p', 'MemoryMax=infinity'];
    const r = await bed.run([SSC_BIN, '--no-tty', '--verbose', 'sh', '-c', 'exec sleep 30', ...tricky], {
      user: 'sscalice',
      env: { EVIL: 'a\nUser=0\n[Service]\nUser=0' },
    });
    expect(r.code).toBe(0);
    const unit = /app-ssc-sh@[0-9a-f]{16}\.service/.exec(r.stderr)?.[0] as string;
    const p = await systemctlShow(bed, unit, ['User', 'Group', 'Environment', 'MemoryMax', 'NoNewPrivileges']);
    // ExecStart's value spans lines (an argument has a newline): read it raw.
    const execStart = shownCommand((await bed.run(['systemctl', 'show', '-p', 'ExecStart', '--value', unit])).stdout);
    expect(p.User).toBe(String(alice.uid));
    expect(p.Group).toBe(String(alice.gid));
    expect(p.Environment).toBe('');
    expect(p.MemoryMax).not.toBe('infinity');
    expect(p.NoNewPrivileges).toBe('yes');
    const cmdline = await bed.sh(`tr '\\0' '\\n' < /proc/$(systemctl show -p MainPID --value ${unit})/cmdline`);
    // sh exec'd sleep with "$0" and the rest dropped; the unit's ExecStart shows them all.
    expect(cmdline.stdout).toBe('sleep\n30\n');
    expect(execStart).toContain(`argv[]=sh -c exec sleep 30 ${tricky.join(' ')} ;`);
    await bed.run(['systemctl', 'stop', unit]);
  });

  it("1. loader and interpreter variables in the caller's environment never run code in ssc", async () => {
    await bed.sh(
      [
        'cd /home/sscalice',
        'printf \'require("fs").writeFileSync("/home/sscalice/marker-node-" + process.getuid(), "")\\n\' > evil.js',
        "printf '#!/bin/sh\\ntouch /home/sscalice/marker-exec-$(id -u)\\n' > evil.sh && chmod +x evil.sh",
        'mkdir -p evilbin && cp evil.sh evilbin/node && cp evil.sh evilbin/systemctl && cp evil.sh evilbin/rm',
        'chown -R sscalice: /home/sscalice',
      ].join(' && '),
    );
    const env = {
      NODE_OPTIONS: '--require=/home/sscalice/evil.js',
      NODE_PATH: '/home/sscalice',
      NODE_V8_COVERAGE: '/home/sscalice/marker-coverage',
      UV_USE_IO_URING: '1',
      LD_PRELOAD: '/home/sscalice/evil.so',
      LD_AUDIT: '/home/sscalice/evil.so',
      LD_LIBRARY_PATH: '/home/sscalice',
      GLIBC_TUNABLES: 'glibc.malloc.check=3',
      DBUS_SYSTEM_BUS_ADDRESS: 'unixexec:path=/home/sscalice/evil.sh',
      SYSTEMD_PAGER: '/home/sscalice/evil.sh',
      BASH_ENV: '/home/sscalice/evil.sh',
      PATH: '/home/sscalice/evilbin:/usr/local/bin:/usr/bin:/bin',
    };
    try {
      const r = await bed.run([SSC_BIN, '--no-tty', '--wait', '/bin/true'], { user: 'sscalice', env });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const markers = await bed.sh('ls /home/sscalice | grep ^marker || true');
      expect(markers.stdout).toBe('');
      // The control: the same variables do run the user's code in a plain node, bash and PATH lookup.
      await bed.run(['node', '-e', '0'], { user: 'sscalice', env: { NODE_OPTIONS: env.NODE_OPTIONS } });
      await bed.run(['bash', '-c', 'true'], { user: 'sscalice', env: { BASH_ENV: env.BASH_ENV } });
      await bed.run(['sh', '-c', 'rm -f /nonexistent'], { user: 'sscalice', env: { PATH: env.PATH } });
      expect((await bed.sh('ls /home/sscalice | grep ^marker || true')).stdout).toBe(
        `marker-exec-${alice.uid}\nmarker-node-${alice.uid}\n`,
      );
    } finally {
      await bed.sh('rm -f /home/sscalice/marker-*');
    }
  });

  it('3. a program path with spaces, $ and ; runs as that one path, its arguments literal; one with a quote is refused', async () => {
    const dir = `${alice.home}/evil dir $x`;
    await bed.run(['mkdir', '-p', dir, `${alice.home}/q "dir"`], { user: 'sscalice' });
    const script = `printf '#!/bin/sh\\nprintf "%%s|" "$@"\\n' > "$1" && chmod 755 "$1"`;
    for (const p of [`${dir}/my prog; id`, `${alice.home}/q "dir"/prog`])
      await bed.run(['sh', '-c', script, 'sh', p], { user: 'sscalice' });
    const r = await bed.run([SSC_BIN, '--no-tty', '--wait', `${dir}/my prog; id`, 'a b', '$HOME', '%h'], { user: 'sscalice' });
    expect(r).toMatchObject({ code: 0, stdout: 'a b|$HOME|%h|', stderr: '' });
    // systemd's unit-file parser refuses a quote in an executable's path: such a unit could not survive a reload.
    const q = await bed.run([SSC_BIN, '--no-tty', '--wait', `${alice.home}/q "dir"/prog`], { user: 'sscalice' });
    expect(q.code).toBe(2);
    expect(q.stderr).toMatch(/^ssc: the program's path "[^\n]*" contains a quote or a backslash[^\n]*\n$/);
  });

  // The session bus named in the caller's environment is theirs: the front end, already the caller,
  // connects to it to start the notifier (src/cli/notifier.ts). Nothing as root ever does, and the
  // system bus is only ever the fixed socket.
  it('1. a fake system bus named in DBUS_SYSTEM_BUS_ADDRESS receives nothing; a fake session bus, nothing from root', async () => {
    await bed.run(['rm', '-f', '/home/sscalice/fake-bus-stop']);
    const server = bed.run(
      [
        'python3',
        '-c',
        [
          'import socket, os, struct',
          'socks = {}',
          "for name in ('system', 'session'):",
          "    p = '/home/sscalice/fake-' + name + '-bus'",
          '    s = socket.socket(socket.AF_UNIX); s.bind(p); os.chmod(p, 0o777); s.listen(8); s.settimeout(0.2); socks[name] = s',
          "print('listening', flush=True)",
          "seen = {'system': [], 'session': []}",
          'import time',
          // Until the test says both clients are done (a late connection is still counted), at most 60 s.
          'end = time.time() + 60',
          "while time.time() < end and not os.path.exists('/home/sscalice/fake-bus-stop'):",
          '    for name, s in socks.items():',
          '        try:',
          '            c, _ = s.accept()',
          "            pid, uid, gid = struct.unpack('3i', c.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))",
          '            seen[name].append(uid); c.close()',
          '        except socket.timeout: pass',
          '# Then what waits in the backlogs.',
          'for name, s in socks.items():',
          '    while True:',
          '        try:',
          '            c, _ = s.accept()',
          "            pid, uid, gid = struct.unpack('3i', c.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))",
          '            seen[name].append(uid); c.close()',
          '        except socket.timeout: break',
          "print('system', len(seen['system']), 'session', len(seen['session']), 'session-root', seen['session'].count(0), flush=True)",
        ].join('\n'),
      ],
      { user: 'sscalice', timeoutMs: 90_000 },
    );
    const up = await bed.sh('for i in $(seq 50); do [ -S /home/sscalice/fake-session-bus ] && exit 0; sleep 0.1; done; exit 1');
    expect(up.code).toBe(0);
    const r = await bed.run([SSC_BIN, '--no-tty', '--wait', 'true'], {
      user: 'sscalice',
      env: {
        DBUS_SYSTEM_BUS_ADDRESS: 'unix:path=/home/sscalice/fake-system-bus',
        DBUS_SESSION_BUS_ADDRESS: 'unix:path=/home/sscalice/fake-session-bus',
      },
    });
    expect(r.code).toBe(0);
    // The control: one client that does follow the variable is counted (the only system connection).
    const follower = await bed.run(
      ['busctl', 'call', 'org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'GetId', '--timeout=1'],
      {
        user: 'sscalice',
        env: { DBUS_SYSTEM_BUS_ADDRESS: 'unix:path=/home/sscalice/fake-system-bus' },
      },
    );
    expect(follower.code).not.toBe(0); // the fake bus never answers
    // Both are done: any connection they made has been made (accepted within the server's 0.2 s turn).
    await bed.run(['touch', '/home/sscalice/fake-bus-stop'], { user: 'sscalice' });
    const counts = (await server).stdout;
    expect(counts).toMatch(/^system 1 session [1-9]\d* session-root 0$/m);
    await bed.run(['rm', '-f', '/home/sscalice/fake-system-bus', '/home/sscalice/fake-session-bus', '/home/sscalice/fake-bus-stop']);
  });

  /** Runs root-bus-fds.py's scan of sscalice's processes around `during`; its JSON when stopped. */
  async function scanAround(during: () => Promise<void>): Promise<RootBusScan> {
    const stop = `/run/ssc-test-scan-${process.pid}-${Date.now()}`;
    const scan = bed.run(['/usr/bin/python3', ROOT_BUS_FDS, 'scan', String(alice.uid), stop], { timeoutMs: 120_000 });
    try {
      const ready = await bed.sh(`for i in $(seq 200); do [ -e ${stop}.ready ] && exit 0; sleep 0.05; done; exit 1`);
      expect(ready.code, 'the scanner never finished its first scan').toBe(0);
      await during();
    } finally {
      await bed.run(['touch', stop]);
    }
    const r = await scan.finally(() => bed.run(['rm', '-f', stop, `${stop}.ready`]));
    expect(r.stderr).toBe('');
    return JSON.parse(r.stdout) as RootBusScan;
  }

  it('14. no process of the caller holds a bus connection root opened, through launches of every mode and after the broker exits; one that does is caught', async () => {
    const scan = await scanAround(async () => {
      const waited = bed.run([SSC_BIN, '--no-tty', '--wait', 'sh', '-c', 'sleep 1'], { user: 'sscalice' });
      const gui = await bed.run([SSC_BIN, '--no-tty', 'sh', '-c', 'sleep 1'], { user: 'sscalice' });
      const tab = await bed.run(['script', '-qec', `${SSC_BIN} --tty sh -c 'sleep 1'`, '/dev/null'], { user: 'sscalice' });
      expect([(await waited).code, gui.code, tab.code]).toEqual([0, 0, 0]);
      // The one root Node process is systemd's broker service, outside the caller's process tree and cgroup.
      const brokers = (await bed.sh('pgrep -u root -f "[s]sc/broker.js" || true')).stdout.split('\n').filter(Boolean);
      const main = (await bed.run(['systemctl', 'show', '-P', 'MainPID', 'ssc-broker.service'])).stdout.trim();
      expect(brokers).toEqual([main]);
      expect((await bed.run(['cat', `/proc/${main}/cgroup`])).stdout).toMatch(/\/system\.slice\/ssc-broker\.service$/m);
      expect((await bed.run(['pgrep', '-u', 'sscalice'])).stdout.split('\n')).not.toContain(main);
      await bed.run(['systemctl', 'stop', 'ssc-broker.service']);
      await bed.sh(`for i in $(seq 100); do pgrep -u sscalice -x sleep >/dev/null || break; sleep 0.05; done`);
    });
    expect(scan.root_bus_fds).toEqual([]);
    // What shows the scan could see one: her front end's own bus connection (the --wait watch) was found and told apart.
    expect(scan.own_bus_sockets).toBeGreaterThan(0);
    expect(scan.diag_sockets).toBeGreaterThan(0);
    expect(scan.scans).toBeGreaterThan(20);
    // The control: a process of hers holding a connection root opened and authenticated is caught,
    // whether root connected from the bed's network namespace or from one of its own (as the
    // broker does, PrivateNetwork=: both ends of its connection live there).
    for (const net of [[], ['--net']]) {
      const hold = bed.run(['/usr/bin/python3', ROOT_BUS_FDS, 'hold', String(alice.uid), String(alice.gid), ...net], { timeoutMs: 90_000 });
      try {
        const pid = await bed.sh(
          `for i in $(seq 200); do p=$(pgrep -u sscalice -f 'root-bus-fds.py hold') && echo $p && exit 0; sleep 0.05; done; exit 1`,
        );
        expect(pid.code).toBe(0);
        // Why the bus cannot answer this: it lists the connection under the root process that
        // connected (gone now), never under hers.
        const name = (await bed.run(['cat', '/run/ssc-test-hold.name'])).stdout.trim();
        const listed = (await bed.sh('busctl list --system --unique --no-legend --no-pager')).stdout.split('\n');
        const line = listed.find((l) => l.split(/\s+/)[0] === name);
        expect(line, `${name} is not on the bus`).toBeDefined();
        expect(line!.split(/\s+/)[1]).not.toBe(pid.stdout.trim());
        // The scan's last pass runs after it is told to stop, while the holder still holds.
        const held = await scanAround(async () => undefined);
        expect(held.root_bus_fds.map((f) => [f.comm, f.pid])).toContainEqual(['python3', Number(pid.stdout.trim())]);
      } finally {
        await bed.run(['pkill', '-u', 'sscalice', '-f', 'root-bus-fds.py hold']);
        await hold;
        await bed.run(['rm', '-f', '/run/ssc-test-hold.name']);
      }
    }
  });

  it('14. the program gets only its stdio: no inherited descriptor from ssc', async () => {
    const r = await bed.run([SSC_BIN, '--no-tty', '--wait', 'sh', '-c', 'ls /proc/self/fd'], { user: 'sscalice' });
    expect(r.code).toBe(0);
    // 0-2, and the directory ls itself opened.
    expect(r.stdout.split('\n').filter(Boolean).map(Number).sort()).toEqual([0, 1, 2, 3]);
  });

  it("10. a second user cannot read the first user's environment through systemctl, busctl, ps, /proc or /run", async () => {
    const secret = 'ssc-secret-7f3a9c';
    const r = await bed.run([SSC_BIN, '--no-tty', '--verbose', 'sleep', '30'], { user: 'sscalice', env: { SSC_SECRET: secret } });
    expect(r.code).toBe(0);
    const unit = /app-ssc-sleep@[0-9a-f]{16}\.service/.exec(r.stderr)?.[0] as string;
    const path = `/org/freedesktop/systemd1/unit/${unit.replace(/[^A-Za-z0-9]/g, (c) => `_${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}`;
    const bob = (script: string) => bed.sh(script, { user: 'sscbob' });
    const probes = [
      `systemctl show --all ${unit}`,
      `busctl --system introspect org.freedesktop.systemd1 ${path}`,
      `busctl --system call org.freedesktop.systemd1 ${path} org.freedesktop.DBus.Properties GetAll s ""`,
      'ps -eo pid,args e',
      `cat /proc/$(systemctl show -p MainPID --value ${unit})/environ`,
      'grep -rs . /run /tmp /var/tmp 2>/dev/null | head -c 2000000',
    ];
    for (const probe of probes) {
      const out = await bob(probe);
      expect(out.stdout + out.stderr, probe).not.toContain(secret);
    }
    // The unit's program does see it.
    const mine = await bed.sh(`tr '\\0' '\\n' < /proc/$(systemctl show -p MainPID --value ${unit})/environ`);
    expect(mine.stdout).toContain(`SSC_SECRET=${secret}`);
    // And nothing of it is left under /run/ssc once the program started.
    expect((await bed.sh('ls -A /run/ssc')).stdout).toBe('');
    await bed.run(['systemctl', 'stop', unit]);
  });

  it('2. refuses a caller whose groups differ from the user database, starting nothing', async () => {
    const before = await sscUnits(bed);
    const r = await bed.run([
      'setpriv',
      `--reuid=${alice.uid}`,
      `--regid=${alice.gid}`,
      `--groups=${alice.gid}`,
      SSC_BIN,
      '--no-tty',
      'sleep',
      '30',
    ]);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/^ssc: your supplementary groups differ from the user database[^\n]*\n$/);
    expect(await sscUnits(bed)).toEqual(before);
  });

  it('without the setuid bit it falls back to the user manager with one notice (none here: a clear error), and --manager system refuses', async () => {
    await bed.sh(`cp ${SSC_BIN} /home/sscalice/ssc-copy && chown sscalice: /home/sscalice/ssc-copy`);
    const r = await bed.run(['/home/sscalice/ssc-copy', '--no-tty', 'true'], { user: 'sscalice' });
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(
      /^ssc: ssc is not running setuid root here [^\n]*; starting true in your own user manager instead[^\n]*\nssc: no session bus to reach your user manager[^\n]*\n$/,
    );
    const system = await bed.run(['/home/sscalice/ssc-copy', '--manager=system', '--no-tty', 'true'], { user: 'sscalice' });
    expect(system.code).toBe(125);
    expect(system.stderr).toMatch(/^ssc: not running with privileges[^\n]*\n$/);
  });

  it('on a file system mounted nosuid (setuid bit ignored) it falls back with a notice naming nosuid', async () => {
    const setup = await bed.sh(
      `mkdir -p /mnt/ssc-nosuid && mount -t tmpfs -o nosuid,mode=755 ssc-nosuid /mnt/ssc-nosuid && cp -a ${SSC_BIN} /mnt/ssc-nosuid/ssc`,
    );
    expect(setup.code).toBe(0);
    try {
      expect((await bed.run(['stat', '-c', '%a %U', '/mnt/ssc-nosuid/ssc'])).stdout).toBe('4755 root\n');
      const r = await bed.run(['/mnt/ssc-nosuid/ssc', '--no-tty', 'true'], { user: 'sscalice' });
      expect(r.code).toBe(125);
      expect(r.stderr).toMatch(
        /^ssc: [^\n]*mounted nosuid[^\n]*; starting true in your own user manager instead[^\n]*\nssc: no session bus[^\n]*\n$/,
      );
    } finally {
      await bed.sh('umount /mnt/ssc-nosuid; rmdir /mnt/ssc-nosuid');
    }
  });

  it('9. an argument that is not UTF-8 is a usage error, not silently changed', async () => {
    const r = await bed.sh(`exec ${SSC_BIN} --no-tty --wait printf "$(printf 'a\\377b')"`, { user: 'sscalice' });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('ssc: argument 4 is not valid UTF-8, which systemd cannot take\n');
  });
});

/** Unique names that came to the bus, in order, from dbus-monitor's NameOwnerChanged (name, "", name). */
function newNames(monitorText: string): string[] {
  const names: string[] = [];
  // One block per message: its header line, then one line per argument (the monitor's own NameAcquired has one).
  for (const block of monitorText.split(/\n(?=\S)/)) {
    if (!/ member=NameOwnerChanged$/m.test(block)) continue;
    const args = [...block.matchAll(/^\s+string "(.*)"$/gm)].map((m) => m[1] as string);
    if (args.length === 3 && args[0]!.startsWith(':') && args[1] === '' && args[2] === args[0]) names.push(args[0]!);
  }
  return names;
}

describe.skipIf(skip)(`commands that need no privileged bus never open one${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let monitors = 0;
  /**
   * New connections to the system bus while `script` runs as sscalice: the unique names that
   * appear in a monitor's NameOwnerChanged between two sentinel connections, each waited for in
   * the monitor's output, so that the monitor provably listened before the script started and
   * had seen everything up to its end.
   */
  async function newBusNames(bed: Bed, script: string): Promise<{ names: number; output: string }> {
    // The broker keeps one connection for all starts while it runs: stopped, its next start shows.
    expect((await bed.run(['systemctl', 'stop', 'ssc-broker.service'])).code).toBe(0);
    const out = `/run/ssc-test-monitor-${process.pid}-${++monitors}`;
    const monitor = bed.run(
      [
        'timeout',
        '60',
        'sh',
        '-c',
        `echo $$ > ${out}.pid; exec dbus-monitor --system "type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged'" > ${out}`,
      ],
      { timeoutMs: 70_000 },
    );
    /** A connection of its own, once the monitor shows it (within `waits` × 50 ms), else null. */
    const sentinel = async (waits: number) => {
      const r = await bed.run(['/usr/bin/python3', RAW_DBUS, 'hello']);
      const name = r.stdout.trim();
      expect(name).toMatch(/^:\d+\.\d+$/);
      const seen = await bed.sh(`for i in $(seq ${waits}); do grep -qF '"${name}"' ${out} && exit 0; sleep 0.05; done; exit 1`);
      return seen.code === 0 ? name : null;
    };
    try {
      // The monitor may not listen yet (it starts beside this, and a loaded CI run was seen to take
      // over 10 s): a sentinel it missed proves nothing, so new ones until it shows one.
      let first: string | null = null;
      for (let i = 0; i < 30 && first === null; i++) first = await sentinel(20);
      expect(first, 'the monitor never showed a sentinel connection').not.toBeNull();
      const ran = await bed.sh(script, { user: 'sscalice' });
      // Listening now: the last one must show.
      const last = await sentinel(200);
      expect(last, 'the monitor never showed the last sentinel').not.toBeNull();
      const appeared = newNames((await bed.run(['cat', out])).stdout);
      const from = appeared.indexOf(first as string);
      const to = appeared.indexOf(last as string);
      expect(from).toBeGreaterThanOrEqual(0);
      expect(to).toBeGreaterThan(from);
      return { names: to - from - 1, output: ran.stdout };
    } finally {
      await bed.sh(`kill $(cat ${out}.pid) 2>/dev/null; true`);
      await monitor;
      await bed.run(['rm', '-f', out, `${out}.pid`]);
    }
  }

  it('help, version, usage errors, refused programs and ssc desktop start no broker connection', async () => {
    const bed = getBed();
    const quiet = await newBusNames(
      bed,
      `${SSC_BIN} --help >/dev/null; echo $?; ${SSC_BIN} --version >/dev/null; echo $?; ${SSC_BIN} --isolation=none x 2>/dev/null; echo $?; ` +
        `${SSC_BIN} no-such-program-ssc 2>/dev/null; echo $?; ${SSC_BIN} desktop list >/dev/null; echo $?; ${SSC_BIN} desktop refresh >/dev/null; echo $?`,
    );
    // Each ran to its own end (a command that died early would be quiet for nothing).
    expect(quiet.output).toBe('0\n0\n2\n127\n0\n0\n');
    expect(quiet.names).toBe(0);
    // The control: a launch does connect (the broker, as root).
    const launch = await newBusNames(bed, `${SSC_BIN} --no-tty true`);
    expect(launch.names).toBeGreaterThan(0);
  }, 150_000);
});
