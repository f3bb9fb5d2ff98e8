/**
 * Passing SIGINT, SIGTERM, SIGHUP and SIGQUIT received by a waiting ssc on to
 * the program. The unit runs as the caller, so ssc may signal it without any
 * privilege. Handlers go in before the unit is started: a signal that arrives
 * before the program's PID is known is held and delivered as soon as it is.
 */
export const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'] as const;
type Forwarded = (typeof FORWARDED_SIGNALS)[number];

export class SignalForwarder {
  private pid = 0;
  private readonly held: Forwarded[] = [];
  private readonly handlers = new Map<Forwarded, () => void>();

  constructor(private readonly kill: (pid: number, sig: Forwarded) => void = (pid, sig) => process.kill(pid, sig)) {
    for (const sig of FORWARDED_SIGNALS) {
      const h = () => this.deliver(sig);
      this.handlers.set(sig, h);
      process.on(sig, h);
    }
  }

  setPid(pid: number): void {
    if (pid <= 0 || pid === this.pid) return;
    this.pid = pid;
    for (const sig of this.held.splice(0)) this.deliver(sig);
  }

  private deliver(sig: Forwarded): void {
    if (this.pid <= 0) {
      this.held.push(sig);
      return;
    }
    try {
      this.kill(this.pid, sig);
    } catch {
      /* the program is already gone */
    }
  }

  dispose(): void {
    for (const [sig, h] of this.handlers) process.off(sig, h);
    this.handlers.clear();
  }
}
