// C's ABI over classes.ts: a 16-byte header before each block's payload holds its class.
import { BUG, classOf, give, STRAY, take, taken } from "./classes";

const HEADER: usize = 16;
const LARGEST: usize = 1 << 30;

export function malloc(size: usize): usize {
  if (size > LARGEST) return 0;
  const block = take(classOf(size + HEADER), true);
  if (block == 0) return 0;
  store<u32>(block, taken);
  return block + HEADER;
}

export function free(ptr: usize): void {
  if (ptr != 0) give(ptr - HEADER, load<u32>(ptr - HEADER));
}

export function realloc(ptr: usize, size: usize): usize {
  if (ptr == 0) return malloc(size);
  if (size > LARGEST) return 0;
  const room = ((<usize>1) << load<u32>(ptr - HEADER)) - HEADER;
  if (size <= room) return ptr;
  const moved = malloc(size);
  if (moved == 0) return 0;
  memory.copy(moved, ptr, min(room, size));
  free(ptr);
  return moved;
}

export function calloc(count: usize, size: usize): usize {
  const bytes = <u64>count * <u64>size;
  if (bytes > <u64>LARGEST) return 0;
  const ptr = malloc(<usize>bytes);
  if (ptr == 0) return 0;
  const room = ((<usize>1) << load<u32>(ptr - HEADER)) - HEADER;
  const end = (<usize>memory.size()) << 16;
  memory.fill(ptr, 0, BUG == STRAY ? min(room + 32, end - ptr) : <usize>bytes);
  return ptr;
}
