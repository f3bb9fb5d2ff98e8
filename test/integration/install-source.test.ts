// install.sh from a clone: who may write the tree it builds a setuid-root
// program from, and who runs the build. Each refusal beside its positive
// control: the same tree, fixed, installs. The trees are copies of this
// checkout in the bed's private /home and /tmp (tmpfs of the bed, gone with
// it), removed again after the file; the bed is left installed from the
// checkout, as the other files expect it.
//
// The bed has no sudo: a run "through sudo" is a root run with SUDO_UID and
// SUDO_GID set, exactly what sudo sets and all install.sh reads of it (it
// believes them only from root: root could install anything anyway).
import { spawnSync } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Bed, RunResult } from '../bed/bed.js';
import { bedKind, bedSkipReason, entryNodeFlags, getBed } from '../bed/index.js';
import { REPO_ROOT, installEnvironment } from '../bed/local.js';
import { SSC_BIN, TEST_USERS } from '../bed/users.js';

/**
 * install.sh's checks of the tree it installs from (owners, modes, links, sudo) depend on neither
 * systemd's version nor the cgroup layout: they run in the namespace bed only. In each VM they
 * cost two minutes of emulation (each test installs), which CI's time bound could not spare.
 */
const skip = bedSkipReason() || (bedKind() === 'local' ? 'the VMs: the tree checks do not depend on systemd or cgroups' : false);
const ALICE = TEST_USERS.sscalice;
const BOB = TEST_USERS.sscbob;
/** Where root's copies live: root-owned, 0755, on the bed's /home tmpfs. */
const BASE = '/home/ssc-install-trees';
/** sscalice's own clone, in her 0700 home. */
const CLONE = `${ALICE.home}/ssc`;
/** What sudo sets when sscalice runs `sudo ./install.sh`. */
const VIA_SUDO = { SUDO_UID: String(ALICE.uid), SUDO_GID: String(ALICE.gid), SUDO_USER: ALICE.name };

/** Why install.sh cannot build here (the bed shares this machine's /usr), or false: the VMs have no npm and no compiler. */
const cannotBuild =
  spawnSync('sh', ['-c', 'for t in npm cc make python3; do command -v "$t" >/dev/null || exit 1; done']).status === 0
    ? false
    : 'nothing can be built here: no npm, cc, make or python3 (the VMs; the namespace bed builds)';

/** Everything an install may change, with modification times: the same listing after a run means it touched nothing. */
const SYSTEM_STATE = `find /usr/local /etc/systemd/system /etc/tmpfiles.d -printf '%p %U:%G %m %s %T@\\n' 2>/dev/null | sort`;

describe.skipIf(skip)(`install.sh from a clone${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let bed: Bed;
  let aliceHome: string;

  const sh = async (script: string, ...args: string[]): Promise<RunResult> => {
    const r = await bed.run(['sh', '-c', `set -e\n${script}`, 'sh', ...args], { timeoutMs: 120_000 });
    expect(r.code, `${script}\n${r.stderr}`).toBe(0);
    return r;
  };

  /**
   * A fresh copy of the checkout at DEST, as a clone with a build holds it (not
   * .git, the VM cache or the test beds' logs: build/Release only), owned by
   * OWNER, with a line appended to its front end's bundle so that an installed
   * bundle shows which tree it came from. Its node_modules holds only what
   * install.sh takes from there and npm's links in .bin (dangling, but inside
   * the tree), unless FULL: a copy of all of it is 150 MB, which only a build
   * needs (and a VM copies slowly).
   */
  const copyTree = (dest: string, owner = 'root:root', full = false) =>
    sh(
      `repo=$1 dest=$2 owner=$3 full=$4
      rm -rf "$dest"
      mkdir -m 0755 "$dest"
      cd "$repo"
      for e in .[!.]* *; do
        case "$e" in .git | .vm-cache | build) continue ;; node_modules) [ "$full" = 1 ] || continue ;; esac
        if [ -e "$e" ]; then cp -a "$e" "$dest/"; fi
      done
      if [ "$full" != 1 ]; then
        mkdir -p "$dest/node_modules/usocket/build/Release"
        cp -a node_modules/.bin "$dest/node_modules/"
        cp -a node_modules/usocket/build/Release/uwrap.node "$dest/node_modules/usocket/build/Release/"
      fi
      mkdir -m 0755 "$dest/build"
      cp -a build/Release "$dest/build/"
      printf '\\n// the copy at %s\\n' "$dest" >>"$dest/dist/ssc.js"
      chown -R "$owner" "$dest"`,
      REPO_ROOT,
      dest,
      owner,
      full ? '1' : '0',
    );

  const install = (tree: string, env: Record<string, string> = {}) =>
    bed.run([`${tree}/install.sh`], { cwd: tree, env, timeoutMs: 10 * 60_000 });

  const treeState = async (tree: string) => (await sh(`find "$1" -printf '%p %U:%G %m %s %T@\\n' | sort`, tree)).stdout;

  /** install.sh refuses with exactly one line matching LINE, and neither the system nor the tree changed. */
  async function expectRefused(tree: string, env: Record<string, string>, line: RegExp): Promise<void> {
    const system = (await bed.sh(SYSTEM_STATE)).stdout;
    const files = await treeState(tree);
    const r = await install(tree, env);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^install\.sh: [^\n]*\n$/);
    expect(r.stderr).toMatch(line);
    expect((await bed.sh(SYSTEM_STATE)).stdout).toBe(system);
    expect(await treeState(tree)).toBe(files);
  }

  /** install.sh installs TREE's build: root-owned, and the launcher works. */
  async function expectInstalledFrom(tree: string, env: Record<string, string> = {}): Promise<void> {
    const r = await install(tree, env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ssc installed: \/usr\/local\/bin\/ssc /m);
    await sh(
      `cmp "$1/dist/ssc.js" /usr/local/lib/ssc/ssc.bundle.js
      cmp "$1/build/Release/ssc-launcher" /usr/local/bin/ssc
      test "$(stat -c '%U:%G %a' /usr/local/bin/ssc /usr/local/lib/ssc/ssc.bundle.js /usr/local/lib/ssc/ssc.cache)" = "root:root 4755
