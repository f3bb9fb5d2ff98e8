/**
 * `ssc top` in a real terminal (tmux): sscalice's apps redrawn live, sorted by
 * key, fitted to a resized window, and the terminal as it was after `q`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bed } from '../bed/bed.js';
import { bedSkipReason, getBed } from '../bed/index.js';
import { Tmux } from '../bed/tmux.js';
import { SSC_BIN, TEST_USERS } from '../bed/users.js';

const skip = bedSkipReason();
const alice = TEST_USERS.sscalice;

describe.skipIf(skip)(`ssc top: your apps, live${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let bed: Bed;
  let unit = '';
  beforeAll(async () => {
    bed = getBed();
    // What earlier files left running (a desktop entry's sleep 60, say) would be counted here too.
    await bed.sh("systemctl stop 'app-ssc-*.service' 'app-ssc-*.scope'; true");
    const r = await bed.run([SSC_BIN, '--no-tty', '--verbose', 'sleep', '600'], { user: 'sscalice' });
    expect(r.code).toBe(0);
    unit = /started (app-ssc-sleep@[0-9a-f]{16}\.service)/.exec(r.stderr)?.[1] as string;
    expect(unit).toBeDefined();
  });
  afterAll(async () => {
    if (unit) await bed.run(['systemctl', 'stop', unit]);
  });

  it('redraws your apps on a terminal, sorts by key, fits a resized window, and leaves the terminal as it found it at q', async () => {
    const tmux = new Tmux(bed, 'sscalice');
    const modes = `${alice.home}/top-stty`;
    try {
      await tmux.start(
        't',
        `sh -c 'stty -g > ${modes}.before; ${SSC_BIN} top -d 0.5; echo "STATUS:$?"; stty -g > ${modes}.after; sleep 300'`,
        {
          width: 200,
          height: 30,
        },
      );
      const first = await tmux.waitFor('t', new RegExp(`^sleep +${unit.replace(/[.@]/g, '\\$&')} +strict +system`, 'm'), 20_000);
      expect(first).toMatch(/^ssc top: 1 app, by memory, every 0\.5 s; q quits/m);
      expect(first).toMatch(/^NAME +UNIT +PROFILE +MANAGER +MEMORY +CAP +MEM% +PEAK +SWAP +CPU% +TASKS +OOM +STARTED$/m);
      // Redrawn every interval: an app started meanwhile shows up.
      const more = await bed.run([SSC_BIN, '--no-tty', '--verbose', 'sleep', '601'], { user: 'sscalice' });
      expect(more.code).toBe(0);
      const other = /started (app-ssc-sleep@[0-9a-f]{16}\.service)/.exec(more.stderr)?.[1] as string;
      try {
        await tmux.waitFor('t', /^ssc top: 2 apps, by memory/m);
      } finally {
        await bed.run(['systemctl', 'stop', other]);
      }
      await tmux.type('t', 'c');
      await tmux.waitFor('t', /^ssc top: 1 app, by cpu,/m);
      // Narrowed: every line cut to the width, the cut marked.
      await tmux.resize('t', 60, 20);
      const narrow = await tmux.waitFor('t', /^ssc top: 1 app, by cpu, every 0\.5 s; q quits, m\/c\/n sort by>$/m);
      for (const l of narrow.split('\n')) expect([...l].length).toBeLessThanOrEqual(60);
      await tmux.type('t', 'q');
      const after = await tmux.waitFor('t', /^STATUS:\d+$/m);
      expect(after).toMatch(/^STATUS:0$/m);
      // The alternate screen is gone (the table with it), and the terminal's modes are back.
      expect(after).not.toMatch(/^NAME +UNIT/m);
      const [before, restored] = await Promise.all([bed.run(['cat', `${modes}.before`]), bed.run(['cat', `${modes}.after`])]);
      expect(before.stdout).not.toBe('');
      expect(restored.stdout).toBe(before.stdout);
    } finally {
      await tmux.killServer();
      await bed.run(['rm', '-f', `${modes}.before`, `${modes}.after`]);
    }
  }, 60_000);

  it('prints one snapshot when its output is not a terminal, and refuses an interval it cannot keep', async () => {
    const r = await bed.run(['sh', '-c', `${SSC_BIN} top | cat`], { user: 'sscalice' });
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME +UNIT +PROFILE/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[1])).toEqual([unit]);
    expect(await bed.run([SSC_BIN, 'top', '-d', '0'], { user: 'sscalice' })).toMatchObject({
      code: 2,
      stderr: 'ssc: --interval takes seconds from 0.2 to 3600, not "0"\n',
    });
  });
});
