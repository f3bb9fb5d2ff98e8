/**
 * Rootless mode: ssc without privileges starts its unit in the caller's own
 * user manager. Run as sscalice with a copy of the launcher that is not setuid
 * (exactly what a checkout, npx or a nosuid mount gives), with her user manager
 * started. Caps are enforced there only on cgroup v2 with delegation (the VM);
 * on cgroup v1 (the namespace bed) ssc must say they are not.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bed } from '../bed/bed.js';
import { bedCgroup, bedSkipReason, getBed, startUserManager } from '../bed/index.js';
import { Tmux } from '../bed/tmux.js';
import { SSC_BIN, SSC_PREFIX, TEST_USERS } from '../bed/users.js';

const skip = bedSkipReason();
const alice = TEST_USERS.sscalice;
const PLAIN = `${SSC_PREFIX}/bin/ssc-rootless`;
const ENV = { XDG_RUNTIME_DIR: `/run/user/${alice.uid}`, DBUS_SESSION_BUS_ADDRESS: `unix:path=/run/user/${alice.uid}/bus` };
const v2 = bedCgroup() === 'v2';
const DROPIN = '/run/systemd/system/user@.service.d/ssc-test-delegate.conf';
const SLICE_DROPIN = '/run/systemd/system/user-.slice.d/ssc-test-delegate.conf';

describe.skipIf(skip)(`rootless mode: your own user manager${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let bed: Bed;
  const plain = (...args: string[]) => bed.run([PLAIN, ...args], { user: 'sscalice', env: ENV });

  beforeAll(async () => {
    bed = getBed();
    expect((await bed.run(['install', '-o', 'root', '-g', 'root', '-m', '0755', SSC_BIN, PLAIN])).code).toBe(0);
    await startUserManager(bed, alice);
  });
  afterAll(async () => {
    await bed?.sh(`rm -f ${PLAIN} ${DROPIN} ${SLICE_DROPIN}; systemctl daemon-reload; systemctl stop user@${alice.uid}.service`);
  });

  it('without privileges ssc starts the program in your user manager, in app.slice, saying so once', async () => {
    const r = await plain('--no-tty', '--wait', 'sh', '-c', 'id -u; grep ^0:: /proc/self/cgroup');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(
        `^${alice.uid}\\n0::/user\\.slice/user-${alice.uid}\\.slice/user@${alice.uid}\\.service/app\\.slice/app-ssc-sh@[0-9a-f]{16}\\.service\\n$`,
      ),
    );
    const lines = r.stderr.split('\n').filter(Boolean);
    expect(lines[0]).toMatch(
      /^ssc: ssc is not running setuid root here [^\n]*; starting sh in your own user manager instead, whose caps you can lift yourself$/,
    );
    // Exit statuses come back as with the system manager.
    expect((await plain('--no-tty', '--wait', 'sh', '-c', 'exit 7')).code).toBe(7);
  });

  it("a strict tab there says it has no private /tmp, and indeed sees the machine's", async () => {
    await bed.run(['touch', '/tmp/ssc-rootless-marker']);
    try {
      const tab = (ssc: string) =>
        bed.run(['script', '-qec', `${ssc} -isolation=strict --tty sh -c 'ls /tmp/ssc-rootless-marker 2>&1; true'`, '/dev/null'], {
          user: 'sscalice',
          env: ENV,
        });
      const rootless = await tab(PLAIN);
      expect(rootless.stdout).toContain('ssc: warning: no private /tmp in a terminal started in your user manager');
      expect(rootless.stdout).toMatch(/^\/tmp\/ssc-rootless-marker\r?$/m);
      // The control: setuid ssc's strict tab has a /tmp of its own, and says nothing.
      const contained = await tab(SSC_BIN);
      expect(contained.stdout).not.toContain('warning');
      expect(contained.stdout).toMatch(/No such file or directory/);
    } finally {
      await bed.run(['rm', '-f', '/tmp/ssc-rootless-marker']);
    }
  });

  it('terminal mode works there too: the shell in a scope of app.slice on its terminal, ended with it', async () => {
    const tmux = new Tmux(bed, 'sscalice', 'ssc-rootless', ENV);
    try {
      await tmux.start('r', `${PLAIN} -isolation=relaxed /bin/bash -i`, { width: 250 });
      await tmux.waitFor('r', /[$] *$/m);
      await tmux.line('r', 'echo "CG:$(grep ^0:: /proc/self/cgroup):$(tty)"');
      const screen = await tmux.waitFor('r', /^CG:0::.*$/m);
      const line = screen.split('\n').find((l) => l.startsWith('CG:')) as string;
      expect(line).toMatch(
        new RegExp(
          `^CG:0::/user\\.slice/user-${alice.uid}\\.slice/user@${alice.uid}\\.service/app\\.slice/app-ssc-bash-[0-9a-f]{16}\\.scope:/dev/pts/\\d+`,
        ),
      );
      const scope = /app-ssc-bash-[0-9a-f]{16}\.scope/.exec(line)?.[0] as string;
      await tmux.line('r', 'exit');
      await tmux.waitDead('r');
      let gone = false;
      for (let i = 0; i < 50 && !gone; i++) {
        gone =
          (
            await bed.run(['systemctl', '--user', 'list-units', '--all', '--no-legend', '--plain', scope], { user: 'sscalice', env: ENV })
          ).stdout.trim() === '';
        if (!gone) await new Promise((r) => setTimeout(r, 100));
      }
      expect(gone).toBe(true);
    } finally {
      await tmux.killServer();
    }
  });

  it('--manager system without privileges is an error, and starts nothing', async () => {
    const r = await plain('--manager', 'system', '--no-tty', '--wait', 'true');
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/^ssc: not running with privileges[^\n]*\n$/);
  });

  it.skipIf(v2)('on cgroup v1 it warns that every cap of the profile is not in effect, and --require-caps refuses', async () => {
    const r = await plain('--no-tty', '--wait', 'true');
    expect(r.code).toBe(0);
    for (const cap of ['MemoryMax 70%', 'MemorySwapMax 10%', 'CPUQuota'])
      expect(r.stderr).toContain(`ssc: warning: ${cap} will not be in effect: cgroup v1: a user manager gets no cgroup controllers\n`);
    const strict = await plain('--require-caps', '--no-tty', '--wait', 'touch', `${alice.home}/started`);
    expect(strict.code).toBe(125);
    expect(strict.stderr).toMatch(/^ssc: not starting \(--require-caps\): MemoryMax 70% would not be in effect/m);
    expect((await bed.run(['test', '-e', `${alice.home}/started`])).code).not.toBe(0);
  });

  describe.skipIf(!v2)('on cgroup v2 with the controllers delegated (skipped on cgroup v1)', () => {
    async function cgroupFiles(profile: string): Promise<Record<string, string>> {
      const r = await plain(
        `--isolation=${profile}`,
        '--no-tty',
        '--wait',
        'sh',
        '-c',
        'd=/sys/fs/cgroup$(sed -n "s/^0:://p" /proc/self/cgroup); for f in memory.max memory.swap.max cpu.max; do echo "$f=$(cat $d/$f)"; done; grep NoNewPrivs /proc/self/status; echo "tmp=$(ls -A /tmp | tr -d "\\n")"',
      );
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).not.toMatch(/warning/);
      return Object.fromEntries(
        r.stdout
          .trim()
          .split('\n')
          .map((l) => l.split(/[=:]\s*/, 2) as [string, string]),
      );
    }

    it("strict: the caps are in the unit's own cgroup, NoNewPrivs 1 and an empty private /tmp", async () => {
      await bed.run(['touch', '/tmp/ssc-rootless-marker']);
      const f = await cgroupFiles('strict');
      expect(f['memory.max']).toMatch(/^\d+$/);
      expect(f['memory.swap.max']).toMatch(/^\d+$/);
      expect(f['cpu.max']).toMatch(/^\d+ \d+$/);
      expect(f.NoNewPrivs).toBe('1');
      expect(f.tmp).toBe('');
    });

    it('relaxed: the memory caps, no CPU cap, the shared /tmp', async () => {
      const f = await cgroupFiles('relaxed');
      expect(f['memory.max']).toMatch(/^\d+$/);
      // No CPU limit: systemd does not even enable the cpu controller for the unit.
      expect(f['cpu.max']).toMatch(/^(max \d+)?$/);
      expect(f.NoNewPrivs).toBe('0');
      expect(f.tmp).toContain('ssc-rootless-marker');
    });

    it('an allocation beyond the cap is killed and reported as out of memory', async () => {
      // Cheap: the user's own app.slice capped low, as the user may do.
      await bed.run(['systemctl', '--user', 'set-property', '--runtime', 'app.slice', 'MemoryMax=64M', 'MemorySwapMax=0'], {
        user: 'sscalice',
        env: ENV,
      });
      try {
        const r = await plain('--isolation=relaxed', '--no-tty', '--wait', 'python3', '-c', 'b = bytearray(400 << 20); print(len(b))');
        expect(r.code).toBe(137);
        expect(r.stderr).toMatch(/^ssc: python3 was killed: out of memory [^\n]*your app\.slice all contained programs together\)$/m);
      } finally {
        await bed.run(['systemctl', '--user', 'set-property', '--runtime', 'app.slice', 'MemoryMax=infinity', 'MemorySwapMax=infinity'], {
          user: 'sscalice',
          env: ENV,
        });
      }
    });

    // Not delegated: Delegate=pids on user@.service, and DisableControllers=memory on user-.slice
    // (with DefaultMemoryAccounting=yes systemd 252 would otherwise keep memory enabled on
    // user-UID.slice, and the user manager, owning its delegated subtree, would use it).
    it('with only pids delegated, the warning names memory, and --require-caps fails with 125 having started nothing', async () => {
      await bed.sh(
        `mkdir -p ${DROPIN.replace(/\/[^/]+$/, '')} ${SLICE_DROPIN.replace(/\/[^/]+$/, '')} && printf '[Service]\\nDelegate=\\nDelegate=pids\\n' > ${DROPIN} && printf '[Slice]\\nDisableControllers=memory cpu\\n' > ${SLICE_DROPIN} && systemctl daemon-reload && systemctl restart user-${alice.uid}.slice user@${alice.uid}.service`,
      );
      try {
        await startUserManager(bed, alice);
        const controllers = (
          await bed.run(['cat', `/sys/fs/cgroup/user.slice/user-${alice.uid}.slice/user@${alice.uid}.service/cgroup.controllers`])
        ).stdout;
        expect(controllers).not.toMatch(/\bmemory\b/);
        const warned = await plain('--isolation=strict', '--no-tty', '--wait', 'true');
        expect(warned.code).toBe(0);
        expect(warned.stderr).toContain(
          'ssc: warning: MemoryMax 70% will not be in effect: the memory controller is not delegated to your user manager\n',
        );
        expect(warned.stderr).toContain(
          'ssc: warning: CPUQuota will not be in effect: the cpu controller is not delegated to your user manager\n',
        );
        const refused = await plain('--isolation=strict', '--require-caps', '--no-tty', '--wait', 'touch', `${alice.home}/started`);
        expect(refused.code).toBe(125);
        expect(refused.stderr).toMatch(
          /^ssc: not starting \(--require-caps\): MemoryMax 70% would not be in effect \(the memory controller is not delegated/m,
        );
        expect((await bed.run(['test', '-e', `${alice.home}/started`])).code).not.toBe(0);
      } finally {
        await bed.sh(
          `rm -f ${DROPIN} ${SLICE_DROPIN}; systemctl daemon-reload; systemctl restart user-${alice.uid}.slice user@${alice.uid}.service`,
        );
        await startUserManager(bed, alice);
      }
    });
  });
});
