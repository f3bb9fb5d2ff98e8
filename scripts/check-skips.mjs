#!/usr/bin/env node
// The skip contract: every test that a run skipped must be listed, with its
// reason, in test/expected-skips.json under the bed it ran in, and every test
// listed there must have been skipped. Reads vitest's JSON report.
//
//   node scripts/check-skips.mjs [--report .test-results.json] [--beds unit,namespace,debian12,debian13] [--root DIR]
//
// Beds, as the report shows them:
//  - unit: files outside test/integration and test/vm;
//  - namespace: test/integration/* run on this host (the namespace bed);
//  - debian12, debian13, ...: the inner tests of test/vm/*, each under its
//    describe `in VM <name>: <file>` (see test/vm/vm-suite.ts), keyed by the
//    inner file and the inner test's full name;
//  - vm-host: the VM files' own tests (boot, cgroup v2, the SSC_VM_FILTER notice,
//    a VM that cannot run): none may skip.
// --root: the checkout the report's paths are in (default: this script's).
// --beds: the beds this report must cover (default: every bed of the list).
// Each of them must have run (at least one passed test), its skips must be
// exactly the listed ones, and no other bed in the report may skip anything
// unlisted. Exit 0 when the contract holds, 1 when not, 2 on bad input.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const LIST = path.join(repo, 'test/expected-skips.json');
const PASSED = 'passed';
const FAILED = 'failed';

function usage(msg) {
  console.error(`check-skips: ${msg}\nusage: node scripts/check-skips.mjs [--report FILE] [--beds BED,BED...] [--root DIR]`);
  process.exit(2);
}

let reportFile = null;
let root = repo;
let beds = null;
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--report') reportFile = path.resolve(argv[++i] ?? usage('--report needs a file'));
  else if (argv[i] === '--root') root = path.resolve(argv[++i] ?? usage('--root needs a directory'));
  else if (argv[i] === '--beds') beds = (argv[++i] ?? usage('--beds needs a list')).split(',').filter(Boolean);
  else usage(`unknown argument ${argv[i]}`);
}

/** @type {{ beds: Record<string, { about?: string, skips: { file: string, test: string, reason: string }[] }> }} */
const list = JSON.parse(fs.readFileSync(LIST, 'utf8'));
if (!list || typeof list.beds !== 'object') usage(`${LIST}: no "beds" object`);
const expected = new Map(); // bed -> Map(key -> reason)
for (const [bed, entry] of Object.entries(list.beds)) {
  const m = new Map();
  for (const s of entry.skips ?? []) {
    if (typeof s.file !== 'string' || typeof s.test !== 'string' || typeof s.reason !== 'string' || !s.reason.trim())
      usage(`${LIST}: bed ${bed}: every skip needs a file, a test and a reason: ${JSON.stringify(s)}`);
    const key = `${s.file} > ${s.test}`;
    if (m.has(key)) usage(`${LIST}: bed ${bed}: listed twice: ${key}`);
    m.set(key, s.reason);
  }
  expected.set(bed, m);
}
reportFile ??= path.join(root, '.test-results.json');
beds ??= [...expected.keys()];
for (const b of beds) if (!expected.has(b)) usage(`bed ${b} is not in ${LIST}`);

let report;
try {
  report = JSON.parse(fs.readFileSync(reportFile, 'utf8'));
} catch (e) {
  console.error(`check-skips: cannot read the vitest report ${reportFile}: ${e.message}`);
  process.exit(1);
}

const actual = new Map(); // bed -> { passed, failed, skips: Map(key -> status) }
const bedOf = (b) => {
  if (!actual.has(b)) actual.set(b, { passed: 0, failed: 0, skips: new Map() });
  return actual.get(b);
};
for (const file of report.testResults ?? []) {
  const rel = path.relative(root, file.name);
  for (const t of file.assertionResults ?? []) {
    let bed;
    let key;
    if (rel.startsWith('test/vm/')) {
      const inVm = (t.ancestorTitles ?? []).map((a) => /^in VM (\S+): (.+)$/.exec(a)).find(Boolean);
      if (inVm) {
        bed = inVm[1];
        key = `${inVm[2]} > ${t.title}`;
      } else {
        bed = 'vm-host';
        key = `${rel} > ${t.fullName}`;
      }
    } else {
      bed = rel.startsWith('test/integration/') ? 'namespace' : 'unit';
      key = `${rel} > ${t.fullName}`;
    }
    const a = bedOf(bed);
    if (t.status === PASSED) a.passed++;
    else if (t.status === FAILED) a.failed++;
    else a.skips.set(key, t.status);
  }
}

const problems = [];
for (const b of beds) {
  const a = actual.get(b);
  if (!a || a.passed === 0)
    problems.push(
      `bed ${b}: no test passed in it (${a ? `${a.failed} failed, ${a.skips.size} skipped` : 'not in the report'}): did it run?`,
    );
}
for (const [b, a] of actual) {
  const want = expected.get(b) ?? new Map();
  for (const [key, status] of a.skips)
    if (!want.has(key)) problems.push(`bed ${b}: unexpected skip (${status}), not in test/expected-skips.json:\n      ${key}`);
}
for (const b of beds) {
  if (!actual.get(b)?.passed) continue; // said above: it did not run
  const got = actual.get(b).skips;
  for (const [key, reason] of expected.get(b))
    if (!got.has(key))
      problems.push(`bed ${b}: expected to skip (${reason}) but it did not skip (it ran, was renamed or is gone):\n      ${key}`);
}

const summary = [...actual]
  .filter(([b]) => beds.includes(b) || actual.get(b).skips.size > 0)
  .map(([b, a]) => `${b} ${a.passed}/${a.failed}/${a.skips.size}`)
  .join(', ');
if (problems.length) {
  console.error(`check-skips: the skips of ${path.relative(process.cwd(), reportFile)} break the contract (test/expected-skips.json):`);
  for (const p of problems) console.error(`  - ${p}`);
  console.error(`check-skips: per bed passed/failed/skipped: ${summary}`);
  process.exit(1);
}
console.log(`check-skips: skips as expected in ${beds.join(', ')} (passed/failed/skipped: ${summary})`);
