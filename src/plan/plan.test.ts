import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UNIT_PROPERTY_SIGNATURES } from '../systemd/signatures.js';
import {
  callerSlice,
  execBytes,
  planScope,
  planService,
  planUserService,
  RequestError,
  sessionScope,
  UNIT_EXEC_LIMIT,
  validateRequest,
  validateStopRequest,
  type LaunchRequest,
} from './plan.js';
import { PROFILE_NAMES } from './profiles.js';
import { fuzzRuns } from '../fuzz-runs.js';

const TAG = '0123456789abcdef';
const HELPER = '/usr/local/lib/ssc/ssc-exec';
const base: LaunchRequest = {
  kind: 'service',
  profile: 'strict',
  unit: `app-ssc-echo@${TAG}.service`,
  execPath: '/bin/echo',
  argv: ['echo', '$HOME', '%h', '${X}'],
  cwd: '/home/u',
  environment: [['A', 'b=c']],
  stdio: 'journal',
};
const scopeBase: LaunchRequest = {
  ...base,
  kind: 'scope',
  unit: `app-ssc-bash-${TAG}.scope`,
  execPath: '/bin/bash',
  argv: ['bash', '-i'],
  environment: [],
};
const caller = { uid: 1000, gid: 1000, umask: 0o022 };
const host = { cores: 4, systemd: 257, scopeOomPolicy: true, execHelper: HELPER };

function propsOf(req: LaunchRequest, envFile: string | null = '/run/ssc/env-x', scope: string | null = null) {
  return new Map(planService({ request: req, caller, host, environmentFile: envFile, sessionScope: scope }) as [string, unknown][]);
}

