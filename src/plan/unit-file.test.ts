import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fuzzRuns } from '../fuzz-runs.js';
import { managerMajor, parseManagerVersion } from '../systemd/version.js';
import {
  checkEnvironmentLine,
  checkArgument,
  checkProgramPath,
  checkWorkingDirectory,
  EXEC_EX_WRITTEN_AS_EXEC_START,
  execWords,
  LONG_LINE_MAX,
  planExec,
  programLabel,
  shown,
  UnsafeValueError,
  writtenEnvironmentLine,
  writtenExecLine,
} from './unit-file.js';

/**
 * The other half, as systemd's config_parse_exec() reads a line back: words
 * split at unquoted white space, quotes removed, C escapes undone, `%%` one `%`
 * (specifiers), and for ExecStart (no `:` prefix) `$$` one `$` at exec time.
 */
function readBack(line: string): { key: string; path: string; argv: string[] } {
  const eq = line.indexOf('=');
  const key = line.slice(0, eq);
  let rest = line.slice(eq + 1);
  let literal = false;
  if (rest.startsWith(':')) {
    literal = true;
    rest = rest.slice(1);
  }
  const words: string[] = [];
  const cs = [...rest]; // code points
  let i = 0;
  const bytes: number[] = [];
  const flush = () => {
    words.push(Buffer.from(bytes).toString('utf8'));
    bytes.length = 0;
  };
  const named: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11 };
  while (i < cs.length) {
    while (cs[i] === ' ') i++;
    if (i >= cs.length) break;
    let quote: string | null = null;
    for (; i < cs.length; i++) {
      const c = cs[i] as string;
      if (quote === null && c === ' ') break;
      if (c === '"' || c === "'") {
        if (quote === null) quote = c;
        else if (quote === c) quote = null;
        else bytes.push(c.charCodeAt(0));
        continue;
      }
      if (c === '\\') {
        const n = cs[++i] as string;
        if (named[n] !== undefined) bytes.push(named[n]);
        else if (/[0-7]/.test(n)) {
          bytes.push(parseInt(cs.slice(i, i + 3).join(''), 8));
          i += 2;
        } else bytes.push(...Buffer.from(n, 'utf8'));
        continue;
      }
      bytes.push(...Buffer.from(c, 'utf8'));
    }
    expect(quote, `unterminated quote in ${line}`).toBeNull();
    flush();
  }
  const unspecify = (w: string) => w.replaceAll('%%', '%');
  const unexpand = (w: string) => (literal ? w : w.replaceAll('$$', '$'));
  let path: string;
  let argv = words.map(unspecify);
  if (argv[0]?.startsWith('@')) {
    path = (argv[0] as string).slice(1);
    argv = argv.slice(1);
  } else path = argv[0] as string;
  return { key, path, argv: argv.map(unexpand) };
}

const hostile = fc.string({ unit: fc.constantFrom(...'ab $%;\'"\\\n\t{}é€😀\u0085\u007f\u0001='.split(/(?:)/u)), maxLength: 12 });

describe('the working directory', () => {
  it('accepts odd but legal paths that re-read unchanged', () => {
    for (const ok of [
      '/',
      '/home/u',
      '/home/u/a b',
      '/x/"q"',
      "/x/it's",
      '/x/100%',
      '/x/$HOME',
      '/x/a;b',
      '/x/a\\b',
      '/x/é€😀',
      '/x/ x',
      '/x/a\u00a0',
      '/x/a\u3000',
    ])
      expect(() => checkWorkingDirectory(ok)).not.toThrow();
  });
  it('refuses what a unit file cannot hold or the re-read would change, naming it', () => {
    const cases: [string, RegExp][] = [
      ['/home/u/x\nExecStopPost=+/home/u/p', /a newline/],
      ['/x\r', /carriage return/],
      ['/x\ty', /a tab/],
      ['/x\u007f', /U\+007F/],
      ['/x\u0085y', /U\+0085/],
      ['/x\u0001', /U\+0001/],
      ['/x\\', /backslash/],
      ['/x ', /white space/],
      ['/x/ ', /white space/],
      ['/x//y', /normalized/],
      ['/x/./y', /normalized/],
      ['/x/../y', /normalized/],
      ['/x/', /normalized/],
      ['x', /absolute/],
      ['/\ud800', /Unicode/],
      [`/${'a'.repeat(256)}`, /longer than 255/],
      [`/${'a/'.repeat(2048)}a`, /longer than systemd takes/],
    ];
    for (const [cwd, why] of cases) {
      expect(() => checkWorkingDirectory(cwd), JSON.stringify(cwd)).toThrow(UnsafeValueError);
      expect(() => checkWorkingDirectory(cwd), JSON.stringify(cwd)).toThrow(why);
    }
  });
  it('shows a refused value with every control character escaped, C1 (a terminal CSI) and DEL included', () => {
    expect(shown('a\u009b2Jb\u007f\n')).toBe('"a\\u009b2Jb\\u007f\\n"');
  });
  it('never lets a line break or a trailing backslash through, whatever the path', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (s) => {
        const cwd = `/${s}`;
        let ok = true;
        try {
          checkWorkingDirectory(cwd);
        } catch (e) {
          expect(e).toBeInstanceOf(UnsafeValueError);
          ok = false;
        }
        if (ok) {
          // What systemd's parser strips from a line's end is its WHITESPACE, " \t\n\r" (string-util.h,
          // 252 and 257): a path may end in U+00A0 or U+3000, which the re-read keeps (JS's \s would
          // count them; CI's run of ci-18 drew one).
          expect(cwd).not.toMatch(/[\n\r\0]|\\$|[ \t\n\r]$/);
          expect(cwd.split('/').slice(1)).not.toContain('..');
        }
      }),
      { numRuns: fuzzRuns(5000) },
    );
  });
});

