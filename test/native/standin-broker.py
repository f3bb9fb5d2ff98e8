#!/usr/bin/python3
"""Stand-in for ssc-broker.service used by launcher-check.mjs: listens on the broker socket
(inside the check's private /run), and for each connection reports what the launcher sent
(SO_PEERCRED, the hello and its descriptors, the hand-off read through the memfd) as JSON in
OUT/broker.json, then answers the front end's "ping" with "pong"."""
import base64, fcntl, json, os, socket, struct, sys, threading

F_GET_SEALS = 1034
path, out = sys.argv[1], sys.argv[2]


def link(fd):
    try:
        return os.readlink(f'/proc/self/fd/{fd}')
    except OSError:
        return None


def serve(conn):
    try:
        conn.settimeout(10)
        pid, uid, gid = struct.unpack('3i', conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
        data, fds, _, _ = socket.recv_fds(conn, 64, 16)
        report = {'peer': {'pid': pid, 'uid': uid, 'gid': gid}, 'hello': data.decode('latin1'), 'fds': [link(f) for f in fds]}
        if len(fds) == 5:
            memfd, pidfd = fds[0], fds[1]
            size = os.fstat(memfd).st_size
            report['handoff'] = base64.b64encode(os.pread(memfd, size, 0)).decode()
            report['seals'] = fcntl.fcntl(memfd, F_GET_SEALS)
            try:
                os.pwrite(memfd, b'x', 0)
                report['write'] = 'succeeded'
            except OSError as e:
                report['write'] = 'EPERM' if e.errno == 1 else str(e.errno)
            with open(f'/proc/self/fdinfo/{pidfd}') as f:
                report['pidfdPid'] = int(next(l for l in f if l.startswith('Pid:')).split()[1])
        got = conn.recv(16)
        report['exchange'] = {'got': got.decode('latin1')}
        with open(os.path.join(out, 'broker.json.tmp'), 'w') as f:
            json.dump(report, f)
        os.rename(os.path.join(out, 'broker.json.tmp'), os.path.join(out, 'broker.json'))
        if got:
            conn.sendall(b'pong')
        for f in fds:
            os.close(f)
    except Exception as e:  # a launcher killed half-way: nothing to report
        print('standin-broker:', e, file=sys.stderr)
    finally:
        conn.close()


s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
os.chmod(path, 0o600)
s.listen(64)
print('listening', flush=True)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
