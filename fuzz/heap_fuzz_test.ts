// The bounded Heap-layer fuzz of `deno task test`: Heap against ModelHeap through the API users
// call, both builds, own memory and regions with the owner's bytes checked around them.
import assert from "node:assert/strict";
import { Heap } from "../src/heap.ts";
import { fuzzHeapLayer, type HeapFuzzOptions } from "./_runner.ts";
import { BOUNDED } from "./_bounded.ts";

const RUNS = Number(Deno.env.get("MOTE_HEAP_FUZZ_RUNS") ?? BOUNDED.heapRuns);
const SEED = Number(Deno.env.get("MOTE_FUZZ_SEED") ?? BOUNDED.seed);

Deno.test(`Heap does what ModelHeap does, misuse and all (${RUNS} runs, seed ${SEED})`, () => {
  fuzzHeapLayer({ runs: RUNS, seed: SEED });
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
  const [, seed, path, replayPath] = first.match(/--seed (\S+) --path (\S+) --replay-path '(.*)'/)!;
  assert.match(first, /\nReproduced by its replay, run at once in the same setting\.$/);
  const replayed = failure({ seed: Number(seed), path, replayPath });
  const shrunk = (text: string) => text.match(/\nShrunk commands: (.*)/)![1];
  assert.equal(shrunk(replayed), shrunk(first));
  assert.equal(replayed.split("\n")[0], first.split("\n")[0]);
});

Deno.test("a failure its replay does not reproduce is reported as such", () => {
  let calls = 0;
  class Flaky extends Heap {
    override usableSize(ptr: number): number {
      return super.usableSize(ptr) + (++calls === 3 ? 16 : 0); // wrong once, never again
    }
  }
  try {
    fuzzHeapLayer({ runs: 10, seed: 7, maxCommands: 20, kind: Flaky });
  } catch (error) {
    const { message } = error as Error;
    const not =
      /\nNOT REPRODUCED by its replay, run at once in the same setting: the replay passed$/;
    return assert.match(message, not);
  }
  assert.fail("the heap wrong once was not caught");
});
