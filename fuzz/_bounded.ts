/**
 * The bounded fuzz of `deno task test`, in one place: the tests run it, and the mutation run
 * (fuzz/mutants.ts) measures what it kills. MOTE_FUZZ_RUNS, MOTE_HEAP_FUZZ_RUNS and MOTE_FUZZ_SEED
 * change it for the tests.
 */
export const BOUNDED = {
  /** Runs of mote's builds against the model through the C ABI. */
  runs: 400,
  /** Runs of the model-free checks on the release build. */
  anyRuns: 100,
  /** Runs of Heap against ModelHeap. */
  heapRuns: 150,
  /** Runs of the shared build under workers, against the model. */
  concurrentRuns: 60,
  seed: 20_261_121,
} as const;
