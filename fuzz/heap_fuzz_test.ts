// The bounded Heap-layer fuzz of `deno task test`: Heap against ModelHeap through the API users
// call, both builds, own memory and regions with the owner's bytes checked around them.
import { fuzzHeapLayer } from "./_heap_fuzz.ts";
import { BOUNDED } from "./_bounded.ts";

const RUNS = Number(Deno.env.get("MOTE_HEAP_FUZZ_RUNS") ?? BOUNDED.heapRuns);
const SEED = Number(Deno.env.get("MOTE_FUZZ_SEED") ?? BOUNDED.seed);

Deno.test(`Heap does what ModelHeap does, misuse and all (${RUNS} runs, seed ${SEED})`, () => {
  fuzzHeapLayer({ runs: RUNS, seed: SEED });
});
