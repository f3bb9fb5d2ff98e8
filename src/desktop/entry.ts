/**
 * Desktop entry files, kept line by line so that what ssc does not change
 * (comments, translations, unknown keys, their order) is written back byte for
 * byte. Pure: text in, text out.
 */

type Line =
  | { kind: 'group'; name: string; raw: string }
  | { kind: 'key'; key: string; value: string; raw: string }
  | { kind: 'other'; raw: string };

export class DesktopEntry {
  private constructor(private readonly lines: Line[]) {}

  static parse(text: string): DesktopEntry {
    const lines: Line[] = [];
    for (const raw of text.split('\n')) {
      const group = /^\[([^\]\n]+)\]\s*$/.exec(raw);
      if (group) {
        lines.push({ kind: 'group', name: group[1] as string, raw });
        continue;
      }
      const kv = /^([A-Za-z0-9-]+(?:\[[^\]]+\])?)\s*=\s?(.*)$/.exec(raw);
      if (kv && !raw.startsWith('#')) lines.push({ kind: 'key', key: kv[1] as string, value: kv[2] as string, raw });
      else lines.push({ kind: 'other', raw });
    }
    // A final newline is an empty last line: keep it as such.
    return new DesktopEntry(lines);
  }

  toString(): string {
    return this.lines.map((l) => l.raw).join('\n');
  }

  groups(): string[] {
    return this.lines.filter((l): l is Extract<Line, { kind: 'group' }> => l.kind === 'group').map((l) => l.name);
  }

  /** Index range [start, end) of a group's lines after its header; null if absent. */
  private range(group: string): [number, number] | null {
    const start = this.lines.findIndex((l) => l.kind === 'group' && l.name === group);
    if (start < 0) return null;
    let end = start + 1;
    while (end < this.lines.length && this.lines[end]?.kind !== 'group') end++;
    return [start + 1, end];
  }

  get(group: string, key: string): string | null {
    const r = this.range(group);
    if (!r) return null;
    for (let i = r[0]; i < r[1]; i++) {
      const l = this.lines[i] as Line;
      if (l.kind === 'key' && l.key === key) return l.value;
    }
    return null;
  }

  /** Set a key (raw value, already escaped), replacing it in place or adding it at the group's end. */
  set(group: string, key: string, value: string): void {
    const r = this.range(group);
    if (!r) throw new Error(`no [${group}] group`);
    const raw = `${key}=${value}`;
    for (let i = r[0]; i < r[1]; i++) {
      const l = this.lines[i] as Line;
      if (l.kind === 'key' && l.key === key) {
        this.lines[i] = { kind: 'key', key, value, raw };
        return;
      }
    }
    // After the group's last key, before trailing blank lines and comments.
    let at = r[1];
    while (at > r[0] && this.lines[at - 1]?.kind === 'other' && (this.lines[at - 1] as Line).raw.trim() === '') at--;
    this.lines.splice(at, 0, { kind: 'key', key, value, raw });
  }

  remove(group: string, key: string): void {
    const r = this.range(group);
    if (!r) return;
    for (let i = r[1] - 1; i >= r[0]; i--) {
      const l = this.lines[i] as Line;
      if (l.kind === 'key' && l.key === key) this.lines.splice(i, 1);
    }
  }
}