describe('planService', () => {
  it("runs the program as the caller, numerically, with the caller's umask and cwd", () => {
    const p = propsOf(base);
    expect(p.get('User')).toBe('1000');
    expect(p.get('Group')).toBe('1000');
    expect(p.get('UMask')).toBe(0o022);
    expect(p.get('WorkingDirectory')).toBe('/home/u');
    expect(p.get('Type')).toBe('exec');
  });
  it('passes arguments literally: with no-env-expand where systemd writes that back (254 on), else through ssc-exec (252)', () => {
    expect(propsOf(base).get('ExecStartEx')).toEqual([['/bin/echo', ['echo', '$HOME', '%h', '${X}'], ['no-env-expand']]]);
    const old = new Map(
      planService({
        request: base,
        caller,
        host: { cores: 4, systemd: 252, scopeOomPolicy: true, execHelper: HELPER },
        environmentFile: null,
      }) as [string, unknown][],
    );
    expect(old.has('ExecStartEx')).toBe(false);
    const b64 = (x: string) => Buffer.from(x).toString('base64url');
    expect(old.get('ExecStart')).toEqual([
      [HELPER, ['ssc-exec', b64('/bin/echo'), b64('echo'), b64('$HOME'), b64('%h'), b64('${X}')], false],
    ]);
  });
  it("before 254, refuses base64 words and environment that would not fit the unit's execve", () => {
    const big = 'x'.repeat(90_000);
    const request = {
      ...base,
      argv: ['echo', ...Array<string>(8).fill(big)],
      environment: [['E', 'y'.repeat(1_200_000)]] as [string, string][],
    };
    const old = { cores: 4, systemd: 252, scopeOomPolicy: true, execHelper: HELPER };
    expect(() => planService({ request, caller, host: old, environmentFile: null })).toThrow(/through ssc-exec, base64/);
    expect(() => planService({ request, caller, host, environmentFile: null })).not.toThrow();
  });
  it('writes the escaped program name into Description and SyslogIdentifier, never the raw file name', () => {
    const p = propsOf({ ...base, execPath: '/home/u/x\nExecStopPost=+p é', argv: ['x'] });
    expect(p.get('Description')).toBe('x\\x0aExecStopPost\\x3d+p\\x20\\xc3\\xa9 (ssc strict)');
    expect(p.get('SyslogIdentifier')).toBe('x\\x0aExecStopPost\\x3d+p\\x20\\xc3\\xa9');
    expect(propsOf(base).get('SyslogIdentifier')).toBe('echo');
  });
  it('applies strict: memory, bounded swap, no MemoryHigh band, CPU quota of cores-1, no new privileges, private /tmp', () => {
    const p = propsOf(base);
    expect(p.get('MemoryMaxScale')).toBe(3006477107);
    expect(p.has('MemoryHighScale')).toBe(false);
    expect(p.get('MemorySwapMaxScale')).toBeGreaterThan(0);
    expect(p.get('CPUQuotaPerSecUSec')).toBe(3_000_000);
    expect(p.get('NoNewPrivileges')).toBe(true);
    expect(p.get('PrivateTmp')).toBe(true);
  });
  it('applies relaxed: the memory caps only', () => {
    const p = propsOf({ ...base, profile: 'relaxed' });
    expect(p.get('MemoryMaxScale')).toBe(3006477107);
    expect(p.has('CPUQuotaPerSecUSec')).toBe(false);
    expect(p.has('NoNewPrivileges')).toBe(false);
    expect(p.has('PrivateTmp')).toBe(false);
  });
  it('never puts the environment in a property: it goes in a root-only file, which the broker deletes, not the manager', () => {
    const p = propsOf(base);
    expect(p.has('Environment')).toBe(false);
    expect(p.get('EnvironmentFiles')).toEqual([['/run/ssc/env-x', true]]);
    expect(p.has('ExecStartPostEx')).toBe(false);
    expect(p.has('ExecStopPostEx')).toBe(false);
  });
  it('keeps the app when the kernel kills one of its processes for memory (OOMPolicy=continue), in every profile', () => {
    expect(propsOf(base).get('OOMPolicy')).toBe('continue');
    expect(propsOf({ ...base, profile: 'relaxed' }).get('OOMPolicy')).toBe('continue');
  });
  it("puts the unit in the caller's own slice in ssc.slice and lets systemd collect it when it fails", () => {
    const p = propsOf(base);
    expect(p.get('Slice')).toBe('ssc-1000.slice');
    expect(p.get('CollectMode')).toBe('inactive-or-failed');
  });
  it('gives every caller a slice of their own, named only by their uid, and refuses a uid that is not one', () => {
    const other = new Map(
      planService({ request: base, caller: { ...caller, uid: 1001 }, host, environmentFile: null }) as [string, unknown][],
    );
    expect(other.get('Slice')).toBe('ssc-1001.slice');
    expect(callerSlice(0)).toBe('ssc-0.slice');
    for (const bad of [-1, 1.5, 0xffffffff, NaN]) expect(() => callerSlice(bad)).toThrow(RequestError);
  });
  it('connects stdio only when asked to', () => {
    expect(propsOf(base).has('StandardInputFileDescriptor')).toBe(false);
    const p = propsOf({ ...base, stdio: 'inherit' });
    expect([p.get('StandardInputFileDescriptor'), p.get('StandardOutputFileDescriptor'), p.get('StandardErrorFileDescriptor')]).toEqual([
      0, 1, 2,
    ]);
  });
  it("binds the unit to the caller's session scope and orders it after it, exactly when a session is given", () => {
    const bound = propsOf(base, null, 'session-c1.scope');
    expect(bound.get('BindsTo')).toEqual(['session-c1.scope']);
    expect(bound.get('After')).toEqual(['session-c1.scope']);
    for (const p of [
      propsOf(base),
      propsOf(base, null, null),
      new Map(planService({ request: base, caller, host, environmentFile: null }) as [string, unknown][]),
    ]) {
      expect(p.has('BindsTo')).toBe(false);
      expect(p.has('After')).toBe(false);
    }
  });
  it("outside a session, ends with the caller's running user manager: its stop passed on, never its start, no order", () => {
    const plan = (sessionScope: string | null, userManager: string | null) =>
      new Map(planService({ request: base, caller, host, environmentFile: null, sessionScope, userManager }) as [string, unknown][]);
    const outside = plan(null, 'user@1000.service');
    expect(outside.get('StopPropagatedFrom')).toEqual(['user@1000.service', 'user-runtime-dir@1000.service']);
    expect(outside.has('After')).toBe(false);
    expect(outside.has('BindsTo')).toBe(false);
    // In a session, the session alone; with no manager running, nothing.
    const inSession = plan('session-c1.scope', 'user@1000.service');
    expect([inSession.get('BindsTo'), inSession.get('After'), inSession.has('StopPropagatedFrom')]).toEqual([
      ['session-c1.scope'],
      ['session-c1.scope'],
      false,
    ]);
    const none = plan(null, null);
    expect([none.has('StopPropagatedFrom'), none.has('After'), none.has('BindsTo')]).toEqual([false, false, false]);
    // The same for a terminal's scope.
    const scope = new Map(
      planScope({ request: scopeBase, caller, host, pid: 4242, userManager: 'user@1000.service' }) as [string, unknown][],
    );
    expect([scope.get('StopPropagatedFrom'), scope.has('After'), scope.has('BindsTo')]).toEqual([
      ['user@1000.service', 'user-runtime-dir@1000.service'],
      false,
      false,
    ]);
  });
  it("refuses a user manager that is not the caller's", () => {
    for (const bad of ['user@1001.service', 'user@0.service', 'user-1000.slice', 'user@1000.service ', 'x.service'])
      expect(() => planService({ request: base, caller, host, environmentFile: null, userManager: bad })).toThrow(/user manager/);
  });
  it('refuses a session scope that is not one logind makes', () => {
    for (const bad of [
      'user@1000.service',
      'session-.scope',
      'session-1.scope/../x',
      'session-a b.scope',
      'init.scope',
      'session-1.service',
    ])
      expect(() => propsOf(base, null, bad)).toThrow(/not a session scope/);
  });
  it("names the scope of a session only when it is the caller's own", () => {
    expect(sessionScope({ id: '7', uid: 1000 }, 1000)).toBe('session-7.scope');
    expect(sessionScope({ id: 'c12', uid: 1000 }, 1000)).toBe('session-c12.scope');
    expect(sessionScope({ id: '7', uid: 1001 }, 1000)).toBeNull();
    expect(sessionScope(null, 1000)).toBeNull();
    for (const id of ['', '1.scope x', '../x', 'a-b', 'é'.repeat(2)])
      expect(() => sessionScope({ id, uid: 1000 }, 1000)).toThrow(/session ID/);
  });
  it('names only properties from the signature table, whatever the request', () => {
    const anyString = fc.string({ unit: 'grapheme', maxLength: 30 });
    fc.assert(
      fc.property(
        fc.constantFrom(...PROFILE_NAMES),
        fc.array(anyString, { minLength: 1, maxLength: 5 }),
        fc.constantFrom<'journal' | 'inherit'>('journal', 'inherit'),
        fc.integer({ min: 1, max: 512 }),
        fc.constantFrom(null, 'session-2.scope', 'session-c1.scope'),
        (profile, argv, stdio, cores, scope) => {
          const props = planService({
            request: { ...base, profile, argv, stdio },
            caller,
            host: { cores, systemd: 257, scopeOomPolicy: true, execHelper: HELPER },
            environmentFile: null,
            sessionScope: scope,
          });
          for (const [name] of props) expect(Object.keys(UNIT_PROPERTY_SIGNATURES)).toContain(name);
          const map = new Map(props as [string, unknown][]);
          expect(map.get('User')).toBe('1000');
          expect(map.size).toBe(props.length);
        },
      ),
      { numRuns: fuzzRuns(20_000) },
    );
  });
});

