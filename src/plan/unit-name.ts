/**
 * Unit names after systemd's desktop convention (DESKTOP_ENVIRONMENTS.md):
 * services `app-ssc-<ApplicationID>@<RANDOM>.service`,
 * scopes   `app-ssc-<ApplicationID>-<RANDOM>.scope`,
 * the application ID escaped as `systemd-escape` does.
 */

/** Longest escaped program part we keep; unit names may have at most 255 characters. */
export const MAX_PROGRAM_PART = 64;

const PLAIN = /^[A-Za-z0-9:_.]$/;

/** Escape a string the way `systemd-escape` (unit_name_escape) does. */
export function systemdEscape(s: string): string {
  let out = '';
  const bytes = Buffer.from(s, 'utf8');
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number;
    const c = String.fromCharCode(b);
    if (c === '/') out += '-';
    else if ((c === '.' && i === 0) || b >= 0x80 || !PLAIN.test(c)) out += `\\x${b.toString(16).padStart(2, '0')}`;
    else out += c;
  }
  return out;
}

/** A path's last name ('' for /). */
export function fileName(path: string): string {
  return (
    path
      .split('/')
      .filter((p) => p !== '')
      .pop() ?? ''
  );
}

/** The application ID for a program: its file name, escaped, cut short without splitting an escape. */
export function programId(program: string): string {
  const base = fileName(program) || 'program';
  let id = systemdEscape(base);
  if (id.length > MAX_PROGRAM_PART) {
    id = id.slice(0, MAX_PROGRAM_PART);
    // Never leave half of a \xNN escape at the end.
    const cut = id.lastIndexOf('\\');
    if (cut >= 0 && cut > id.length - 4) id = id.slice(0, cut);
  }
  return id === '' ? 'program' : id;
}

/**
 * An app name given with --name: what `ssc ps`, `ssc stop` and `ssc logs` call
 * the app, in place of the program's file name. Letters, digits and ":_.-",
 * not starting with "." (the characters a unit name keeps or escapes plainly),
 * at most MAX_PROGRAM_PART; null when it is fine, else why not.
 */
export function appNameProblem(name: string): string | null {
  if (name.length === 0 || name.length > MAX_PROGRAM_PART) return `an app name has 1 to ${MAX_PROGRAM_PART} characters`;
  if (!/^[A-Za-z0-9:_.-]+$/.test(name)) return 'an app name has only letters, digits and the characters : _ . -';
  if (name.startsWith('.')) return 'an app name does not start with "."';
  // In the unit name each "-" becomes "\x2d": the escaped name must fit whole, or it would be cut.
  if (systemdEscape(name).length > MAX_PROGRAM_PART)
    return `an app name fits in ${MAX_PROGRAM_PART} characters once each "-" is written as \\x2d`;
  // ssc stop and ssc logs take these for unit names.
  if (/\.(service|scope)$/.test(name)) return 'an app name does not end in .service or .scope';
  return null;
}

/** A random instance tag: 16 lowercase hex digits. */
export function isRandomTag(tag: string): boolean {
  return /^[0-9a-f]{16}$/.test(tag);
}

export function serviceName(program: string, randomTag: string): string {
  if (!isRandomTag(randomTag)) throw new RangeError('random tag must be 16 hex digits');
  return `app-ssc-${programId(program)}@${randomTag}.service`;
}

export function scopeName(program: string, randomTag: string): string {
  if (!isRandomTag(randomTag)) throw new RangeError('random tag must be 16 hex digits');
  return `app-ssc-${programId(program)}-${randomTag}.scope`;
}

/** Is this a name ssc itself would have produced? The broker accepts no other. */
export function isSscUnitName(name: string): boolean {
  return /^app-ssc-[A-Za-z0-9:_.\\-]{1,64}(@[0-9a-f]{16}\.service|-[0-9a-f]{16}\.scope)$/.test(name) && name.length < 256;
}

/** D-Bus object path of a unit: every byte outside [A-Za-z0-9] becomes _xx, a leading digit too. */
export function unitObjectPath(unit: string): string {
  const bytes = Buffer.from(unit, 'utf8');
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number;
    const alnum = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);
    const digitFirst = i === 0 && b >= 0x30 && b <= 0x39;
    out += alnum && !digitFirst ? String.fromCharCode(b) : `_${b.toString(16).padStart(2, '0')}`;
  }
  return `/org/freedesktop/systemd1/unit/${out}`;
}
