import { describe, expect, it } from 'vitest';
import { DesktopEntry } from './entry.js';
import { parseExec } from './exec.js';
import { readMarker, WrapError, wrapEntry } from './wrap.js';

const SOURCE = `[Desktop Entry]
# a comment that stays
Version=1.0
Type=Application
Name=Web Browser
Name[de]=Webbrowser
Comment[fr]=Naviguer sur le Web
Exec=/usr/lib/firefox-esr/firefox-esr %u
TryExec=firefox-esr
Icon=firefox-esr
MimeType=text/html;x-scheme-handler/http;
Categories=Network;WebBrowser;
StartupWMClass=firefox-esr
DBusActivatable=true
Actions=new-window;private;

[Desktop Action new-window]
Name=New Window
Exec=/usr/lib/firefox-esr/firefox-esr --new-window %u

[Desktop Action private]
Name=New Private Window
Exec=sh -c "exec firefox-esr --private-window \\\\"$1\\\\"" sh %u
`;
const OPTS = {
  ssc: '/usr/local/bin/ssc',
  profile: 'strict',
  sourcePath: '/usr/share/applications/firefox-esr.desktop',
  sourceSha256: 'ab'.repeat(32),
};

describe('wrapEntry', () => {
  const out = wrapEntry(SOURCE, OPTS);
  const e = DesktopEntry.parse(out);
  it('runs every Exec line, main and actions, through ssc --no-tty with the profile, arguments and field codes intact', () => {
    expect(parseExec(e.get('Desktop Entry', 'Exec') as string)).toEqual([
      '/usr/local/bin/ssc',
      '--no-tty',
      '--isolation=strict',
      '--',
      '/usr/lib/firefox-esr/firefox-esr',
      '%u',
    ]);
    expect(parseExec(e.get('Desktop Action new-window', 'Exec') as string).slice(4)).toEqual([
      '/usr/lib/firefox-esr/firefox-esr',
      '--new-window',
      '%u',
    ]);
    expect(parseExec(e.get('Desktop Action private', 'Exec') as string).slice(4)).toEqual([
      'sh',
      '-c',
      'exec firefox-esr --private-window "$1"',
      'sh',
      '%u',
    ]);
  });
  it('turns D-Bus activation off, which would bypass Exec', () => {
    expect(e.get('Desktop Entry', 'DBusActivatable')).toBe('false');
  });
  it('keeps every other line as it was, in order', () => {
    const kept = (t: string) => t.split('\n').filter((l) => !/^(Exec|DBusActivatable|X-SSC-[A-Za-z0-9-]+)=/.test(l));
    expect(kept(out)).toEqual(kept(SOURCE));
  });
  it('marks the entry with the profile, the source and its hash', () => {
    expect(readMarker(out)).toEqual({ profile: 'strict', source: OPTS.sourcePath, sourceSha256: OPTS.sourceSha256, backup: null });
    expect(readMarker(SOURCE)).toBeNull();
    expect(readMarker(wrapEntry(SOURCE, { ...OPTS, backup: '/home/u/.local/share/applications/.ssc-backup/x.desktop' }))?.backup).toBe(
      '/home/u/.local/share/applications/.ssc-backup/x.desktop',
    );
  });
  it('refuses what it cannot or must not wrap', () => {
    expect(() => wrapEntry(out, OPTS)).toThrow(WrapError);
    expect(() => wrapEntry('[Desktop Entry]\nType=Link\nURL=https://x\n', OPTS)).toThrow(/not an application/);
    expect(() => wrapEntry('[Desktop Entry]\nType=Application\nDBusActivatable=true\nName=x\n', OPTS)).toThrow(/no Exec/);
    expect(() => wrapEntry('Name=x\n', OPTS)).toThrow(/not a desktop entry/);
  });
  it('wraps an entry whose Exec has no field code', () => {
    const w = wrapEntry('[Desktop Entry]\nType=Application\nName=XTerm\nExec=xterm\n', OPTS);
    expect(DesktopEntry.parse(w).get('Desktop Entry', 'Exec')).toBe('/usr/local/bin/ssc --no-tty --isolation=strict -- xterm');
  });
});
