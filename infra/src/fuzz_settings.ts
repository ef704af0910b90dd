// How property tests run: a fixed seed and a bounded number of runs in `make
// test`, more or another seed when asked (README: FUZZ_RUNS, FUZZ_SEED).
const envInt = (name: string, dflt: number): number => {
  const v = Number(process.env[name]);
  return Number.isSafeInteger(v) && v > 0 ? v : dflt;
};

export const FUZZ_RUNS = envInt("FUZZ_RUNS", 300);
export const FUZZ_SEED = envInt("FUZZ_SEED", 20261126);

/** fast-check's parameters for one property */
export const fuzzOptions = (runs = FUZZ_RUNS) => ({ seed: FUZZ_SEED, numRuns: runs, includeErrorInReport: true });

/** Run f; a throw becomes an assertion's failure message that says it threw (a property must never throw). */
export function noThrow<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw new Error(`threw ${String(e)}`);
  }
}
