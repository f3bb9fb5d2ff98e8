#!/usr/bin/python3
"""Which processes of a user hold a system-bus connection that root opened.

  root-bus-fds.py scan UID STOP_FILE   scan every process of UID (real uid) until STOP_FILE
                                       exists (it writes STOP_FILE.ready once the first scan
                                       is done); prints one JSON object
  root-bus-fds.py hold UID GID         the positive control: opens and authenticates a
                                       system-bus connection as root, and a child that
                                       inherits it drops to UID:GID for good, prints
                                       "held PID" and waits (the root parent exits)

A descriptor is a root bus connection when its socket's peer is the bus daemon's (sock_diag:
the peer of a socket bound to .../dbus/system_bus_socket, the name accepted sockets inherit)
and the socket was created by uid 0 (the socket inode's owner, which sock_diag reports as
UNIX_DIAG_UID). Who opened it is not asked of the bus, whose answer (busctl's PID) names the
process that connected, not the ones holding the descriptor now. Sockets created in another
network namespace (the broker's PrivateNetwork) are missing from this namespace's dump, but
their peer on the bus side is not, which is all the match needs.
"""
import json
import os
import socket
import struct
import sys
import time

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG_DONE, NLMSG_ERROR = 3, 2
UDIAG_SHOW_NAME, UDIAG_SHOW_PEER, UDIAG_SHOW_UID = 0x1, 0x4, 0x40
UNIX_DIAG_NAME, UNIX_DIAG_PEER, UNIX_DIAG_UID = 0, 2, 7
BUS_NAME_SUFFIX = b'/dbus/system_bus_socket'


def unix_sockets():
    """inode -> (name, peer inode, owner uid) for every AF_UNIX socket of this network namespace."""
    nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_SOCK_DIAG)
    try:
        req = struct.pack('=BBHIII8x', socket.AF_UNIX, 0, 0, 0xFFFFFFFF, 0, UDIAG_SHOW_NAME | UDIAG_SHOW_PEER | UDIAG_SHOW_UID)
        nl.send(struct.pack('=IHHII', 16 + len(req), SOCK_DIAG_BY_FAMILY, NLM_F_REQUEST | NLM_F_DUMP, 1, 0) + req)
        out = {}
        while True:
            data = nl.recv(1 << 20)
            off = 0
            while off + 16 <= len(data):
                length, kind, _flags, _seq, _pid = struct.unpack_from('=IHHII', data, off)
                if kind == NLMSG_DONE:
                    return out
                if kind == NLMSG_ERROR:
                    raise OSError('sock_diag dump failed')
                ino = struct.unpack_from('=I', data, off + 16 + 4)[0]
                name, peer, uid = None, 0, None
                a = off + 16 + 16
                while a + 4 <= off + length:
                    alen, atype = struct.unpack_from('=HH', data, a)
                    if alen < 4:
                        break
                    payload = data[a + 4 : a + alen]
                    if atype == UNIX_DIAG_NAME:
                        name = payload.rstrip(b'\0')  # a path name comes with its NUL
                    elif atype == UNIX_DIAG_PEER:
                        peer = struct.unpack('=I', payload[:4])[0]
                    elif atype == UNIX_DIAG_UID:
                        uid = struct.unpack('=I', payload[:4])[0]
                    a += (alen + 3) & ~3
                out[ino] = (name, peer, uid)
                off += (length + 3) & ~3
    finally:
        nl.close()


def real_uid(pid):
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith('Uid:'):
                return int(line.split()[1])
    return None


def scan(uid, totals):
    socks = unix_sockets()
    bus_side = {ino for ino, (name, _, _) in socks.items() if name and name.endswith(BUS_NAME_SUFFIX)}
    bus_clients = {peer for ino in bus_side for peer in [socks[ino][1]] if peer}
    found = []
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            if real_uid(pid) != uid:
                continue
            totals['processes'].add(pid)
            fds = os.listdir(f'/proc/{pid}/fd')
        except OSError:
            continue  # gone meanwhile
        for fd in fds:
            path = f'/proc/{pid}/fd/{fd}'
            try:
                link = os.readlink(path)
                if not link.startswith('socket:['):
                    continue
                ino = int(link[8:-1])
                if ino not in bus_clients:
                    continue
                owner = os.stat(path).st_uid
            except OSError:
                continue
            diag = socks.get(ino, (None, 0, None))[2]
            if diag is not None and diag != owner:
                found.append({'pid': int(pid), 'fd': int(fd), 'error': f'sock_diag uid {diag}, inode owner {owner}'})
            if owner == 0 or diag == 0:
                comm = open(f'/proc/{pid}/comm').read().strip() if os.path.exists(f'/proc/{pid}/comm') else '?'
                found.append({'pid': int(pid), 'comm': comm, 'fd': int(fd), 'inode': ino})
            else:
                totals['own_bus_sockets'].add(ino)
    totals['bus_side'] = max(totals['bus_side'], len(bus_side))
    return found


def main_scan(uid, stop):
    totals = {'processes': set(), 'own_bus_sockets': set(), 'bus_side': 0}
    found, scans = [], 0
    while True:
        last = os.path.exists(stop)
        for f in scan(uid, totals):
            if f not in found:
                found.append(f)
        scans += 1
        if scans == 1:
            open(stop + '.ready', 'w').close()
        if last:
            break
        time.sleep(0.005)
    print(json.dumps({
        'scans': scans,
        'processes': len(totals['processes']),
        'own_bus_sockets': len(totals['own_bus_sockets']),
        'bus_side': totals['bus_side'],
        'root_bus_fds': found,
    }))


def main_hold(uid, gid):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect('/run/dbus/system_bus_socket')
    s.sendall(b'\0AUTH EXTERNAL 30\r\n')
    if not s.recv(256).startswith(b'OK '):
        sys.exit('the bus refused root')
    s.sendall(b'BEGIN\r\n')
    # Inherited, as a leaked descriptor would be: the bus still names the root parent that connected.
    if os.fork() != 0:
        os._exit(0)
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    print('held', os.getpid(), flush=True)
    time.sleep(60)


if __name__ == '__main__':
    if sys.argv[1] == 'scan':
        main_scan(int(sys.argv[2]), sys.argv[3])
    else:
        main_hold(int(sys.argv[2]), int(sys.argv[3]))
