/**
 * The one exchange between the unprivileged front end and the root broker, over
 * the launcher's socketpair: the front end writes one JSON request and
 * half-closes; the broker answers with one JSON reply and closes.
 */
import { Socket } from 'node:net';

export type BrokerReply =
  | { ok: true; unit: string }
  | {
      ok: false;
      /** 'request': the request was refused; 'start': systemd did not start the unit; 'internal': the broker failed. */
      kind: 'request' | 'start' | 'internal';
      message: string;
      unit?: string;
      result?: string;
      execMainCode?: number;
      execMainStatus?: number;
    };

export function socketOnFd(fd: number): Socket {
  return new Socket({ fd, readable: true, writable: true, allowHalfOpen: true });
}

/** Read until end of stream, refusing more than `limit` bytes. */
export function readAll(sock: Socket, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    sock.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        sock.destroy();
        reject(new Error(`message larger than ${limit} bytes`));
        return;
      }
      chunks.push(c);
    });
    sock.once('end', () => resolve(Buffer.concat(chunks)));
    sock.once('error', reject);
  });
}

export function writeAndEnd(sock: Socket, data: string): Promise<void> {
  return new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.end(data, () => resolve());
  });
}
