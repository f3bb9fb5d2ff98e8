/**
 * The broker's side of the exchange, driven by a stand-in front end (a small
 * Python program run as root in the bed, since it needs memfd_create): the
 * installed broker.js gets a sealed hand-off on fd 3 and the socket on fd 4,
 * exactly as the launcher gives them, and the stand-in then says what a real
 * front end would, or stops half-way.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bed } from '../bed/bed.js';
import { bedSkipReason, getBed } from '../bed/index.js';
import { SSC_PREFIX, TEST_USERS } from '../bed/users.js';
import { encodeHandoff, F_PRIVILEGED } from '../../src/handoff.js';
import { frame, LAUNCH, START } from '../../src/ipc.js';

const skip = bedSkipReason();
const alice = TEST_USERS.sscalice;
const BROKER = `${SSC_PREFIX}/lib/ssc/broker.js`;

/** Runs the broker with HANDOFF on fd 3; writes TO_BROKER, half-closes, prints the reply (hex) and the broker's status. */
const STANDIN = `
import os, socket, sys, fcntl
handoff, to_broker, node, broker = bytes.fromhex(sys.argv[1]), bytes.fromhex(sys.argv[2]), sys.argv[3], sys.argv[4]
fd = os.memfd_create('ssc-handoff', os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
os.write(fd, handoff)
fcntl.fcntl(fd, 1033, 0x1 | 0x2 | 0x4 | 0x8)  # F_ADD_SEALS: SEAL, SHRINK, GROW, WRITE
ours, theirs = socket.socketpair()
pid = os.fork()
if pid == 0:
    # Only fds 0-2 and the two dup2 copies survive the exec: everything of ours is close-on-exec.
    for src, dst in ((fd, 3), (theirs.fileno(), 4)):
        if src == dst: os.set_inheritable(dst, True)  # dup2 onto itself would keep close-on-exec
        else: os.dup2(src, dst)
    os.execve(node, [node, broker], {'PATH': '/usr/bin:/bin'})
theirs.close()
ours.sendall(to_broker)
ours.shutdown(socket.SHUT_WR)
reply = b''
while True:
    try:
        b = ours.recv(65536)
    except ConnectionResetError:  # the broker closed with our frames unread
        break
    if not b: break
    reply += b
print('reply=' + reply.hex())
print('status=%d' % os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
`;

function request(unit: string, change: Record<string, unknown> = {}) {
  return JSON.stringify({
    kind: 'service',
    profile: 'relaxed',
    unit,
    execPath: '/bin/true',
    argv: ['true'],
    cwd: '/',
    environment: [['SSC_PROTOCOL_TEST', 'x']],
    stdio: 'journal',
    ...change,
  });
}

