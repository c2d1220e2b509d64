/**
 * The heap's layout constants, shared by the Heap API and the reference model. They restate
 * asm/mote.ts, where the diagrams are; the differential fuzzer fails if the two disagree.
 */

/** Every payload is aligned to this. */
export const ALIGN = 16;
/** The bytes of a block's header, in front of its payload. */
export const HEADER = 4;
/** The smallest block: header, prev, next and back words, rounded to ALIGN. */
export const MIN_BLOCK = 16;
/** A header's tag: the block is free. Sizes are multiples of ALIGN, so the low bits are tags. */
export const FREE = 1;
/** A header's tag: the block just below is free, and its `back` word names it. */
export const LEFT_FREE = 2;
/** A header's tag: a used block waiting in a quick list. */
export const QUICK = 4;
/** A header's tag (checked build, on a free block): the caller freed the block that began here. */
export const FREED_HERE = 8;
/** A header's tag bits. */
export const TAGS = ALIGN - 1;
/** Below this block size every size is a size class of its own, with a quick list too. */
export const SMALL = 256;
/**
 * The most blocks a quick list holds: the free of a small block whose list is full merges it at
 * once. A power of two, as tcache's 7 is about, and not tuned to a trace: what the lists can hold
 * is QUICK_BOUND * (16 + 32 + … + 240) = 15 KiB.
 */
export const QUICK_BOUND = 8;
/** How many second-level maps the root holds: one per power of two from 256 bytes up, and one below. */
export const FL_COUNT = 25;
/** Size classes per first-level map: each power of two from 256 bytes up is cut in this many. */
export const SL_COUNT = 16;
/** Where the list heads start in the root: after the second-level maps, rounded to ALIGN. */
export const HEADS = Math.ceil((FL_COUNT * 4) / ALIGN) * ALIGN;
/** How many size classes, each with a list head in the root. */
export const CLASSES = FL_COUNT * SL_COUNT;
/** Where the quick lists' heads start in the root, after the classes' heads. */
export const QUICK_HEADS = HEADS + CLASSES * 4;
/** How many quick lists' heads: one per size below SMALL, at size / ALIGN (0 is never used). */
export const QUICK_LISTS = SMALL / ALIGN;
/** The root's bytes: the second-level maps, padding, one head per class, one per quick list. */
export const ROOT_SIZE = QUICK_HEADS + QUICK_LISTS * 4;
/** The first block's header, from the root: the first payload is then ALIGN-aligned. */
export const FIRST = ROOT_SIZE + ALIGN - HEADER;
/** A WebAssembly page: the unit memory grows by. */
export const PAGE = 65536;
/** The largest heap end address, leaving room for alignment slack in 32-bit size arithmetic. */
export const MAX_LIMIT = 0xFFFE_0000;
/** The largest alignment aligned_alloc honours. */
export const MAX_ALIGN = 65536;
