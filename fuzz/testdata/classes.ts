// A small allocator for the fuzzer's tests, in AssemblyScript, with one bug or none chosen by
// BUG (the test rewrites the line that sets it): blocks of power-of-two classes, each aligned
// to its size (up to 64 KiB), reused through one free list per class. When a class's list is
// empty, C's ABI (which keeps the class in a header) takes a block of the next three classes
// whole; Rust's (which is told the layout, so would list it as the smaller class) does not.

export const HANG = 1; // the search of larger classes never moves on
export const LEAK = 2; // free drops blocks while more than 200 are live
export const OVERLAP = 3; // a block taken from a larger class stays on its list
export const STRAY = 4; // calloc zeroes its whole block and 32 bytes past it
export const MISALIGN = 5; // Rust's alloc puts an 8-byte header before an aligned block
export const NEVER = 6; // nothing is ever allocated
export const BUG: i32 = 0;

const LISTS: usize = memory.data(32 * 4, 16);
let top: usize = 0;
let listed: u32 = 0;
let live: u32 = 0;
/** The class of the block `take` returned last. */
export let taken: u32 = 0;

/** The smallest class that holds `size` bytes: k with 2^k >= size, at least 16 bytes. */
export function classOf(size: usize): u32 {
  if (size <= 16) return 4;
  return 32 - clz<u32>(<u32>size - 1);
}

function grow(to: usize): bool {
  const have = (<usize>memory.size()) << 16;
  if (to <= have) return true;
  return memory.grow(<i32>((to - have + 0xFFFF) >> 16)) >= 0;
}

/** A block of class `k` or, `larger`, maybe of a larger one, aligned to its size up to 64 KiB. */
export function take(k: u32, larger: bool): usize {
  if (BUG == NEVER || k > 30) return 0;
  const list = LISTS + (<usize>k << 2);
  let head = load<usize>(list);
  if (head != 0) {
    store<usize>(list, load<usize>(head));
    listed--;
    live++;
    taken = k;
    return head;
  }
  if (larger && listed > 0) {
    let j = k + 1;
    while (j < k + 4 && j < 31) {
      const larger = LISTS + (<usize>j << 2);
      head = load<usize>(larger);
      if (head != 0) {
        if (BUG != OVERLAP) store<usize>(larger, load<usize>(head));
        listed--;
        live++;
        taken = j;
        return head;
      }
      if (BUG != HANG) j++;
    }
  }
  if (top == 0) top = (__heap_base + 15) & ~15;
  const align: usize = k > 16 ? 65536 : (<usize>1 << k);
  const start = (top + align - 1) & ~(align - 1);
  const end = start + ((<usize>1) << k);
  if (end < start || !grow(end)) return 0;
  top = end;
  live++;
  taken = k;
  return start;
}

/** Lists a free block of class `k`. */
export function give(block: usize, k: u32): void {
  live--;
  if (BUG == LEAK && live >= 200) return;
  const list = LISTS + (<usize>k << 2);
  store<usize>(block, load<usize>(list));
  store<usize>(list, block);
  listed++;
}
