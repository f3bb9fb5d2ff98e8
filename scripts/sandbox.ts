/**
 * npm run sandbox -- ssc [ARGS...]: try ssc on a machine without a running
 * systemd. Boots the namespace test bed (a private systemd, ssc installed by
 * install.sh), runs the command there as the unprivileged user sscalice, prints
 * what it printed and what systemd says about ssc's units, and tears it down.
 * Needs root (it boots systemd in fresh namespaces; the host is not changed).
 */
import { bootNamespaceBed } from '../test/bed/namespace.js';

const argv = process.argv.slice(2);
if (argv.length === 0) {
  console.error('usage: npm run sandbox -- ssc [OPTIONS] PROGRAM [ARGS...]');
  process.exit(2);
}
const booted = await bootNamespaceBed({ log: (m) => console.error(`sandbox: ${m}`) });
let code = 0;
try {
  console.error(`sandbox: running as sscalice: ${argv.join(' ')}`);
  const r = await booted.bed.run(argv, { user: 'sscalice', timeoutMs: 10 * 60_000 });
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  code = r.code ?? 128;
  const units = await booted.bed.run(['systemctl', 'list-units', '--all', '--no-pager', 'app-ssc-*']);
  console.error(`sandbox: exit status ${r.code ?? r.signal}; ssc's units now:\n${units.stdout}`);
} finally {
  await booted.stop();
}
process.exit(code);
