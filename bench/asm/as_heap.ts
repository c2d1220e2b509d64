// The C ABI over AssemblyScript's own runtime allocator: the `heap` builtins, which are TLSF
// (rt/tlsf.ts) under `--runtime minimal` or `incremental` and a bump allocator that never reuses
// memory (rt/stub.ts) under `--runtime stub`. bench/setup.ts compiles this file once per runtime.
//
// AssemblyScript aligns every block to 16 bytes and has no aligned allocation: aligned_alloc is
// therefore not exported, and the replayer emulates it by over-allocating (see replay.ts).

// @ts-ignore: decorator
@inline const OVERHEAD: usize = 4; // BLOCK_OVERHEAD in rt/common.ts: the mmInfo word
// @ts-ignore: decorator
@inline const TAGS: usize = 3; // its low bits, FREE and LEFTFREE in rt/tlsf.ts

export function malloc(size: usize): usize {
  return heap.alloc(size);
}

export function free(ptr: usize): void {
  if (ptr) heap.free(ptr);
}

export function realloc(ptr: usize, size: usize): usize {
  return ptr ? heap.realloc(ptr, size) : heap.alloc(size);
}

export function calloc(count: usize, size: usize): usize {
  let bytes = count * size;
  if (count && bytes / count != size) return 0;
  let ptr = heap.alloc(bytes);
  // every runtime reuses memory: even the stub's free rewinds its bump pointer over the last block
  memory.fill(ptr, 0, bytes);
  return ptr;
}

export function malloc_usable_size(ptr: usize): usize {
  return ptr ? (load<usize>(ptr - OVERHEAD) & ~TAGS) : 0;
}
