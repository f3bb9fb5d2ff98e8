/**
 * Terminal mode, driven through a real terminal: tmux inside the bed, run as
 * sscalice, with `ssc -isolation=PROFILE /bin/bash -i` as a pane's command,
 * exactly as GNOME Terminal's custom command runs it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bed } from '../bed/bed.js';
import { bedSkipReason, getBed, systemctlShow } from '../bed/index.js';
import { Tmux } from '../bed/tmux.js';
import { SSC_BIN, TEST_USERS } from '../bed/users.js';

const skip = bedSkipReason();
const alice = TEST_USERS.sscalice;
const PROFILES = ['relaxed', 'strict'] as const;
const PROMPT = /[$] *$/m;
const SCOPE = /app-ssc-bash-[0-9a-f]{16}\.scope/;

describe.skipIf(skip)(`terminal mode through a real terminal (tmux)${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let bed: Bed;
  let tmux: Tmux;
  let cores = 0;
  let sessions = 0;
  beforeAll(async () => {
    bed = getBed();
    tmux = new Tmux(bed, 'sscalice');
    cores = Number((await bed.run(['nproc'])).stdout.trim());
    await bed.sh('echo shared > /tmp/ssc-terminal-marker && chmod 644 /tmp/ssc-terminal-marker');
  });
  afterAll(async () => {
    await tmux?.killServer();
    await bed?.run(['rm', '-f', '/tmp/ssc-terminal-marker']);
  });

  /** A new tab whose command is ssc with a contained interactive bash, at its first prompt. */
  async function tab(profile: string, opts: { width?: number; height?: number } = {}): Promise<string> {
    const s = `t${++sessions}`;
    await tmux.start(s, `${SSC_BIN} -isolation=${profile} /bin/bash -i`, opts);
    await tmux.waitFor(s, PROMPT);
    return s;
  }

  /** Run a command line in the tab and return what `echo TAG:...` printed. */
  async function ask(s: string, tag: string, command: string): Promise<string> {
    await tmux.line(s, command);
    const screen = await tmux.waitFor(s, new RegExp(`^${tag}:.*$`, 'm'));
    const lines = screen.split('\n').filter((l) => l.startsWith(`${tag}:`));
    return (lines.pop() as string).slice(tag.length + 1).trimEnd();
  }

  async function scopeOf(s: string): Promise<string> {
    const cg = await ask(s, 'CG', 'echo "CG:$(grep ^0:: /proc/self/cgroup)"');
    const unit = SCOPE.exec(cg)?.[0];
    expect(unit, cg).toBeDefined();
    return unit as string;
  }

  /**
   * A tab whose command is `ssc ARGS` under a tiny sh that writes ssc's exit
   * status to a file (tmux, unlike a terminal emulator, now and then leaves its
   * pane's setuid-started child unreaped and cannot report the status).
   */
  async function tabWithStatus(sscArgs: string): Promise<{ s: string; status: () => Promise<number> }> {
    const s = `t${++sessions}`;
    const file = `${alice.home}/status-${s}.txt`;
    await tmux.start(s, `sh -c '${SSC_BIN} ${sscArgs}; echo $? > ${file}'`);
    return {
      s,
      status: async () => {
        for (let i = 0; i < 100; i++) {
          const r = await bed.run(['cat', file], { user: 'sscalice' });
          if (r.code === 0 && r.stdout.trim() !== '') return Number(r.stdout.trim());
          await new Promise((res) => setTimeout(res, 100));
        }
        throw new Error(`ssc in ${s} did not end; screen:\n${await tmux.screen(s)}`);
      },
    };
  }

  async function unitGone(unit: string): Promise<boolean> {
    for (let i = 0; i < 50; i++) {
      const r = await bed.run(['systemctl', 'list-units', '--all', '--no-legend', '--plain', unit]);
      if (r.stdout.trim() === '') return true;
      await new Promise((res) => setTimeout(res, 100));
    }
    return false;
  }

  describe.each(PROFILES)('%s', (profile) => {
    it("gives the program the terminal as its controlling terminal, as the caller, in a scope of ssc.slice with the profile's limits", async () => {
      const s = await tab(profile);
      const who = await ask(s, 'A', 'echo "A:$(tty):$(ps -o tty= -p $$):$(id -u):$(id -g):$(id -G)"');
      expect(who).toMatch(new RegExp(`^/dev/pts/\\d+:pts/\\d+:${alice.uid}:${alice.gid}:${alice.gid} ${alice.extraGroups[0]?.gid}$`));
      const unit = await scopeOf(s);
      const props = await systemctlShow(bed, unit, ['ActiveState', 'Slice', 'MemoryMax', 'CPUQuotaPerSecUSec', 'Description']);
      expect(props.ActiveState).toBe('active');
      expect(props.Slice).toBe(`ssc-${alice.uid}.slice`);
      expect(props.MemoryMax).toMatch(/^\d+$/);
      expect(props.CPUQuotaPerSecUSec).toBe(profile === 'strict' ? `${Math.max(1, cores - 1)}s` : 'infinity');
      expect(props.Description).toBe(`bash (ssc ${profile}, terminal)`);
      // Nothing of ssc's Node stays: the process tree is ssc-tab and the shell.
      const tree = await ask(s, 'P', 'echo "P:$(ps -o comm= -p $PPID)"');
      expect(tree).toBe('ssc-tab');
      await tmux.line(s, 'exit');
      expect(await unitGone(unit)).toBe(true);
    });

    it(`${profile === 'strict' ? 'strict: no new privileges and an empty private /tmp' : 'relaxed: the shared /tmp and new privileges allowed'}`, async () => {
      const s = await tab(profile);
      const nnp = await ask(s, 'N', 'echo "N:$(grep NoNewPrivs /proc/self/status | tr -d " \\t")"');
      const tmp = await ask(s, 'T', 'echo "T:$(ls -A /tmp /var/tmp | tr "\\n" " ")"');
      if (profile === 'strict') {
        expect(nnp).toBe('NoNewPrivs:1');
        expect(tmp).not.toMatch(/ssc-terminal-marker/);
        expect(await ask(s, 'W', 'touch /tmp/mine && echo "W:$(ls -l /tmp/mine | cut -c1-10)"')).toBe('-rw-r--r--');
      } else {
        expect(nnp).toBe('NoNewPrivs:0');
        expect(tmp).toMatch(/ssc-terminal-marker/);
      }
      await tmux.line(s, 'exit');
      if (profile === 'strict') expect((await bed.run(['ls', '/tmp/mine'])).code).not.toBe(0);
    });

    it('job control works: a background job is listed, Ctrl-Z stops the foreground job and fg resumes it', async () => {
      const s = await tab(profile);
      await tmux.line(s, 'sleep 300 &');
      expect(await ask(s, 'J', 'echo "J:$(jobs)"')).toMatch(/\[1\]\+?\s+Running\s+sleep 300 &/);
      await tmux.line(s, 'sleep 200');
      await tmux.keys(s, 'C-z');
      await tmux.waitFor(s, /Stopped\s+sleep 200/);
      await tmux.line(s, 'fg %2');
      await tmux.waitFor(s, /^sleep 200\s*$/m);
      await tmux.keys(s, 'C-c');
      expect(await ask(s, 'K', 'echo "K:$(jobs | wc -l)"')).toBe('1');
      await tmux.line(s, 'kill %1; exit');
      await tmux.waitDead(s);
    });

    it('Ctrl-C and Ctrl-\\ reach the foreground job, never the shell, ssc or the unit', async () => {
      const s = await tab(profile);
      const unit = await scopeOf(s);
      await tmux.line(s, 'sleep 100');
      await tmux.keys(s, 'C-c');
      expect(await ask(s, 'R', 'echo "R:$?"')).toBe('130');
      await tmux.line(s, 'sleep 100');
      await tmux.keys(s, 'C-\\');
      expect(await ask(s, 'Q', 'echo "Q:$?"')).toBe('131');
      expect((await tmux.pane(s)).dead).toBe(false);
      expect((await systemctlShow(bed, unit, ['ActiveState'])).ActiveState).toBe('active');
      await tmux.line(s, 'exit');
    });

    it('the window size is right from the first prompt and follows a resize', async () => {
      const s = await tab(profile, { width: 97, height: 31 });
      expect(await ask(s, 'S', 'echo "S:$(stty size):$(tput cols)"')).toBe('31 97:97');
      await tmux.resize(s, 123, 41);
      expect(await ask(s, 'Z', 'echo "Z:$(stty size):$(tput cols)"')).toBe('41 123:123');
      await tmux.line(s, 'exit');
    });

    it('the exit status comes back exactly: exit 7 is 7, death by SIGKILL is 137, and the unit is gone', async () => {
      const a = await tabWithStatus(`-isolation=${profile} /bin/bash -i`);
      await tmux.waitFor(a.s, PROMPT);
      const unitA = await scopeOf(a.s);
      await tmux.line(a.s, 'exit 7');
      expect(await a.status()).toBe(7);
      expect(await unitGone(unitA)).toBe(true);
      const b = await tabWithStatus(`-isolation=${profile} /bin/bash -i`);
      await tmux.waitFor(b.s, PROMPT);
      await tmux.line(b.s, 'kill -KILL $$');
      expect(await b.status()).toBe(137);
    });

    it('closing the tab (hangup) ends the shell, what it started with nohup, and the unit', async () => {
      const s = await tab(profile);
      const unit = await scopeOf(s);
      await tmux.line(s, 'nohup sleep 1234 >/dev/null 2>&1 &');
      const pid = await ask(s, 'B', 'echo "B:$!"');
      expect(pid).toMatch(/^\d+$/);
      await tmux.hangUp(s);
      expect(await unitGone(unit)).toBe(true);
      expect((await bed.sh('pgrep -f "^sleep 1234$" || echo none')).stdout.trim()).toBe('none');
    });

    it("restores the terminal's modes when the program leaves the terminal raw and dies", async () => {
      const s = `t${++sessions}`;
      const file = `${alice.home}/modes-${profile}.txt`;
      await tmux.start(
        s,
        `sh -c '${SSC_BIN} -isolation=${profile} /bin/sh -c "stty raw -echo; kill -KILL \\$\\$"; echo status=$? > ${file}; stty -a | tr "\\n" " " >> ${file}'`,
      );
      await tmux.waitDead(s);
      const modes = (await bed.run(['cat', file])).stdout;
      expect(modes).toMatch(/^status=137\n/);
      expect(modes).toMatch(/(^|[ ;])icanon( |;|$)/);
      expect(modes).toMatch(/(^|[ ;])echo( |;|$)/);
    });

    it('full-screen programs draw and respond: less pages and quits, vi edits and writes', async () => {
      const s = await tab(profile);
      await tmux.line(s, `seq 1 1000 > ~/nums-${profile}; less ~/nums-${profile}`);
      await tmux.waitFor(s, /^1\n2\n3\n/m);
      await tmux.keys(s, 'G');
      await tmux.waitFor(s, /^1000\n.*\(END\)/m);
      await tmux.keys(s, 'q');
      await tmux.waitFor(s, PROMPT);
      await tmux.line(s, `vi ~/edit-${profile}.txt`);
      await tmux.waitFor(s, /^~/m);
      await tmux.keys(s, 'i');
      await tmux.type(s, 'written in vi');
      await tmux.keys(s, 'Escape');
      await tmux.type(s, ':wq');
      await tmux.keys(s, 'Enter');
      expect(await ask(s, 'V', `echo "V:$(cat ~/edit-${profile}.txt)"`)).toBe('written in vi');
      await tmux.line(s, 'exit');
    });

    it('a large output arrives complete and in order, and what is written just before the end is not lost', async () => {
      const s = `t${++sessions}`;
      const out = `${alice.home}/out-${profile}.txt`;
      await tmux.start(s, 'sh');
      await tmux.waitFor(s, PROMPT);
      await tmux.tmux('pipe-pane', '-o', '-t', s, `cat > ${out}`);
      await tmux.line(
        s,
        `${SSC_BIN} -isolation=${profile} /bin/sh -c 'seq 1 100000; printf last-words; exit 5'; s=$?; echo; echo "status:$s"`,
      );
      await tmux.waitFor(s, /^status:5$/m, 60_000);
      await tmux.line(s, 'exit');
      await tmux.waitDead(s);
      const text = (await bed.run(['cat', out], { user: 'sscalice' })).stdout.replace(/\r/g, '');
      const numbers = text.match(/^\d+$/gm)?.map(Number) ?? [];
      expect(numbers.length).toBe(100000);
      expect(numbers.every((n, i) => n === i + 1)).toBe(true);
      expect(text).toMatch(/\n100000\nlast-words\n/);
    });
  });

  describe('choosing the mode', () => {
    it('-tty=false on a terminal forces GUI mode: the program gets no terminal and ssc returns at once', async () => {
      const file = `${alice.home}/gui-tty.txt`;
      const t = await tabWithStatus(`-tty=false -isolation=relaxed /bin/sh -c "tty > ${file} 2>&1"`);
      expect(await t.status()).toBe(0);
      let seen = '';
      for (let i = 0; i < 50 && seen === ''; i++) {
        seen = (await bed.run(['cat', file], { user: 'sscalice' })).stdout.trim();
        if (seen === '') await new Promise((r) => setTimeout(r, 100));
      }
      expect(seen).toBe('not a tty');
    });

    it('--tty without a terminal is a usage error: exit 2 and one ssc: line', async () => {
      const r = await bed.run([SSC_BIN, '--tty', 'true'], { user: 'sscalice' });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^ssc: [^\n]*terminal[^\n]*\n$/);
    });
  });

  describe("the setuid launcher's private /tmp (strict terminal mode)", () => {
    const TAB = '/usr/local/lib/ssc/ssc-tab';
    const REPORT =
      'echo "ids:$(id -u):$(id -g)"; grep NoNewPrivs /proc/self/status; echo "tmp:$(ls -A /tmp /var/tmp | tr -d "\\n")";' +
      ' findmnt -n -o FSTYPE,OPTIONS /tmp; printf "var:%s|" "$MYVAR" "$TMPDIR" "$LD_LIBRARY_PATH"; echo; ls /proc/self/fd | tr "\\n" " "';
    /** systemd-run's own scope (as root) for a command run as sscalice: a scope the broker did not make. */
    const inScope = (unit: string, extra: string[], command: string[]) => [
      'systemd-run',
      '--quiet',
      '--scope',
      ...extra,
      `--unit=${unit}`,
      `--uid=${alice.uid}`,
      `--gid=${alice.gid}`,
      ...command,
    ];

    it("is refused outside an ssc scope, and in a scope of that name outside the caller's own slice of ssc.slice", async () => {
      const plain = await bed.run(['bash', '-c', `exec -a ssc-private-tmp ${SSC_BIN} /usr/bin/id id`], { user: 'sscalice' });
      expect(plain.code).toBe(125);
      expect(plain.stdout).toBe('');
      expect(plain.stderr).toBe('ssc: a private /tmp is only made for a process in an ssc scope\n');
      const elsewhere = await bed.run(
        inScope('app-ssc-id-00000000000000b1.scope', [], ['bash', '-c', `exec -a ssc-private-tmp ${SSC_BIN} /usr/bin/id id`]),
      );
      expect(elsewhere.code).toBe(125);
      expect(elsewhere.stderr).toMatch(/only made for a process in an ssc scope/);
      // In ssc.slice but in another user's slice (bob's, or the old shared level): refused too; the
      // tests below show the same in alice's own slice running.
      for (const [slice, tag] of [
        [`--slice=ssc-${TEST_USERS.sscbob.uid}`, 'b8'],
        ['--slice=ssc', 'b9'],
      ] as const) {
        const theirs = await bed.run(
          inScope(`app-ssc-id-00000000000000${tag}.scope`, [slice], ['bash', '-c', `exec -a ssc-private-tmp ${SSC_BIN} /usr/bin/id id`]),
        );
        expect(theirs).toMatchObject({ code: 125, stdout: '' });
        expect(theirs.stderr).toMatch(/only made for a process in an ssc scope/);
      }
    });

    it('ssc-tab ends what is left in its scope only when the scope is an ssc one', async () => {
      // A sleep beside ssc-tab in the same scope, and ssc-tab's program ending at once.
      const leftBehind = async (unit: string) => {
        const pidFile = `/tmp/ssc-tab-kill-${unit}`;
        const r = await bed.run(
          inScope(unit, [], ['sh', '-c', `sleep 300 >/dev/null 2>&1 & echo $! > ${pidFile}; exec ${TAB} /bin/true true`]),
        );
        expect(r.code).toBe(0);
        const pid = (await bed.run(['cat', pidFile])).stdout.trim();
        await bed.run(['rm', '-f', pidFile]);
        const alive = await bed.sh(`for i in $(seq 100); do kill -0 ${pid} 2>/dev/null || exit 1; sleep 0.02; done; exit 0`);
        await bed.sh(`kill ${pid} 2>/dev/null; systemctl stop ${unit} 2>/dev/null; true`);
        return alive.code === 0;
      };
      // Run by hand in someone else's scope, it touches nothing but its own program.
      expect(await leftBehind('other-tab-00000000000000b6.scope')).toBe(true);
      // The control: in an ssc scope the same sleep is ended with the program.
      expect(await leftBehind('app-ssc-true-00000000000000b7.scope')).toBe(false);
    });

    it('mounts over /tmp and /var/tmp only where they are root-owned directories', async () => {
      // A /var/tmp the user owns could be a place of theirs made to look like the system's: no tmpfs over it.
      await bed.run(['chown', 'sscalice', '/var/tmp']);
      try {
        const r = await bed.run(
          inScope(
            'app-ssc-sh-00000000000000b4.scope',
            [`--slice=ssc-${alice.uid}`],
            [TAB, '--private-tmp', SSC_BIN, '/bin/sh', 'sh', '-c', 'echo ran'],
          ),
        );
        expect(r.stdout).toBe('');
        expect(r.stderr).toBe('ssc: /var/tmp is not a root-owned directory\n');
        expect(r.code).toBe(125);
      } finally {
        await bed.run(['chown', 'root', '/var/tmp']);
      }
      // The control: root's again, the same tab runs.
      const ok = await bed.run(
        inScope(
          'app-ssc-sh-00000000000000b5.scope',
          [`--slice=ssc-${alice.uid}`],
          [TAB, '--private-tmp', SSC_BIN, '/bin/sh', 'sh', '-c', 'echo ran'],
        ),
      );
      expect(ok).toMatchObject({ code: 0, stdout: 'ran\n' });
    });

    it("in an ssc scope: the caller's ids, no_new_privs, an empty nosuid tmpfs on /tmp, the environment byte-exact, no stray fds", async () => {
      const r = await bed.run(
        inScope(
          'app-ssc-sh-00000000000000b2.scope',
          [`--slice=ssc-${alice.uid}`],
          [TAB, '--private-tmp', SSC_BIN, '/bin/sh', 'sh', '-c', REPORT],
        ),
        { env: { MYVAR: 'a=b "c" $d\nline2', TMPDIR: '/var/tmp/mine', LD_LIBRARY_PATH: '/nowhere' } },
      );
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`ids:${alice.uid}:${alice.gid}\n`);
      expect(r.stdout).toMatch(/^NoNewPrivs:\s+1$/m);
      expect(r.stdout).toContain('tmp:\n');
      expect(r.stdout).toMatch(/^tmpfs\s+\S*nosuid,nodev\S*$/m);
      // TMPDIR and LD_LIBRARY_PATH are what a setuid exec would have stripped from a real environment.
      expect(r.stdout).toContain('var:a=b "c" $d\nline2|var:/var/tmp/mine|var:/nowhere|');
      expect(r.stdout.trimEnd().split('\n').pop()).toMatch(/^0 1 2 \d+ ?$/);
      // The bed's own /tmp is untouched.
      expect((await bed.run(['cat', '/tmp/ssc-terminal-marker'])).stdout).toBe('shared\n');
    });
  });
});
