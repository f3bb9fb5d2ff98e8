// Types for the parts of dbus-next 0.10.2 that ssc loads directly. ssc avoids the
// package's index (MessageBus pulls in xml2js for introspection, and the
// unixexec: transport pulls in event-stream): the launch path needs only the
// connection, the message type and variants.
declare module 'dbus-next/lib/connection.js' {
  import type { EventEmitter } from 'node:events';
  export interface Connection extends EventEmitter {
    stream: NodeJS.ReadWriteStream & {
      readableLength: number;
      fd?: number;
      _handle?: { fd?: number };
      supportsUnixFd?: boolean;
      destroy?: () => void;
    };
    message(msg: unknown): void;
    end(): Connection;
    state?: string;
  }
  function createConnection(opts: { busAddress: string; authMethods?: string[]; negotiateUnixFd?: boolean }): Connection;
  export default createConnection;
}
declare module 'dbus-next/lib/message-type.js' {
  export class Message {
    constructor(msg: {
      type?: number;
      serial?: number;
      destination?: string;
      path?: string;
      interface?: string;
      member?: string;
      signature?: string;
      body?: unknown[];
      flags?: number;
    });
    serial: number | null;
    type: number;
    replySerial?: number;
    sender?: string;
    path?: string;
    interface?: string;
    member?: string;
    errorName?: string;
    signature?: string;
    body: unknown[];
  }
}
declare module 'dbus-next/lib/variant.js' {
  export class Variant<T = unknown> {
    constructor(signature: string, value: T);
    signature: string;
    value: T;
  }
}
declare module 'dbus-next/lib/dbus-buffer.js' {
  export default class DBusBuffer {
    constructor(buffer: Buffer, startPos: number, endian: number, fds: number[], options: object);
    readArray(elementType: object, length: number): unknown[];
    read(signature: string): unknown[];
  }
}
declare module 'dbus-next/lib/marshall-compat.js' {
  import type { Message } from 'dbus-next/lib/message-type.js';
  export function messageToJsFmt(message: Record<string, unknown>): ConstructorParameters<typeof Message>[0];
  export function marshallMessage(message: Message): [Buffer, number[]];
}
declare module 'dbus-next/lib/message.js' {
  export function unmarshalMessages(stream: NodeJS.ReadableStream, onMessage: (m: { body?: unknown[] }) => void, opts: object): void;
}
