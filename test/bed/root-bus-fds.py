#!/usr/bin/python3
"""Which processes of a user hold a system-bus connection that root opened.

  root-bus-fds.py scan UID STOP_FILE   scan every process of UID (any of its uids) until
                                       STOP_FILE exists (it writes STOP_FILE.ready once the
                                       first scan is done); prints one JSON object
  root-bus-fds.py hold UID GID [--net] the positive control: opens a system-bus connection as
                                       root (in a network namespace of its own with --net, as
                                       the broker's PrivateNetwork= makes it), authenticates and
                                       says Hello (its unique name in /run/ssc-test-hold.name);
                                       a child that inherits it drops to UID:GID for good,
                                       prints "held PID NAME" and waits (the parent exits)

A descriptor is a root bus connection when its peer is the bus daemon and the socket was
created by uid 0. Each socket descriptor of the user's processes is copied in (pidfd_getfd)
and asked its peer's address (getpeername: a connected client's peer has the listener's
path, .../dbus/system_bus_socket, whatever network namespace either end is in) and its
creator (the socket inode's owner, which sock_diag reports as UNIX_DIAG_UID; sock_diag is
asked too, where it can see the socket, and must agree). Who opened it is not asked of the
bus: busctl names the process that connected, not the ones holding the descriptor now.
"""
import ctypes
import importlib.util
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
SYS_PIDFD_GETFD = 438  # the same number on every architecture since 5.6
libc = ctypes.CDLL(None, use_errno=True)


def peer_of(pidfd, fd):
    """The peer address of the target's descriptor fd (a copy is taken and closed), or None."""
    mine = libc.syscall(SYS_PIDFD_GETFD, pidfd, fd, 0)
    if mine < 0:
        return None
    try:
        s = socket.socket(fileno=mine)
    except OSError:
        os.close(mine)
        return None
    try:
        if s.family != socket.AF_UNIX:
            return None
        name = s.getpeername()
        return name.encode() if isinstance(name, str) else name
    except OSError:
        return None
    finally:
        s.close()


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


def uids(pid):
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith('Uid:'):
                return {int(u) for u in line.split()[1:]}
    return set()


def scan(uid, totals):
    diag = unix_sockets()
    found = []
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            if uid not in uids(pid):
                continue
            totals['processes'].add(pid)
            pidfd = os.pidfd_open(int(pid))
        except OSError:
            continue  # gone meanwhile
        try:
            fds = os.listdir(f'/proc/{pid}/fd')
        except OSError:
            fds = []
        for fd in fds:
            path = f'/proc/{pid}/fd/{fd}'
            try:
                link = os.readlink(path)
                if not link.startswith('socket:['):
                    continue
                ino = int(link[8:-1])
                owner = os.stat(path).st_uid
            except OSError:
                continue
            peer = peer_of(pidfd, int(fd))
            if peer is None or not peer.rstrip(b'\0').endswith(BUS_NAME_SUFFIX):
                continue
            seen = diag.get(ino, (None, 0, None))[2]
            if seen is not None and seen != owner:
                found.append({'pid': int(pid), 'fd': int(fd), 'error': f'sock_diag uid {seen}, inode owner {owner}'})
            if owner == 0:
                try:
                    comm = open(f'/proc/{pid}/comm').read().strip()
                except OSError:
                    comm = '?'
                found.append({'pid': int(pid), 'comm': comm, 'fd': int(fd), 'inode': ino, 'diag_visible': seen is not None})
            else:
                totals['own_bus_sockets'].add(ino)
        os.close(pidfd)
    totals['diag_sockets'] = max(totals['diag_sockets'], len(diag))
    return found


def main_scan(uid, stop):
    totals = {'processes': set(), 'own_bus_sockets': set(), 'diag_sockets': 0}
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
        'diag_sockets': totals['diag_sockets'],
        'root_bus_fds': found,
    }))


def main_hold(uid, gid, own_net):
    if own_net and libc.unshare(0x40000000) != 0:  # CLONE_NEWNET, as PrivateNetwork= makes one: both ends live there
        sys.exit('unshare(CLONE_NEWNET): ' + os.strerror(ctypes.get_errno()))
    spec = importlib.util.spec_from_file_location('raw_dbus', os.path.join(os.path.dirname(__file__), 'raw-dbus.py'))
    raw = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(raw)
    s, name = raw.connect()  # authenticated as root, Hello answered: a name the bus lists
    with open('/run/ssc-test-hold.name', 'w') as f:
        f.write(name)
    # Inherited, as a leaked descriptor would be: the bus still names the root parent that connected.
    if os.fork() != 0:
        os._exit(0)
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    print('held', os.getpid(), name, flush=True)
    time.sleep(60)


if __name__ == '__main__':
    if sys.argv[1] == 'scan':
        main_scan(int(sys.argv[2]), sys.argv[3])
    else:
        main_hold(int(sys.argv[2]), int(sys.argv[3]), '--net' in sys.argv[4:])
