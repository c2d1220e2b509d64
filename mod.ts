/**
 * mote: a tiny, O(1), fuzz-proven WebAssembly memory allocator.
 *
 * {@linkcode Heap} runs mote's wasm allocator behind a checked API; its `exports` are the raw C ABI
 * (`malloc`, `free`, `realloc`, `calloc`, `aligned_alloc`, `malloc_usable_size`) for other wasm
 * modules to import. {@linkcode linkHeap} makes the heap for such a module from its bytes, before
 * it is instantiated, so that it calls mote wasm to wasm; the package's `c/` folder holds the C
 * shim that gives a clang + wasi-libc program mote as its allocator.
 *
 * @example
 * ```ts
 * import { Heap } from "@mote/alloc";
 * import assert from "node:assert/strict";
 *
 * const heap = new Heap();
 * const ptr = heap.malloc(100);
 * heap.u8.fill(7, ptr, ptr + 100);
 * const bigger = heap.realloc(ptr, 10_000);
 * assert.equal(heap.u8[bigger + 99], 7);
 * heap.free(bigger);
 * ```
 *
 * @module
 */
export {
  Heap,
  type HeapOptions,
  type MoteExports,
  type SharedHeap,
  type StoppedWorker,
} from "./src/heap.ts";
export { HeapMisuseError, type MisuseKind, OutOfMemoryError } from "./src/errors.ts";
export type { HeapBlock, HeapStats } from "./src/_picture.ts";
export { type HeapMapOptions, heapMapSvg, MAX_MAP_ROWS } from "./src/heap_map.ts";
export { ModelHeap } from "./src/model.ts";
export { type LinkedHeap, linkHeap, type LinkOptions } from "./src/link.ts";