describe.skipIf(skip)(`the broker's exchange with the front end${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let bed: Bed;
  let node = '';
  beforeAll(async () => {
    bed = getBed();
    // The node the launcher was built to run, from its marker string (as install.sh reads it).
    const marker = await bed.sh(`grep -ao 'ssc-launcher-config: [^;]*;' ${SSC_PREFIX}/bin/ssc | head -1`);
    node = /node=([^;]*);/.exec(marker.stdout)?.[1] ?? '';
    expect(node).toMatch(/^\//);
  });
  afterAll(async () => {
    await bed.run(['systemctl', 'reset-failed']);
  });

  async function exchange(toBroker: Buffer, unit: string) {
    const handoff = encodeHandoff({
      header: {
        flags: F_PRIVILEGED,
        privileged: true,
        ruid: alice.uid,
        rgid: alice.gid,
        umask: 0o22,
        cwdErrno: 0,
        nofileSoft: 1024,
        pid: 1,
        groups: [alice.gid, ...alice.extraGroups.map((g) => g.gid)],
      },
      argv: [Buffer.from('ssc'), Buffer.from('true')],
      env: [],
      cwd: Buffer.from('/'),
    });
    const r = await bed.run(['/usr/bin/python3', '-c', STANDIN, handoff.toString('hex'), toBroker.toString('hex'), node, BROKER]);
    expect(r.stderr).toBe('');
    const replyHex = /^reply=([0-9a-f]*)$/m.exec(r.stdout)?.[1];
    const status = /^status=(-?\d+)$/m.exec(r.stdout)?.[1];
    const units = await bed.run(['systemctl', 'list-units', '--all', '--no-legend', '--plain', unit]);
    const envFiles = await bed.sh('ls -A /run/ssc 2>/dev/null || true');
    return { reply: Buffer.from(replyHex ?? '', 'hex'), status: Number(status), units: units.stdout, envFiles: envFiles.stdout };
  }

  it('starts the unit once the front end says "start", and replies with it', async () => {
    const unit = 'app-ssc-true@00000000000000a1.service';
    const r = await exchange(Buffer.concat([frame(LAUNCH), frame(request(unit)), frame(START)]), unit);
    expect(r.status).toBe(0);
    expect(r.reply.subarray(4).toString()).toBe(JSON.stringify({ ok: true, unit }));
    expect(r.envFiles).toBe('');
    const log = await bed.run(['journalctl', '--no-pager', '-o', 'cat', '-u', unit]);
    expect(log.stdout).toMatch(/true \(ssc relaxed\)/);
  });

  it('starts nothing and leaves no environment file when the front end ends the stream before "start"', async () => {
    const unit = 'app-ssc-true@00000000000000a2.service';
    const r = await exchange(Buffer.concat([frame(LAUNCH), frame(request(unit))]), unit);
    expect(r.status).toBe(0);
    expect(r.reply.length).toBe(0);
    expect(r.units).toBe('');
    expect(r.envFiles).toBe('');
    const log = await bed.run(['journalctl', '--no-pager', '-o', 'cat', '-u', unit]);
    expect(log.stdout).not.toMatch(/ssc relaxed/);
  });

  it('starts nothing when the last frame is anything but "start"', async () => {
    const unit = 'app-ssc-true@00000000000000a3.service';
    const r = await exchange(Buffer.concat([frame(LAUNCH), frame(request(unit)), frame('stop!')]), unit);
    expect(r.status).toBe(0);
    expect(r.units).toBe('');
    expect(r.envFiles).toBe('');
    // `true` ends at once and its unit is collected: the journal says whether it ever ran.
    expect((await bed.run(['journalctl', '--no-pager', '-o', 'cat', '-u', unit])).stdout).not.toMatch(/ssc relaxed/);
  });

  // The privileged side checks what reaches the unit file itself: a front end that skips its own checks gets nothing.
  it.each([
    [
      'a working directory with a newline',
      { cwd: '/tmp\nExecStopPost=+/bin/touch /run/ssc-protocol-proof' },
      /current directory .* contains a newline/,
    ],
    [
      'a program path with a newline',
      { execPath: '/bin/true\nExecStopPost=+/bin/touch /run/ssc-protocol-proof' },
      /program's path .* contains a newline/,
    ],
    ['a working directory ending in a backslash', { cwd: '/tmp\\' }, /backslash/],
    ['a working directory systemd would rewrite', { cwd: '/tmp/../tmp' }, /normalized/],
    ['a program path systemd would rewrite', { execPath: '/bin//true' }, /normalized/],
    ['an argument sd-bus would drop the whole message for', { argv: ['true', 'a\ufffeb'] }, /noncharacter/],
  ])('refuses %s itself: an "unsafe" reply, no unit, no environment file', async (_what, change, why) => {
    const unit = 'app-ssc-true@00000000000000a5.service';
    const r = await exchange(Buffer.concat([frame(LAUNCH), frame(request(unit, change)), frame(START)]), unit);
    expect(r.status).toBe(0);
    const reply = JSON.parse(r.reply.subarray(4).toString()) as { ok: boolean; kind: string; message: string };
    expect(reply).toMatchObject({ ok: false, kind: 'unsafe' });
    expect(reply.message).toMatch(why);
    expect(r.units).toBe('');
    expect(r.envFiles).toBe('');
    expect((await bed.run(['test', '-e', `/run/systemd/transient/${unit}`])).code).toBe(1);
  });

  it('never connects without "launch": a request alone gets no answer and no unit', async () => {
    const unit = 'app-ssc-true@00000000000000a4.service';
    const r = await exchange(Buffer.concat([frame(request(unit)), frame(START)]), unit);
    expect(r.status).toBe(0);
    expect(r.reply.length).toBe(0);
    expect(r.units).toBe('');
  });
});