describe('validateRequest', () => {
  it('accepts a well-formed request and copies only known fields', () => {
    const r = validateRequest({ ...base, User: 'root', properties: [['User', '0']] });
    expect(r).toEqual(base);
    expect(validateRequest({ ...scopeBase, PIDs: [1] })).toEqual(scopeBase);
  });
  it('refuses unknown profiles, foreign unit names and relative paths', () => {
    for (const bad of [
      { ...base, profile: 'none' },
      { ...base, profile: '__proto__' },
      { ...base, unit: 'ssh.service' },
      { ...base, unit: `app-ssc-x-${TAG}.scope` },
      { ...base, execPath: 'echo' },
      { ...base, cwd: 'home' },
      { ...base, argv: [] },
      { ...base, argv: ['a\0b'] },
      { ...base, argv: ['\ud800'] },
      { ...base, environment: [['A B', 'x']] },
      {
        ...base,
        environment: [
          ['A', 'x'],
          ['A', 'y'],
        ],
      },
      { ...base, stdio: 'tty' },
      { ...base, kind: 'unit' },
      { ...base, kind: 'scope' },
      { ...scopeBase, unit: `app-ssc-x@${TAG}.service` },
      { ...scopeBase, environment: [['A', 'b']] },
      null,
      [],
      'x',
    ])
      expect(() => validateRequest(bad)).toThrow(RequestError);
  });
  it('never throws anything but RequestError on arbitrary input', () => {
    fc.assert(
      fc.property(fc.anything(), (x) => {
        try {
          validateRequest(x);
        } catch (e) {
          expect(e).toBeInstanceOf(RequestError);
        }
      }),
      { numRuns: fuzzRuns(20_000) },
    );
  });
});

