import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bed } from '../bed/bed.js';
import { bedSkipReason, entryNodeFlags, getBed } from '../bed/index.js';
import { REPO_ROOT, installEnvironment } from '../bed/local.js';
import { SSC_BIN } from '../bed/users.js';

const skip = bedSkipReason();

/** Every installed file with owner, mode and checksum, sorted. */
const LISTING = `for f in $(grep -v '^dir:' /usr/local/lib/ssc/MANIFEST) /usr/local/lib/ssc/MANIFEST; do
  printf '%s %s %s\\n' "$f" "$(stat -c '%U:%G %a' "$f")" "$(sha256sum < "$f" | cut -c1-16)"; done | sort`;

describe.skipIf(skip)(`install.sh${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let bed: Bed;
  beforeAll(() => {
    bed = getBed();
  });
  afterAll(async () => {
    // Leave the bed as the other test files expect it: installed.
    await bed.run(['./install.sh'], { cwd: REPO_ROOT, env: installEnvironment() });
  });

  it('installs the launcher setuid root and everything else root-owned and not group/other-writable', async () => {
    const r = await bed.sh(LISTING);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toContainEqual(expect.stringMatching(/^\/usr\/local\/bin\/ssc root:root 4755 /));
    expect(lines).toContainEqual(expect.stringMatching(/^\/usr\/local\/lib\/systemd\/system\/ssc\.slice root:root 644 /));
    expect(lines).toContainEqual(expect.stringMatching(/^\/usr\/local\/lib\/tmpfiles\.d\/ssc\.conf root:root 644 /));
    const entries = ['ssc', 'broker'].flatMap((n) => [`${n}.js`, `${n}.bundle.js`, `${n}.cache`]);
    for (const f of [...entries, 'ssc_native.node', 'uwrap.node', 'package.json'])
      expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^/usr/local/lib/ssc/${f.replaceAll('.', '\\.')} root:root 644 `)));
    // Terminal mode's supervisor: executable, not setuid.
    expect(lines).toContainEqual(expect.stringMatching(/^\/usr\/local\/lib\/ssc\/ssc-tab root:root 755 /));
    for (const l of lines) expect(l).toMatch(/ root:root (4755|755|644) /);
    expect(lines.filter((l) => / 4755 /.test(l))).toHaveLength(1);
    expect((await bed.run(['systemctl', 'show', '-p', 'LoadState', '--value', 'ssc.slice'])).stdout).toBe('loaded\n');
  });

  it("makes each bundle's code cache with the installed node, which accepts it under the flags it runs with", async () => {
    // The broker's node runs with the V8 flags of its unit's ExecStart=, and V8 takes a cache only under those.
    expect(await entryNodeFlags(bed, 'broker')).toEqual(['--max-old-space-size=256']);
    for (const n of ['ssc', 'broker'] as const) {
      const r = await bed.run([
        'node',
        ...(await entryNodeFlags(bed, n)),
        `${REPO_ROOT}/dist/make-code-cache.cjs`,
        '--check',
        `/usr/local/lib/ssc/${n}.bundle.js`,
        `/usr/local/lib/ssc/${n}.cache`,
      ]);
      expect(r.stdout, n).toBe('accepted\n');
    }
    // The control: the broker's cache under other flags (none) is not taken, so the check above can tell.
    const plain = await bed.run([
      'node',
      `${REPO_ROOT}/dist/make-code-cache.cjs`,
      '--check',
      '/usr/local/lib/ssc/broker.bundle.js',
      '/usr/local/lib/ssc/broker.cache',
    ]);
    expect(plain.stdout).toBe('rejected\n');
    // Both entries are the same small loader, not a bundle.
    const loader = await bed.run(['cmp', '/usr/local/lib/ssc/ssc.js', '/usr/local/lib/ssc/broker.js']);
    expect(loader.code).toBe(0);
  });

  it('is idempotent: a second run leaves exactly the same files', async () => {
    const before = await bed.sh(LISTING);
    const again = await bed.run(['./install.sh'], { cwd: REPO_ROOT, env: installEnvironment() });
    expect(again.code).toBe(0);
    expect((await bed.sh(LISTING)).stdout).toBe(before.stdout);
  });

  it('--prefix: a relative one, or one systemd would split, is refused before anything changes; the default spelled out changes nothing', async () => {
    const before = await bed.sh(LISTING);
    for (const [prefix, why] of <[string, string][]>[
      ['opt/ssc', '--prefix must be absolute'],
      ['/opt/ssc test', '--prefix must not hold blanks, quotes, backslashes, $ or ;'],
      ['/opt/ssc;x', '--prefix must not hold blanks, quotes, backslashes, $ or ;'],
    ]) {
      const r = await bed.run(['./install.sh', '--prefix', prefix], { cwd: REPO_ROOT, env: installEnvironment() });
      expect(r.stderr).toBe(`install.sh: ${why}\n`);
      expect(r.code).toBe(1);
    }
    expect((await bed.run(['test', '-e', '/opt/ssc'])).code).toBe(1);
    // The control: accepted, the same prefix written as --prefix=/usr/local/ is the default's installation.
    const same = await bed.run(['./install.sh', '--prefix=/usr/local/'], { cwd: REPO_ROOT, env: installEnvironment() });
    expect(same.code).toBe(0);
    expect((await bed.sh(LISTING)).stdout).toBe(before.stdout);
  });

  it('--uninstall removes exactly what it installed, and ssc is gone', async () => {
    const manifest = (await bed.run(['cat', '/usr/local/lib/ssc/MANIFEST'])).stdout.trim().split('\n');
    const files = manifest.filter((l) => !l.startsWith('dir:'));
    const created = new Set(manifest.filter((l) => l.startsWith('dir:')).map((l) => l.slice(4)));
    const r = await bed.run(['./install.sh', '--uninstall'], { cwd: REPO_ROOT, env: installEnvironment() });
    expect(r.code).toBe(0);
    for (const f of [...files, '/usr/local/lib/ssc']) expect((await bed.run(['test', '-e', f])).code, f).toBe(1);
    // The directories the files lived in: gone if the install made them, there still if they were there before.
    for (const d of [
      '/usr/local/bin',
      '/usr/local/lib',
      '/usr/local/lib/systemd',
      '/usr/local/lib/systemd/system',
      '/usr/local/lib/systemd/user',
      '/usr/local/lib/tmpfiles.d',
    ])
      expect((await bed.run(['test', '-d', d])).code, d).toBe(created.has(d) ? 1 : 0);
    expect((await bed.run([SSC_BIN, '--version'], { user: 'sscalice' })).code).toBe(127);
  });

  it('--uninstall also removes the directories the install created, and only those', async () => {
    // A machine without /usr/local/lib/tmpfiles.d: the install makes it, twice, and the uninstall takes it away.
    // (The previous test's uninstall may already have removed it, if an earlier install had made it.)
    await bed.run(['rmdir', '/usr/local/lib/tmpfiles.d']);
    expect((await bed.run(['test', '-e', '/usr/local/lib/tmpfiles.d'])).code).toBe(1);
    for (let i = 0; i < 2; i++) expect((await bed.run(['./install.sh'], { cwd: REPO_ROOT, env: installEnvironment() })).code).toBe(0);
    const manifest = (await bed.run(['cat', '/usr/local/lib/ssc/MANIFEST'])).stdout.split('\n');
    expect(manifest.filter((l) => l === 'dir:/usr/local/lib/tmpfiles.d')).toHaveLength(1);
    // Recorded once though installed twice, and nothing that was there before is recorded.
    expect(manifest).not.toContain('dir:/usr/local/bin');
    expect(manifest).not.toContain('dir:/usr/local/lib');
    expect((await bed.run(['./install.sh', '--uninstall'], { cwd: REPO_ROOT, env: installEnvironment() })).code).toBe(0);
    expect((await bed.run(['test', '-e', '/usr/local/lib/tmpfiles.d'])).code).toBe(1);
    for (const d of ['/usr/local/lib/systemd/system', '/usr/local/bin', '/usr/local/lib'])
      expect((await bed.run(['test', '-d', d])).code, d).toBe(manifest.includes(`dir:${d}`) ? 1 : 0);
  });
});
