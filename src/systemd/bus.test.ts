import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { marshallMessage } from 'dbus-next/lib/marshall-compat.js';
import { unmarshalMessages } from 'dbus-next/lib/message.js';
import { Message } from 'dbus-next/lib/message-type.js';
import { afterEach, describe, expect, it } from 'vitest';
import { Bus, throughNet, type IgnoredSignal, type Signal } from './bus.js';

const METHOD_RETURN = 2;
const SIGNAL = 4;

interface Incoming {
  serial: number;
  member?: string;
  body?: unknown[];
}

/**
 * A stand-in for dbus-daemon on a unix socket, for the client's own logic only
 * (framing, trust, queueing, teardown): authentication, then whatever the test
 * answers. Integration tests use the real bus.
 */
class FakeBus {
  readonly server: Server;
  readonly path: string;
  readonly calls: Incoming[] = [];
  sock: Socket | null = null;
  private readonly dir = mkdtempSync(join(tmpdir(), 'ssc-bus-test-'));
  private waiters: (() => void)[] = [];

  constructor(private readonly mode: 'normal' | 'drop-at-auth' | 'silent' = 'normal') {
    this.path = join(this.dir, 'bus');
    this.server = createServer((s) => this.serve(s));
  }

  listen(): Promise<string> {
    return new Promise((r) => this.server.listen(this.path, () => r(`unix:path=${this.path}`)));
  }

  private serve(s: Socket): void {
    this.sock = s;
    s.on('error', () => undefined);
    let text = '';
    const onData = (d: Buffer) => {
      text += d.toString('latin1');
      if (this.mode === 'silent') return;
      if (text.includes('AUTH') && this.mode === 'drop-at-auth') return void s.destroy();
      if (text.includes('AUTH EXTERNAL') && !text.includes('OK-SENT')) {
        text += 'OK-SENT';
        s.write('OK 0123456789abcdef0123456789abcdef\r\n');
      }
      const begin = text.indexOf('BEGIN\r\n');
      if (begin >= 0) {
        s.off('data', onData);
        const rest = Buffer.from(text.slice(begin + 7).replace('OK-SENT', ''), 'latin1');
        unmarshalMessages(s, (m) => this.onCall(m as Incoming), {});
        if (rest.length > 0) s.unshift(rest);
      }
    };
    s.on('data', onData);
  }

  private onCall(m: Incoming): void {
    this.calls.push(m);
    if (m.member === 'Hello') this.reply(m.serial, 's', [':1.5']);
    for (const w of this.waiters.splice(0)) w();
  }

  reply(serial: number, signature: string, body: unknown[]): void {
    const fields = { type: METHOD_RETURN, serial: 1000 + serial, replySerial: serial, signature, body };
    const msg = new Message(fields as ConstructorParameters<typeof Message>[0]);
    this.sock?.write(marshallMessage(Object.assign(msg, { sender: 'org.freedesktop.DBus' }))[0]);
  }

  signal(sender: string, member: string, signature: string, body: unknown[], path = '/x', iface = 'x.y'): void {
    const msg = new Message({ type: SIGNAL, serial: 77, path, interface: iface, member, signature, body });
    this.sock?.write(marshallMessage(Object.assign(msg, { sender }))[0]);
  }

  async until(test: () => boolean): Promise<void> {
    for (let i = 0; i < 200 && !test(); i++) await new Promise<void>((r) => this.waiters.push(r) && setTimeout(r, 10));
    expect(test()).toBe(true);
  }

