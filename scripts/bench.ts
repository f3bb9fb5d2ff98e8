/**
 * npm run bench [-- RUNS]: start-up cost of ssc beside its floor, in one run.
 *
 * Inside the namespace test bed, as the same unprivileged user, alternating N
 * times: `ssc --no-tty --wait true` with the broker service running (warm) and
 * with it stopped just before, untimed (cold: systemd starts it for the
 * launch); the same work through `systemd-run --wait
 * --pipe -q --uid U --gid G -p MemoryMax=70% true` (as root, the privilege
 * systemd-run needs); and bare `node -e ''`. The floor for a Node front end is
 * bare Node plus systemd-run. Prints min/median/max, the ratio
 * ssc / (node + systemd-run), and peak RSS (GNU time's %M: ssc's figure is the
 * front end's process; the root broker is systemd's service, measured apart).
 * A fourth variant, `systemd-run=`, starts the unit ssc's strict profile makes
 * (Type=exec, NoNewPrivileges, PrivateTmp, the memory, swap and CPU limits,
 * ssc.slice, an environment file): the systemd work ssc asks for, at C speed,
 * so that the second ratio shows what ssc itself adds.
 * Figures, not pass/fail: targets live here, never in timed tests.
 */
import type { Bed } from '../test/bed/bed.js';
import { startUserManager } from '../test/bed/index.js';
import { bootNamespaceBed } from '../test/bed/namespace.js';
import { REPO_ROOT } from '../test/bed/local.js';
import { TEST_USERS } from '../test/bed/users.js';

interface Series {
  ms: number[];
  rssKiB: number[];
}

const runs = Number(process.argv[2] ?? 30);
const median = (a: number[]) => {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)] as number;
};

interface TerminalFigures {
  rss_kib: number;
  resident: string;
  cat_s: number;
  echo_us: number;
}

/**
 * Terminal mode (scripts/bench-terminal.py, in the bed): what stays resident beside
 * the program, cat of a large file through the terminal, and one byte's echo round
 * trip, for the program started directly, through ssc and through systemd-run --pty.
 */
async function terminalFigures(bed: Bed, uid: number, gid: number): Promise<void> {
  const sizeMb = Number(process.env.SSC_BENCH_CAT_MB ?? 200);
  const r = await bed.run(
    ['/usr/bin/python3', `${REPO_ROOT}/scripts/bench-terminal.py`, String(uid), String(gid), String(sizeMb), '1000'],
    {
      timeoutMs: 600_000,
    },
  );
  if (r.code !== 0) throw new Error(`terminal harness failed: ${r.stderr}`);
  const t = JSON.parse(r.stdout) as Record<'direct' | 'ssc' | 'systemd-run --pty', TerminalFigures>;
  console.log(`\nterminal mode (relaxed; cat of ${sizeMb} MB; echo: median of 1000 one-byte round trips):`);
  console.log('variant              resident beside program   cat s   throughput vs direct   echo us   added echo us');
  for (const [name, f] of Object.entries(t)) {
    const beside = f.rss_kib === 0 ? 'nothing' : `${(f.rss_kib / 1024).toFixed(1)} MiB (${f.resident})`;
    console.log(
      `${name.padEnd(20)} ${beside.padEnd(25)} ${f.cat_s.toFixed(2).padStart(6)} ${`${((t.direct.cat_s / f.cat_s) * 100).toFixed(0)}%`.padStart(22)} ${f.echo_us
        .toFixed(0)
        .padStart(9)} ${(f.echo_us - t.direct.echo_us).toFixed(0).padStart(15)}`,
    );
  }
}

