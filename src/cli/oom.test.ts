import { describe, expect, it } from 'vitest';
import { killedForMemory, parseOomKills } from './oom.js';

describe('out-of-memory detection', () => {
  it("reads the kernel's oom_kill counter", () => {
    expect(parseOomKills('pgfault 1\noom_kill 42\nfoo 3\n')).toBe(42);
    expect(parseOomKills('pgfault 1\n')).toBeNull();
  });
  it("trusts cgroup v2's oom-kill result", () => {
    expect(killedForMemory({ result: 'oom-kill', execMainCode: 2, execMainStatus: 9 }, null, null)).toBe(true);
  });
  it('on cgroup v1 takes a SIGKILL while the kernel killed for memory', () => {
    expect(killedForMemory({ result: 'signal', execMainCode: 2, execMainStatus: 9 }, 3, 4)).toBe(true);
  });
  it('does not call a plain SIGKILL, another signal or an exit out of memory', () => {
    expect(killedForMemory({ result: 'signal', execMainCode: 2, execMainStatus: 9 }, 3, 3)).toBe(false);
    expect(killedForMemory({ result: 'signal', execMainCode: 2, execMainStatus: 15 }, 3, 4)).toBe(false);
    expect(killedForMemory({ result: 'exit-code', execMainCode: 1, execMainStatus: 9 }, 3, 4)).toBe(false);
    expect(killedForMemory({ result: 'signal', execMainCode: 2, execMainStatus: 9 }, null, null)).toBe(false);
  });
});