describe("the program's path", () => {
  it('refuses a path systemd would simplify (it would then differ from argv[0])', () => {
    for (const bad of ['/x//a b', '/x/./a', '/x/../a', '/x/a/']) expect(() => checkProgramPath(bad), bad).toThrow(/not a normalized path/);
  });
  it('refuses Unicode noncharacters anywhere they would reach the D-Bus message (sd-bus drops it whole)', () => {
    for (const nc of ['\ufffe', '\uffff', '\ufdd0', '\ufdef', '\u{1fffe}', '\u{10ffff}']) {
      expect(() => checkProgramPath(`/x/a${nc}`)).toThrow(/noncharacter/);
      expect(() => checkWorkingDirectory(`/x/a${nc}`)).toThrow(/noncharacter/);
      expect(() => checkArgument(`a${nc}`, 3)).toThrow(/argument 3 contains the Unicode noncharacter/);
    }
    for (const ok of ['\ufdcf', '\ufff0', '\u{1f600}', 'é']) expect(() => checkArgument(ok, 1)).not.toThrow();
  });
  it('refuses control characters, a relative path and broken Unicode', () => {
    for (const bad of ['/x/a\nExecStopPost=+/p', '/x/\r', '/x/\u0085', 'x', '/\udc00', '/x/"q"', "/x/it's", '/x/a\\b'])
      expect(() => checkProgramPath(bad), JSON.stringify(bad)).toThrow(UnsafeValueError);
    expect(() => checkProgramPath('/x/"q"')).toThrow(/quote or a backslash/);
    for (const ok of ['/usr/bin/firefox', '/x/a b', '/x/%h', '/x/$x', '/x/é', '/x/a;b']) expect(() => checkProgramPath(ok)).not.toThrow();
  });
});

describe('the program label (Description, SyslogIdentifier)', () => {
  it('keeps ordinary names and escapes everything else as systemd-escape does', () => {
    expect(programLabel('/usr/bin/firefox')).toBe('firefox');
    expect(programLabel('/usr/bin/gnome-terminal')).toBe('gnome-terminal');
    expect(programLabel('/usr/bin/g++')).toBe('g++');
    expect(programLabel('/x/a b%')).toBe('a\\x20b\\x25');
    expect(programLabel('/x/é')).toBe('\\xc3\\xa9');
    expect(programLabel('/')).toBe('program');
    expect(programLabel(`/x/${'a'.repeat(100)}`)).toBe('a'.repeat(64));
    expect(programLabel(`/x/${'a'.repeat(62)}é`)).toBe('a'.repeat(62));
  });
  it('is made only of a unit-file-safe alphabet, whatever the name', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (name) => {
        const label = programLabel(`/x/${name.replaceAll('/', '')}`);
        expect(label).toMatch(/^(?:[A-Za-z0-9._+-]|\\x[0-9a-f]{2}){1,64}$/);
        expect(label.length).toBeLessThanOrEqual(64);
      }),
      { numRuns: fuzzRuns(5000) },
    );
  });
});

const HELPER = '/usr/local/lib/ssc/ssc-exec';
const b64 = (x: string) => Buffer.from(x).toString('base64url');
const unb64 = (x: string) => Buffer.from(x, 'base64url').toString('utf8');

