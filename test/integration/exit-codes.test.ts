import { beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { Bed } from '../bed/bed.js';
import { bedSkipReason, getBed } from '../bed/index.js';
import { SSC_BIN } from '../bed/users.js';

const skip = bedSkipReason();

describe.skipIf(skip)(`exit codes, like env and docker run${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let bed: Bed;
  beforeAll(() => {
    bed = getBed();
  });
  const ssc = (...args: string[]) => bed.run([SSC_BIN, ...args], { user: 'sscalice' });

  it('0 when the program succeeds', async () => {
    expect((await ssc('--no-tty', '--wait', 'true')).code).toBe(0);
  });

  it("the program's own status when it fails", async () => {
    const r = await ssc('--no-tty', '--wait', 'sh', '-c', 'exit 7');
    expect(r).toMatchObject({ code: 7, stderr: '' });
  });

  it('128+N when the program dies of signal N', async () => {
    expect((await ssc('--no-tty', '--wait', 'sh', '-c', 'kill -TERM $$')).code).toBe(143);
    expect((await ssc('--no-tty', '--wait', 'sh', '-c', 'kill -KILL $$')).code).toBe(137);
  });

  it('127 with one line when the program is not found', async () => {
    const r = await ssc('--no-tty', '--wait', 'no-such-program-ssc');
    expect(r.code).toBe(127);
    expect(r.stderr).toBe('ssc: no-such-program-ssc: command not found\n');
  });

  it('126 with one line when the program cannot be executed', async () => {
    const r = await ssc('--no-tty', '--wait', '/etc/passwd');
    expect(r.code).toBe(126);
    expect(r.stderr).toMatch(/^ssc: \/etc\/passwd: permission denied[^\n]*\n$/);
  });

  it('2 with one line for a usage error, listing the valid profiles for an unknown one', async () => {
    const r = await ssc('--isolation=none', 'true');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^ssc: .*strict.*relaxed.*\n$/);
    const r2 = await ssc('--uid=0', 'id');
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/^ssc: unknown option '--uid=0'\n$/);
    expect((await ssc()).code).toBe(2);
  });

  it('125 with one line when the working directory cannot be entered', async () => {
    const r = await bed.run([SSC_BIN, '--no-tty', '--wait', 'true'], { user: 'sscalice', cwd: '/home/sscalice' });
    expect(r.code).toBe(0);
    const r2 = await bed.sh(
      `mkdir -p /home/sscalice/gone && cd /home/sscalice/gone && rmdir /home/sscalice/gone && exec ${SSC_BIN} --no-tty --wait true`,
      {
        user: 'sscalice',
      },
    );
    expect(r2.code).toBe(125);
    expect(r2.stderr).toMatch(/^ssc: cannot determine the current directory[^\n]*\n$/);
  });

  it('125 with one line when there is no system bus', async () => {
    // An empty /run/dbus for the broker service (a runtime drop-in) and, through a private
    // mount namespace, for the front end: no bus socket for either.
    await bed.sh(
      'mkdir -p /run/systemd/system/ssc-broker.service.d && printf "[Service]\\nTemporaryFileSystem=/run/dbus\\n" > /run/systemd/system/ssc-broker.service.d/no-bus.conf && systemctl daemon-reload && systemctl stop ssc-broker.service',
    );
    onTestFinished(async () => {
      await bed.sh('rm -rf /run/systemd/system/ssc-broker.service.d && systemctl daemon-reload && systemctl stop ssc-broker.service');
    });
    for (const mode of [['--no-tty'], ['--no-tty', '--wait']]) {
      const r = await bed.run([
        'unshare',
        '--mount',
        'sh',
        '-c',
        'mount -t tmpfs none /run/dbus && exec setpriv --reuid=2001 --regid=2001 --init-groups env -i PATH=/usr/bin:/bin "$@"',
        'sh',
        SSC_BIN,
        ...mode,
        'true',
      ]);
      expect(r.code, mode.join(' ')).toBe(125);
      expect(r.stderr).toMatch(
        /^ssc: cannot connect to the system bus at \/run\/dbus\/system_bus_socket \(ENOENT\); is systemd running\?\n$/,
      );
    }
  });

  it('0 and help text on stdout for --help, the version for --version', async () => {
    const r = await ssc('--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: ssc [options] [--] PROGRAM [ARGS...]');
    expect(r.stdout).toContain('127');
    const v = await ssc('--version');
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });
});

describe.skipIf(skip)(`signals to a waiting ssc${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it.each(['INT', 'TERM', 'HUP', 'QUIT'])('SIG%s sent to ssc reaches the program, and ssc exits with its status', async (sig) => {
    const bed = getBed();
    const script = [
      `${SSC_BIN} --no-tty --wait sh -c 'trap "echo got-${sig}; exit 3" ${sig}; sleep 20 & wait' &`,
      'pid=$!',
      // Wait until the program runs (its own `sleep 20` child exists: not any sleep another test
      // left behind), then signal ssc itself.
      "for i in $(seq 100); do pgrep -u sscalice -fx 'sleep 20' >/dev/null && break; sleep 0.05; done",
      "pgrep -u sscalice -fx 'sleep 20' >/dev/null || { echo 'the program never started'; exit 1; }",
      `kill -${sig} $pid`,
      'wait $pid; echo "status=$?"',
    ].join('\n');
    const r = await bed.sh(script, { user: 'sscalice' });
    expect(r.stdout).toBe(`got-${sig}\nstatus=3\n`);
    await bed.sh("pkill -u sscalice -fx 'sleep 20' || true");
  });
});
