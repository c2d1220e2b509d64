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
/** Where the list heads start in the root. */
export const HEADS = 16;
/** How many size classes (bits in the class map). */
export const CLASSES = 64;
/** The root's bytes: the unused words, then one head per class. */
export const ROOT_SIZE = HEADS + CLASSES * 4;
/** The first block's header, from the root: the first payload is then ALIGN-aligned. */
export const FIRST = ROOT_SIZE + ALIGN - HEADER;
/** The largest heap end address, leaving room for alignment slack in 32-bit size arithmetic. */
export const MAX_LIMIT = 0xFFFE_0000;
/** The largest alignment aligned_alloc honours. */
export const MAX_ALIGN = 65536;
