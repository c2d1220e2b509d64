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
import { modelEngineFor } from "./_model_engine.ts";
import { QUICK_BOUND } from "./_layout.ts";

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

// as the Heap's modules: the checked build has quick lists, the release build none
runOn(ModelHeap, modelEngineFor((checked) => checked ? QUICK_BOUND : 0));
