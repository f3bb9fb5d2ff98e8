#!/usr/bin/python3
"""A stand-in for ssc's setuid launcher at the broker socket, for tests run as root in a bed.

It does what the launcher does before it drops privileges (real uid of the caller, effective
uid root), and can then do what the launcher never does, so each of the broker's checks can
be shown refusing it (and, as the positive control, the same steps done right being served).

  fake-launcher.py UID GID MODE [ARG]

MODE:
  serve          a correct hello, then "launch" and a request that is not JSON: prints the reply
  wrong-ids      a hello whose header claims UID+1: prints what the broker answers (nothing)
  no-fds         the hello bytes without descriptors
  silent         connects, sends nothing; prints "closed after N s" when the broker gives up
  late-fds       a correct hello, then a second message carrying a pipe's read end; prints
                 whether a write to the pipe still finds a reader (the broker kept the fd)
  hello-stdin    as late-fds, but the pipe's read end goes in the hello as stdin (the control)
  scope-gone     a hello, "launch", a scope request ARG (JSON) for this process; the process whose
                 pidfd went exits before "start", a child sends it: prints the reply
  scope-alive    the same with the process alive and dropped to the caller (the control)
  scope-root     alive, but still with effective uid 0 (a front end made to exec a setuid program)
  hold           a correct hello and "launch", then nothing until killed (a start in progress)
  stall          a correct hello and "launch", then nothing: prints "closed after N s" when the
                 broker gives up
  flood N        N connections in a row, each closed at once
  stop ARG       a correct hello, then "stop" and the stop request ARG (JSON): prints the reply
                 (what ssc stop's front end sends, for units the front end would never name)
"""
import json, os, pwd, socket, struct, sys, time, fcntl, errno, signal

SOCK = '/run/ssc-broker.sock'
F_SEAL = fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE


def handoff(uid, gid):
    """The sealed memfd, laid out as native/launcher/handoff.h says."""
    groups = os.getgrouplist(pwd.getpwuid(uid).pw_name, gid)
    head = struct.pack('<4sIIIIIIIIII', b'SSCH', 2, 44 + 4 * len(groups), 1, uid, gid, 0o022, 0, 1024, os.getpid(), len(groups))
    head += struct.pack('<%dI' % len(groups), *groups)
    data = struct.pack('<I', 0) + struct.pack('<I', 0) + struct.pack('<I', 1) + b'/'
    fd = os.memfd_create('ssc-handoff', os.MFD_ALLOW_SEALING)
    os.write(fd, head + data)
    fcntl.fcntl(fd, fcntl.F_ADD_SEALS, F_SEAL)
    return fd


def frame(b):
    return struct.pack('<I', len(b)) + b


def read_reply(s, timeout=10):
    s.settimeout(timeout)
    buf = b''
    try:
        while True:
            c = s.recv(65536)
            if not c:
                break
            buf += c
    except socket.timeout:
        return 'timeout'
    except ConnectionResetError:
        return 'reset'
    if len(buf) < 4:
        return 'closed without a reply'
    n = struct.unpack('<I', buf[:4])[0]
    return json.loads(buf[4:4 + n])


def connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(SOCK)
    return s


def hello(s, uid, gid, stdin=0, claim_uid=None):
    memfd = handoff(claim_uid if claim_uid is not None else uid, gid)
    pidfd = os.pidfd_open(os.getpid())
    socket.send_fds(s, [b'SSC1'], [memfd, pidfd, stdin, 1, 2])
    os.close(memfd)
    os.close(pidfd)


def main():
    uid, gid, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    arg = sys.argv[4] if len(sys.argv) > 4 else None
    os.setresgid(gid, 0, 0)
    os.setresuid(uid, 0, 0)
    if mode == 'flood':
        for _ in range(int(arg)):
            try:
                connect().close()
            except OSError as e:
                print('connect failed', errno.errorcode[e.errno])
                return
        print('flooded')
        return
    s = connect()
    if mode == 'silent':
        t = time.time()
        s.settimeout(30)
        try:
            s.recv(1)
        except OSError:
            pass
        print('closed after %d s' % round(time.time() - t))
        return
    if mode == 'no-fds':
        s.sendall(b'SSC1')
        print(json.dumps(read_reply(s)))
        return
    if mode in ('late-fds', 'hello-stdin'):
        r, w = os.pipe()
        hello(s, uid, gid, stdin=r if mode == 'hello-stdin' else 0)
        if mode == 'late-fds':
            socket.send_fds(s, [b'x'], [r])
        os.close(r)
        time.sleep(0.5)  # the broker has read what came
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        try:
            os.write(w, b'x')
            print('a reader holds the pipe')
        except BrokenPipeError:
            print('no reader holds the pipe')
        s.close()
        return
    if mode == 'wrong-ids':
        hello(s, uid, gid, claim_uid=uid + 1)
        s.sendall(frame(b'launch') + frame(b'not json'))
        print(json.dumps(read_reply(s)))
        return
    hello(s, uid, gid)
    if mode == 'hold':
        s.sendall(frame(b'launch'))
        print('holding', flush=True)
        time.sleep(600)
        return
    if mode == 'stall':
        t = time.time()
        s.sendall(frame(b'launch'))
        s.settimeout(90)
        try:
            while s.recv(4096):
                pass
        except OSError:
            pass
        print('closed after %d s' % round(time.time() - t))
        return
    if mode == 'stop':
        s.sendall(frame(b'stop') + frame(arg.encode()))
        s.shutdown(socket.SHUT_WR)
        print(json.dumps(read_reply(s)))
        return
    if mode == 'serve':
        s.sendall(frame(b'launch') + frame(b'not json') + frame(b'start'))
        s.shutdown(socket.SHUT_WR)
        print(json.dumps(read_reply(s)))
        return
    if mode in ('scope-gone', 'scope-alive', 'scope-root'):
        return scope(mode, arg)
    raise SystemExit('unknown mode ' + mode)


def scope(mode, request):
    """The process that connects (and whose pidfd goes in the hello) is a child; it hands the
    connection to its parent and, for scope-gone, exits before the parent says "start"."""
    a, b = socket.socketpair()
    child = os.fork()
    if child == 0:
        a.close()
        s = connect()
        hello(s, int(sys.argv[1]), int(sys.argv[2]))
        s.sendall(frame(b'launch') + frame(request.encode()))
        socket.send_fds(b, [b'c'], [s.fileno()])
        if mode != 'scope-root':  # the launcher's drop: every id the caller's
            os.setresgid(int(sys.argv[2]), int(sys.argv[2]), int(sys.argv[2]))
            os.setresuid(int(sys.argv[1]), int(sys.argv[1]), int(sys.argv[1]))
        b.recv(1)  # alive until the parent says
        os._exit(0)
    _, fds, _, _ = socket.recv_fds(a, 1, 1)
    s = socket.socket(fileno=fds[0])
    time.sleep(0.5)  # the broker has taken the hello and the request
    if mode == 'scope-gone':
        a.send(b'x')
        os.waitpid(child, 0)
    s.sendall(frame(b'start'))
    s.shutdown(socket.SHUT_WR)
    print(json.dumps(read_reply(s)), flush=True)
    if mode != 'scope-gone':
        a.send(b'x')
        os.waitpid(child, 0)


main()
