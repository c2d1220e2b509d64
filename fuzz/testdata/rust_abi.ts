// Rust's GlobalAlloc ABI over classes.ts: no header, the layout passed back says the class.
import { BUG, classOf, give, MISALIGN, take } from "./classes";

const SHIFT: usize = BUG == MISALIGN ? 8 : 0;

function classFor(size: usize, align: usize): u32 {
  return classOf(max(size + SHIFT, align));
}

export function alloc(size: usize, align: usize): usize {
  const block = take(classFor(size, align), false);
  return block == 0 ? 0 : block + SHIFT;
}

export function alloc_zeroed(size: usize, align: usize): usize {
  const ptr = alloc(size, align);
  if (ptr != 0) memory.fill(ptr, 0, size);
  return ptr;
}

export function dealloc(ptr: usize, size: usize, align: usize): void {
  give(ptr - SHIFT, classFor(size, align));
}

export function realloc(ptr: usize, size: usize, align: usize, newSize: usize): usize {
  if (classFor(newSize, align) == classFor(size, align)) return ptr;
  const moved = alloc(newSize, align);
  if (moved == 0) return 0;
  memory.copy(moved, ptr, min(size, newSize));
  dealloc(ptr, size, align);
  return moved;
}
