/**
 * `ssc desktop`: on the real desktop files of Debian packages (fetched with
 * apt-get download and unpacked with dpkg-deb at test time, nothing
 * installed) and on hand-made ones for the cases those lack, as the
 * unprivileged user sscalice against the installed setuid ssc; launched with
 * GLib's `gio launch` and GTK's `gtk-launch`.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bed } from '../bed/bed.js';
import { bedKind, bedSkipReason, getBed, sscUnits } from '../bed/index.js';
import { REPO_ROOT } from '../bed/local.js';
import { shownCommand } from '../bed/command.js';
import { SSC_BIN, TEST_USERS } from '../bed/users.js';

const PACKAGES = ['xterm', 'firefox-esr', 'gimp', 'libreoffice-writer'];
const FIXTURES = `${REPO_ROOT}/build/desktop-fixtures`;

/** Fetch the packages' .desktop files once (host side); a reason to skip if that cannot be done. */
function fetchFixtures(): string | false {
  if (bedKind() === 'local') return 'in the VM (no network for apt-get download; the namespace bed runs these)';
  if (PACKAGES.every((p) => fs.existsSync(`${FIXTURES}/.${p}`))) return false;
  fs.mkdirSync(`${FIXTURES}/debs`, { recursive: true });
  for (const pass of [1, 2]) {
    const r = spawnSync('apt-get', ['download', ...PACKAGES], { cwd: `${FIXTURES}/debs`, encoding: 'utf8' });
    if (r.status === 0) break;
    if (pass === 2) return `apt-get download ${PACKAGES.join(' ')} failed: ${r.stderr.trim()}`;
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore' });
  }
  for (const p of PACKAGES) {
    const deb = fs.readdirSync(`${FIXTURES}/debs`).find((f) => f.startsWith(`${p}_`) && f.endsWith('.deb'));
    if (!deb) return `no .deb for ${p}`;
    const r = spawnSync('sh', [
      '-c',
      `dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" --wildcards './usr/share/applications/*.desktop'`,
      'sh',
      `${FIXTURES}/debs/${deb}`,
      FIXTURES,
    ]);
    if (r.status !== 0) return `dpkg-deb -x ${deb} failed`;
    fs.writeFileSync(`${FIXTURES}/.${p}`, '');
  }
  return false;
}

const skip = bedSkipReason() || (fs.existsSync('/usr/bin/apt-get') ? fetchFixtures() : 'no apt-get');
const alice = TEST_USERS.sscalice;
const SHARE = '/run/ssc-desktop-test/share';
const APPS = `${SHARE}/applications`;
const USER_APPS = `${alice.home}/.local/share/applications`;
const ENV = { XDG_DATA_DIRS: `${SHARE}:/usr/share` };

/** Hand-made entries for what the packages lack. */
const HANDMADE: Record<string, string> = {
  'ssc-test-viewer.desktop': `[Desktop Entry]
Type=Application
Name=Viewer
Name[de]=Betrachter
Exec=sh -c "sleep 60" viewer %F
MimeType=text/plain;
Categories=Utility;
`,
  'ssc-test-dbus.desktop': `[Desktop Entry]
Type=Application
Name=Activatable
Exec=/usr/bin/true --gapplication-service
DBusActivatable=true
Categories=Utility;
`,
  'ssc-test-actions.desktop': `[Desktop Entry]
Type=Application
Name=Many Actions
Exec=sleep 60
Actions=one;two;three;
Categories=Utility;

[Desktop Action one]
Name=One
Exec=sleep 61

[Desktop Action two]
Name=Two
Exec=sh -c "echo \\\\"two \\\\$1\\\\"" two %u

[Desktop Action three]
Name=Three
Exec=sleep 63 %%
`,
};

