// Runs inside the test bed as root (scripts/bench.ts copies nothing: the repo is
// visible there). Alternates the variants N times, timing each run's wall
// clock, and reads each one's peak RSS from GNU time.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

const [n, uid, gid, outFile] = process.argv.slice(2);
const N = Number(n);
const asUser = ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--init-groups'];
const asRoot = ['setpriv', '--reuid=0', '--regid=0', '--clear-groups'];
const variants = {
  // Warm: the broker service already runs (it stays a minute after a launch).
  ssc: [...asUser, '/usr/local/bin/ssc', '--no-tty', '--wait', 'true'],
  // Cold: the broker service stopped just before (not timed), so systemd starts it for this launch.
  'ssc cold': [...asUser, '/usr/local/bin/ssc', '--no-tty', '--wait', 'true'],
  'systemd-run': [...asRoot, 'systemd-run', '--wait', '--pipe', '-q', `--uid=${uid}`, `--gid=${gid}`, '-p', 'MemoryMax=70%', 'true'],
  node: [...asUser, process.execPath, '-e', ''],
  // The unit ssc's strict profile makes (scripts/bench.ts prints it beside the
  // issue's floor): same type, sandboxing, limits, slice and environment file.
  'systemd-run=': [
    ...asRoot,
    'systemd-run',
    '--wait',
    '--pipe',
    '-q',
    `--uid=${uid}`,
    `--gid=${gid}`,
    '-p',
    'Type=exec',
    '-p',
    'NoNewPrivileges=yes',
    '-p',
    'PrivateTmp=yes',
    '-p',
    'MemoryMax=70%',
    '-p',
    'MemorySwapMax=10%',
    '-p',
    `CPUQuota=${Math.max(1, availableParallelism() - 1) * 100}%`,
    '-p',
    'Slice=ssc.slice',
    '-p',
    'UMask=0022',
    '-p',
    'WorkingDirectory=/',
    '-p',
    'CollectMode=inactive-or-failed',
    '-p',
    'SyslogIdentifier=true',
    '-p',
    'EnvironmentFile=-/run/bench-env',
    'true',
  ],
};
/** Untimed steps before a variant's run. */
const prepare = {
  'ssc cold': () => spawnSync('systemctl', ['stop', 'ssc-broker.service'], { stdio: 'ignore' }),
};
writeFileSync('/run/bench-env', 'HOME="/"\nPATH="/usr/local/bin:/usr/bin:/bin"\nLANG="C.UTF-8"\n', { mode: 0o600 });
const results = Object.fromEntries(Object.keys(variants).map((k) => [k, { ms: [], rssKiB: [] }]));
const env = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/', LANG: 'C.UTF-8' };
for (let i = 0; i < N; i++) {
  const order = Object.keys(variants);
  if (i % 2) order.reverse();
  for (const name of order) {
    prepare[name]?.();
    const t0 = process.hrtime.bigint();
    const r = spawnSync('/usr/bin/time', ['-f', '%M', '-o', outFile, ...variants[name]], {
      env,
      cwd: '/',
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) {
      console.error(`${name} failed (${r.status}): ${r.stderr}`);
      process.exit(1);
    }
    results[name].ms.push(ms);
    results[name].rssKiB.push(Number(readFileSync(outFile, 'utf8').trim().split('\n').pop()));
  }
}
process.stdout.write(JSON.stringify(results));
