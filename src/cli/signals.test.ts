import { describe, expect, it } from 'vitest';
import { SignalForwarder } from './signals.js';

describe('SignalForwarder', () => {
  it("holds a signal that arrives before the program's PID is known and delivers it then", () => {
    const sent: [number, string][] = [];
    const f = new SignalForwarder((pid, sig) => sent.push([pid, sig]));
    try {
      process.emit('SIGTERM', 'SIGTERM');
      expect(sent).toEqual([]);
      f.setPid(1234);
      expect(sent).toEqual([[1234, 'SIGTERM']]);
      process.emit('SIGINT', 'SIGINT');
      expect(sent).toEqual([
        [1234, 'SIGTERM'],
        [1234, 'SIGINT'],
      ]);
    } finally {
      f.dispose();
    }
  });
  it('stops handling signals once disposed', () => {
    const before = process.listenerCount('SIGHUP');
    const f = new SignalForwarder(() => undefined);
    expect(process.listenerCount('SIGHUP')).toBe(before + 1);
    f.dispose();
    expect(process.listenerCount('SIGHUP')).toBe(before);
  });
});
