/**
 * The Exec key of the Desktop Entry Specification (version 1.5, "The Exec
 * key"): pure parsing and formatting.
 *
 * A value goes through two layers. First the general escapes of string values
 * (\s, \n, \t, \r, \\); then the command line is split into arguments:
 * separated by spaces, an argument with a reserved character is quoted in
 * double quotes, and inside quotes `"`, `` ` ``, `$` and `\` are escaped with a
 * backslash. Field codes (%f %F %u %U %i %c %k, and %% for a literal %) are
 * left in the arguments as they are: the launcher expands them.
 */

/** Characters that make an argument need quotes (the specification's reserved characters). */
const RESERVED = /[ \t\n"'\\><~|&;$*?#()`]/;
/** Inside quotes, these are escaped with a backslash. */
const QUOTED_ESCAPED = /["`$\\]/g;

export class ExecError extends Error {}

/** Undo the general string escapes of a desktop entry value. */
export function unescapeString(value: string): string {
  return value.replace(/\\(.)/gs, (whole, c: string) => {
    switch (c) {
      case 's':
        return ' ';
      case 'n':
        return '\n';
      case 't':
        return '\t';
      case 'r':
        return '\r';
      case '\\':
        return '\\';
      default:
        return whole; // not a string escape: left for the Exec layer (\" inside quotes, \; in lists)
    }
  });
}

/** Apply the general string escapes (what a writer must do after quoting). */
export function escapeString(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\t/g, '\\t').replace(/\r/g, '\\r');
}

/** Split an Exec value (as written in the file) into arguments, field codes left in place. */
export function parseExec(value: string): string[] {
  const line = unescapeString(value);
  const args: string[] = [];
  let i = 0;
  while (i < line.length) {
    while (line[i] === ' ' || line[i] === '\t') i++;
    if (i >= line.length) break;
    let arg = '';
    if (line[i] === '"') {
      i++;
      for (;;) {
        if (i >= line.length) throw new ExecError(`unterminated quote in Exec=${value}`);
        const c = line[i] as string;
        if (c === '"') {
          i++;
          break;
        }
        if (c === '\\' && i + 1 < line.length && /["`$\\]/.test(line[i + 1] as string)) {
          arg += line[i + 1];
          i += 2;
          continue;
        }
        arg += c;
        i++;
      }
      if (i < line.length && line[i] !== ' ' && line[i] !== '\t')
        throw new ExecError(`a quoted argument must be a whole argument in Exec=${value}`);
    } else {
      while (i < line.length && line[i] !== ' ' && line[i] !== '\t') {
        if (line[i] === '"') throw new ExecError(`a quote inside an unquoted argument in Exec=${value}`);
        arg += line[i];
        i++;
      }
    }
    args.push(arg);
  }
  if (args.length === 0) throw new ExecError('Exec is empty');
  return args;
}

/** Quote one argument if it needs it (field codes and %% stay as they are). */
export function quoteArg(arg: string): string {
  if (arg !== '' && !RESERVED.test(arg)) return arg;
  return `"${arg.replace(QUOTED_ESCAPED, (c) => `\\${c}`)}"`;
}

/** Join arguments into an Exec value as written in the file. */
export function formatExec(args: readonly string[]): string {
  if (args.length === 0) throw new ExecError('no arguments');
  return escapeString(args.map(quoteArg).join(' '));
}

/** The field codes the specification defines (deprecated ones included). */
export const FIELD_CODES = ['%f', '%F', '%u', '%U', '%i', '%c', '%k', '%d', '%D', '%n', '%N', '%v', '%m'];

/**
 * The wrapped command: `SSC --no-tty --isolation=PROFILE -- ARGS...`. ssc takes
 * the program and everything after it literally, so the field codes the
 * launcher expands land as the program's own arguments.
 */
export function wrapExec(value: string, ssc: string, profile: string): string {
  return formatExec([ssc, '--no-tty', `--isolation=${profile}`, '--', ...parseExec(value)]);
}

/** The original command inside a wrapped one, or null if it is not ssc's wrapping. */
export function unwrapExec(value: string, ssc: string): string[] | null {
  const args = parseExec(value);
  if (args[0] !== ssc || args[1] !== '--no-tty' || !args[2]?.startsWith('--isolation=') || args[3] !== '--') return null;
  return args.slice(4);
}

export interface FieldContext {
  files?: readonly string[];
  urls?: readonly string[];
  icon?: string;
  name?: string;
  /** The desktop file's own location (%k). */
  location?: string;
}

/**
 * What a launcher makes of the arguments (the specification's field codes):
 * %f/%u the first file or URL, %F/%U all of them as separate arguments, %i
 * `--icon ICON`, %c the translated name, %k the entry's location, %% a %, the
 * deprecated codes nothing. ssc never expands them itself (the launcher
 * does); this is how the tests check that a wrapped entry still gets them.
 */
export function expandFieldCodes(args: readonly string[], ctx: FieldContext): string[] {
  const files = ctx.files ?? [];
  const urls = ctx.urls ?? files;
  const out: string[] = [];
  for (const arg of args) {
    if (arg === '%F' || arg === '%U') {
      out.push(...(arg === '%F' ? files : urls));
      continue;
    }
    if (arg === '%i') {
      if (ctx.icon) out.push('--icon', ctx.icon);
      continue;
    }
    if ((arg === '%f' && files.length === 0) || (arg === '%u' && urls.length === 0)) continue;
    if (/^%[dDnNvm]$/.test(arg)) continue;
    out.push(
      arg.replace(/%(.)/g, (whole, c: string) => {
        switch (c) {
          case '%':
            return '%';
          case 'f':
            return files[0] ?? '';
          case 'u':
            return urls[0] ?? '';
          case 'c':
            return ctx.name ?? '';
          case 'k':
            return ctx.location ?? '';
          default:
            return '';
        }
      }),
    );
  }
  return out;
}