/** ssc ps's latency with 20 apps, ssc top's and the notifier's CPU use (scripts/bench-status.sh). */
async function statusFigures(bed: Bed): Promise<void> {
  await startUserManager(bed, TEST_USERS.sscalice);
  const r = await bed.run(['sh', `${REPO_ROOT}/scripts/bench-status.sh`, 'sscalice', '20', '40'], { timeoutMs: 600_000 });
  if (r.code !== 0) throw new Error(`status harness failed: ${r.stderr}`);
  const f = JSON.parse(r.stdout) as {
    ps_ms: number[];
    listed: number;
    window_s: number;
    top_cpu_pct: number;
    notifier_cpu_pct: number;
    notifier_rss_kib: number;
  };
  console.log(`
ssc ps, ssc top and the notifier with ${f.listed} apps (namespace test bed, ${booted.cgroup}):`);
  console.log(
    `ssc ps: median ${median(f.ps_ms)} ms, min ${Math.min(...f.ps_ms)}, max ${Math.max(...f.ps_ms)} (${f.ps_ms.length} runs; 100 ms of it the CPU sample)`,
  );
  console.log(`ssc top -d 2: ${f.top_cpu_pct.toFixed(2)}% of one core over ${f.window_s} s (target <= 1%)`);
  console.log(
    `notifier: ${(f.notifier_rss_kib / 1024).toFixed(1)} MiB resident, ${f.notifier_cpu_pct.toFixed(2)}% of one core over the same ${f.window_s} s`,
  );
}

const booted = await bootNamespaceBed({ log: (m) => console.error(m) });
try {
  const alice = TEST_USERS.sscalice;
  // One warm-up round (page cache, first D-Bus activation) that is not counted.
  await booted.bed.run([
    process.execPath,
    `${REPO_ROOT}/scripts/bench-harness.mjs`,
    '1',
    String(alice.uid),
    String(alice.gid),
    '/run/bench-time.out',
  ]);
  const r = await booted.bed.run(
    [process.execPath, `${REPO_ROOT}/scripts/bench-harness.mjs`, String(runs), String(alice.uid), String(alice.gid), '/run/bench-time.out'],
    { timeoutMs: 600_000 },
  );
  if (r.code !== 0) throw new Error(`harness failed: ${r.stderr}`);
  const res = JSON.parse(r.stdout) as Record<'ssc' | 'ssc cold' | 'systemd-run' | 'node' | 'systemd-run=', Series>;
  console.log(`ssc start-up, ${runs} alternating runs each (namespace test bed, ${booted.cgroup}):`);
  console.log('variant        min ms  median ms  max ms  peak RSS MiB');
  for (const [name, s] of Object.entries(res)) {
    console.log(
      `${name.padEnd(13)} ${Math.min(...s.ms)
        .toFixed(1)
        .padStart(7)} ${median(s.ms).toFixed(1).padStart(10)} ${Math.max(...s.ms)
        .toFixed(1)
        .padStart(7)} ${(median(s.rssKiB) / 1024).toFixed(1).padStart(13)}`,
    );
  }
  const floor = median(res.node.ms) + median(res['systemd-run'].ms);
  console.log(`ratio ssc (warm broker) / (node + systemd-run), medians: ${(median(res.ssc.ms) / floor).toFixed(2)} (target <= 1.45)`);
  console.log(
    `ratio ssc cold (broker started for the launch) / (node + systemd-run), medians: ${(median(res['ssc cold'].ms) / floor).toFixed(2)}; cold - warm: ${(median(res['ssc cold'].ms) - median(res.ssc.ms)).toFixed(1)} ms`,
  );
  const same = median(res.node.ms) + median(res['systemd-run='].ms);
  console.log(
    `ratio ssc / (node + systemd-run=), medians: ${(median(res.ssc.ms) / same).toFixed(2)} (systemd-run= starts the unit ssc's strict profile makes)`,
  );
  console.log(`ssc's own cost over that floor: ${(median(res.ssc.ms) - same).toFixed(1)} ms`);
  await terminalFigures(booted.bed, alice.uid, alice.gid);
  await statusFigures(booted.bed);
  console.log(`peak RSS ssc / node: ${(median(res.ssc.rssKiB) / median(res.node.rssKiB)).toFixed(2)} (target <= 1.30)`);
} finally {
  await booted.stop();
}