describe('the command, as systemd writes and re-reads it', () => {
  it('uses ExecStartEx with no-env-expand from 254, which writes it back as ExecStart=:, and ssc-exec before', () => {
    expect(EXEC_EX_WRITTEN_AS_EXEC_START).toBe(254);
    expect(planExec(257, '/bin/echo', ['echo', '$A', '%h'], HELPER)).toEqual([
      'ExecStartEx',
      [['/bin/echo', ['echo', '$A', '%h'], ['no-env-expand']]],
    ]);
    expect(planExec(253, '/bin/echo', ['echo', '$A', 'b;c'], HELPER)).toEqual([
      'ExecStart',
      [[HELPER, ['ssc-exec', b64('/bin/echo'), b64('echo'), b64('$A'), b64('b;c')], false]],
    ]);
  });
  it("cuts a long argument into words the kernel takes, which ssc-exec joins (a leading '.' continues)", () => {
    const long = `${'é'.repeat(100_000)}x`; // 200 001 bytes, a character split between words
    const words = execWords(long);
    expect(words).toHaveLength(3);
    expect(words[0]).not.toMatch(/^\./);
    for (const w of words.slice(1)) expect(w).toMatch(/^\.[A-Za-z0-9_-]+$/);
    for (const w of words) expect(w.length).toBeLessThan(128 * 1024);
    const joined = Buffer.concat(words.map((w) => Buffer.from(w.replace(/^\./, ''), 'base64url'))).toString('utf8');
    expect(joined).toBe(long);
    expect(execWords('')).toEqual(['']);
    expect(execWords('.x')).toEqual([b64('.x')]);
  });
  it('takes only an ssc-exec path as the helper, one 252 writes and reads back as it is', () => {
    for (const bad of [
      '',
      'ssc-exec',
      '/tmp/x',
      '/a b/ssc-exec',
      '/x/ssc-exec\n',
      '/a$b/ssc-exec',
      '/a;b/ssc-exec',
      '/a"/ssc-exec',
      '/a\\b/ssc-exec',
    ])
      expect(() => planExec(252, '/bin/echo', ['echo'], bad)).toThrow(/exec helper/);
    for (const ok of ['/opt/ssc+1/lib/ssc/ssc-exec', '/opt/é~@/ssc-exec'])
      expect(() => planExec(252, '/bin/echo', ['echo'], ok)).not.toThrow();
  });
  it('refuses a command far too long before building its line', () => {
    const huge = Array<string>(300).fill('\u007f'.repeat(100_000));
    const t = Date.now();
    expect(() => planExec(257, '/x/a', huge, HELPER)).toThrow(/at least \d+ bytes/);
    expect(Date.now() - t).toBeLessThan(500);
  });
  it('writes the lines seen in the beds', () => {
    // Seen in /run/systemd/transient on 252 (a(sasb) from busctl; an ExecStartEx from ssc) and 257.
    expect(
      writtenExecLine(252, [
        'ExecStart',
        [['/bin/sh', ['my sh', '-c', 'printf "%s|" "$@" > /run/t1out; sleep 300', 'a"b c', 'A$$B %% $${HOME} é ; x'], false]],
      ]),
    ).toBe(
      'ExecStart=@/bin/sh "my sh" "-c" "printf \\"%%s|\\" \\"\\$@\\" > /run/t1out\\; sleep 300" "a\\"b c" "A\\$\\$B %%%% \\$\\${HOME} é \\; x"',
    );
    expect(writtenExecLine(252, ['ExecStartEx', [['/usr/bin/sleep', ['sleep', '300'], ['no-env-expand']]]])).toBe(
      'ExecStartEx=:@/usr/bin/sleep "sleep" "300"',
    );
    expect(writtenExecLine(257, ['ExecStartEx', [['/usr/bin/sleep', ['sleep', '300'], ['no-env-expand']]]])).toBe(
      'ExecStart=:@/usr/bin/sleep "sleep" "300"',
    );
  });
  it('passes a path the file would split as argv[0] (254 on), which is quoted', () => {
    const [, [[path, argv]]] = planExec(257, '/x/my prog', ['prog', 'a'], HELPER);
    expect(path).toBe('/x/my prog');
    expect(argv).toEqual(['/x/my prog', 'a']);
    expect(planExec(257, '/x/plain', ['p'], HELPER)[1][0][1][0]).toBe('p');
  });
  it('re-reads to the same program and literal arguments on both sides of the version boundary', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(252, 253, 254, 257, 258),
        fc.string({ unit: fc.constantFrom(...'ab %$;é'.split('')), minLength: 1, maxLength: 8 }),
        fc.array(hostile, { minLength: 1, maxLength: 5 }),
        (v, name, argv) => {
          const path = `/x/${name}`;
          const plan = planExec(v, path, argv, HELPER);
          const line = writtenExecLine(v, plan);
          expect(line).not.toMatch(/[\n\r\0]/);
          const back = readBack(line);
          expect(back.key).toBe('ExecStart');
          if (v < EXEC_EX_WRITTEN_AS_EXEC_START) {
            // Nothing systemd escapes or expands: ssc-exec decodes the words.
            expect(line).toMatch(/^ExecStart=@\/usr\/local\/lib\/ssc\/ssc-exec "ssc-exec"( "[A-Za-z0-9_-]*")+$/);
            expect(back.path).toBe(HELPER);
            expect(back.argv.slice(1).map(unb64)).toEqual([path, ...argv]);
          } else {
            expect(back.path).toBe(path);
            expect(back.argv).toEqual(/ /.test(path) ? [path, ...argv.slice(1)] : argv);
          }
        },
      ),
      { numRuns: fuzzRuns(3000) },
    );
  });
  it('refuses a command whose line the parser would not read, exactly at its limit', () => {
    for (const v of [252, 257]) {
      // The longest last argument planExec takes: its line is at the bound (within a base64 quantum before 254).
      const argv = (n: number) => ['a', 'b'.repeat(n)];
      const ok = (n: number) => {
        try {
          planExec(v, '/x/a', argv(n), HELPER);
          return true;
        } catch (e) {
          expect(e).toBeInstanceOf(UnsafeValueError);
          expect((e as Error).message).toMatch(/at most 1048575 on one line/);
          return false;
        }
      };
      let lo = 0;
      let hi = LONG_LINE_MAX;
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (ok(mid)) lo = mid;
        else hi = mid;
      }
      const line = Buffer.byteLength(writtenExecLine(v, planExec(v, '/x/a', argv(lo), HELPER)));
      expect(line).toBeLessThanOrEqual(LONG_LINE_MAX - 1);
      expect(line).toBeGreaterThan(LONG_LINE_MAX - 1 - (v >= 254 ? 1 : 4));
      expect(ok(lo + 1)).toBe(false);
    }
    // 257: what escaping costs counts, one `"` is two bytes.
    const fixed = Buffer.byteLength(writtenExecLine(257, planExec(257, '/x/a', ['a', ''], HELPER)));
    const fits = 'x'.repeat(LONG_LINE_MAX - 1 - fixed);
    expect(() => planExec(257, '/x/a', ['a', fits], HELPER)).not.toThrow();
    expect(() => planExec(257, '/x/a', ['a', `${fits}x`], HELPER)).toThrow(UnsafeValueError);
    expect(() => planExec(257, '/x/a', ['a', `${fits.slice(1)}"`], HELPER)).toThrow(UnsafeValueError);
    expect(() => planExec(257, '/x/a', ['a', `${fits.slice(1)}é`], HELPER)).toThrow(UnsafeValueError);
    expect(() => planExec(257, '/x/a', ['a', `${fits.slice(1)}$`], HELPER)).not.toThrow();
  });
});

