import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isDying, killedForMemory, oomKillFile, parseOomKills, watchOomKills } from './oom.js';

const sigkill = { result: 'signal', execMainCode: 2, execMainStatus: 9 };

describe('out-of-memory detection', () => {
  it('reads the oom_kill counter of /proc/vmstat, memory.events (v2) and memory.oom_control (v1)', () => {
    expect(parseOomKills('pgfault 1\noom_kill 42\nfoo 3\n')).toBe(42);
    expect(parseOomKills('low 0\nhigh 0\nmax 3\noom 2\noom_kill 1\noom_group_kill 0\n')).toBe(1);
    expect(parseOomKills('oom_kill_disable 0\nunder_oom 0\noom_kill 5\n')).toBe(5);
    expect(parseOomKills('pgfault 1\n')).toBeNull();
    expect(parseOomKills('oom_kill_disable 0\n')).toBeNull();
  });
  it("finds the unit's counter in either cgroup layout", () => {
    expect(oomKillFile('/ssc.slice/app-ssc-x@1.service', true)).toBe('/sys/fs/cgroup/ssc.slice/app-ssc-x@1.service/memory.events');
    expect(oomKillFile('/ssc.slice/app-ssc-x@1.service', false)).toBe(
      '/sys/fs/cgroup/memory/ssc.slice/app-ssc-x@1.service/memory.oom_control',
    );
  });
  it("trusts systemd's oom-kill result", () => {
    expect(killedForMemory({ result: 'oom-kill', execMainCode: 2, execMainStatus: 9 }, null, null)).toBe(true);
  });
  it("takes the unit's own count over the kernel's: the main process's kill, or none of it", () => {
    expect(killedForMemory(sigkill, 3, 3, { main: true, certain: true })).toBe(true);
    // Another process of the machine was killed meanwhile: the unit's count says it was not this one.
    expect(killedForMemory(sigkill, 3, 4, { main: false, certain: true })).toBe(false);
    // Polled, and the unit's cgroup gone before a last kill could be read: the kernel's count since the last read decides.
    expect(killedForMemory(sigkill, 3, 4, { main: false, certain: false })).toBe(true);
    expect(killedForMemory(sigkill, 4, 4, { main: false, certain: false })).toBe(false);
  });
  it('without a count of the unit, takes a SIGKILL while the kernel killed for memory', () => {
    expect(killedForMemory(sigkill, 3, 4)).toBe(true);
  });
  it('does not call a plain SIGKILL, another signal or an exit out of memory', () => {
    expect(killedForMemory(sigkill, 3, 3)).toBe(false);
    expect(killedForMemory({ result: 'signal', execMainCode: 2, execMainStatus: 15 }, 3, 4)).toBe(false);
    expect(killedForMemory({ result: 'exit-code', execMainCode: 1, execMainStatus: 9 }, 3, 4)).toBe(false);
    expect(killedForMemory({ result: 'exit-code', execMainCode: 1, execMainStatus: 9 }, 3, 4, { main: true, certain: true })).toBe(false);
    expect(killedForMemory(sigkill, null, null)).toBe(false);
  });
  it('calls a process dying when it is gone, a zombie, or has SIGKILL pending; not otherwise', () => {
    const stat = (s: string) => `123 (a) b) ${s} 1 2 3`;
    const status = (sig: string, shd: string) => `Name:\tx\nSigPnd:\t${sig}\nShdPnd:\t${shd}\n`;
    expect(isDying(null, null)).toBe(true);
    expect(isDying(stat('Z'), status('0000000000000000', '0000000000000000'))).toBe(true);
    expect(isDying(stat('R'), status('0000000000000100', '0000000000000000'))).toBe(true);
    expect(isDying(stat('D'), status('0000000000000000', '0000000000000100'))).toBe(true);
    expect(isDying(stat('S'), status('0000000000004000', '0000000000000002'))).toBe(false);
    expect(isDying(stat('R'), status('0000000000000000', '0000000000000000'))).toBe(false);
  });
});

describe("following a unit's OOM kills", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const counter = (n: number) => {
    const dir = mkdtempSync(join(tmpdir(), 'ssc-oom-'));
    dirs.push(dir);
    const file = join(dir, 'memory.oom_control');
    const set = (k: number) => writeFileSync(file, `oom_kill_disable 0\nunder_oom 0\noom_kill ${k}\n`);
    set(n);
    return { file, set };
  };
  const until = async (cond: () => boolean) => {
    for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
    expect(cond()).toBe(true);
  };

  it('reports each kill of another process with the count so far, while the main process lives', async () => {
    const { file, set } = counter(0);
    const told: number[] = [];
    const w = watchOomKills(
      file,
      () => process.pid,
      (n) => told.push(n),
      { pollMs: 10 },
    );
    try {
      set(2);
      await until(() => told.length === 2);
      expect(told).toEqual([1, 2]);
      expect(w.seen).toEqual({ main: false, others: 2, total: 2 });
      expect(w.readable).toBe(true);
      expect(w.complete).toBe(false); // polled: not a memory.events file
      expect(w.kernelAtLastRead).toEqual(expect.any(Number));
    } finally {
      w.close();
    }
  });
  it("takes the kill that came with the main process's death as the main process's, and says nothing of it", async () => {
    const { file, set } = counter(0);
    const gone = spawnSync('true').pid as number; // reaped: /proc has it no more
    const told: number[] = [];
    const w = watchOomKills(
      file,
      () => gone,
      (n) => told.push(n),
      { pollMs: 10 },
    );
    try {
      set(1);
      await until(() => w.seen.total === 1);
      expect(w.seen.main).toBe(true);
      expect(told).toEqual([]);
      expect(w.refresh()).toBe(true);
    } finally {
      w.close();
    }
  });
  it('is not readable where the cgroup has no counter, and refresh says when the cgroup is gone', () => {
    const w = watchOomKills(
      '/nonexistent/memory.oom_control',
      () => 0,
      () => undefined,
      { pollMs: 10 },
    );
    expect(w.readable).toBe(false);
    expect(w.refresh()).toBe(false);
    w.close();
  });
});
