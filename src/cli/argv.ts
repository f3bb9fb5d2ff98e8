/**
 * Command-line normalisation: the original ssc's Go-style flags become GNU ones.
 *
 * The original (Go's flag package) took `-isolation=strict`, `-isolation strict`,
 * `-tty`, `-tty=false` before the command, and stopped at the first non-flag or
 * `--`. Those spellings keep working, so existing terminal profiles and
 * launchers need no edit. Everything from the program on is passed literally:
 * the result always has `--` before the program.
 */

export class UsageError extends Error {}

/** Options that take a value, by GNU name. */
const VALUE_OPTIONS = new Set(['isolation', 'manager', 'name']);
/** Boolean options, by GNU name; `tty` also has `--no-tty`. */
const BOOLEAN_OPTIONS = new Set(['tty', 'wait', 'verbose', 'version', 'help', 'json', 'require-caps']);
const SHORT: Record<string, string> = { h: 'help', V: 'version', v: 'verbose', w: 'wait', i: 'isolation' };

/** Go's strconv.ParseBool. */
export function parseGoBool(s: string): boolean | null {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(s)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(s)) return false;
  return null;
}

/**
 * Rewrite the options before the program into GNU form and put `--` before the
 * program. Unknown options are left as they are for commander to reject.
 */
export function normalizeArgs(args: readonly string[]): string[] {
  const out: string[] = [];
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--') {
      i++;
      break;
    }
    if (!a.startsWith('-') || a === '-') break;
    const body = a.replace(/^--?/, '');
    const eq = body.indexOf('=');
    let name = eq < 0 ? body : body.slice(0, eq);
    const value = eq < 0 ? null : body.slice(eq + 1);
    if (!a.startsWith('--') && name.length === 1) name = SHORT[name] ?? name;
    if (name === 'no-tty' && value === null) {
      out.push('--no-tty');
    } else if (VALUE_OPTIONS.has(name)) {
      if (value !== null) out.push(`--${name}=${value}`);
      else {
        const next = args[i + 1];
        if (next === undefined) throw new UsageError(`option --${name} needs a value`);
        out.push(`--${name}=${next}`);
        i++;
      }
    } else if (BOOLEAN_OPTIONS.has(name)) {
      if (value === null) out.push(`--${name}`);
      else {
        const b = parseGoBool(value);
        if (b === null) throw new UsageError(`invalid boolean value ${JSON.stringify(value)} for -${name}`);
        if (b) out.push(`--${name}`);
        else if (name === 'tty') out.push('--no-tty');
        // -wait=false, -verbose=false: the default.
      }
    } else {
      out.push(a);
    }
  }
  if (i < args.length) out.push('--', ...args.slice(i));
  return out;
}
