/**
 * What a unit file can hold.
 *
 * systemd writes every transient unit to /run/systemd/transient/<unit> and
 * reads it back on `daemon-reload` and `daemon-reexec` (package upgrades run
 * both). Some values it writes escaping only `%` (WorkingDirectory=,
 * Description=, SyslogIdentifier=): a newline in one of them is a new line of
 * the file, and after a reload a new setting of the unit, run as root if it
 * says so (`ExecStopPost=+…`). Others it writes C-escaped and quoted
 * (arguments, Environment=), but a line longer than the parser takes loses the
 * whole unit.
 *
 * So every string that reaches a unit property is either built here from an
 * alphabet that is safe in a unit file, or caller data checked here to come
 * back from the file byte for byte; anything else is refused (exit 2), before
 * anything starts. Pure: the plan and the front end both use it.
 */
import { RequestError } from './errors.js';
import { NONCHARACTER } from './environment.js';
import { fileName } from './unit-name.js';

/** Caller data that a unit file cannot hold verbatim: refused, like a usage error. */
export class UnsafeValueError extends RequestError {}

/** The parser's longest line (LONG_LINE_MAX in systemd's src/basic/fileio.h): a longer one fails the whole unit. */
export const LONG_LINE_MAX = 1024 * 1024;
/** PATH_MAX and NAME_MAX, which the parser's path_is_valid() enforces on re-read. */
const PATH_MAX = 4096;
const NAME_MAX = 255;

/** C0 controls (newline and CR among them), DEL and C1 controls: a unit file line holds none of them verbatim. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;

/** A Unicode noncharacter: sd-bus drops a whole message that carries one, so systemd would never answer. */
function refuseNoncharacter(s: string, what: string): void {
  const m = NONCHARACTER.exec(s);
  if (m)
    throw new UnsafeValueError(
      `${what} contains the Unicode noncharacter U+${(m[0].codePointAt(0) as number).toString(16).toUpperCase()}, which systemd does not accept`,
    );
}

/** An argument: anything but NUL goes (C-escaped and quoted), except what systemd's D-Bus code refuses. */
export function checkArgument(arg: string, index: number): void {
  refuseNoncharacter(arg, `argument ${index}`);
}

function describeChar(s: string): string {
  const m = CONTROL.exec(s);
  if (m === null) return '';
  const c = m[0].codePointAt(0) ?? 0;
  const names: Record<number, string> = { 0x0a: 'a newline', 0x0d: 'a carriage return', 0x09: 'a tab', 0x00: 'a NUL byte' };
  return names[c] ?? `the control character U+${c.toString(16).toUpperCase().padStart(4, '0')}`;
}

/** Shown to the caller: the value with its control characters made visible, shortened. */
export function shown(s: string): string {
  // JSON escapes C0 controls; DEL and C1 (CSI among them) are escaped too, so nothing reaches a terminal raw.
  const json = JSON.stringify(s).replace(/[\u007f-\u009f]/g, (c) => `\\u${(c.codePointAt(0) as number).toString(16).padStart(4, '0')}`);
  return json.length > 120 ? `${json.slice(0, 117)}..."` : json;
}

/**
 * The working directory, written as `WorkingDirectory=` with only `%` escaped
 * and read back through path_simplify_and_warn(): it must be an absolute,
 * normalized path (no `//`, `.`, `..`, trailing `/`: the re-read would change
 * it) without controls, without trailing white space (the parser strips it)
 * and without a trailing backslash (the parser joins the next line to it).
 */
export function checkWorkingDirectory(cwd: string): void {
  const what = 'the current directory';
  if (!cwd.isWellFormed()) throw new UnsafeValueError(`${what} is not valid Unicode`);
  if (CONTROL.test(cwd))
    throw new UnsafeValueError(`${what} ${shown(cwd)} contains ${describeChar(cwd)}, which a systemd unit file cannot hold; cd elsewhere`);
  refuseNoncharacter(cwd, what);
  if (!cwd.startsWith('/')) throw new UnsafeValueError(`${what} ${shown(cwd)} is not an absolute path`);
  if (Buffer.byteLength(cwd) >= PATH_MAX) throw new UnsafeValueError(`${what} is longer than systemd takes (${PATH_MAX - 1} bytes)`);
  if (cwd !== '/') {
    const parts = cwd.slice(1).split('/');
    if (parts.some((p) => p === '' || p === '.' || p === '..'))
      throw new UnsafeValueError(`${what} ${shown(cwd)} is not a normalized path (systemd would change it)`);
    if (parts.some((p) => Buffer.byteLength(p) > NAME_MAX)) throw new UnsafeValueError(`${what} has a name longer than ${NAME_MAX} bytes`);
  }
  if (/[ \t]$/.test(cwd)) throw new UnsafeValueError(`${what} ${shown(cwd)} ends in white space, which systemd would strip; cd elsewhere`);
  if (cwd.endsWith('\\'))
    throw new UnsafeValueError(`${what} ${shown(cwd)} ends in a backslash, which a systemd unit file reads as a line continuation`);
}

