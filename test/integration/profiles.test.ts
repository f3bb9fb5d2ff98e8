import { beforeAll, describe, expect, it } from 'vitest';
import type { Bed } from '../bed/bed.js';
import { bedSkipReason, getBed, systemctlShow } from '../bed/index.js';
import { SSC_BIN } from '../bed/users.js';

const skip = bedSkipReason();

describe.skipIf(skip)(`the isolation profiles as systemd applies them${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let bed: Bed;
  let memTotal = 0;
  let cores = 0;
  beforeAll(async () => {
    bed = getBed();
    const m = await bed.sh("awk '/^MemTotal:/ {print $2 * 1024}' /proc/meminfo");
    memTotal = Number(m.stdout.trim());
    cores = Number((await bed.run(['nproc'])).stdout.trim());
  });

  async function startAndShow(profile: string): Promise<Record<string, string>> {
    const r = await bed.run([SSC_BIN, `--isolation=${profile}`, '--no-tty', '--verbose', 'sleep', '30'], { user: 'sscalice' });
    expect(r.code).toBe(0);
    const unit = /app-ssc-sleep@[0-9a-f]{16}\.service/.exec(r.stderr)?.[0] as string;
    const props = await systemctlShow(bed, unit, [
      'MemoryMax',
      'MemoryHigh',
      'MemorySwapMax',
      'CPUQuotaPerSecUSec',
      'NoNewPrivileges',
      'PrivateTmp',
      'Environment',
      'EnvironmentFiles',
      'User',
    ]);
    await bed.run(['systemctl', 'stop', unit]);
    return props;
  }

  it('strict: MemoryMax 70% of RAM, no MemoryHigh band, swap bounded, CPU all cores but one, no new privileges, private /tmp', async () => {
    const p = await startAndShow('strict');
    const max = Number(p.MemoryMax);
    expect(Math.abs(max - memTotal * 0.7) / memTotal).toBeLessThan(0.01);
    expect(p.MemoryHigh).toBe('infinity');
    expect(Number(p.MemorySwapMax)).toBeLessThan(memTotal * 0.2);
    expect(p.CPUQuotaPerSecUSec).toBe(`${Math.max(1, cores - 1)}s`);
    expect(p.NoNewPrivileges).toBe('yes');
    expect(p.PrivateTmp).toBe('yes');
    expect(p.Environment).toBe('');
  });

  it('relaxed: the memory caps only', async () => {
    const p = await startAndShow('relaxed');
    expect(Math.abs(Number(p.MemoryMax) - memTotal * 0.7) / memTotal).toBeLessThan(0.01);
    expect(p.CPUQuotaPerSecUSec).toBe('infinity');
    expect(p.NoNewPrivileges).toBe('no');
    expect(p.PrivateTmp).toBe('no');
  });

  /** Run `script` under a profile while a marker file sits in the bed's shared /tmp. */
  async function withTmpMarker(profile: string, script: string) {
    await bed.run(['touch', '/tmp/ssc-host-marker']);
    try {
      return await bed.run([SSC_BIN, `--isolation=${profile}`, '--no-tty', '--wait', 'sh', '-c', script], { user: 'sscalice' });
    } finally {
      await bed.run(['rm', '-f', '/tmp/ssc-host-marker']);
    }
  }

  it('strict: the program sees NoNewPrivs 1 and an empty private /tmp', async () => {
    const r = await withTmpMarker('strict', 'grep ^NoNewPrivs /proc/self/status; ls -A /tmp | wc -l');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^NoNewPrivs:\s+1\n0\n$/);
  });

  it('relaxed: the program sees NoNewPrivs 0 and the shared /tmp', async () => {
    const r = await withTmpMarker('relaxed', 'grep ^NoNewPrivs /proc/self/status; ls /tmp');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^NoNewPrivs:\s+0\n/);
    expect(r.stdout).toContain('ssc-host-marker');
  });

  it("the original's flag syntax selects the same profiles", async () => {
    const r = await bed.run([SSC_BIN, '-tty=false', '-isolation', 'relaxed', '--wait', 'sh', '-c', 'grep ^NoNewPrivs /proc/self/status'], {
      user: 'sscalice',
    });
    expect(r.stdout).toMatch(/NoNewPrivs:\s+0/);
    const r2 = await bed.run([SSC_BIN, '-tty=false', '-isolation=strict', '-wait', 'sh', '-c', 'grep ^NoNewPrivs /proc/self/status'], {
      user: 'sscalice',
    });
    expect(r2.stdout).toMatch(/NoNewPrivs:\s+1/);
  });
});