describe.skipIf(skip)(`ssc desktop: contained menu, dock and "Open with" entries${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let bed: Bed;
  let real: string[] = [];
  const ssc = (...args: string[]) => bed.run([SSC_BIN, 'desktop', ...args], { user: 'sscalice', env: ENV });

  beforeAll(async () => {
    bed = getBed();
    real = fs.readdirSync(`${FIXTURES}/usr/share/applications`).filter((f) => f.endsWith('.desktop'));
    await bed.sh(`mkdir -p ${APPS} && cp ${FIXTURES}/usr/share/applications/*.desktop ${APPS}/`);
    for (const [name, text] of Object.entries(HANDMADE))
      await bed.run(['sh', '-c', 'cat > "$1"', 'sh', `${APPS}/${name}`], { input: text });
  });
  afterAll(async () => {
    await bed?.sh(`rm -rf /run/ssc-desktop-test ${alice.home}/.local/share/applications; systemctl stop 'app-ssc-*' 2>/dev/null || true`);
  });

  it('wraps real entries (xterm, firefox-esr, gimp, libreoffice-writer) and hand-made ones; every result passes desktop-file-validate', async () => {
    expect(real.length).toBeGreaterThanOrEqual(5);
    for (const id of [...real, ...Object.keys(HANDMADE)]) {
      const r = await ssc('add', id, '--isolation=relaxed');
      expect(r, id).toMatchObject({ code: 0, stderr: '' });
      expect(r.stdout).toBe(`wrote ${USER_APPS}/${id} (relaxed)\n`);
      const v = await bed.run(['desktop-file-validate', `${USER_APPS}/${id}`]);
      expect(v.stdout + v.stderr, id).not.toMatch(/error:/);
      expect(v.code, id).toBe(0);
    }
    const firefox = (await bed.run(['cat', `${USER_APPS}/firefox-esr.desktop`])).stdout;
    expect(firefox).toMatch(/^Exec=\/usr\/local\/bin\/ssc --no-tty --isolation=relaxed -- \/usr\/lib\/firefox-esr\/firefox-esr %u$/m);
    // Translations, MimeType, Icon and the rest are the source's, line for line.
    const source = (await bed.run(['cat', `${APPS}/firefox-esr.desktop`])).stdout;
    const rest = (t: string) => t.split('\n').filter((l) => !/^(Exec|DBusActivatable|X-SSC-[A-Za-z0-9-]+)=/.test(l));
    expect(rest(firefox)).toEqual(rest(source));
    const actions = (await bed.run(['cat', `${USER_APPS}/ssc-test-actions.desktop`])).stdout;
    expect(actions.match(/^Exec=\/usr\/local\/bin\/ssc --no-tty --isolation=relaxed -- /gm)).toHaveLength(4);
    expect(actions).toContain('Exec=/usr/local/bin/ssc --no-tty --isolation=relaxed -- sh -c "echo \\\\"two \\\\$1\\\\"" two %u');
    expect(actions).toContain('Exec=/usr/local/bin/ssc --no-tty --isolation=relaxed -- sleep 63 %%');
    expect((await bed.run(['cat', `${USER_APPS}/ssc-test-dbus.desktop`])).stdout).toMatch(/^DBusActivatable=false$/m);
  });

  it('add twice changes nothing; list shows the entries and profiles, also as JSON', async () => {
    const before = (await bed.run(['cat', `${USER_APPS}/gimp.desktop`])).stdout;
    expect((await ssc('add', 'gimp', '--isolation=relaxed')).stdout).toBe(`unchanged ${USER_APPS}/gimp.desktop (relaxed)\n`);
    expect((await bed.run(['cat', `${USER_APPS}/gimp.desktop`])).stdout).toBe(before);
    const list = JSON.parse((await ssc('list', '--json')).stdout) as { id: string; profile: string; status: string; source: string }[];
    expect(list.map((l) => l.id).sort()).toEqual([...real, ...Object.keys(HANDMADE)].sort());
    expect(list.find((l) => l.id === 'gimp.desktop')).toMatchObject({
      profile: 'relaxed',
      status: 'current',
      source: `${APPS}/gimp.desktop`,
    });
    expect((await ssc('list')).stdout).toMatch(/^gimp\.desktop\trelaxed\tcurrent\t/m);
  });

  it('a changed source is flagged, and refresh writes the entry again from it', async () => {
    await bed.sh(`sed -i 's/^Exec=gimp-2.10 %U$/Exec=gimp-2.10 --new-flag %U/' ${APPS}/gimp.desktop`);
    const flagged = JSON.parse((await ssc('list', '--json')).stdout) as { id: string; status: string }[];
    expect(flagged.find((l) => l.id === 'gimp.desktop')?.status).toBe('changed');
    expect((await ssc('list')).stdout).toMatch(/^gimp\.desktop\trelaxed\tsource changed\t/m);
    expect(await ssc('refresh')).toMatchObject({ code: 0, stdout: 'refreshed gimp.desktop\n' });
    expect((await bed.run(['cat', `${USER_APPS}/gimp.desktop`])).stdout).toMatch(
      /^Exec=\/usr\/local\/bin\/ssc --no-tty --isolation=relaxed -- gimp-2.10 --new-flag %U$/m,
    );
    expect(
      (JSON.parse((await ssc('list', '--json')).stdout) as { id: string; status: string }[]).find((l) => l.id === 'gimp.desktop')?.status,
    ).toBe('current');
  });

  it("never clobbers the user's own entry: refused, or with --force kept aside and restored by remove", async () => {
    const own = '[Desktop Entry]\nType=Application\nName=My XTerm\nExec=xterm -fa Mono\n';
    await bed.run(['rm', '-f', `${USER_APPS}/debian-xterm.desktop`]);
    await bed.run(['sh', '-c', 'cat > "$1"', 'sh', `${USER_APPS}/debian-xterm.desktop`], { user: 'sscalice', input: own });
    const refused = await ssc('add', 'debian-xterm');
    expect(refused.code).toBe(125);
    expect(refused.stderr).toMatch(/^ssc: [^\n]*debian-xterm\.desktop is your own entry, not one ssc wrote; --force [^\n]*\n$/);
    expect((await bed.run(['cat', `${USER_APPS}/debian-xterm.desktop`])).stdout).toBe(own);
    const forced = await ssc('add', 'debian-xterm', '--force');
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain('your own entry is kept in');
    expect((await bed.run(['cat', `${USER_APPS}/debian-xterm.desktop`])).stdout).toMatch(/^X-SSC-Isolation=strict$/m);
    expect(await ssc('remove', 'debian-xterm')).toMatchObject({
      code: 0,
      stdout: `removed debian-xterm.desktop; restored your own ${USER_APPS}/debian-xterm.desktop\n`,
    });
    expect((await bed.run(['cat', `${USER_APPS}/debian-xterm.desktop`])).stdout).toBe(own);
    // An entry ssc did not write is never removed.
    const keep = await ssc('remove', 'debian-xterm');
    expect(keep.code).toBe(125);
    expect(keep.stderr).toMatch(/is not an entry ssc wrote; leaving it alone/);
  });

  describe('launched by real launchers, with a file whose name has spaces and quotes', () => {
    const FILE = `${alice.home}/a "quoted" file with spaces.txt`;
    beforeAll(async () => {
      await bed.run(['sh', '-c', 'echo hi > "$1"', 'sh', FILE], { user: 'sscalice' });
      await ssc('add', 'ssc-test-viewer', '--isolation=strict');
    });

    async function unitWithFile(): Promise<string> {
      for (let i = 0; i < 100; i++) {
        for (const unit of await sscUnits(bed)) {
          if (!unit.startsWith('app-ssc-sh@')) continue;
          const exec = shownCommand((await bed.run(['systemctl', 'show', '-p', 'ExecStart', '--value', unit])).stdout);
          if (exec.includes(FILE)) {
            await bed.run(['systemctl', 'stop', unit]);
            return exec;
          }
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`no ssc unit carrying ${FILE}; units: ${(await sscUnits(bed)).join(' ')}`);
    }

    it('gio launch starts a unit of the chosen profile whose ExecStart carries the file intact', async () => {
      const r = await bed.run(['gio', 'launch', `${USER_APPS}/ssc-test-viewer.desktop`, FILE], { user: 'sscalice', env: ENV });
      expect(r.code, r.stderr).toBe(0);
      const exec = await unitWithFile();
      expect(exec).toContain(`argv[]=sh -c sleep 60 viewer ${FILE} ;`);
    });

    it('gtk-launch finds the entry by its ID and does the same', async () => {
      const xvfb = await bed.sh(
        '(Xvfb :74 -nolisten tcp -ac -screen 0 320x240x24 </dev/null >/dev/null 2>&1 &) ; for i in $(seq 100); do xdpyinfo -display :74 >/dev/null 2>&1 && exit 0; sleep 0.1; done; exit 1',
        {
          user: 'sscalice',
        },
      );
      expect(xvfb.code, 'Xvfb never answered').toBe(0);
      try {
        const r = await bed.run(['gtk-launch', 'ssc-test-viewer.desktop', FILE], { user: 'sscalice', env: { ...ENV, DISPLAY: ':74' } });
        expect(r.code, r.stderr).toBe(0);
        expect(await unitWithFile()).toContain(`argv[]=sh -c sleep 60 viewer ${FILE} ;`);
      } finally {
        await bed.sh('pkill -u sscalice Xvfb || true');
      }
    });
  });

  it("remove --all deletes exactly ssc's entries, so the applications' own ones show again", async () => {
    const r = await ssc('remove', '--all');
    expect(r.code).toBe(0);
    const left = (await bed.sh(`ls -A ${USER_APPS} | grep -v '^mimeinfo.cache$' || true`, { user: 'sscalice' })).stdout.trim().split('\n');
    // Only the user's own debian-xterm entry (and the backup directory, empty) remain.
    expect(left.filter((f) => f.endsWith('.desktop'))).toEqual(['debian-xterm.desktop']);
    expect(JSON.parse((await ssc('list', '--json')).stdout)).toEqual([]);
  });
});
