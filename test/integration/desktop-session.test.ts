import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bed } from '../bed/bed.js';
import { bedSkipReason, getBed } from '../bed/index.js';
import { SSC_BIN, TEST_USERS } from '../bed/users.js';

const skip = bedSkipReason();
const alice = TEST_USERS.sscalice;
// The bed's root is this machine's (an overlay of it, or the VM itself): what is installed here is there.
const noX = ['/usr/bin/Xvfb', '/usr/bin/xdpyinfo', '/usr/bin/xauth', '/usr/bin/mcookie'].filter((p) => !fs.existsSync(p));
const xSkip = skip || (noX.length > 0 ? `not installed: ${noX.join(' ')} (Debian: xvfb x11-utils xauth util-linux)` : false);

/** No other test file starts an X server; :73 is also far from the :0/:1 a desktop uses. */
const DISPLAY = ':73';
const COOKIE = '/tmp/ssc-test-xauth-73';
const XVFB_PID = '/tmp/ssc-test-xvfb-73.pid';
const RUNTIME = `/run/user/${alice.uid}`;

describe.skipIf(xSkip)(
  `a desktop session's X11 cookie under /tmp, with a real X client and Xvfb${xSkip ? ` (skipped: ${xSkip})` : ''}`,
  () => {
    let bed: Bed;
    let madeRuntimeDir = false;
    const ssc = (args: string[], env: Record<string, string>) => bed.run([SSC_BIN, ...args], { user: 'sscalice', env });
    const copies = async () => (await bed.sh(`ls -A ${RUNTIME}/ssc 2>/dev/null || true`)).stdout.split('\n').filter(Boolean);

    beforeAll(async () => {
      bed = getBed();
      // A private runtime dir as logind makes it (0700, the user's); logind is not asked, nothing else runs for it.
      madeRuntimeDir = (await bed.run(['mkdir', '-m', '0700', RUNTIME])).code === 0;
      if (madeRuntimeDir) await bed.run(['chown', `${alice.uid}:${alice.gid}`, RUNTIME]);
      expect((await bed.run(['stat', '-c', '%U %a %F', RUNTIME])).stdout).toBe('sscalice 700 directory\n');
      await bed.sh('mkdir -p /tmp/.X11-unix && chmod 1777 /tmp/.X11-unix');
      const lock = await bed.sh(`test ! -e /tmp/.X${DISPLAY.slice(1)}-lock`);
      expect(lock.code, `display ${DISPLAY} is taken in the bed`).toBe(0);
      // The cookie file, in /tmp as some display managers put it; Xvfb accepts only clients that present it.
      const cookie = await bed.sh(`umask 077 && xauth -q -f ${COOKIE} add ${DISPLAY} . "$(mcookie)" && xauth -f ${COOKIE} list`, {
        user: 'sscalice',
      });
      expect(cookie.stdout).toContain('MIT-MAGIC-COOKIE-1');
      const xvfb = await bed.sh(
        `Xvfb ${DISPLAY} -auth ${COOKIE} -nolisten tcp -screen 0 320x240x24 </dev/null >/tmp/ssc-test-xvfb-73.log 2>&1 & echo $! > ${XVFB_PID}`,
        { user: 'sscalice' },
      );
      expect(xvfb.code).toBe(0);
      const up = await bed.sh(
        `for i in $(seq 300); do XAUTHORITY=${COOKIE} xdpyinfo -display ${DISPLAY} >/dev/null 2>&1 && exit 0; sleep 0.1; done; cat /tmp/ssc-test-xvfb-73.log; exit 1`,
        { user: 'sscalice' },
      );
      expect(up.code, `Xvfb did not come up: ${up.stdout}`).toBe(0);
    });

    afterAll(async () => {
      if (!bed) return;
      await bed.sh(
        `test -s ${XVFB_PID} && kill "$(cat ${XVFB_PID})"; rm -f ${XVFB_PID} ${COOKIE} /tmp/ssc-test-xvfb-73.log; rm -rf ${RUNTIME}/ssc`,
      );
      if (madeRuntimeDir) await bed.run(['rm', '-rf', RUNTIME]);
    });

    it('the X server enforces the cookie: a client without it is turned away, outside ssc too', async () => {
      const direct = await bed.run(['xdpyinfo', '-display', DISPLAY], { user: 'sscalice' });
      expect(direct.code).not.toBe(0);
      expect(direct.stderr).toMatch(/unable to open display/);
      const r = await ssc(['--isolation=strict', '--no-tty', '--wait', 'xdpyinfo', '-display', DISPLAY], { XDG_RUNTIME_DIR: RUNTIME });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/unable to open display/);
    });

    it('strict: a client with XAUTHORITY in /tmp connects, through a private copy of the cookie in $XDG_RUNTIME_DIR/ssc', async () => {
      const env = { XAUTHORITY: COOKIE, XDG_RUNTIME_DIR: RUNTIME };
      const r = await ssc(['--isolation=strict', '--no-tty', '--wait', 'xdpyinfo', '-display', DISPLAY], env);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`name of display:\\s+${DISPLAY}`));
      // The program saw XAUTHORITY rewritten to the copy.
      const seen = await ssc(['--isolation=strict', '--no-tty', '--wait', 'sh', '-c', 'printf %s "$XAUTHORITY"'], env);
      expect(seen.stdout).toMatch(new RegExp(`^${RUNTIME}/ssc/xauth-[0-9a-f]{32}$`));
      const [copy, ...more] = await copies();
      expect(more).toEqual([]);
      expect(seen.stdout).toBe(`${RUNTIME}/ssc/${copy}`);
      const st = await bed.sh(`stat -c '%U %a' ${RUNTIME}/ssc ${RUNTIME}/ssc/${copy} && cmp ${COOKIE} ${RUNTIME}/ssc/${copy} && echo same`);
      expect(st.stdout).toBe('sscalice 700\nsscalice 600\nsame\n');
    });

    it('strict: launching again reuses the one copy of the same cookie', async () => {
      const before = await copies();
      for (let i = 0; i < 2; i++) {
        const r = await ssc(['--isolation=strict', '--no-tty', '--wait', 'xdpyinfo', '-display', DISPLAY], {
          XAUTHORITY: COOKIE,
          XDG_RUNTIME_DIR: RUNTIME,
        });
        expect(r.code).toBe(0);
      }
      expect(before).toHaveLength(1);
      expect(await copies()).toEqual(before);
    });

    it('strict without a runtime directory: one warning line, the environment unchanged, and the cookie out of reach', async () => {
      const r = await ssc(
        ['--isolation=strict', '--no-tty', '--wait', 'sh', '-c', 'printf "%s\\n" "$XAUTHORITY"; exec xdpyinfo -display "$0"', DISPLAY],
        {
          XAUTHORITY: COOKIE,
        },
      );
      expect(r.stdout).toBe(`${COOKIE}\n`);
      expect(r.code).not.toBe(0);
      const [first, ...rest] = r.stderr.split('\n');
      expect(first).toBe(
        `ssc: XAUTHORITY (${COOKIE}) is in a /tmp the strict profile hides, and there is nowhere private to copy it to: XDG_RUNTIME_DIR is not set: X11 programs may not connect (use --isolation=relaxed)`,
      );
      expect(rest.join('\n')).not.toMatch(/^ssc:/m);
    });

    it('relaxed: the client connects with XAUTHORITY as it is, and nothing is copied', async () => {
      await bed.run(['rm', '-rf', `${RUNTIME}/ssc`]);
      const r = await ssc(
        [
          '--isolation=relaxed',
          '--no-tty',
          '--wait',
          'sh',
          '-c',
          'printf "%s\\n" "$XAUTHORITY"; exec xdpyinfo -display "$0" >/dev/null',
          DISPLAY,
        ],
        { XAUTHORITY: COOKIE, XDG_RUNTIME_DIR: RUNTIME },
      );
      expect(r).toMatchObject({ code: 0, stdout: `${COOKIE}\n`, stderr: '' });
      expect(await copies()).toEqual([]);
    });
  },
);

