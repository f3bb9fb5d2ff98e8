import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { killedForMemory, oomKillFile, parseOomKills, victimState, watchOomKills } from './oom.js';

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
  it('calls the main process the victim only when SIGKILL is pending or it died of it; gone, undecided', () => {
    // stat: pid (comm) state, then fields 4..52; field 52 is the exit status a zombie ended with.
    const stat = (state: string, exit = 0, flags = 0) => {
      const rest = Array<string>(48).fill('0');
      rest[5] = String(flags); // field 9
      return `123 (a) b) ${state} ${rest.join(' ')} ${exit}\n`;
    };
    const status = (sig: string, shd: string) => `Name:\tx\nSigPnd:\t${sig}\nShdPnd:\t${shd}\n`;
    const none = status('0000000000000000', '0000000000000000');
    expect(victimState(null, null)).toBe('unknown');
    expect(victimState(stat('R'), status('0000000000000100', '0000000000000000'))).toBe('killed');
    expect(victimState(stat('D'), status('0000000000000000', '0000000000000100'))).toBe('killed');
    expect(victimState(stat('S'), status('0000000000004000', '0000000000000002'))).toBe('other');
    expect(victimState(stat('R'), none)).toBe('other');
    // A zombie: by its exit status (SIGKILL is 9), and 0 (exit 0, or hidden from this reader) decides nothing.
    expect(victimState(stat('Z', 9), none)).toBe('killed');
    expect(victimState(stat('Z', 15), none)).toBe('other');
    expect(victimState(stat('Z', 3 << 8), none)).toBe('other');
    expect(victimState(stat('Z', 0), none)).toBe('unknown');
    // Still giving its memory back after SIGKILL was taken off its queue: the exit status is already set.
    expect(victimState(stat('R', 9, 0x404), none)).toBe('killed');
    expect(victimState(stat('D', 15, 0x404), none)).toBe('other');
    // Dying of a signal (PF_EXITING | PF_SIGNALED) whose status is not written yet: undecided.
    expect(victimState(stat('R', 0, 0x404), none)).toBe('unknown');
    expect(victimState(stat('R', 0, 0x4), none)).toBe('other');
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
      expect(w.seen).toEqual({ main: false, others: 2, undecided: 0, total: 2 });
      expect(w.readable).toBe(true);
      expect(w.kernelAtLastRead).toEqual(expect.any(Number));
    } finally {
      w.close();
    }
  });
  it('looks again a moment later at a main process that shows no SIGKILL yet: the kernel counts a kill before it sends it', async () => {
    const child = spawn('sleep', ['30']);
    await new Promise((r) => child.once('spawn', r));
    const { file, set } = counter(0);
    const said: number[] = [];
    const w = watchOomKills(
      file,
      () => child.pid as number,
      (n) => said.push(n),
      { pollMs: 5 },
    );
    try {
      set(1);
      await until(() => w.seen.total === 1);
      // The kernel's SIGKILL, sent right after its count.
      child.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 300));
      expect(said).toEqual([]);
      w.settle(true);
      expect(w.seen).toMatchObject({ main: true, others: 0, undecided: 0 });
    } finally {
      w.close();
      child.kill('SIGKILL');
    }
  });
  it('leaves a kill undecided while the main process is gone, and decides it by how the program ended', async () => {
    const gone = spawnSync('true').pid as number; // reaped: /proc has it no more
    for (const [sigkill, main, told] of [
      [true, true, [1]],
      [false, false, [1, 2]],
    ] as const) {
      const { file, set } = counter(0);
      const said: number[] = [];
      const w = watchOomKills(
        file,
        () => gone,
        (n) => said.push(n),
        { pollMs: 10 },
      );
      try {
        set(2);
        await until(() => w.seen.total === 2);
        expect(w.seen.undecided).toBe(2);
        expect(said).toEqual([]);
        expect(w.refresh()).toBe(true);
        w.settle(sigkill);
        expect([w.seen.main, said, w.seen.undecided]).toEqual([main, told, 0]);
      } finally {
        w.close();
      }
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
