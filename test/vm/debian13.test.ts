// The integration project inside a Debian 13 (trixie) VM: systemd 257, kernel 6.12, cgroup v2.
import { defineVmTests } from './vm-suite.js';

await defineVmTests('trixie');
