// The bounded Heap-layer fuzz of `deno task test`: Heap against ModelHeap through the API users
// call, both builds, own memory and regions with the owner's bytes checked around them; and a
// Heap whose own memory runs the fast build, which must do all of it alike.
import assert from "node:assert/strict";
import { Heap, runOn } from "../src/heap.ts";
import { wasmEngineFor } from "../src/_engine.ts";
import { checkedWasm, fastWasm, regionWasm } from "../src/_wasm.ts";
import { fuzzHeapLayer, type HeapFuzzOptions } from "./_heap_fuzz.ts";
import { BOUNDED } from "./_bounded.ts";

const RUNS = Number(Deno.env.get("MOTE_HEAP_FUZZ_RUNS") ?? BOUNDED.heapRuns);
const FAST_RUNS = RUNS * BOUNDED.fastHeapRuns / BOUNDED.heapRuns;
const SEED = Number(Deno.env.get("MOTE_FUZZ_SEED") ?? BOUNDED.seed);

Deno.test(`Heap does what ModelHeap does, misuse and all (${RUNS} runs, seed ${SEED})`, () => {
  fuzzHeapLayer({ runs: RUNS, seed: SEED });
});

Deno.test(`Heap on the fast build does what ModelHeap does (${FAST_RUNS} runs)`, () => {
  class FastHeap extends Heap {}
  runOn(FastHeap, wasmEngineFor({ own: fastWasm, region: regionWasm, checked: checkedWasm }));
  fuzzHeapLayer({ runs: FAST_RUNS, seed: SEED, kind: FastHeap });
});

Deno.test("a Heap-layer failure replays from the seed, path and replay path it prints", () => {
  class Miscounting extends Heap {
    override usableSize(ptr: number): number {
      return super.usableSize(ptr) + 1; // a planted bug, one layer above the wasm
    }
  }
  const failure = (options: HeapFuzzOptions) => {
    try {
      fuzzHeapLayer({ ...options, kind: Miscounting });
    } catch (error) {
      return (error as Error).message;
    }
    assert.fail("the planted bug was not found");
  };
  const first = failure({ runs: 50, seed: 11 });
  const path = first.match(/path: "([^"]*)"/)![1];
  const replayPath = first.match(/replayPath="([^"]*)"/)![1];
  const replayed = failure({ runs: 1, seed: 11, path, replayPath });
  const counterexample = (text: string) => text.match(/Counterexample: (.*)/)![1];
  assert.equal(counterexample(replayed), counterexample(first));
});
