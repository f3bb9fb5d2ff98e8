// The test bed itself: before trusting what the other integration tests say
// about ssc, show that the bed is a real systemd machine with the test users,
// and (for the namespace bed) that it is not the host.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Bed } from '../bed/bed.js';
import { bedCgroup, bedKind, bedSkipReason, getBed, startUserManager, systemctlShow } from '../bed/index.js';
import { NamespaceBed } from '../bed/namespace.js';
import { SSC_BIN, TEST_USERS } from '../bed/users.js';

const skip = bedSkipReason();
const inNamespace = bedKind() === 'namespace';
const installed = (process.env.SSC_BED_INSTALL ?? '') !== 'none';

describe.skipIf(skip)(`the test bed${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let bed: Bed;
  beforeAll(() => {
    bed = getBed();
  });

  it('has systemd as PID 1, and systemd says the system is running (or degraded)', async () => {
    expect((await bed.run(['cat', '/proc/1/comm'])).stdout).toBe('systemd\n');
    const state = await bed.run(['systemctl', 'is-system-running']);
    expect(['running\n', 'degraded\n']).toContain(state.stdout);
  });

  it('knows its cgroup layout', async () => {
    const fsType = (await bed.run(['stat', '-fc', '%T', '/sys/fs/cgroup'])).stdout.trim();
    expect(bed.cgroup).toBe(fsType === 'cgroup2fs' ? 'v2' : 'v1');
    expect(bedCgroup()).toBe(bed.cgroup);
  });

  it.each(Object.values(TEST_USERS))('has the test user $name with its uid, gid, groups and a private home', async (u) => {
    const id = await bed.run(['id', u.name]);
    const groups = [`${u.gid}(${u.name})`, ...u.extraGroups.map((g) => `${g.gid}(${g.name})`)].join(',');
    expect(id.stdout).toBe(`uid=${u.uid}(${u.name}) gid=${u.gid}(${u.name}) groups=${groups}\n`);
    const home = await bed.run(['stat', '-c', '%u %g %a', u.home]);
    expect(home.stdout).toBe(`${u.uid} ${u.gid} 700\n`);
    const pw = (await bed.run(['getent', 'passwd', u.name])).stdout.trim().split(':');
    expect([pw[0], pw[2], pw[3], pw[5], pw[6]]).toEqual([u.name, String(u.uid), String(u.gid), u.home, '/bin/bash']);
  });

  it.skipIf(!inNamespace)("keeps the test users and their group out of the host's user database", () => {
    const names = [...Object.values(TEST_USERS).map((u) => u.name), 'sscshared'];
    for (const file of ['/etc/passwd', '/etc/group']) {
      const entries = fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .map((l) => l.split(':')[0]);
      for (const n of names) expect(entries, `${n} in the host's ${file}`).not.toContain(n);
    }
  });

  it("runs commands as a test user in a clean login-like environment, in the user's home", async () => {
    const r = await bed.run(
      ['sh', '-c', 'id -u; id -G; pwd; echo "$HOME|$USER|$LOGNAME|$SHELL|$PATH|$LANG|${TERM-unset}|${NODE_OPTIONS-unset}"'],
      {
        user: 'sscalice',
      },
    );
    expect(r).toMatchObject({ code: 0, signal: null, stderr: '' });
    expect(r.stdout).toBe(
      '2001\n2001 2100\n/home/sscalice\n/home/sscalice|sscalice|sscalice|/bin/bash|/usr/local/bin:/usr/bin:/bin|C.UTF-8|unset|unset\n',
    );
  });

  it('runs commands as root with extra environment, a working directory and stdin', async () => {
    const r = await bed.run(['sh', '-c', 'id -u; pwd; printf "%s|" "$X"; cat'], {
      env: { X: 'a b\nc' },
      cwd: '/usr/share',
      input: 'from stdin',
    });
    expect(r).toMatchObject({ code: 0, stdout: '0\n/usr/share\na b\nc|from stdin' });
  });

  it('replaces the environment entirely with cleanEnv', async () => {
    const r = await bed.run(['/usr/bin/env'], { cleanEnv: true, env: { ONLY: '1' } });
    expect(r.stdout).toBe('ONLY=1\n');
  });

  it('reports exit codes and signals without throwing, and kills a command that runs too long', async () => {
    expect(await bed.sh('echo out; echo err >&2; exit 3')).toMatchObject({ code: 3, signal: null, stdout: 'out\n', stderr: 'err\n' });
    expect(await bed.sh('kill -TERM $$')).toMatchObject({ code: null, signal: 'SIGTERM' });
    const t = Date.now();
    const r = await bed.run(['sleep', '30'], { timeoutMs: 500 });
    expect(r).toMatchObject({ code: null, signal: 'SIGKILL' });
    expect(Date.now() - t).toBeLessThan(10_000);
  });

  it('starts a transient unit with User=sscalice that runs as uid 2001', async () => {
    const r = await bed.run(['systemd-run', '--wait', '--pipe', '--quiet', '-p', 'User=sscalice', 'id', '-u']);
    expect(r).toMatchObject({ code: 0, stdout: '2001\n' });
  });

  it('applies MemoryMax= to a transient unit: systemctl show reports it and the cgroup enforces it', async () => {
    const unit = `bed-test-memory-${crypto.randomBytes(4).toString('hex')}.service`;
    const start = await bed.run(['systemd-run', '--quiet', `--unit=${unit}`, '-p', 'MemoryMax=64M', 'sleep', '60']);
    expect(start.code).toBe(0);
    try {
      const props = await systemctlShow(bed, unit, ['MemoryMax', 'ActiveState', 'ControlGroup']);
      expect(props).toMatchObject({ MemoryMax: String(64 * 1024 * 1024), ActiveState: 'active' });
      const file =
        bed.cgroup === 'v1'
          ? `/sys/fs/cgroup/memory${props.ControlGroup}/memory.limit_in_bytes`
          : `/sys/fs/cgroup${props.ControlGroup}/memory.max`;
      expect((await bed.run(['cat', file])).stdout).toBe(`${64 * 1024 * 1024}\n`);
    } finally {
      await bed.run(['systemctl', 'stop', unit]);
    }
  });

  it('gives a test user a user manager with systemctl start user@UID.service', async () => {
    const u = TEST_USERS.sscbob;
    try {
      await startUserManager(bed, u);
      expect((await bed.run(['systemctl', 'is-active', `user@${u.uid}.service`])).stdout).toBe('active\n');
    } finally {
      await bed.run(['systemctl', 'stop', `user@${u.uid}.service`]);
    }
  });

  it.skipIf(!inNamespace)("has its own /tmp: a file made there does not appear in the host's /tmp", async () => {
    const name = `ssc-bed-marker-${crypto.randomBytes(6).toString('hex')}`;
    const r = await bed.sh(`touch /tmp/${name} && ls /tmp/${name} && stat -fc %T /tmp && stat -c %a /tmp`);
    expect(r.stdout).toBe(`/tmp/${name}\ntmpfs\n1777\n`);
    expect(fs.existsSync(`/tmp/${name}`)).toBe(false);
    await bed.run(['rm', '-f', `/tmp/${name}`]);
  });

  it.skipIf(!inNamespace)(
    "has its own /run, /var/tmp, /home and /usr/local, and a read-only view of the host's kernel settings",
    async () => {
      const r = await bed.sh(
        'for d in /run /var/tmp /home /usr/local /dev; do stat -fc "$d %T" $d; done; echo 1 >/proc/sys/kernel/sysrq 2>/dev/null || echo sysctl read-only',
      );
      expect(r.stdout).toBe('/run tmpfs\n/var/tmp tmpfs\n/home tmpfs\n/usr/local tmpfs\n/dev tmpfs\nsysctl read-only\n');
    },
  );

  it.skipIf(!inNamespace)('runs commands in its own cgroup tree and network namespace', async () => {
    const cg = await bed.run(['cat', '/proc/self/cgroup']);
    for (const line of cg.stdout.trim().split('\n')) expect(line).toMatch(/:\/$/);
    const links = await bed.run(['ip', '-o', 'link']);
    expect(
      links.stdout
        .trim()
        .split('\n')
        .map((l) => l.split(': ')[1]),
    ).toEqual(['lo']);
  });

  it.skipIf(!inNamespace)("never enters a PID that is not the bed's PID 1: not this process, not a reused PID", async () => {
    const ns = bed as NamespaceBed;
    const own = fs.readlinkSync('/proc/self/ns/pid');
    expect(() => new NamespaceBed(process.pid, { cgroup: ns.cgroup, cgroupDirs: ns.cgroupDirs, pidNs: own })).toThrow(/not a bed/);
    const stale = new NamespaceBed(ns.pid, { cgroup: ns.cgroup, cgroupDirs: ns.cgroupDirs, pidNs: 'pid:[1]' });
    const r = await stale.run(['touch', '/tmp/ssc-bed-must-not-exist']);
    expect(r).toMatchObject({ code: 125, stdout: '' });
    expect(r.stderr).toMatch(/is gone/);
    expect(fs.existsSync('/tmp/ssc-bed-must-not-exist')).toBe(false);
  });

  it.skipIf(!installed)("has ssc installed by install.sh: a setuid-root launcher of its own, not the host's", async () => {
    expect((await bed.run(['stat', '-c', '%U %a', SSC_BIN])).stdout).toBe('root 4755\n');
    if (inNamespace) {
      // The bed's /usr/local is a tmpfs of its own: the install went there, never to the host (which
      // may have its own ssc installed, as the README's set-up does).
      expect((await bed.run(['findmnt', '-n', '-o', 'FSTYPE,SOURCE', '/usr/local'])).stdout.trim()).toMatch(/^tmpfs\s/);
      const inBed = (await bed.run(['stat', '-c', '%d:%i', SSC_BIN])).stdout.trim();
      if (fs.existsSync(SSC_BIN)) {
        const host = fs.statSync(SSC_BIN);
        expect(inBed).not.toBe(`${host.dev}:${host.ino}`);
      }
    }
  });
});
