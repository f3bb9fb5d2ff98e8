/**
 * Watching a unit until its program ends, over an unprivileged connection.
 *
 * Reading units and their signals needs no privilege. The match is added and
 * the manager subscribed to before the unit is started, so even a program that
 * ends at once (and a unit collected right after) is seen: the state is built
 * from the PropertiesChanged signals themselves.
 */
import { Bus } from './bus.js';
import { stateFrom, type UnitState } from './client.js';
import { PROPERTIES_INTERFACE, SYSTEM_BUS_ADDRESS, SYSTEMD_BUS_NAME, SYSTEMD_OBJECT_PATH } from './signatures.js';

export interface UnitWatch {
  /** Resolves when the main process has ended (or the unit is gone). */
  ended: Promise<UnitState>;
  /** Called with the main PID as soon as it is known. */
  onMainPid(cb: (pid: number) => void): void;
  close(): void;
}

function isEnded(s: UnitState): boolean {
  return (s.activeState === 'inactive' || s.activeState === 'failed') && (s.execMainCode !== 0 || s.result !== 'success');
}

/**
 * @param onForeign called once, for the first signal about the unit that did
 *   not come from systemd (another local user sent it, unicast).
 */
export async function watchUnit(path: string, address = SYSTEM_BUS_ADDRESS, onForeign?: (sender: string) => void): Promise<UnitWatch> {
  const bus = await Bus.connect({ address });
  let foreign = false;
  const { owner: systemd, ready } = bus.followOwner(SYSTEMD_BUS_NAME);
  let state: UnitState = stateFrom({});
  let resolveEnded!: (s: UnitState) => void;
  let rejectEnded!: (e: Error) => void;
  const ended = new Promise<UnitState>((resolve, reject) => {
    resolveEnded = resolve;
    rejectEnded = reject;
  });
  ended.catch(() => undefined);
  const pidCallbacks: ((pid: number) => void)[] = [];
  let knownPid = 0;
  const update = (props: Record<string, unknown>) => {
    state = stateFrom(props, state);
    if (state.mainPid > 0 && state.mainPid !== knownPid) {
      knownPid = state.mainPid;
      for (const cb of pidCallbacks) cb(knownPid);
    }
    if (isEnded(state)) resolveEnded(state);
  };
  const aboutUnit = (s: { path: string; interface: string; member: string }) =>
    s.path === path && s.interface === PROPERTIES_INTERFACE && s.member === 'PropertiesChanged';
  const sayForeign = (sender: string) => {
    if (!foreign) onForeign?.(sender);
    foreign = true;
  };
  // The bus reads no body from a sender it does not trust (bus.ts); say so once.
  bus.onIgnoredSignal((s) => {
    if (aboutUnit(s)) sayForeign(s.sender);
  });
  bus.onSignal((s) => {
    if (!aboutUnit(s)) return;
    // Only systemd says how the program ended: a forged signal could fake its status or redirect Ctrl-C.
    if (s.sender !== systemd()) {
      sayForeign(s.sender);
      return;
    }
    const changed = s.body[1] as Record<string, { value: unknown }>;
    const plain: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    for (const [k, v] of Object.entries(changed)) plain[k] = v?.value;
    update(plain);
  });
  // All sent at once; the bus handles them in order, and the owner is known before the unit exists.
  // A watch that cannot be set up closes its connection before saying so.
  await Promise.all([
    ready,
    bus.addMatch(
      `type='signal',sender='${SYSTEMD_BUS_NAME}',path='${path}',interface='${PROPERTIES_INTERFACE}',member='PropertiesChanged'`,
    ),
    bus.call(SYSTEMD_BUS_NAME, SYSTEMD_OBJECT_PATH, 'Subscribe'),
    bus.hello,
  ]).catch((e: unknown) => {
    bus.close();
    throw e;
  });
  // A lost connection cannot say how the program ends: the wait ends with an error, not never.
  bus.onClose((err) => rejectEnded(err));
  return {
    ended,
    onMainPid(cb) {
      pidCallbacks.push(cb);
      if (knownPid > 0) cb(knownPid);
    },
    close() {
      bus.close();
    },
  };
}
