/**
 * The reference model: mote's allocation policy in plain TypeScript, behind the same API as
 * {@linkcode Heap}. It keeps its blocks and free lists as ordinary records and arrays, and hands
 * out addresses into a `WebAssembly.Memory` that it grows exactly as the wasm grows its own, so a
 * model and a heap given the same calls return the same pointers, the same usable sizes and the
 * same failures, and end with memories of the same size. The differential fuzzer in fuzz/ holds
 * the wasm to it; it also serves as a plain-JavaScript baseline in the benchmarks.
 *
 * @module
 */
import { Heap, runOn } from "./heap.ts";
import type { Engine } from "./_engine.ts";
import { ModelAllocator } from "./_model_allocator.ts";
import { checkPicture } from "./_picture.ts";

/**
 * mote's policy in plain TypeScript, usable as an allocator: a drop-in for {@linkcode Heap}
 * with the same constructor options, methods, results and errors.
 *
 * Only the bookkeeping differs: a model keeps its blocks and free lists in JavaScript objects
 * rather than in the memory, so the memory holds nothing but what users write, and the model
 * knows exactly which blocks are live, and which pointers were freed and not handed out since,
 * from its own records (any other pointer, interior ones included, throws a `RangeError`). With
 * `checked: true` it lays blocks out as the checked build does, 4 bytes longer each, with a
 * usable size of exactly the bytes asked for, and names a bad pointer as the checked build does
 * (a `HeapMisuseError` `double-free` or `invalid-pointer`); writes past a block or into
 * freed memory it cannot see, as its bookkeeping is not in the memory.
 * Its operations take time in the length of a free list where the wasm's take O(1).
 *
 * @example The model predicts the wasm heap
 * ```ts
 * import { Heap, ModelHeap } from "@mote/alloc";
 * import assert from "node:assert/strict";
 *
 * const heap = new Heap(), model = new ModelHeap();
 * for (const size of [100, 5000, 7, 64]) {
 *   assert.equal(model.malloc(size), heap.malloc(size));
 * }
 * assert.deepEqual(model.walk(), heap.walk());
 * assert.equal(model.memory.buffer.byteLength, heap.memory.buffer.byteLength);
 * ```
 */
export class ModelHeap extends Heap {}

/** The model as a Heap's engine: its C functions read their arguments as wasm callers pass them. */
function modelEngine(given: WebAssembly.Memory | undefined, checked: boolean): Engine {
  const memory = given ?? new WebAssembly.Memory({ initial: 0, maximum: 65536 });
  const model = new ModelAllocator(memory, checked);
  const calls = {
    malloc: (size: number) => model.malloc(size >>> 0),
    free: (ptr: number) => model.free(ptr >>> 0),
    realloc: (ptr: number, size: number) => model.realloc(ptr >>> 0, size >>> 0),
    calloc: (count: number, size: number) => model.calloc(count >>> 0, size >>> 0),
    aligned_alloc: (alignment: number, size: number) =>
      model.aligned_alloc(alignment >>> 0, size >>> 0),
    malloc_usable_size: (ptr: number) => model.malloc_usable_size(ptr >>> 0),
  };
  return {
    memory,
    calls,
    exports: { memory, ...calls },
    init: (base, limitEnd) => model.init(base, limitEnd),
    setLimit: (limitEnd) => model.limit = limitEnd >>> 0, // the wasm's global reads unsigned
    verdict: (ptr) => model.verdict(ptr >>> 0), // from the model's own records of its blocks
    read: () => {
      const picture = model.picture();
      return { picture, problems: checkPicture(picture) };
    },
  };
}

runOn(ModelHeap, modelEngine);
