/**
 * The one thing ssc asks logind: which session a process is in, and whose.
 *
 * Two calls on a connection the caller already has: GetSessionByPID, then the
 * session's Id and User in one GetAll. Each value must carry exactly the
 * signature LOGIN_SESSION_PROPERTY_SIGNATURES gives it.
 */
import { Variant } from 'dbus-next/lib/variant.js';
import { BusError, type Bus } from './bus.js';
import {
  LOGIN_BUS_NAME,
  LOGIN_OBJECT_PATH,
  LOGIN_SESSION_INTERFACE,
  LOGIN_SESSION_PROPERTY_SIGNATURES,
  NO_SESSION_FOR_PID,
} from './signatures.js';

export interface LoginSession {
  /** logind's session ID, as in session-<ID>.scope. */
  id: string;
  /** The session's user. */
  uid: number;
}

/** Answers meaning "no session": the process is in none, or there is no logind on this bus. */
const NO_SESSION_ERRORS = new Set([
  NO_SESSION_FOR_PID,
  'org.freedesktop.DBus.Error.ServiceUnknown',
  'org.freedesktop.DBus.Error.NameHasNoOwner',
]);

function typed(props: Record<string, unknown>, name: keyof typeof LOGIN_SESSION_PROPERTY_SIGNATURES): unknown {
  const v = props[name];
  const want = LOGIN_SESSION_PROPERTY_SIGNATURES[name];
  if (!(v instanceof Variant) || v.signature !== want)
    throw new BusError('org.freedesktop.DBus.Error.InvalidSignature', `logind's session property ${name} is not of type ${want}`);
  return v.value;
}

/** The logind session PID belongs to, or null when it belongs to none. Other bus errors are thrown. */
export async function sessionOfPid(bus: Pick<Bus, 'call'>, pid: number): Promise<LoginSession | null> {
  // PID 0 would ask about the connection's own process (here: root's broker).
  if (!Number.isInteger(pid) || pid <= 0) throw new RangeError(`not a PID: ${pid}`);
  let path: unknown;
  try {
    [path] = await bus.call(LOGIN_BUS_NAME, LOGIN_OBJECT_PATH, 'GetSessionByPID', [pid]);
  } catch (e) {
    if (e instanceof BusError && NO_SESSION_ERRORS.has(e.type)) return null;
    throw e;
  }
  if (typeof path !== 'string' || !path.startsWith(`${LOGIN_OBJECT_PATH}/session/`))
    throw new BusError('org.freedesktop.DBus.Error.InvalidArgs', `logind answered GetSessionByPID with ${JSON.stringify(path)}`);
  const [props] = (await bus.call(LOGIN_BUS_NAME, path, 'GetAll', [LOGIN_SESSION_INTERFACE])) as [Record<string, unknown>];
  const id = typed(props, 'Id');
  const user = typed(props, 'User');
  const uid = Array.isArray(user) ? (user[0] as unknown) : undefined;
  if (typeof id !== 'string' || typeof uid !== 'number')
    throw new BusError('org.freedesktop.DBus.Error.InvalidArgs', "logind's session Id or User has an unexpected value");
  return { id, uid };
}