root:root 644
root:root 644"`,
      tree,
    );
    const version = await bed.run([SSC_BIN, '--version'], { user: BOB.name });
    expect(version.code, version.stderr).toBe(0);
  }

  beforeAll(async () => {
    bed = getBed();
    aliceHome = (await sh('ls -A "$1"', ALICE.home)).stdout;
    await sh('rm -rf "$1" && mkdir -m 0755 "$1"', BASE);
  });
  // A copy is 150 MB (node_modules): one at a time.
  afterEach(() => sh('rm -rf "$1"/* "$2" /tmp/ssc-clone', BASE, CLONE));
  afterAll(async () => {
    await sh(
      `rm -rf "$1" "$2" /tmp/ssc-clone
      cd "$3"
      for e in .[!.]* *; do
        if [ -e "$e" ] && ! printf '%s\\n' "$4" | grep -qxF -- "$e"; then rm -rf -- "$e"; fi
      done`,
      BASE,
      CLONE,
      ALICE.home,
      aliceHome,
    );
    // Leave the bed as the other test files expect it: installed from the checkout.
    const r = await bed.run(['./install.sh'], { cwd: REPO_ROOT, env: installEnvironment() });
    expect(r.code, r.stderr).toBe(0);
  });

  it('refuses a tree below a group-writable directory, changing nothing, and installs it once the directory is not', async () => {
    const tree = `${BASE}/shared/ssc`;
    await sh('mkdir -m 0775 "$1"', `${BASE}/shared`);
    await copyTree(tree);
    await expectRefused(tree, {}, new RegExp(`^install\\.sh: ${BASE}/shared is group-writable \\(drwxrwxr-x\\): only root may`));
    await sh('chmod g-w "$1"', `${BASE}/shared`);
    await expectInstalledFrom(tree);
  });

  it('refuses a root-owned clone under the sticky /tmp, where anyone may take a free name, and installs it moved out', async () => {
    await copyTree('/tmp/ssc-clone');
    await expectRefused('/tmp/ssc-clone', {}, /^install\.sh: \/tmp is writable by others \(drwxrwxrwt: sticky/);
    await sh('mv /tmp/ssc-clone "$1"', `${BASE}/moved`);
    await expectInstalledFrom(`${BASE}/moved`);
  });

  it('refuses a symbolic link in the tree that leads out of it, and installs without it', async () => {
    const tree = `${BASE}/linked`;
    await copyTree(tree);
    await sh('ln -s /tmp/elsewhere "$1/node_modules/escape"', tree);
    await expectRefused(
      tree,
      {},
      new RegExp(`^install\\.sh: ${tree}/node_modules/escape is a symbolic link out of the tree \\(to /tmp/elsewhere\\)`),
    );
    await sh('rm "$1/node_modules/escape"', tree);
    // The links npm made inside the tree (node_modules/.bin) stay and are fine.
    expect((await sh('find "$1/node_modules/.bin" -type l | wc -l', tree)).stdout.trim()).not.toBe('0');
    await expectInstalledFrom(tree);
  });

  it("refuses a user's clone to root without sudo, and installs the same clone through sudo as that user", async () => {
    await copyTree(CLONE, `${ALICE.uid}:${ALICE.gid}`);
    await expectRefused(
      CLONE,
      {},
      new RegExp(
        `^install\\.sh: ${ALICE.home} belongs to ${ALICE.name}: only root may be able to write the tree .*\\(run it through sudo as ${ALICE.name} to build as ${ALICE.name}\\)$`,
        'm',
      ),
    );
    await expectInstalledFrom(CLONE, VIA_SUDO);
  });

  it("refuses a user's clone that a second user can write, through a shared group or a file of theirs, and installs it once only the user can", async () => {
    await copyTree(CLONE, `${ALICE.uid}:${ALICE.gid}`);
    // sscbob is in sscshared too.
    await sh('chgrp sscshared "$1/src" && chmod g+w "$1/src"', CLONE);
    await expectRefused(
      CLONE,
      VIA_SUDO,
      new RegExp(`^install\\.sh: ${CLONE}/src is group-writable \\(drwxrwxr-x\\): only root and ${ALICE.name} may`),
    );
    await sh('chmod g-w "$1/src" && chown "$2" "$1/dist/ssc.js"', CLONE, BOB.name);
    await expectRefused(
      CLONE,
      VIA_SUDO,
      new RegExp(`^install\\.sh: ${CLONE}/dist/ssc\\.js belongs to ${BOB.name}: only root and ${ALICE.name} may`),
    );
    await sh('chown "$2" "$1/dist/ssc.js"', CLONE, ALICE.name);
    await expectInstalledFrom(CLONE, VIA_SUDO);
  });

  it("runs the tree's code as the user who ran sudo, never as root: the code cache maker records whose it is", async () => {
    await copyTree(CLONE, `${ALICE.uid}:${ALICE.gid}`);
    // The code cache maker is the build step every install runs, in every bed: wrapped, it writes its uid down first.
    const wrapper = [
      `require('node:fs').appendFileSync(require('node:path').join(__dirname, 'uids'), process.getuid() + '\\n');`,
      `require('./make-code-cache.real.cjs');`,
      '',
    ].join('\n');
    const wrap = await bed.run(
      [
        'sh',
        '-c',
        'cd "$1/dist" && mv make-code-cache.cjs make-code-cache.real.cjs && cat >make-code-cache.cjs && chown "$2" make-code-cache.cjs',
        'sh',
        CLONE,
        `${ALICE.uid}:${ALICE.gid}`,
      ],
      { input: wrapper },
    );
    expect(wrap.code, wrap.stderr).toBe(0);
    await expectInstalledFrom(CLONE, VIA_SUDO);
    const uids = (await sh('cat "$1/dist/uids"', CLONE)).stdout.trim().split('\n');
    expect(uids.length).toBeGreaterThanOrEqual(2);
    expect(new Set(uids)).toEqual(new Set([String(ALICE.uid)]));
    // Root wrote nothing in her clone; what it installed is root's.
    expect((await sh('find "$1" ! -uid "$2"', CLONE, String(ALICE.uid))).stdout).toBe('');
    expect(
      (
        await sh(
          `for f in $(grep -v '^dir:' /usr/local/lib/ssc/MANIFEST) /usr/local/lib/ssc/MANIFEST; do stat -c %U:%G "$f"; done | sort -u`,
        )
      ).stdout,
    ).toBe('root:root\n');
  });

  it.skipIf(cannotBuild)(
    `builds as the user who ran sudo (node-gyp, the bundler), so that nothing in their clone is written by root, and installs root-owned copies of what they built${cannotBuild ? ` (skipped: ${cannotBuild})` : ''}`,
    async () => {
      await copyTree(CLONE, `${ALICE.uid}:${ALICE.gid}`, true);
      // Nothing built: node-gyp and the bundler must run. First with build/ root's (an install.sh before this one built as root).
      await sh('rm -rf "$1/dist" "$1/build/Release" && chown root:root "$1/build"', CLONE);
      await expectRefused(
        CLONE,
        VIA_SUDO,
        new RegExp(
          `^install\\.sh: ${CLONE}/build belongs to root, but the build runs as ${ALICE.name} \\(through sudo\\) and must replace it`,
        ),
      );
      await sh('chown "$2" "$1/build"', CLONE, `${ALICE.uid}:${ALICE.gid}`);
      // The bed has no network: node-gyp finds node's headers the way root's build found them, through her own
      // npm configuration or cache (the build runs with her HOME).
      await sh(
        `home=$1 owner=$2 v=$(node -p process.versions.node)
      d=$(npm config get nodedir 2>/dev/null || true)
      if [ -n "$d" ] && [ -f "$d/include/node/common.gypi" ]; then
        printf 'nodedir=%s\n' "$d" >"$home/.npmrc" && chown "$owner" "$home/.npmrc"
      elif [ -d "/root/.cache/node-gyp/$v" ]; then
        mkdir -p "$home/.cache/node-gyp" && cp -a "/root/.cache/node-gyp/$v" "$home/.cache/node-gyp/" && chown -R "$owner" "$home/.cache"
      elif [ -f /usr/include/node/common.gypi ]; then
        printf 'nodedir=/usr\n' >"$home/.npmrc" && chown "$owner" "$home/.npmrc"
      else
        echo "no headers of node $v for node-gyp without a network (root's npm nodedir, /root/.cache/node-gyp/$v, /usr/include/node)" >&2
        exit 1
      fi`,
        ALICE.home,
        `${ALICE.uid}:${ALICE.gid}`,
      );
      const r = await install(CLONE, VIA_SUDO);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      // Everything in the clone, the new build included, is hers: root wrote nothing there.
      expect((await sh('find "$1" ! -uid "$2" -o ! -gid "$3"', CLONE, String(ALICE.uid), String(ALICE.gid))).stdout).toBe('');
      expect((await sh('stat -c %U "$1/dist/ssc.js" "$1/build/Release/ssc-launcher"', CLONE)).stdout).toBe(
        `${ALICE.name}\n${ALICE.name}\n`,
      );
      // The installed copies are root's, byte for byte what she built (the bundle is rebuilt: no marker line now).
      await sh(
        `cmp "$1/dist/ssc.js" /usr/local/lib/ssc/ssc.bundle.js
      cmp "$1/dist/broker.js" /usr/local/lib/ssc/broker.bundle.js
      cmp "$1/build/Release/ssc-launcher" /usr/local/bin/ssc
      cmp "$1/build/Release/ssc_native.node" /usr/local/lib/ssc/ssc_native.node
      test "$(for f in $(grep -v '^dir:' /usr/local/lib/ssc/MANIFEST); do stat -c '%U:%G' "$f"; done | sort -u)" = root:root
      test "$(stat -c '%a' /usr/local/bin/ssc)" = 4755`,
        CLONE,
      );
      // The code cache she made is one the installed node takes.
      for (const n of ['ssc', 'broker'] as const) {
        const check = await bed.run([
          'node',
          ...(await entryNodeFlags(bed, n)),
          `${REPO_ROOT}/dist/make-code-cache.cjs`,
          '--check',
          `/usr/local/lib/ssc/${n}.bundle.js`,
          `/usr/local/lib/ssc/${n}.cache`,
        ]);
        expect(check.stdout, n).toBe('accepted\n');
      }
      const version = await bed.run([SSC_BIN, '--version'], { user: BOB.name });
      expect(version.code, version.stderr).toBe(0);
      // And again: nothing to build, the same files.
      const listing = `for f in $(grep -v '^dir:' /usr/local/lib/ssc/MANIFEST); do printf '%s %s\\n' "$f" "$(stat -c '%U:%G %a %s' "$f")"; sha256sum "$f"; done`;
      const before = (await sh(listing)).stdout;
      const again = await install(CLONE, VIA_SUDO);
      expect(again.code, again.stderr).toBe(0);
      expect((await sh(listing)).stdout).toBe(before);
    },
  );

  it('believes SUDO_UID only from root: run by the user, install.sh refuses before it looks at anything', async () => {
    await copyTree(`${BASE}/as-user`);
    const system = (await bed.sh(SYSTEM_STATE)).stdout;
    const r = await bed.run([`${BASE}/as-user/install.sh`], { user: ALICE.name, cwd: `${BASE}/as-user`, env: VIA_SUDO });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('install.sh: must run as root (the launcher is installed setuid root)\n');
    expect((await bed.sh(SYSTEM_STATE)).stdout).toBe(system);
  });
});
