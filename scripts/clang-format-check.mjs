#!/usr/bin/env node
// Checks the formatting of every native/**/*.{c,cc,h} against .clang-format.
//   node scripts/clang-format-check.mjs         check only (clang-format --dry-run --Werror)
//   node scripts/clang-format-check.mjs --fix   format the files in place
// CLANG_FORMAT selects the binary (default: clang-format on PATH).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const binary = process.env.CLANG_FORMAT || 'clang-format';
const fix = process.argv.includes('--fix');

function nativeSources(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...nativeSources(path));
    else if (entry.isFile() && /\.(c|cc|h)$/.test(entry.name)) out.push(path);
  }
  return out.sort();
}

const files = nativeSources(join(root, 'native')).map((f) => relative(root, f));
if (files.length === 0) {
  console.log('clang-format-check: no native sources found');
  process.exit(0);
}

const args = fix ? ['-i', ...files] : ['--dry-run', '--Werror', ...files];
const result = spawnSync(binary, args, { cwd: root, stdio: 'inherit' });
if (result.error) {
  const why = result.error.code === 'ENOENT' ? 'not installed' : result.error.message;
  console.log(`clang-format-check: ${binary} ${why} (apt-get install clang-format)`);
  process.exit(1);
}
if (result.status !== 0) {
  if (!fix) console.log(`clang-format-check: run "node scripts/clang-format-check.mjs --fix"`);
  process.exit(result.status ?? 1);
}
console.log(`clang-format-check: ${files.length} file(s) ${fix ? 'formatted' : 'clean'}`);
