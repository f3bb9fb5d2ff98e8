import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Bed } from '../bed/bed.js';
import { bedSkipReason, getBed } from '../bed/index.js';
import { TEST_USERS } from '../bed/users.js';
import { encodeHandoff, F_PRIVILEGED } from '../../src/handoff.js';
import { frame, LAUNCH, START } from '../../src/ipc.js';

/**
 * The broker's side of the exchange, driven by a stand-in launcher and front end
 * (a small Python program run as root in the bed with the caller's real uid, as
 * the setuid launcher is before its drop): it connects to the broker socket,
 * sends the hello with a sealed hand-off and its pidfd exactly as the launcher
 * does, then says what a real front end would, or stops half-way.
 */

const skip = bedSkipReason();
const alice = TEST_USERS.sscalice;

/** Connects as the launcher would; writes TO_BROKER, half-closes, prints the reply (hex). */
const STANDIN = `
import os, sys, socket, fcntl, struct
handoff, to_broker, uid, gid = bytearray(bytes.fromhex(sys.argv[1])), bytes.fromhex(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
os.setresgid(gid, 0, 0)
os.setresuid(uid, 0, 0)
handoff[36:40] = struct.pack('<I', os.getpid())  # the header's pid: the connecting process
fd = os.memfd_create('ssc-handoff', os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
os.write(fd, handoff)
fcntl.fcntl(fd, 1033, 0x1 | 0x2 | 0x4 | 0x8)  # F_ADD_SEALS: SEAL, SHRINK, GROW, WRITE
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect('/run/ssc-broker.sock')
socket.send_fds(s, [b'SSC1'], [fd, os.pidfd_open(os.getpid()), 0, 1, 2])
s.sendall(to_broker)
s.shutdown(socket.SHUT_WR)
reply = b''
while True:
    try:
        b = s.recv(65536)
    except ConnectionResetError:  # the broker closed with our frames unread
        break
    if not b: break
    reply += b
print('reply=' + reply.hex())
`;

function request(unit: string, change: Record<string, unknown> = {}) {
  return JSON.stringify({
    kind: 'service',
    profile: 'relaxed',
    unit,
    // Runs long enough to stay listed: a unit that started shows, whatever else happened.
    execPath: '/bin/sleep',
    argv: ['sleep', '60'],
    cwd: '/',
    environment: [['SSC_PROTOCOL_TEST', 'x']],
    stdio: 'journal',
    ...change,
  });
}

describe.skipIf(skip)(`the broker's exchange with the front end${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let bed: Bed;
  beforeAll(() => {
    bed = getBed();
  });
  afterAll(async () => {
    await bed.sh("systemctl stop 'app-ssc-sleep@00000000000000a*.service'; systemctl reset-failed; true");
  });

  /** The unit's journal after journald has written all it received (journalctl --sync). */
  async function journalOf(unit: string): Promise<string> {
    expect((await bed.run(['journalctl', '--sync'])).code).toBe(0);
    return (await bed.run(['journalctl', '--no-pager', '-o', 'cat', '-u', unit])).stdout;
  }

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
    const r = await bed.run([
      '/usr/bin/python3',
      '-c',
      STANDIN,
      handoff.toString('hex'),
      toBroker.toString('hex'),
      String(alice.uid),
      String(alice.gid),
    ]);
    expect(r.stderr).toBe('');
    const replyHex = /^reply=([0-9a-f]*)$/m.exec(r.stdout)?.[1];
    const units = await bed.run(['systemctl', 'list-units', '--all', '--no-legend', '--plain', unit]);
    const envFiles = await bed.sh('ls -A /run/ssc 2>/dev/null || true');
    return { reply: Buffer.from(replyHex ?? '', 'hex'), units: units.stdout, envFiles: envFiles.stdout };
  }

  it('starts the unit once the front end says "start", and replies with it', async () => {
    const unit = 'app-ssc-sleep@00000000000000a1.service';
    const r = await exchange(Buffer.concat([frame(LAUNCH), frame(request(unit)), frame(START)]), unit);
    expect(r.reply.subarray(4).toString()).toBe(JSON.stringify({ ok: true, unit }));
    expect(r.envFiles).toBe('');
    // What the refusals below are measured with: a started unit is listed, and its start is in the journal.
    expect(r.units).toMatch(/ active /);
    expect(await journalOf(unit)).toMatch(/sleep \(ssc relaxed\)/);
    await bed.run(['systemctl', 'stop', unit]);
  });

  it('starts nothing and leaves no environment file when the front end ends the stream before "start"', async () => {
    const unit = 'app-ssc-sleep@00000000000000a2.service';
    const r = await exchange(Buffer.concat([frame(LAUNCH), frame(request(unit))]), unit);
    expect(r.reply.length).toBe(0);
    expect(r.units).toBe('');
    expect(r.envFiles).toBe('');
    expect(await journalOf(unit)).not.toMatch(/ssc relaxed/);
  });

  it('starts nothing when the last frame is anything but "start"', async () => {
    const unit = 'app-ssc-sleep@00000000000000a3.service';
    const r = await exchange(Buffer.concat([frame(LAUNCH), frame(request(unit)), frame('stop!')]), unit);
    expect(r.units).toBe('');
    expect(r.envFiles).toBe('');
    expect(await journalOf(unit)).not.toMatch(/ssc relaxed/);
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
    const unit = 'app-ssc-sleep@00000000000000a5.service';
    const r = await exchange(Buffer.concat([frame(LAUNCH), frame(request(unit, change)), frame(START)]), unit);
    const reply = JSON.parse(r.reply.subarray(4).toString()) as { ok: boolean; kind: string; message: string };
    expect(reply).toMatchObject({ ok: false, kind: 'unsafe' });
    expect(reply.message).toMatch(why);
    expect(r.units).toBe('');
    expect(r.envFiles).toBe('');
    expect((await bed.run(['test', '-e', `/run/systemd/transient/${unit}`])).code).toBe(1);
  });

  it('never connects without "launch": a request alone gets no answer and no unit', async () => {
    const unit = 'app-ssc-sleep@00000000000000a4.service';
    const r = await exchange(Buffer.concat([frame(request(unit)), frame(START)]), unit);
    expect(r.reply.length).toBe(0);
    expect(r.units).toBe('');
  });
});