describe('planScope', () => {
  const scopeProps = (profile: 'strict' | 'relaxed', cores = 4, session: string | null = null) =>
    new Map(
      planScope({
        request: { ...scopeBase, profile },
        caller,
        host: { cores, systemd: 257, scopeOomPolicy: true, execHelper: HELPER },
        pid: 4242,
        sessionScope: session,
      }) as [string, unknown][],
    );
  it("takes exactly the launcher-recorded process, in the caller's slice, collected when done", () => {
    const p = scopeProps('relaxed');
    expect(p.get('PIDs')).toEqual([4242]);
    expect(p.get('Slice')).toBe('ssc-1000.slice');
    expect(p.get('CollectMode')).toBe('inactive-or-failed');
    expect(p.get('Description')).toBe('bash (ssc relaxed, terminal)');
  });
  it('takes the process by its pidfd from systemd 255, where a reused PID cannot stand in; by PID before', () => {
    const plan = (systemd: number) =>
      new Map(
        planScope({
          request: { ...base, kind: 'scope', environment: [] },
          caller: { uid: 1000, gid: 1000, umask: 0o22 },
          host: { cores: 4, systemd, scopeOomPolicy: true, execHelper: HELPER },
          pid: 4242,
          pidfd: 17,
        }) as [string, unknown][],
      );
    expect([plan(257).get('PIDFDs'), plan(257).has('PIDs')]).toEqual([[17], false]);
    expect([plan(255).get('PIDFDs'), plan(254).get('PIDs'), plan(252).has('PIDFDs')]).toEqual([[17], [4242], false]);
  });
  it("applies the profile's resource limits, the same values as the service", () => {
    const svc = propsOf({ ...base, profile: 'strict' });
    const p = scopeProps('strict');
    for (const k of ['MemoryMaxScale', 'MemorySwapMaxScale', 'CPUQuotaPerSecUSec']) expect(p.get(k)).toBe(svc.get(k));
    expect(scopeProps('relaxed').has('CPUQuotaPerSecUSec')).toBe(false);
  });
  it('keeps the tab when the kernel kills one of its processes for memory, where the manager lets a scope (OOMPolicy=continue)', () => {
    expect(scopeProps('strict').get('OOMPolicy')).toBe('continue');
    const old = planScope({ request: scopeBase, caller, host: { ...host, systemd: 252, scopeOomPolicy: false }, pid: 4242 });
    expect(new Map(old as [string, unknown][]).has('OOMPolicy')).toBe(false);
  });
  it('sets no execution property a scope cannot take, and nothing about the program', () => {
    const p = scopeProps('strict');
    for (const k of ['ExecStartEx', 'User', 'Group', 'WorkingDirectory', 'EnvironmentFiles', 'NoNewPrivileges', 'PrivateTmp', 'Type'])
      expect(p.has(k)).toBe(false);
  });
  it('binds to the session exactly when one is given', () => {
    expect(scopeProps('relaxed', 4, 'session-3.scope').get('BindsTo')).toEqual(['session-3.scope']);
    expect(scopeProps('relaxed').has('BindsTo')).toBe(false);
  });
  it('refuses a service request, PID 0 or 1, and a malformed session scope', () => {
    expect(() => planScope({ request: base, caller, host, pid: 4242 })).toThrow(RequestError);
    for (const pid of [0, 1, -5, 1.5]) expect(() => planScope({ request: scopeBase, caller, host, pid })).toThrow(RequestError);
    expect(() => planScope({ request: scopeBase, caller, host, pid: 4242, sessionScope: 'x.service' })).toThrow(/session scope/);
  });
});

