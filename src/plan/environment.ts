/**
 * The caller's environment, checked and encoded for systemd.
 *
 * Entries arrive as raw bytes from the launcher. systemd takes only valid names
 * and valid UTF-8 values without control characters (other than tab and
 * newline); anything else is dropped here, by name, so the caller is told
 * instead of systemd ignoring it silently. Variables travel in a Map: a name like
 * `__proto__` is just a variable.
 */

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Control characters systemd refuses in a value (env_value_is_valid allows \t and \n). */
const BAD_CONTROL = /[\x00-\x08\x0b-\x1f\x7f]/;
/**
 * Unicode noncharacters: systemd's UTF-8 check (unichar_is_valid) refuses them,
 * and sd-bus drops a whole message that carries one.
 */
export const NONCHARACTER =
  /[\ufdd0-\ufdef\ufffe\uffff]|[\ud83f\ud87f\ud8bf\ud8ff\ud93f\ud97f\ud9bf\ud9ff\uda3f\uda7f\udabf\udaff\udb3f\udb7f\udbbf\udbff][\udffe\udfff]/;

export interface DroppedVariable {
  /** The name as far as it can be shown (lossy for invalid UTF-8). */
  name: string;
  reason: 'invalid-name' | 'invalid-utf8' | 'control-character' | 'noncharacter' | 'duplicate' | 'no-equals';
}

export interface CheckedEnvironment {
  vars: Map<string, string>;
  dropped: DroppedVariable[];
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Decode bytes as UTF-8, or null if they are not valid UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string | null {
  try {
    return decoder.decode(bytes);
  } catch {
    return null;
  }
}

export function checkEnvironment(entries: readonly Uint8Array[]): CheckedEnvironment {
  const vars = new Map<string, string>();
  const dropped: DroppedVariable[] = [];
  for (const raw of entries) {
    const eq = raw.indexOf(0x3d);
    const shown = (b: Uint8Array) => Buffer.from(b).toString('utf8');
    if (eq <= 0) {
      dropped.push({ name: shown(eq < 0 ? raw : raw.subarray(0, eq)), reason: eq < 0 ? 'no-equals' : 'invalid-name' });
      continue;
    }
    const nameBytes = raw.subarray(0, eq);
    const name = decodeUtf8(nameBytes);
    if (name === null || !NAME.test(name)) {
      dropped.push({ name: shown(nameBytes), reason: 'invalid-name' });
      continue;
    }
    const value = decodeUtf8(raw.subarray(eq + 1));
    if (value === null) {
      dropped.push({ name, reason: 'invalid-utf8' });
      continue;
    }
    if (BAD_CONTROL.test(value)) {
      dropped.push({ name, reason: 'control-character' });
      continue;
    }
    if (NONCHARACTER.test(value)) {
      dropped.push({ name, reason: 'noncharacter' });
      continue;
    }
    if (vars.has(name)) {
      // getenv() returns the first one; keep that one, as the program would have seen it.
      dropped.push({ name, reason: 'duplicate' });
      continue;
    }
    vars.set(name, value);
  }
  return { vars, dropped };
}

/** Is this a variable systemd would accept? Used by the broker to re-check what the front end sends. */
export function isValidVariable(name: string, value: string): boolean {
  return NAME.test(name) && value.isWellFormed() && !BAD_CONTROL.test(value) && !NONCHARACTER.test(value);
}

/**
 * systemd's EnvironmentFile syntax, one `NAME="value"` per line. Inside double
 * quotes systemd turns `\"`, `\\`, `` \` `` and `\$` into the character and keeps a
 * literal newline, so these four are escaped and nothing else is.
 */
export function encodeEnvironmentFile(vars: ReadonlyMap<string, string>): string {
  let out = '';
  for (const [name, value] of vars) {
    if (!isValidVariable(name, value)) throw new RangeError(`invalid environment variable ${JSON.stringify(name)}`);
    out += `${name}="${value.replace(/[\\"`$]/g, (c) => `\\${c}`)}"\n`;
  }
  return out;
}

/** The inverse of encodeEnvironmentFile, for tests: parses only what it writes. */
export function parseEnvironmentFile(text: string): Map<string, string> {
  const vars = new Map<string, string>();
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf('="', i);
    if (eq < 0) throw new SyntaxError(`bad line at ${i}`);
    const name = text.slice(i, eq);
    let j = eq + 2;
    let value = '';
    for (;;) {
      const c = text[j];
      if (c === undefined) throw new SyntaxError('unterminated value');
      if (c === '\\') {
        const n = text[j + 1];
        if (n !== undefined && '\\"`$'.includes(n)) value += n;
        else value += `\\${n ?? ''}`;
        j += 2;
      } else if (c === '"') {
        j++;
        break;
      } else {
        value += c;
        j++;
      }
    }
    if (text[j] !== '\n') throw new SyntaxError('expected newline after value');
    vars.set(name, value);
    i = j + 1;
  }
  return vars;
}
