/**
 * How many cases a property test runs: its CI figure, times SSC_FUZZ_SCALE
 * (`npm run fuzz` sets it for a long run). Test code only.
 */
export function fuzzRuns(ciRuns: number): number {
  const scale = Number(process.env.SSC_FUZZ_SCALE ?? 1);
  return Math.max(1, Math.round(ciRuns * (Number.isFinite(scale) && scale > 0 ? scale : 1)));
}
