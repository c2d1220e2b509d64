// The no-op allocator: every call returns at once. Replaying against it times the replayer's own
// loop and the calls into another instance, which bench/harness.ts subtracts from every peer.

export function malloc(size: usize): usize {
  return 16;
}

export function free(ptr: usize): void {}

export function realloc(ptr: usize, size: usize): usize {
  return ptr;
}

export function calloc(count: usize, size: usize): usize {
  return 16;
}

export function aligned_alloc(alignment: usize, size: usize): usize {
  return 16;
}

export function malloc_usable_size(ptr: usize): usize {
  return 0;
}
