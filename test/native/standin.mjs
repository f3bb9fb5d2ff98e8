// Stand-in for the front end (ssc.js) used by launcher-check.mjs: it reports what the launcher
// gave it (ids, fds, environment, limits, the raw hand-off) as JSON in ../out/<role>.json, and
// pings the stand-in broker (standin-broker.py) over the connection on fd 4.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const __dirname = path.dirname(fileURLToPath(import.meta.url));

const role = (path.basename(__dirname) === 'dev-lib' ? 'dev-' : '') + 'front';
const out = path.join(__dirname, '..', 'out');

function link(fd) {
  try {
    return fs.readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return null;
  }
}

function readHandoff() {
  let size;
  try {
    size = fs.fstatSync(3).size;
  } catch {
    return { data: null };
  }
  const buf = Buffer.alloc(size);
  let off = 0;
  for (;;) {
    const n = fs.readSync(3, buf, off, size - off, null); // current offset: must be private and at 0
    if (n === 0 || off + n === size) {
      off += n;
      break;
    }
    off += n;
  }
  let write;
  try {
    fs.writeSync(3, 'x');
    write = 'succeeded';
  } catch (e) {
    write = e.code;
  }
  const flags = /flags:\s*(\d+)/.exec(fs.readFileSync('/proc/self/fdinfo/3', 'utf8'));
  return { data: buf.subarray(0, off).toString('base64'), size, write, flags: flags ? parseInt(flags[1], 8) : null };
}

function socketExchange() {
  if (!(link(4) || '').startsWith('socket:')) return null; // unprivileged: fd 4 is Node's own
  const buf = Buffer.alloc(16);
  fs.writeSync(4, 'ping');
  const n = fs.readSync(4, buf, 0, buf.length, null);
  return { sent: 'ping', got: buf.subarray(0, n).toString() };
}

const handoff = readHandoff();
const exchange = socketExchange();
// The real addon when launcher-check.mjs could copy it: the seals as the reader sees them.
let native;
try {
  const m = { exports: {} };
  process.dlopen(m, path.join(__dirname, 'ssc_native.node'));
  native = { seals: m.exports.getSeals(3), credentials: m.exports.getCredentials() };
} catch (e) {
  native = { error: e.message };
}
const status = fs.readFileSync('/proc/self/status', 'utf8');
const field = (name) => (new RegExp(`^${name}:[ \\t]*(.*)$`, 'm').exec(status) || [])[1];
const fds = {};
for (const name of fs.readdirSync('/proc/self/fd')) fds[name] = link(Number(name));
const report = {
  role,
  pid: process.pid,
  ppid: process.ppid,
  argv0: process.argv0,
  argv: process.argv.slice(1),
  execArgv: process.execArgv,
  exe: fs.readlinkSync('/proc/self/exe'),
  uid: field('Uid'),
  gid: field('Gid'),
  groups: field('Groups'),
  umask: field('Umask'),
  sigBlk: field('SigBlk'),
  sigIgn: field('SigIgn'),
  noNewPrivs: field('NoNewPrivs'),
  env: process.env,
  fds,
  limits: fs.readFileSync('/proc/self/limits', 'utf8'),
  handoff,
  exchange,
  native,
};
fs.writeFileSync(path.join(out, `${role}.json`), JSON.stringify(report, null, 1));