/**
 * The program's path: the unit-file parser refuses an executable path with a
 * quote, a backslash or a control character (string_is_safe() in
 * config_parse_exec(), 252 and 257 alike), although the D-Bus call takes it:
 * such a unit would be `bad-setting` after a reload. White space is fine; the
 * path is written unquoted after `@`, so planExec passes it as argv[0] then.
 */
export function checkProgramPath(path: string): void {
  const what = "the program's path";
  if (!path.isWellFormed()) throw new UnsafeValueError(`${what} is not valid Unicode`);
  if (CONTROL.test(path))
    throw new UnsafeValueError(`${what} ${shown(path)} contains ${describeChar(path)}, which ssc does not pass to systemd`);
  if (/["'\\]/.test(path))
    throw new UnsafeValueError(
      `${what} ${shown(path)} contains a quote or a backslash, which systemd does not take in a unit file; rename the program or link to it`,
    );
  refuseNoncharacter(path, what);
  if (!path.startsWith('/')) throw new UnsafeValueError(`${what} ${shown(path)} is not absolute`);
  if (Buffer.byteLength(path) >= PATH_MAX) throw new UnsafeValueError(`${what} is longer than systemd takes (${PATH_MAX - 1} bytes)`);
  // systemd simplifies the path it is given: it would then differ from argv[0] and be written unquoted.
  if (
    path
      .slice(1)
      .split('/')
      .some((p) => p === '' || p === '.' || p === '..')
  )
    throw new UnsafeValueError(`${what} ${shown(path)} is not a normalized path (systemd would change it)`);
}

/** Longest label we build (Description, SyslogIdentifier). */
const MAX_LABEL = 64;
const LABEL_PLAIN = /^[A-Za-z0-9._+-]$/;

/**
 * The program's name as ssc writes it into Description= and
 * SyslogIdentifier=: its file name with every character outside
 * `[A-Za-z0-9._+-]` escaped as systemd-escape does (`\xNN` per UTF-8 byte), so
 * `firefox` stays `firefox` and `x<newline>ExecStopPost=…` becomes
 * `x\x0aExecStopPost\x3d…`: never a byte of the caller's outside its setting.
 */
export function programLabel(execPath: string): string {
  let out = '';
  for (const ch of fileName(execPath)) {
    const piece = LABEL_PLAIN.test(ch) ? ch : [...Buffer.from(ch, 'utf8')].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('');
    if (out.length + piece.length > MAX_LABEL) break;
    out += piece;
  }
  return out === '' ? 'program' : out;
}

/**
 * The first systemd that writes an ExecStartEx= command back into the unit
 * file as `ExecStart=` with prefix characters (`:` for no-env-expand). Older
 * ones write the key `ExecStartEx=`, which their own unit-file parser does not
 * know: after a reload such a unit is `bad-setting` (seen on 252).
 */
export const EXEC_EX_WRITTEN_AS_EXEC_START = 254;

const C_ESCAPES: Record<string, string> = { '\x07': 'a', '\b': 'b', '\f': 'f', '\n': 'n', '\r': 'r', '\t': 't', '\v': 'v' };

function octal(b: number): string {
  return `\\${b.toString(8).padStart(3, '0')}`;
}

/**
 * One exec word as systemd writes it (specifier_escape(), then
 * strcpy_backslash_escaped()): `%` doubled; control characters C-escaped; a
 * backslash and the characters in `bad` backslash-escaped; everything else,
 * UTF-8 included, as is.
 */
function execWord(s: string, bad: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0) as number;
    if (c < 0x20 || c === 0x7f) out += C_ESCAPES[ch] !== undefined ? `\\${C_ESCAPES[ch]}` : octal(c);
    else if (ch === '%') out += '%%';
    else if (ch === '\\' || (c < 0x80 && bad.includes(ch))) out += `\\${ch}`;
    else out += ch;
  }
  return out;
}

/** A value as cescape() writes it after specifier_escape() (Environment=): every byte of a non-ASCII character as `\ooo`. */
function cEscaped(s: string): string {
  let out = '';
  for (const b of Buffer.from(s.replaceAll('%', '%%'), 'utf8')) {
    const ch = String.fromCharCode(b);
    if (C_ESCAPES[ch] !== undefined) out += `\\${C_ESCAPES[ch]}`;
    else if (ch === '\\' || ch === '"' || ch === "'") out += `\\${ch}`;
    else if (b < 0x20 || b >= 0x7f) out += octal(b);
    else out += ch;
  }
  return out;
}

/** Words joined as unit_concat_strv() does: each quoted, one space between. */
function quotedWords(words: readonly string[], escape: (w: string) => string): string {
  return words.map((w) => `"${escape(w)}"`).join(' ');
}

