import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bed } from '../bed/bed.js';
import { bedSkipReason, getBed } from '../bed/index.js';
import { SSC_BIN, TEST_USERS } from '../bed/users.js';

const skip = bedSkipReason();
const alice = TEST_USERS.sscalice;

/** No unit of this program was left behind (none was started, or it is gone). */
async function noUnits(bed: Bed, program: string): Promise<string> {
  return (await bed.run(['systemctl', 'list-units', '--all', '--no-legend', '--plain', `app-ssc-${program}@*`])).stdout;
}

describe.skipIf(skip)(`the edges of a launch${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let bed: Bed;
  let scratch = '';
  beforeAll(async () => {
    bed = getBed();
    const mk = await bed.run(['mktemp', '-d', '/run/ssc-edges.XXXXXX']);
    expect(mk.code).toBe(0);
    scratch = mk.stdout.trim();
    expect((await bed.run(['chmod', '0755', scratch])).code).toBe(0);
  });
  afterAll(async () => {
    if (scratch) await bed.run(['rm', '-rf', '--', scratch]);
  });

  it('a working directory the caller cannot enter fails cleanly: exit 125, one ssc: line, no unit', async () => {
    // getcwd() still works in a directory one cannot search; only the program could not start there.
    const r = await bed.sh(`mkdir -p locked && cd locked && chmod 000 . && exec ${SSC_BIN} --no-tty --wait true`, {
      user: 'sscalice',
    });
    await bed.run(['rm', '-rf', '--', `${alice.home}/locked`]);
    expect(r.code).toBe(125);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(new RegExp(`^ssc: [^\\n]*${alice.home}/locked[^\\n]*\\n$`));
    expect(await noUnits(bed, 'true')).toBe('');
  });

  it('a working directory taken away after the caller entered it fails the same way', async () => {
    // root owns d; alice enters it, says so, and waits until she can no longer search it.
    const d = `${scratch}/d`;
    const ready = `${scratch}/ready`;
    const setup = await bed.sh(`mkdir -m 0755 '${d}' && touch '${ready}' && chown ${alice.uid} '${ready}'`);
    expect(setup.code).toBe(0);
    const run = bed.sh(`cd '${d}' && echo in >'${ready}' && while [ -x . ]; do sleep 0.02; done; exec ${SSC_BIN} --no-tty --wait true`, {
      user: 'sscalice',
      timeoutMs: 20_000,
    });
    for (let i = 0; i < 500 && (await bed.run(['cat', ready])).stdout !== 'in\n'; i++) await new Promise((res) => setTimeout(res, 20));
    expect((await bed.run(['cat', ready])).stdout, 'the shell never entered the directory').toBe('in\n');
    expect((await bed.run(['chmod', '0700', d])).code).toBe(0);
    const r = await run;
    expect(r.code).toBe(125);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(new RegExp(`^ssc: [^\\n]*${d}[^\\n]*\\n$`));
    expect(await noUnits(bed, 'true')).toBe('');
  });

  it('variables systemd cannot take are dropped with exactly one warning naming them, and the program runs with the rest', async () => {
    // A bash exported function's name, invalid UTF-8 in a value, a control character in a value.
    const script = [
      `exec env 'BASH_FUNC_sscx%%=() {  echo hi; }' "SSC_BADUTF8=$(printf 'a\\377b')" "SSC_CTL=$(printf 'a\\001b')" SSC_GOOD=yes \\`,
      `  ${SSC_BIN} --no-tty --wait env`,
    ].join('\n');
    const r = await bed.sh(script, { user: 'sscalice' });
    expect(r.code).toBe(0);
    const lines = r.stderr.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^ssc: /);
    for (const name of ['BASH_FUNC_sscx%%', 'SSC_BADUTF8', 'SSC_CTL']) expect(lines[0]).toContain(name);
    expect(lines[0]).not.toContain('SSC_GOOD');
    const env = r.stdout.split('\n');
    expect(env).toContain('SSC_GOOD=yes');
    expect(env).toContain(`HOME=${alice.home}`);
    expect(env.filter((l) => /^(BASH_FUNC|SSC_BADUTF8|SSC_CTL)/.test(l))).toEqual([]);
  });

  it('ssc --tty without a terminal is a usage error: exit 2, one ssc: line', async () => {
    const r = await bed.run([SSC_BIN, '--tty', 'true'], { user: 'sscalice' });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^ssc: [^\n]*\n$/);
  });
});
