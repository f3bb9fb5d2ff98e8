#!/usr/bin/python3
"""A bare system-bus client for tests: sends what no well-behaved client sends, or takes it in.

  raw-dbus.py big DEST MIB     a unicast signal to DEST whose body is MIB MiB of empty byte
                               arrays (aay: what costs a decoder most per byte)
  raw-dbus.py fds DEST N       N unicast signals to DEST, each carrying 16 descriptors (h x 16)
  raw-dbus.py hello            connect, print the unique name the bus gave, and close
  raw-dbus.py listen SECONDS   connect, print the unique name, then print what arrived within
                               SECONDS, or until 2 s passed without a byte once something came:
                               "got BYTES bytes FDS fds" (the control: what a client that takes
                               everything would hold)

Speaks the wire protocol itself (little-endian), so that it needs nothing but Python.
"""
import os, socket, struct, sys, time, array

BUS = '/run/dbus/system_bus_socket'


def pad(b, n):
    return b + b'\0' * (-len(b) % n)


def field(code, sig, value):
    """One header field (yv), starting 8-aligned."""
    out = struct.pack('<B', code) + struct.pack('<B', len(sig)) + sig.encode() + b'\0'
    if sig in ('s', 'o'):
        out = pad(out, 4) + struct.pack('<I', len(value)) + value.encode() + b'\0'
    elif sig == 'g':
        out += struct.pack('<B', len(value)) + value.encode() + b'\0'
    elif sig == 'u':
        out = pad(out, 4) + struct.pack('<I', value)
    return out


serial = 0


def message(mtype, fields, body=b'', nfds=0):
    global serial
    serial += 1
    if nfds:
        fields = fields + [(9, 'u', nfds)]
    raw = b''
    for f in fields:
        raw = pad(raw, 8) + field(*f)
    head = struct.pack('<cBBBIII', b'l', mtype, 0, 1, len(body), serial, len(raw)) + raw
    return pad(head, 8) + body


def connect(fds=False):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(BUS)
    s.sendall(b'\0AUTH EXTERNAL ' + str(os.getuid()).encode().hex().encode() + b'\r\n')
    assert s.recv(4096).startswith(b'OK'), 'authentication refused'
    if fds:
        s.sendall(b'NEGOTIATE_UNIX_FD\r\n')
        assert s.recv(4096).startswith(b'AGREE_UNIX_FD'), 'no fd passing'
    s.sendall(b'BEGIN\r\n')
    s.sendall(message(1, [(1, 'o', '/org/freedesktop/DBus'), (2, 's', 'org.freedesktop.DBus'), (3, 's', 'Hello'), (6, 's', 'org.freedesktop.DBus')]))
    # The reply's body is the unique name: a string at the end of the first message.
    buf = b''
    while True:
        buf += s.recv(4096)
        if len(buf) >= 16:
            body_len, fields_len = struct.unpack_from('<I', buf, 4)[0], struct.unpack_from('<I', buf, 12)[0]
            start = 16 + fields_len + (-(16 + fields_len) % 8)
            if len(buf) >= start + body_len:
                n = struct.unpack_from('<I', buf, start)[0]
                return s, buf[start + 4:start + 4 + n].decode()


def signal_to(dest, signature, body, nfds=0):
    return message(4, [(1, 'o', '/org/ssc/test'), (2, 's', 'org.ssc.Test'), (3, 's', 'Noise'), (6, 's', dest), (8, 'g', signature)], body, nfds)


def main():
    mode = sys.argv[1]
    if mode == 'big':
        s, _ = connect()
        n = int(sys.argv[3]) * 1024 * 1024 // 4 - 1
        body = struct.pack('<I', 4 * n) + bytes(4 * n)
        s.sendall(signal_to(sys.argv[2], 'aay', body))
        # A round trip after it: the bus has taken the whole signal once this returns.
        s.sendall(message(1, [(1, 'o', '/org/freedesktop/DBus'), (2, 's', 'org.freedesktop.DBus'), (3, 's', 'GetId'), (6, 's', 'org.freedesktop.DBus')]))
        s.settimeout(60)
        print('sent', len(body), 'bytes' if s.recv(4096) else 'closed', flush=True)
    elif mode == 'fds':
        s, _ = connect(fds=True)
        nulls = [os.open('/dev/null', os.O_RDONLY) for _ in range(16)]
        body = b''.join(struct.pack('<I', i) for i in range(16))
        for _ in range(int(sys.argv[3])):
            socket.send_fds(s, [signal_to(sys.argv[2], 'h' * 16, body, nfds=16)], nulls)
        s.sendall(message(1, [(1, 'o', '/org/freedesktop/DBus'), (2, 's', 'org.freedesktop.DBus'), (3, 's', 'GetId'), (6, 's', 'org.freedesktop.DBus')]))
        s.settimeout(60)
        print('sent', int(sys.argv[3]) * 16, 'fds' if s.recv(4096) else 'closed', flush=True)
    elif mode == 'hello':
        s, name = connect()
        print(name, flush=True)
        s.close()
    elif mode == 'listen':
        s, name = connect(fds=True)
        print(name, flush=True)
        end = time.time() + float(sys.argv[2])
        total, fds = 0, 0
        while time.time() < end:
            s.settimeout(max(0.01, min(end - time.time(), 2 if total > 1024 else 3600)))
            try:
                data, anc, _, _ = s.recvmsg(1 << 20, socket.CMSG_SPACE(64 * 4))
            except socket.timeout:
                break
            total += len(data)
            for level, kind, cdata in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    got = array.array('i', cdata[: len(cdata) - len(cdata) % 4])
                    fds += len(got)
                    for fd in got:
                        os.close(fd)
            if not data:
                break
        print('got', total, 'bytes', fds, 'fds', flush=True)
    else:
        raise SystemExit('unknown mode ' + mode)


if __name__ == '__main__':
    main()