/** A path written unquoted after `@` is split at white space (quotes are refused: checkProgramPath). */
const SPLITS_UNQUOTED = /[ "']/;

/** The command ssc asks for: ExecStartEx with literal arguments, or ExecStart of ssc-exec with base64url words. */
export type ExecPlan = ['ExecStartEx', [[string, string[], ['no-env-expand']]]] | ['ExecStart', [[string, string[], false]]];

/** base64url without padding: an alphabet systemd neither escapes nor expands in a unit file. */
export function base64url(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64url');
}

/** Raw bytes per word: its base64 (128 000 bytes and a `.`) stays under the kernel's 128 KiB for one argument. */
export const EXEC_WORD_BYTES = 96_000;

/** ssc-exec's words for one argument: base64url, a long one cut into words that continue it with a leading `.`. */
export function execWords(arg: string): string[] {
  const bytes = Buffer.from(arg, 'utf8');
  const words = [bytes.subarray(0, EXEC_WORD_BYTES).toString('base64url')];
  for (let i = EXEC_WORD_BYTES; i < bytes.length; i += EXEC_WORD_BYTES)
    words.push(`.${bytes.subarray(i, i + EXEC_WORD_BYTES).toString('base64url')}`);
  return words;
}

/**
 * ssc's own helper, as the broker found it beside itself: never caller data,
 * checked all the same for what 252 would write unquoted and read back
 * differently (blanks, quotes, backslash, `$`, `;`, controls); install.sh
 * refuses such a prefix.
 */
const HELPER_PATH = /^\/[^\s"'\\$;\u0000-\u001f\u007f]+\/ssc-exec$/u;

/**
 * The program's command for this manager, such that the unit file systemd
 * writes for it reads back to the same command with the same, literal
 * arguments:
 * - where systemd writes ExecStartEx back as `ExecStart=:…` (254 and later),
 *   ExecStartEx with `no-env-expand`; a path the file would split (white
 *   space) is passed as argv[0] too, which systemd then writes quoted;
 * - before that, ExecStart of `ssc-exec` (native/exec/exec.c) with the path
 *   and argv as base64url words: 252 writes an ExecStartEx under a key its
 *   parser does not know, and a plain argument's `$` and `;` as `\$` and `\;`,
 *   which it reads back as two characters, so no other form survives a reload.
 * A line longer than the parser reads is refused.
 */
export function planExec(systemd: number, execPath: string, argv: readonly string[], execHelper: string): ExecPlan {
  // Escaping only lengthens: a command whose bare words are already too long is refused before building its line.
  const bare = argv.reduce((n, a) => n + Buffer.byteLength(a) + 3, 'ExecStart='.length);
  if (bare > LONG_LINE_MAX - 1) throw tooLong(bare, 'at least ');
  let plan: ExecPlan;
  if (systemd >= EXEC_EX_WRITTEN_AS_EXEC_START) {
    const args = SPLITS_UNQUOTED.test(execPath) ? [execPath, ...argv.slice(1)] : [...argv];
    plan = ['ExecStartEx', [[execPath, args, ['no-env-expand']]]];
  } else {
    if (!HELPER_PATH.test(execHelper)) throw new Error(`not ssc's exec helper: ${JSON.stringify(execHelper)}`);
    plan = ['ExecStart', [[execHelper, ['ssc-exec', base64url(execPath), ...argv.flatMap(execWords)], false]]];
  }
  const line = Buffer.byteLength(writtenExecLine(systemd, plan));
  if (line > LONG_LINE_MAX - 1) throw tooLong(line, '');
  return plan;
}

function tooLong(bytes: number, atLeast: string): UnsafeValueError {
  return new UnsafeValueError(
    `the command line would be ${atLeast}${bytes} bytes in systemd's unit file, which takes at most ${LONG_LINE_MAX - 1} on one line; pass fewer or shorter arguments`,
  );
}

/**
 * The line systemd writes for the command into the unit file
 * (bus_set_transient_exec_command()), without its newline: before 254 the key
 * as given and `$ ; ' "` backslash-escaped; from 254 on `ExecStart=` with the
 * flags as prefix characters, and only `"` escaped under no-env-expand.
 */
export function writtenExecLine(systemd: number, [name, [[path, argv, flags]]]: ExecPlan): string {
  const ex = name === 'ExecStartEx';
  const bad = ex ? '"' : `$;'"`;
  const prefix = ex && flags !== false && flags.includes('no-env-expand') ? ':' : '';
  const key = ex && systemd < EXEC_EX_WRITTEN_AS_EXEC_START ? 'ExecStartEx' : 'ExecStart';
  const head = argv[0] === path ? '' : `@${execWord(path, bad)} `;
  return `${key}=${prefix}${head}${quotedWords(argv, (w) => execWord(w, bad))}`;
}

/**
 * A user manager's Environment= is one line of the unit file, each entry
 * quoted and C-escaped (every byte of a non-ASCII character becomes `\ooo`):
 * refused when it would be longer than the parser reads.
 */
export function checkEnvironmentLine(environment: readonly string[]): void {
  const line = Buffer.byteLength(writtenEnvironmentLine(environment));
  if (line > LONG_LINE_MAX - 1)
    throw new UnsafeValueError(
      `the environment would be ${line} bytes in systemd's unit file, which takes at most ${LONG_LINE_MAX - 1} on one line; unset some variables`,
    );
}

/** The Environment= line systemd writes into a unit file, without its newline. */
export function writtenEnvironmentLine(environment: readonly string[]): string {
  return `Environment=${quotedWords(environment, cEscaped)}`;
}
