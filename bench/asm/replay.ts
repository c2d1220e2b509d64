// The in-wasm replayer: loops over an operation list and calls an allocator's C ABI, which it
// imports from another instance, so no call crosses into JavaScript. The list and the table of
// live pointers live in a memory it imports too (env.memory), filled by bench/harness.ts.
//
// A record is 16 bytes, little-endian u32s {op, id, size, align}: op 1 alloc, 2 free,
// 3 realloc (the id keeps its slot, size is the new size), 4 calloc; ids are dense from 1.
// The same loop runs against a no-op allocator, whose time is the loop's own and is subtracted.

@external("alloc", "malloc") declare function malloc(size: usize): usize;
@external("alloc", "free") declare function free(ptr: usize): void;
@external("alloc", "realloc") declare function realloc(ptr: usize, size: usize): usize;
@external("alloc", "calloc") declare function calloc(count: usize, size: usize): usize;
@external("alloc", "aligned_alloc") declare function aligned_alloc(alignment: usize, size: usize): usize;

/**
 * Replays `count` records from `ops`, keeping pointers at `table + 4 * id`. Requests aligned
 * above `natural` (the alignment malloc always gives) go to aligned_alloc, or, when `emulate`
 * is set, to malloc with `alignment - natural` bytes to spare, what a program does without one.
 * Returns how many requests failed (returned 0); a failed object is then skipped.
 */
export function replay(ops: usize, count: u32, table: usize, natural: u32, emulate: bool): u32 {
  let failures: u32 = 0;
  let end = ops + (<usize> count << 4);
  for (let rec = ops; rec < end; rec += 16) {
    let op = load<u32>(rec);
    let slot = table + (<usize> load<u32>(rec, 4) << 2);
    let size = load<u32>(rec, 8);
    let align = load<u32>(rec, 12);
    let ptr: usize;
    if (op == 2) {
      ptr = load<u32>(slot);
      if (ptr) free(ptr);
      continue;
    }
    if (align > natural && emulate) size += align - natural;
    if (op == 1) {
      ptr = align > natural && !emulate ? aligned_alloc(align, size) : malloc(size);
    } else if (op == 3) {
      ptr = load<u32>(slot);
      if (!ptr) continue;
      ptr = realloc(ptr, size);
    } else {
      ptr = calloc(1, size);
    }
    if (!ptr) failures++;
    store<u32>(slot, ptr);
  }
  return failures;
}
