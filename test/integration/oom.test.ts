import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bed } from '../bed/bed.js';
import { bedSkipReason, getBed } from '../bed/index.js';
import { SSC_BIN } from '../bed/users.js';

const skip = bedSkipReason();

describe.skipIf(skip)(`a program that runs out of memory${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let bed: Bed;
  beforeAll(async () => {
    bed = getBed();
    // Cheap: cap all contained programs together at 64 MiB for this test only.
    const r = await bed.run(['systemctl', 'set-property', '--runtime', 'ssc.slice', 'MemoryMax=64M', 'MemorySwapMax=0']);
    expect(r.code).toBe(0);
  });
  afterAll(async () => {
    await bed.run(['systemctl', 'revert', 'ssc.slice']);
    await bed.run(['systemctl', 'daemon-reload']);
  });

  it('is killed, ssc --wait exits 137 and says it ran out of memory', async () => {
    const r = await bed.run([SSC_BIN, '--no-tty', '--wait', 'python3', '-c', 'b = bytearray(400 * 1024 * 1024); print("survived")'], {
      user: 'sscalice',
    });
    expect(r.code).toBe(137);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^ssc: python3 was killed: out of memory[^\n]*\n$/);
  });

  it('a program killed by SIGKILL for another reason is not called out of memory', async () => {
    const r = await bed.run([SSC_BIN, '--no-tty', '--wait', 'sh', '-c', 'kill -KILL $$'], { user: 'sscalice' });
    expect(r.code).toBe(137);
    expect(r.stderr).toBe('');
  });
});
