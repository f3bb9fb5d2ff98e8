import { Variant } from 'dbus-next/lib/variant.js';
import { describe, expect, it } from 'vitest';
import { BusError } from './bus.js';
import { sessionOfPid } from './logind.js';

type Call = [destination: string, path: string, method: string, body: unknown[]];

/** A bus that answers from a table and records what it was asked. */
function fakeBus(answer: (c: Call) => unknown[]) {
  const calls: Call[] = [];
  return {
    calls,
    call: (destination: string, path: string, method: string, body: unknown[] = []) => {
      const c: Call = [destination, path, method, body];
      calls.push(c);
      try {
        return Promise.resolve(answer(c));
      } catch (e) {
        return Promise.reject(e as Error);
      }
    },
  };
}

const SESSION = '/org/freedesktop/login1/session/c1';
const sessionProps = (
  id: unknown = new Variant('s', 'c1'),
  user: unknown = new Variant('(uo)', [2001, '/org/freedesktop/login1/user/_2001']),
) => ({
  Id: id,
  User: user,
  Name: new Variant('s', 'sscalice'),
});

describe('sessionOfPid', () => {
  it('asks logind for the session of the PID, then for its Id and User in one call', async () => {
    const bus = fakeBus(([, , method]) => (method === 'GetSessionByPID' ? [SESSION] : [sessionProps()]));
    expect(await sessionOfPid(bus, 4321)).toEqual({ id: 'c1', uid: 2001 });
    expect(bus.calls).toEqual([
      ['org.freedesktop.login1', '/org/freedesktop/login1', 'GetSessionByPID', [4321]],
      ['org.freedesktop.login1', SESSION, 'GetAll', ['org.freedesktop.login1.Session']],
    ]);
  });
  it('is null for a process in no session, and on a bus without logind', async () => {
    for (const type of [
      'org.freedesktop.login1.NoSessionForPID',
      'org.freedesktop.DBus.Error.ServiceUnknown',
      'org.freedesktop.DBus.Error.NameHasNoOwner',
    ]) {
      const bus = fakeBus(() => {
        throw new BusError(type, 'no');
      });
      expect(await sessionOfPid(bus, 4321)).toBeNull();
      expect(bus.calls).toHaveLength(1);
    }
  });
  it('passes any other failure on', async () => {
    const denied = fakeBus(() => {
      throw new BusError('org.freedesktop.DBus.Error.AccessDenied', 'no');
    });
    await expect(sessionOfPid(denied, 4321)).rejects.toThrow(BusError);
  });
  it('never asks about PID 0 (that would be the broker itself)', async () => {
    const bus = fakeBus(() => [SESSION]);
    for (const pid of [0, -1, 1.5, NaN]) await expect(sessionOfPid(bus, pid)).rejects.toThrow(RangeError);
    expect(bus.calls).toHaveLength(0);
  });
  it('refuses answers of another type than the signature table says', async () => {
    const bad: unknown[][] = [
      [new Variant('s', 'c1'), new Variant('u', 2001)],
      [new Variant('o', '/x'), new Variant('(uo)', [2001, '/u'])],
      ['c1', new Variant('(uo)', [2001, '/u'])],
      [new Variant('s', 'c1'), null],
    ];
    for (const [id, user] of bad) {
      const bus = fakeBus(([, , method]) => (method === 'GetSessionByPID' ? [SESSION] : [sessionProps(id, user)]));
      await expect(sessionOfPid(bus, 1)).rejects.toThrow(BusError);
    }
    const notASession = fakeBus(() => ['/org/freedesktop/login1/user/_2001']);
    await expect(sessionOfPid(notASession, 1)).rejects.toThrow(BusError);
  });
});
