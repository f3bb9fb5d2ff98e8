import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ADDON_FILE, NATIVE_EXPORTS, NativeLoadError, loadNative, loadNativeFrom, nativeCandidates } from './loader.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const built = join(repo, 'build', 'Release', ADDON_FILE);
const scratch = mkdtempSync(join(tmpdir(), 'ssc-loader-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('nativeCandidates', () => {
  it('tries the explicit path first, then beside the entry file, then the repository build', () => {
    const entry = process.argv[1];
    const c = nativeCandidates('relative/x.node');
    expect(c[0]).toBe(join(process.cwd(), 'relative/x.node'));
    if (entry) expect(c[1]).toBe(join(dirname(entry), ADDON_FILE));
    // Under vitest the entry is inside node_modules/, so the repository is found above it.
    expect(c).toContain(built);
    expect(new Set(c).size).toBe(c.length);
  });

  it('never looks in the cwd', () => {
    expect(nativeCandidates()).not.toContain(join(process.cwd(), ADDON_FILE));
  });
});

describe('loadNativeFrom', () => {
  it('lists every path tried and why when nothing loads', () => {
    const notAddon = join(scratch, 'not-an-addon.node');
    writeFileSync(notAddon, 'not an ELF file');
    const missing = join(scratch, 'missing.node');
    let error: unknown;
    try {
      loadNativeFrom([missing, notAddon]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(NativeLoadError);
    const err = error as NativeLoadError;
    expect(err.tried.map((t) => t.path)).toEqual([missing, notAddon]);
    expect(err.tried[0]?.reason).toBe('not found');
    expect(err.tried[1]?.reason).toMatch(/invalid ELF header|file too short/);
    expect(err.message).toContain(`tried:\n  ${missing}: not found\n  ${notAddon}: `);
  });

  it('says so when there is no candidate at all', () => {
    expect(() => loadNativeFrom([])).toThrow(/no candidate path/);
  });

  it('skips a missing candidate and loads the next one', () => {
    const native = loadNativeFrom([join(scratch, 'missing.node'), built]);
    for (const name of NATIVE_EXPORTS) expect(typeof native[name]).toBe('function');
    expect(loadNative(built)).toBe(native); // cached per path
  });
});
