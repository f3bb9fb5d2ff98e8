import { describe, expect, it } from 'vitest';
import { parseSignal, procsFile, signalProcesses } from './signal.js';

describe('ssc stop --signal', () => {
  it('reads signals by name, with or without SIG, or by number', () => {
    expect(parseSignal('HUP')).toBe(1);
    expect(parseSignal('sigterm')).toBe(15);
    expect(parseSignal('9')).toBe(9);
    for (const bad of ['NOSUCH', '0', '65', '', '-1']) expect(parseSignal(bad)).toBeNull();
  });

  it("finds the unit's processes on v2, hybrid and v1", () => {
    const cg = '/ssc.slice/ssc-1000.slice/app-ssc-a@0123456789abcdef.service';
    expect(procsFile(cg, (p) => p === '/sys/fs/cgroup/cgroup.controllers')).toBe(`/sys/fs/cgroup${cg}/cgroup.procs`);
    expect(procsFile(cg, (p) => p === '/sys/fs/cgroup/unified/cgroup.controllers')).toBe(`/sys/fs/cgroup/unified${cg}/cgroup.procs`);
    expect(procsFile(cg, () => false)).toBe(`/sys/fs/cgroup/systemd${cg}/cgroup.procs`);
  });

  it('signals each process as the caller, counts what the kernel refuses, skips the gone and PID 1', () => {
    const sent: number[] = [];
    const kill = (pid: number): true => {
      if (pid === 200) throw Object.assign(new Error('EPERM'), { code: 'EPERM' });
      if (pid === 300) throw Object.assign(new Error('ESRCH'), { code: 'ESRCH' });
      sent.push(pid);
      return true;
    };
    const r = signalProcesses('/ssc.slice/x.service', 1, kill, () => '1\n100\n200\n300\n101\n');
    expect(r).toEqual({ sent: 2, refused: 1 });
    expect(sent).toEqual([100, 101]);
  });

  it("never reads the root cgroup's processes (a unit with no cgroup yet)", () => {
    for (const bad of ['', '/', 'relative'])
      expect(() =>
        signalProcesses(
          bad,
          1,
          () => true,
          () => '100\n',
        ),
      ).toThrow(RangeError);
  });
});