describe("a user manager's Environment= line", () => {
  it('is written C-escaped, every byte of a non-ASCII character four bytes', () => {
    expect(writtenEnvironmentLine(['A=b c', 'B=é"\n%'])).toBe('Environment="A=b c" "B=\\303\\251\\"\\n%%"');
  });
  it('is refused exactly when longer than the parser reads', () => {
    const fixed = Buffer.byteLength(writtenEnvironmentLine(['A=']));
    const fits = `A=${'x'.repeat(LONG_LINE_MAX - 1 - fixed)}`;
    expect(Buffer.byteLength(writtenEnvironmentLine([fits]))).toBe(LONG_LINE_MAX - 1);
    expect(() => checkEnvironmentLine([fits])).not.toThrow();
    expect(() => checkEnvironmentLine([`${fits}x`])).toThrow(UnsafeValueError);
    // 2 bytes of é are 8 written.
    expect(() => checkEnvironmentLine([`${fits.slice(0, -7)}é`])).toThrow(UnsafeValueError);
    expect(() => checkEnvironmentLine([`${fits.slice(0, -8)}é`])).not.toThrow();
  });
});

describe("the manager's version", () => {
  it('is read from the Version property as Debian and upstream state it', () => {
    expect(managerMajor('252.38-1~deb12u1')).toBe(252);
    expect(managerMajor('257.13-1~deb13u1')).toBe(257);
    expect(managerMajor('258')).toBe(258);
    expect(managerMajor('v255')).toBe(255);
    expect(managerMajor('256~rc1')).toBe(256);
    for (const bad of ['', 'systemd', '0', 'x252', '25x']) expect(managerMajor(bad)).toBeNull();
  });
  it("says whether scopes take OOMPolicy=: from 253, and in the 252 stable series from 252.5 (Debian 12's 252.38)", () => {
    const scope = (v: string) => parseManagerVersion(v)?.scopeOomPolicy;
    expect(scope('252.38-1~deb12u1')).toBe(true);
    expect(scope('252.5')).toBe(true);
    expect(scope('252.4')).toBe(false);
    expect(scope('252')).toBe(false);
    expect(scope('251.19')).toBe(false);
    expect(scope('253')).toBe(true);
    expect(scope('256~rc1')).toBe(true);
    expect(scope('v257')).toBe(true);
    expect(parseManagerVersion('systemd')).toBeNull();
  });
});