  close(): void {
    this.sock?.destroy();
    this.server.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const fakes: FakeBus[] = [];
async function fake(mode?: 'normal' | 'drop-at-auth' | 'silent'): Promise<{ f: FakeBus; address: string }> {
  const f = new FakeBus(mode);
  fakes.push(f);
  return { f, address: await f.listen() };
}
afterEach(() => {
  for (const f of fakes.splice(0)) f.close();
});

describe('Bus', () => {
  it("reads the signals of a followed owner, and of anyone else only the header; a new owner's are read once the bus says so", async () => {
    const { f, address } = await fake();
    const bus = await Bus.connect({ address });
    const got: Signal[] = [];
    const ignored: IgnoredSignal[] = [];
    bus.onSignal((s) => got.push(s));
    bus.onIgnoredSignal((s) => ignored.push(s));
    const { owner, ready } = bus.followOwner('org.freedesktop.systemd1');
    ready.catch(() => undefined); // its AddMatch is never answered here
    await f.until(() => f.calls.some((c) => c.member === 'GetNameOwner'));
    const ask = f.calls.find((c) => c.member === 'GetNameOwner') as Incoming;
    f.reply(ask.serial, 's', [':1.1']);
    await f.until(() => owner() === ':1.1');
    f.signal(':1.1', 'FromSystemd', 's', ['real']);
    f.signal(':1.66', 'FromStranger', 's', ['lie']);
    await f.until(() => got.some((s) => s.member === 'FromSystemd') && ignored.length === 1);
    expect(got.filter((s) => s.member !== 'NameOwnerChanged').map((s) => [s.sender, s.body])).toEqual([[':1.1', ['real']]]);
    expect(ignored).toEqual([{ sender: ':1.66', path: '/x', interface: 'x.y', member: 'FromStranger' }]);
    // Control: the same sender's body is read once the bus itself says it owns the name.
    f.signal(
      'org.freedesktop.DBus',
      'NameOwnerChanged',
      'sss',
      ['org.freedesktop.systemd1', ':1.1', ':1.66'],
      '/org/freedesktop/DBus',
      'org.freedesktop.DBus',
    );
    await f.until(() => owner() === ':1.66');
    f.signal(':1.66', 'FromNewOwner', 's', ['after reexec']);
    await f.until(() => got.some((s) => s.member === 'FromNewOwner'));
    expect(got.find((s) => s.member === 'FromNewOwner')?.body).toEqual(['after reexec']);
    bus.close();
  });

  it('sends at most maxPending calls at once and the rest in order as answers come', async () => {
    const { f, address } = await fake();
    const bus = await Bus.connect({ address });
    await bus.hello;
    bus.maxPending = 2;
    const answers = ['A', 'B', 'C', 'D'].map((m) => bus.callRaw('org.x.Y', '/x', 'x.y', m, '', []));
    for (const a of answers) a.catch(() => undefined);
    await f.until(() => f.calls.filter((c) => c.member !== 'Hello').length === 2);
    await new Promise((r) => setTimeout(r, 50));
    expect(f.calls.filter((c) => c.member !== 'Hello').map((c) => c.member)).toEqual(['A', 'B']);
    const b = f.calls.find((c) => c.member === 'B') as Incoming;
    f.reply(b.serial, 's', ['b']);
    await f.until(() => f.calls.some((c) => c.member === 'C'));
    expect(f.calls.filter((c) => c.member !== 'Hello').map((c) => c.member)).toEqual(['A', 'B', 'C']);
    expect(await answers[1]).toEqual(['b']);
    bus.close();
    await expect(answers[0]).rejects.toThrow(/closed/);
    await expect(answers[3]).rejects.toThrow(/closed/); // still queued: fails, never sent
    expect(f.calls.some((c) => c.member === 'D')).toBe(false);
  });

  it('when the bus ends the connection, waiting calls fail, onClose hears why, and the socket is closed', async () => {
    const { f, address } = await fake();
    const bus = await Bus.connect({ address });
    await bus.hello;
    const pending = bus.callRaw('org.x.Y', '/x', 'x.y', 'Slow', '', []);
    let heard: Error | null = null;
    bus.onClose((e) => (heard = e));
    await f.until(() => f.calls.some((c) => c.member === 'Slow'));
    f.sock?.end();
    await expect(pending).rejects.toThrow(/closed the connection/);
    expect(heard).toBeInstanceOf(Error);
    expect((heard as Error | null)?.message).toMatch(/closed the connection/);
    expect(bus.isClosed).toBe(true);
    await f.until(() => f.sock?.destroyed === true || f.sock?.readableEnded === true);
    await expect(bus.callRaw('org.x.Y', '/x', 'x.y', 'After', '', [])).rejects.toThrow(/closed/);
  });

  it('connect fails, not hangs, when the bus drops the connection during authentication', async () => {
    const { address } = await fake('drop-at-auth');
    await expect(Bus.connect({ address })).rejects.toThrow();
  });

  it('connect with a timeout gives up on a bus that never answers and closes its socket', async () => {
    const { f, address } = await fake('silent');
    const t0 = Date.now();
    await expect(Bus.connect({ address, timeoutMs: 200 })).rejects.toThrow(/did not answer in time/);
    expect(Date.now() - t0).toBeLessThan(2000);
    await f.until(() => f.sock !== null && (f.sock.destroyed || f.sock.readableEnded));
    // Control: without the timeout the same bus keeps it waiting.
    const { address: a2 } = await fake('silent');
    const r = await Promise.race([
      Bus.connect({ address: a2 }).then(
        () => 'connected',
        () => 'failed',
      ),
      new Promise((res) => setTimeout(() => res('waiting'), 300)),
    ]);
    expect(r).toBe('waiting');
  });
});

describe('connections without descriptors go through Node sockets', () => {
  it('rewrites a unix path or abstract address to dbus-next\'s "socket" form, and leaves others', () => {
    expect(throughNet('unix:path=/run/dbus/system_bus_socket')).toBe('unix:socket=/run/dbus/system_bus_socket');
    expect(throughNet('unix:abstract=/tmp/dbus-x')).toBe('unix:socket=\0/tmp/dbus-x');
    expect(throughNet('unix:path=/a,guid=1')).toBe('unix:socket=/a');
    expect(throughNet('unix:abstract=/tmp/dbus-AbC,guid=0123')).toBe('unix:socket=\0/tmp/dbus-AbC');
    expect(throughNet('unix:path=/run/user/1000/my%20bus;unix:path=/other')).toBe('unix:socket=/run/user/1000/my bus');
    expect(throughNet('unix:path=/a%2Cb')).toBe('unix:path=/a%2Cb');
    expect(throughNet('unix:tmpdir=/tmp')).toBe('unix:tmpdir=/tmp');
    expect(throughNet('tcp:host=x,port=1')).toBe('tcp:host=x,port=1');
  });
});
