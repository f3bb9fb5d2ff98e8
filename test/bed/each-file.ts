/**
 * vitest setupFiles of the 'integration' project: before each test file, the
 * bed must be as every file expects to find it, whatever ran before: ssc
 * installed setuid, its socket listening, no drop-in on the broker's units, no
 * ssc unit of an earlier file still running. A file that leaves the bed otherwise fails the next file here, by
 * name, instead of making it fail somewhere obscure (or pass by luck).
 */
import { beforeAll, expect } from 'vitest';
import { bedSkipReason, getBed } from './index.js';
import { SSC_BIN } from './users.js';

beforeAll(async () => {
  if (bedSkipReason()) return;
  const bed = getBed();
  const setuid = await bed.run(['test', '-u', SSC_BIN]);
  expect(setuid.code, `${SSC_BIN} is not installed setuid (an earlier file left the bed without it)`).toBe(0);
  const socket = await bed.run(['systemctl', 'is-active', 'ssc-broker.socket']);
  expect(socket.stdout, 'ssc-broker.socket is not listening (an earlier file left it stopped)').toBe('active\n');
  const dropIns = await bed.run(['systemctl', 'show', '-P', 'DropInPaths', 'ssc-broker.service', 'ssc-broker.socket']);
  expect(dropIns.stdout.trim(), 'an earlier file left a drop-in on the broker').toBe('');
  // An earlier file's units: given a moment to end (a program's own last milliseconds), then none may run.
  let units = '';
  for (let i = 0; i < 50; i++) {
    units = (
      await bed.run(['systemctl', 'list-units', '--no-legend', '--plain', '--state=active,activating,deactivating', 'app-ssc-*'])
    ).stdout.trim();
    if (units === '') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(units, 'ssc units an earlier file left running').toBe('');
});
