import { describe, expect, it } from 'vitest';
import { PROFILES } from '../plan/profiles.js';
import { capsInEffect, missingCaps, sessionBusAddress, type CgroupView } from './user-manager.js';

const view = (files: Record<string, string>): CgroupView => ({ read: (p) => files[p] ?? null, exists: (p) => p in files, list: () => [] });
const USER = '/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/cgroup.controllers';

describe('sessionBusAddress', () => {
  it('takes a unix: session bus address, the first unix: one of a list, else $XDG_RUNTIME_DIR/bus', () => {
    expect(sessionBusAddress(new Map([['DBUS_SESSION_BUS_ADDRESS', 'unix:path=/run/user/1000/bus']]))).toBe('unix:path=/run/user/1000/bus');
    expect(sessionBusAddress(new Map([['DBUS_SESSION_BUS_ADDRESS', 'tcp:host=x,port=1;unix:abstract=/tmp/dbus-x']]))).toBe(
      'unix:abstract=/tmp/dbus-x',
    );
    expect(sessionBusAddress(new Map([['XDG_RUNTIME_DIR', '/run/user/1000']]))).toBe('unix:path=/run/user/1000/bus');
  });
  it('never uses unixexec: or tcp:, and says when there is nothing', () => {
    expect(sessionBusAddress(new Map([['DBUS_SESSION_BUS_ADDRESS', 'unixexec:path=/bin/sh']]))).toBeNull();
    expect(
      sessionBusAddress(
        new Map([
          ['DBUS_SESSION_BUS_ADDRESS', 'unixexec:path=/bin/sh'],
          ['XDG_RUNTIME_DIR', '/run/user/7'],
        ]),
      ),
    ).toBe('unix:path=/run/user/7/bus');
    expect(sessionBusAddress(new Map([['XDG_RUNTIME_DIR', 'relative']]))).toBeNull();
  });
});

describe('missingCaps', () => {
  it('on cgroup v1 every cap is missing: user managers get no controllers', () => {
    const m = missingCaps(PROFILES.strict, 1000, view({}));
    expect(m.map((x) => x.cap.name)).toEqual(['MemoryMax 70%', 'MemorySwapMax 10%', 'CPUQuota']);
    expect(m[0]?.why).toMatch(/cgroup v1/);
  });
  it('on cgroup v2 names the caps whose controller is not delegated', () => {
    const v2 = { '/sys/fs/cgroup/cgroup.controllers': 'cpu memory pids' };
    expect(missingCaps(PROFILES.strict, 1000, view({ ...v2, [USER]: 'cpu memory pids\n' }))).toEqual([]);
    const pidsOnly = missingCaps(PROFILES.strict, 1000, view({ ...v2, [USER]: 'pids\n' }));
    expect(pidsOnly.map((x) => x.cap.name)).toEqual(['MemoryMax 70%', 'MemorySwapMax 10%', 'CPUQuota']);
    expect(pidsOnly[0]?.why).toBe('the memory controller is not delegated to your user manager');
    expect(missingCaps(PROFILES.relaxed, 1000, view({ ...v2, [USER]: 'memory pids' }))).toEqual([]);
    expect(missingCaps(PROFILES.relaxed, 1000, view(v2))[0]?.why).toMatch(/not running/);
  });
});

describe('capsInEffect', () => {
  const dir = '/sys/fs/cgroup/user.slice/u/app.slice/app-ssc-x@0.service';
  it("lists the profile's caps the unit's own cgroup does not carry", () => {
    const full = {
      [`${dir}/cgroup.procs`]: '',
      [`${dir}/memory.max`]: '123\n',
      [`${dir}/memory.swap.max`]: '45\n',
      [`${dir}/cpu.max`]: '100000 100000\n',
    };
    expect(capsInEffect(PROFILES.strict, dir.replace('/sys/fs/cgroup', ''), view(full))).toEqual([]);
    expect(
      capsInEffect(
        PROFILES.strict,
        dir.replace('/sys/fs/cgroup', ''),
        view({ [`${dir}/cgroup.procs`]: '1\n', [`${dir}/memory.max`]: 'max\n' }),
      ),
    ).toEqual(['MemoryMax', 'MemorySwapMax', 'CPUQuota']);
  });
  it('claims nothing about a cgroup that is already gone (the program ended)', () => {
    expect(capsInEffect(PROFILES.strict, '/gone', view({}))).toEqual([]);
  });
});