describe('execBytes', () => {
  it('counts strings with their NUL and a pointer each, as the kernel does', () => {
    expect(execBytes(['ab'], [])).toBe(3 + 8);
    expect(execBytes(['é'], [['K', 'v=1']])).toBe(3 + 8 + (1 + 3 + 2) + 8);
  });
  it('puts the limit just under a quarter of an 8 MiB stack', () => {
    expect(UNIT_EXEC_LIMIT).toBeLessThan(2 * 1024 * 1024);
    expect(UNIT_EXEC_LIMIT).toBeGreaterThan(2 * 1024 * 1024 - 64 * 1024);
  });
});

describe('planUserService', () => {
  const user = (profile: 'strict' | 'relaxed', stdio: 'journal' | 'inherit' = 'journal') =>
    new Map(planUserService({ request: { ...base, profile, stdio }, umask: 0o027, host }) as [string, unknown][]);
  it('has the same caps as the service for the system manager, in app.slice, and no User or Group', () => {
    const sys = propsOf({ ...base, profile: 'strict' });
    const p = user('strict');
    for (const k of [
      'MemoryMaxScale',
      'MemorySwapMaxScale',
      'CPUQuotaPerSecUSec',
      'OOMPolicy',
      'NoNewPrivileges',
      'PrivateTmp',
      'Type',
      'ExecStartEx',
    ])
      expect(p.get(k)).toEqual(sys.get(k));
    expect(p.get('Slice')).toBe('app.slice');
    expect(p.has('User')).toBe(false);
    expect(p.has('Group')).toBe(false);
    expect(p.get('UMask')).toBe(0o027);
  });
  it('adds PrivateUsers exactly when PrivateTmp is on, and carries the environment as Environment=', () => {
    expect(user('strict').get('PrivateUsers')).toBe(true);
    expect(user('relaxed').has('PrivateUsers')).toBe(false);
    expect(user('relaxed').get('Environment')).toEqual(['A=b=c']);
    expect(user('relaxed').has('EnvironmentFiles')).toBe(false);
  });
  it('passes stdio only for --wait', () => {
    expect(user('relaxed', 'inherit').get('StandardOutputFileDescriptor')).toBe(1);
    expect(user('relaxed').has('StandardOutputFileDescriptor')).toBe(false);
  });
});

describe('validateStopRequest', () => {
  const unit = 'app-ssc-sleep@0123456789abcdef.service';
  it('takes 1 to 64 unit names of ssc, each once, and nothing else', () => {
    expect(validateStopRequest({ units: [unit, 'app-ssc-bash-0123456789abcdef.scope'] })).toEqual({
      units: [unit, 'app-ssc-bash-0123456789abcdef.scope'],
    });
    expect(validateStopRequest({ units: [unit], extra: 1 })).toEqual({ units: [unit] });
    for (const bad of [
      null,
      [],
      { units: [] },
      { units: 'x' },
      { units: ['ssh.service'] },
      { units: [unit, unit] },
      { units: [`${unit}\n`] },
      { units: Array.from({ length: 65 }, (_, i) => `app-ssc-a@${i.toString(16).padStart(16, '0')}.service`) },
    ])
      expect(() => validateStopRequest(bad)).toThrow(RequestError);
  });
});
