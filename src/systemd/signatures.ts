/**
 * Every D-Bus signature ssc uses, in one table.
 *
 * The planning layer may only name properties listed in UNIT_PROPERTY_SIGNATURES,
 * and the client wraps each value in a Variant of exactly this signature, so a
 * property systemd would read with another type cannot be sent by mistake.
 */

export const SYSTEMD_BUS_NAME = 'org.freedesktop.systemd1';
export const SYSTEMD_OBJECT_PATH = '/org/freedesktop/systemd1';
export const MANAGER_INTERFACE = 'org.freedesktop.systemd1.Manager';
export const UNIT_INTERFACE = 'org.freedesktop.systemd1.Unit';
export const SERVICE_INTERFACE = 'org.freedesktop.systemd1.Service';
export const SCOPE_INTERFACE = 'org.freedesktop.systemd1.Scope';
export const PROPERTIES_INTERFACE = 'org.freedesktop.DBus.Properties';
export const DBUS_NAME = 'org.freedesktop.DBus';
export const DBUS_PATH = '/org/freedesktop/DBus';
export const DBUS_INTERFACE = 'org.freedesktop.DBus';
export const LOGIN_BUS_NAME = 'org.freedesktop.login1';
export const LOGIN_OBJECT_PATH = '/org/freedesktop/login1';
export const LOGIN_MANAGER_INTERFACE = 'org.freedesktop.login1.Manager';
export const LOGIN_SESSION_INTERFACE = 'org.freedesktop.login1.Session';
/** GetSessionByPID's answer for a process outside every session. */
export const NO_SESSION_FOR_PID = 'org.freedesktop.login1.NoSessionForPID';

/** The system bus socket: fixed, never taken from the environment. */
export const SYSTEM_BUS_PATH = '/run/dbus/system_bus_socket';
export const SYSTEM_BUS_ADDRESS = `unix:path=${SYSTEM_BUS_PATH}`;

/** Method signatures (in → out) of the calls ssc makes. */
export const METHODS = {
  Hello: { iface: DBUS_INTERFACE, in: '', out: 's' },
  AddMatch: { iface: DBUS_INTERFACE, in: 's', out: '' },
  GetNameOwner: { iface: DBUS_INTERFACE, in: 's', out: 's' },
  StartTransientUnit: { iface: MANAGER_INTERFACE, in: 'ssa(sv)a(sa(sv))', out: 'o' },
  GetUnit: { iface: MANAGER_INTERFACE, in: 's', out: 'o' },
  /** (states, patterns) → (id, description, load, active, sub, following, path, job id, job type, job path) */
  ListUnitsByPatterns: { iface: MANAGER_INTERFACE, in: 'asas', out: 'a(ssssssouso)' },
  /** names → the same rows (systemd ≥ 227) */
  ListUnitsByNames: { iface: MANAGER_INTERFACE, in: 'as', out: 'a(ssssssouso)' },
  GetUnitByPID: { iface: MANAGER_INTERFACE, in: 'u', out: 'o' },
  StopUnit: { iface: MANAGER_INTERFACE, in: 'ss', out: 'o' },
  StartUnit: { iface: MANAGER_INTERFACE, in: 'ss', out: 'o' },
  /** The desktop's notification server (the notifier, on the user's session bus). */
  Notify: { iface: 'org.freedesktop.Notifications', in: 'susssasa{sv}i', out: 'u' },
  GetCapabilities: { iface: 'org.freedesktop.Notifications', in: '', out: 'as' },
  Unref: { iface: UNIT_INTERFACE, in: '', out: '' },
  Subscribe: { iface: MANAGER_INTERFACE, in: '', out: '' },
  GetAll: { iface: PROPERTIES_INTERFACE, in: 's', out: 'a{sv}' },
  Get: { iface: PROPERTIES_INTERFACE, in: 'ss', out: 'v' },
  GetSessionByPID: { iface: LOGIN_MANAGER_INTERFACE, in: 'u', out: 'o' },
} as const;

/** Properties of a logind session that ssc reads (org.freedesktop.login1.Session), with their D-Bus types. */
export const LOGIN_SESSION_PROPERTY_SIGNATURES = {
  Id: 's',
  /** (uid, user object path) */
  User: '(uo)',
} as const;

/** Signal signatures ssc listens to. */
export const SIGNALS = {
  JobRemoved: { iface: MANAGER_INTERFACE, signature: 'uoss' },
  PropertiesChanged: { iface: PROPERTIES_INTERFACE, signature: 'sa{sv}as' },
} as const;

/** Properties of a transient unit ssc may set, with their D-Bus types. */
export const UNIT_PROPERTY_SIGNATURES = {
  Description: 's',
  Type: 's',
  /** systemd < 254: ExecStart of ssc-exec with base64url words (src/plan/unit-file.ts). */
  ExecStart: 'a(sasb)',
  /** Flags ["no-env-expand"]: arguments literal. */
  ExecStartEx: 'a(sasas)',
  PIDs: 'au',
  PIDFDs: 'ah',
  User: 's',
  Group: 's',
  UMask: 'u',
  WorkingDirectory: 's',
  EnvironmentFiles: 'a(sb)',
  CollectMode: 's',
  Slice: 's',
  SyslogIdentifier: 's',
  OOMPolicy: 's',
  AddRef: 'b',
  NoNewPrivileges: 'b',
  PrivateTmp: 'b',
  PrivateUsers: 'b',
  Environment: 'as',
  MemoryMaxScale: 'u',
  MemorySwapMaxScale: 'u',
  CPUQuotaPerSecUSec: 't',
  StandardInputFileDescriptor: 'h',
  StandardOutputFileDescriptor: 'h',
  StandardErrorFileDescriptor: 'h',
  BindsTo: 'as',
  After: 'as',
  StopPropagatedFrom: 'as',
} as const;

export type UnitPropertyName = keyof typeof UNIT_PROPERTY_SIGNATURES;

/** An ExecStartEx-style command: (path, argv, flags). */
export type ExecCommand = readonly [path: string, argv: readonly string[], flags: readonly string[]];
/** An ExecStart-style command: (path, argv, ignore-failure). */
export type ExecCommandPlain = readonly [path: string, argv: readonly string[], ignoreFailure: boolean];

/** The JS value each property carries, by its signature. */
export interface UnitPropertyValues {
  Description: string;
  Type: string;
  ExecStart: readonly ExecCommandPlain[];
  ExecStartEx: readonly ExecCommand[];
  PIDs: readonly number[];
  PIDFDs: readonly number[];
  User: string;
  Group: string;
  UMask: number;
  WorkingDirectory: string;
  EnvironmentFiles: readonly (readonly [path: string, ignoreMissing: boolean])[];
  CollectMode: string;
  Slice: string;
  SyslogIdentifier: string;
  OOMPolicy: string;
  AddRef: boolean;
  NoNewPrivileges: boolean;
  PrivateTmp: boolean;
  PrivateUsers: boolean;
  Environment: readonly string[];
  MemoryMaxScale: number;
  MemorySwapMaxScale: number;
  CPUQuotaPerSecUSec: number;
  StandardInputFileDescriptor: number;
  StandardOutputFileDescriptor: number;
  StandardErrorFileDescriptor: number;
  BindsTo: readonly string[];
  After: readonly string[];
  StopPropagatedFrom: readonly string[];
}

export type UnitProperty = {
  [K in UnitPropertyName]: readonly [name: K, value: UnitPropertyValues[K]];
}[UnitPropertyName];
