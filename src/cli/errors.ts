/** An expected failure: one `ssc:` line on stderr and an exit code, never a stack trace. */
export class SscError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
    this.name = 'SscError';
  }
}

export function warn(message: string): void {
  process.stderr.write(`ssc: ${message}\n`);
}
