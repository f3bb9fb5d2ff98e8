import { beforeAll, describe, expect, it } from 'vitest';
import type { Bed } from '../bed/bed.js';
import { bedSkipReason, getBed } from '../bed/index.js';
import { systemdVersion } from '../bed/command.js';
import { SSC_BIN, TEST_USERS } from '../bed/users.js';

const skip = bedSkipReason();
const alice = TEST_USERS.sscalice;

describe.skipIf(skip)(`launching as an unprivileged user through the installed setuid ssc${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let bed: Bed;
  beforeAll(() => {
    bed = getBed();
  });

  const ssc = (args: string[], opts: Parameters<Bed['run']>[1] = {}) => bed.run([SSC_BIN, ...args], { user: 'sscalice', ...opts });

  it("runs the program as the caller's real uid and gid, with the database's groups", async () => {
    const r = await ssc(['--no-tty', '--wait', 'id']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^uid=${alice.uid}\\(sscalice\\) gid=${alice.gid}\\(sscalice\\) groups=.*2100\\(sscshared\\)`));
  });

  it("puts the program in a transient app-ssc-…@….service unit in the caller's own slice of ssc.slice", async () => {
    const r = await ssc(['--no-tty', '--wait', 'cat', '/proc/self/cgroup']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`ssc\\.slice/ssc-${alice.uid}\\.slice/app-ssc-cat@[0-9a-f]{16}\\.service`));
  });

  it('in GUI mode starts the program, prints nothing and returns at once', async () => {
    const r = await ssc(['--no-tty', 'sleep', '30']);
    expect(r).toMatchObject({ code: 0, stdout: '', stderr: '' });
    const units = await bed.run(['systemctl', 'list-units', '--no-legend', '--plain', 'app-ssc-sleep@*']);
    expect(units.stdout).toMatch(/app-ssc-sleep@[0-9a-f]{16}\.service\s+loaded active running/);
    const unit = /app-ssc-sleep@[0-9a-f]{16}\.service/.exec(units.stdout)?.[0] as string;
    const show = await bed.run(['systemctl', 'show', '-p', 'User', '-p', 'Group', '-p', 'Slice', '-p', 'Description', unit]);
    expect(show.stdout).toContain(`User=${alice.uid}\n`);
    expect(show.stdout).toContain(`Group=${alice.gid}\n`);
    expect(show.stdout).toContain(`Slice=ssc-${alice.uid}.slice\n`);
    expect(show.stdout).toContain('Description=sleep (ssc strict)\n');
    await bed.run(['systemctl', 'stop', unit]);
  });

  it('with --verbose names the unit it started', async () => {
    const r = await ssc(['--no-tty', '--verbose', 'true']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^ssc: started app-ssc-true@[0-9a-f]{16}\.service\n$/);
  });

  it("keeps the caller's working directory and umask", async () => {
    const r = await ssc(['--no-tty', '--wait', 'sh', '-c', 'pwd; umask'], { cwd: '/usr/share', env: {} });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('/usr/share\n0022\n');
    const r2 = await bed.sh(`umask 0077; exec ${SSC_BIN} --no-tty --wait sh -c umask`, { user: 'sscalice' });
    expect(r2.stdout).toBe('0077\n');
  });

  it('passes arguments literally: no $VAR or %-specifier expansion', async () => {
    const args = ['$HOME', '${HOME}', '%h', '%%', 'a b', '"q"', "'s'", 'x\ny', '\\'];
    const r = await ssc(['--no-tty', '--wait', 'printf', '[%s]', ...args]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(args.map((a) => `[${a}]`).join(''));
  });

  it('passes the environment byte-exact, __proto__ included', async () => {
    const value = 'unix:path=/run/user/2001/bus a "b" \'c\' $HOME %h \\ `x`\nsecond line';
    const r = await ssc(['--no-tty', '--wait', 'sh', '-c', 'printf "%s|%s" "$SSC_T" "$(env | grep -c ^__proto__=x$)"'], {
      env: { SSC_T: value, ['__proto__']: 'x' },
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${value}|1`);
  });
});

describe.skipIf(skip)(`standard streams and the journal${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it("with --wait the program reads ssc's stdin and writes to its stdout and stderr", async () => {
    const bed = getBed();
    const r = await bed.run([SSC_BIN, '--no-tty', '--wait', 'sh', '-c', 'tr a-z A-Z; echo to-stderr >&2'], {
      user: 'sscalice',
      input: 'piped through\n',
    });
    expect(r).toMatchObject({ code: 0, stdout: 'PIPED THROUGH\n', stderr: 'to-stderr\n' });
  });

  it("without --wait the program's output goes to the journal under its unit", async () => {
    const bed = getBed();
    const r = await bed.run([SSC_BIN, '--no-tty', '--verbose', 'sh', '-c', 'echo hello-journal-7c1e'], { user: 'sscalice' });
    expect(r.code).toBe(0);
    const unit = /app-ssc-sh@[0-9a-f]{16}\.service/.exec(r.stderr)?.[0] as string;
    const log = await bed.sh(
      `for i in $(seq 50); do journalctl -q -o cat -u ${unit} | grep -q hello-journal-7c1e && break; sleep 0.1; done; journalctl -q -o cat -u ${unit}`,
    );
    expect(log.stdout).toContain('hello-journal-7c1e');
  });

  it('a program the kernel will not execute (no binary, no #!) is 126 with one line', async () => {
    const bed = getBed();
    await bed.sh(
      "printf 'garbage\\0\\1\\2' > /home/sscalice/not-a-binary && chmod 755 /home/sscalice/not-a-binary && chown sscalice: /home/sscalice/not-a-binary",
    );
    const r = await bed.run([SSC_BIN, '--no-tty', '--wait', '/home/sscalice/not-a-binary'], { user: 'sscalice' });
    expect(r.code).toBe(126);
    // From 254 systemd execs the program and fails the start job; before, ssc-exec does and says so like env(1).
    expect(r.stderr).toMatch(
      (await systemdVersion(bed)) >= 254
        ? /^ssc: systemd could not start app-ssc-not\\x2da\\x2dbinary@[0-9a-f]{16}\.service \(job failed\): the program cannot be executed\n$/
        : /^ssc: cannot execute \/home\/sscalice\/not-a-binary: Exec format error\n$/,
    );
    await bed.run(['rm', '-f', '/home/sscalice/not-a-binary']);
  });

  it('ssc.slice caps all contained programs together', async () => {
    const bed = getBed();
    const mem = Number((await bed.sh("awk '/^MemTotal:/ {print $2 * 1024}' /proc/meminfo")).stdout.trim());
    const max = Number((await bed.run(['systemctl', 'show', '-p', 'MemoryMax', '--value', 'ssc.slice'])).stdout.trim());
    expect(Math.abs(max - mem * 0.8) / mem).toBeLessThan(0.01);
  });
});