describe.skipIf(skip)(`an ssh agent's socket under /tmp${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let bed: Bed;
  beforeAll(() => {
    bed = getBed();
  });

  it('strict says in one line that the agent is out of reach, and passes SSH_AUTH_SOCK unchanged', async () => {
    const sock = '/tmp/ssh-ssctest/agent.42';
    const r = await bed.run([SSC_BIN, '--isolation=strict', '--no-tty', '--wait', 'sh', '-c', 'printf %s "$SSH_AUTH_SOCK"'], {
      user: 'sscalice',
      env: { SSH_AUTH_SOCK: sock },
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(sock);
    expect(r.stderr).toMatch(
      new RegExp(`^ssc: SSH_AUTH_SOCK \\(${sock}\\) is in a /tmp the strict profile hides: [^\\n]*--isolation=relaxed\\)\\n$`),
    );
  });

  it('relaxed, or an agent socket outside /tmp, says nothing', async () => {
    for (const [profile, sock] of [
      ['relaxed', '/tmp/ssh-ssctest/agent.42'],
      ['strict', `/run/user/${alice.uid}/openssh_agent`],
    ]) {
      const r = await bed.run([SSC_BIN, `--isolation=${profile}`, '--no-tty', '--wait', 'true'], {
        user: 'sscalice',
        env: { SSH_AUTH_SOCK: sock as string },
      });
      expect(r, `${profile} ${sock}`).toMatchObject({ code: 0, stderr: '' });
    }
  });
});
