#!/usr/bin/python3
"""Terminal mode figures, run as root inside the test bed by scripts/bench.ts.

For each variant (the program started directly on a pseudo-terminal; through
`ssc -isolation=relaxed` as the test user; through `systemd-run --pty` as root):
  rss_kib     resident memory of what the launcher leaves running beside the
              program for the session (ssc: ssc-tab; systemd-run: its forwarder)
  cat_s       seconds to cat a file of SIZE_MB through the terminal (the pty is
              read as fast as possible, like a terminal emulator's reader)
  echo_us     median round trip of one byte written to the terminal and echoed
              back by `cat` in raw mode, over SAMPLES samples
Prints one JSON object.
"""
import json
import os
import pty
import select
import statistics
import sys
import time

UID, GID, SIZE_MB, SAMPLES = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
BIG = '/var/tmp/ssc-bench-big'
ENV = {'PATH': '/usr/local/bin:/usr/bin:/bin', 'HOME': '/', 'LANG': 'C.UTF-8', 'TERM': 'xterm'}


def as_user(argv):
    return ['setpriv', f'--reuid={UID}', f'--regid={GID}', '--init-groups', '--', *argv]


VARIANTS = {
    'direct': lambda prog: as_user(prog),
    'ssc': lambda prog: as_user(['/usr/local/bin/ssc', '-isolation=relaxed', *prog]),
    'systemd-run --pty': lambda prog: ['systemd-run', '--pty', '--quiet', f'--uid={UID}', f'--gid={GID}', '-p', 'MemoryMax=70%', *prog],
}


def spawn(argv):
    pid, fd = pty.fork()
    if pid == 0:
        os.execvpe(argv[0], argv, ENV)
    return pid, fd


def read_until(fd, marker, timeout=30):
    buf = b''
    end = time.monotonic() + timeout
    while marker not in buf:
        r, _, _ = select.select([fd], [], [], max(0, end - time.monotonic()))
        if not r:
            raise TimeoutError(f'no {marker!r} in {buf[-200:]!r}')
        buf += os.read(fd, 65536)
    return buf


def drain_and_wait(pid, fd):
    total = 0
    while True:
        try:
            chunk = os.read(fd, 1 << 20)
        except OSError:  # EIO: the terminal's last writer is gone
            break
        if not chunk:
            break
        total += len(chunk)
    os.waitpid(pid, 0)
    os.close(fd)
    return total


def rss_kib(pid):
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    return 0


def children(pid):
    with open(f'/proc/{pid}/task/{pid}/children') as f:
        return [int(p) for p in f.read().split()]


def resident(name):
    """What stays beside the program: the process pty.fork started, if it is not the program itself."""
    pid, fd = spawn(VARIANTS[name](['/bin/sh', '-c', 'echo READY; exec sleep 3']))
    read_until(fd, b'READY')
    time.sleep(0.5)
    with open(f'/proc/{pid}/comm') as f:
        comm = f.read().strip()
    kib = 0 if comm == 'sleep' else rss_kib(pid)
    drain_and_wait(pid, fd)
    return kib, comm


def cat_seconds(name):
    t0 = time.monotonic()
    pid, fd = spawn(VARIANTS[name](['/bin/cat', BIG]))
    got = drain_and_wait(pid, fd)
    secs = time.monotonic() - t0
    if got < SIZE_MB << 20:
        raise RuntimeError(f'{name}: only {got} bytes arrived')
    return secs


def echo_us(name):
    pid, fd = spawn(VARIANTS[name](['/bin/sh', '-c', 'stty raw -echo; echo READY; exec cat']))
    read_until(fd, b'READY')
    time.sleep(0.3)
    samples = []
    for _ in range(SAMPLES):
        t0 = time.perf_counter_ns()
        os.write(fd, b'x')
        read_until(fd, b'x', timeout=5)
        samples.append((time.perf_counter_ns() - t0) / 1000)
    os.write(fd, b'\x04')
    os.kill(pid, 15)
    drain_and_wait(pid, fd)
    return statistics.median(samples)


with open(BIG, 'wb') as f:
    block = b''.join(b'%07d ssc terminal throughput line\n' % i for i in range(1 << 14))
    while f.tell() < SIZE_MB << 20:
        f.write(block)
os.chmod(BIG, 0o644)
try:
    out = {}
    for name in VARIANTS:
        kib, comm = resident(name)
        out[name] = {'rss_kib': kib, 'resident': comm, 'cat_s': cat_seconds(name), 'echo_us': echo_us(name)}
    print(json.dumps(out))
finally:
    os.unlink(BIG)
