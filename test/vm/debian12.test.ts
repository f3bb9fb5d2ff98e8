// The integration project inside a Debian 12 (bookworm) VM: systemd 252, kernel 6.1, cgroup v2.
import { defineVmTests } from './vm-suite.js';

await defineVmTests('bookworm');
