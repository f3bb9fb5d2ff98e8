/**
 * A real terminal for the tests: a tmux server inside the bed, run as a test
 * user, whose panes run ssc as a terminal emulator would (the pane's command is
 * the terminal's "custom command"). Keys go in with send-keys, the screen comes
 * out with capture-pane, resize-window resizes, kill-session hangs up.
 */
import type { Bed } from './bed.js';
import type { TestUserName } from './bed.js';

export interface PaneState {
  dead: boolean;
  status: number | null;
}

export class Tmux {
  private readonly socket: string;

  constructor(
    private readonly bed: Bed,
    private readonly user: TestUserName,
    name = 'ssc-tests',
    /** Environment of the tmux server, which its panes inherit. */
    private readonly env?: Record<string, string>,
    /** A command the server is started through (e.g. `systemd-run --user --scope`: panes in the user manager). */
    private readonly serverWrap: string[] = [],
  ) {
    this.socket = name;
  }

  async tmux(...args: string[]): Promise<string> {
    const r = await this.bed.run(['tmux', '-L', this.socket, ...args], { user: this.user, env: this.env });
    if (r.code !== 0) throw new Error(`tmux ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
    return r.stdout;
  }

  private ready = false;

  /** The server, with panes kept after their program ends (set before any pane exists: a fast program could end first). */
  private async init(): Promise<void> {
    if (this.ready) return;
    const r = await this.bed.run(
      [...this.serverWrap, 'tmux', '-L', this.socket, 'new-session', '-d', '-s', 'keepalive', 'sleep 2147483647'],
      {
        user: this.user,
        env: this.env,
      },
    );
    if (r.code !== 0) throw new Error(`tmux server: exit ${r.code}: ${r.stderr}`);
    await this.tmux('set-option', '-wg', 'remain-on-exit', 'on');
    this.ready = true;
  }

  /** A detached session of the given size running `command` (a shell command line); the pane stays after it ends. */
  async start(session: string, command: string, { width = 100, height = 30 } = {}): Promise<void> {
    await this.init();
    await this.tmux('new-session', '-d', '-s', session, '-x', String(width), '-y', String(height), command);
  }

  /** Type: plain strings are typed literally; Enter, C-c, C-z, C-\\ ... are keys. */
  async type(session: string, text: string): Promise<void> {
    await this.tmux('send-keys', '-t', session, '-l', text);
  }

  async keys(session: string, ...keys: string[]): Promise<void> {
    await this.tmux('send-keys', '-t', session, ...keys);
  }

  /** Type a line and press Enter. */
  async line(session: string, text: string): Promise<void> {
    await this.type(session, text);
    await this.keys(session, 'Enter');
  }

  async screen(session: string): Promise<string> {
    return this.tmux('capture-pane', '-p', '-t', session);
  }

  async pane(session: string): Promise<PaneState> {
    const out = (await this.tmux('display-message', '-p', '-t', session, '#{pane_dead} #{pane_dead_status}')).trim();
    const [dead, status] = out.split(' ');
    return { dead: dead === '1', status: status === undefined || status === '' ? null : Number(status) };
  }

  /** Wait until the screen matches, or fail with what it shows. */
  async waitFor(session: string, pattern: RegExp, timeoutMs = 10_000): Promise<string> {
    const until = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < until) {
      last = await this.screen(session);
      if (pattern.test(last)) return last;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`screen of ${session} never matched ${pattern}; it shows:\n${last}`);
  }

  /** Wait until the pane's program has ended; its exit status (tmux: 128+N after signal N is shown as the signal). */
  async waitDead(session: string, timeoutMs = 10_000): Promise<PaneState> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      const p = await this.pane(session);
      if (p.dead) return p;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`the program in ${session} did not end; screen:\n${await this.screen(session)}`);
  }

  async resize(session: string, width: number, height: number): Promise<void> {
    await this.tmux('resize-window', '-t', session, '-x', String(width), '-y', String(height));
  }

  /** Close the "tab": the pane's terminal hangs up. */
  async hangUp(session: string): Promise<void> {
    await this.tmux('kill-session', '-t', session);
  }

  async killServer(): Promise<void> {
    await this.bed.run(['tmux', '-L', this.socket, 'kill-server'], { user: this.user });
  }
}
