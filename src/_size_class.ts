/** The size classes of asm/mote.ts, for the model and the heap reader. */
import { ALIGN, CLASSES } from "./_layout.ts";

/** Below this block size every size has a class of its own. */
export const SMALL = 128;

/**
 * The class of a block size (a multiple of 16). Below 128 bytes each size is a class (1 to 7);
 * from 128 on, each power of two is cut into four classes of equal width, and the last class,
 * 63, takes every size from 1.75 MiB up.
 */
export function classOf(size: number): number {
  if (size < SMALL) return size / ALIGN;
  const power = 31 - Math.clz32(size); // 2^power <= size < 2^(power + 1)
  const quarter = Math.floor(size / 2 ** (power - 2)) - 4; // 0 to 3
  return Math.min(CLASSES - 1, SMALL / ALIGN + 4 * (power - Math.log2(SMALL)) + quarter);
}
