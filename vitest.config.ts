import { defineConfig } from 'vitest/config';

// Three projects, one command (`vitest run`):
//  - unit: pure code, next to it in src/ (fast, no privileges);
//  - integration: the installed setuid ssc against a real systemd (the namespace
//    test bed on this host, or directly inside the cgroup v2 VM when SSC_BED=local);
//  - vm: boots each cgroup v2 VM (Debian 12, Debian 13) in turn and runs the
//    integration project inside it.
// The projects run one after the other (sequence.groupOrder: unit, then
// integration, then vm), and one VM at a time: qemu under TCG wants both cores,
// and a VM that shared them with the namespace bed's tests once stalled.
// (Without an explicit order, vitest runs a project without file parallelism
// after all the others.)
export default defineConfig({
  test: {
    pool: 'forks',
    projects: [
      {
        test: {
          name: 'unit',
          testTimeout: 60_000,
          include: ['src/**/*.test.ts', 'test/unit/**/*.test.ts'],
          pool: 'forks',
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/bed/global-setup.ts'],
          setupFiles: ['test/bed/each-file.ts'],
          pool: 'forks',
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // One shared systemd: keep files from stepping on each other's units.
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
      {
        test: {
          name: 'vm',
          include: ['test/vm/**/*.test.ts'],
          pool: 'forks',
          fileParallelism: false,
          sequence: { groupOrder: 2 },
          testTimeout: 30 * 60_000,
          hookTimeout: 30 * 60_000,
        },
      },
    ],
  },
});
