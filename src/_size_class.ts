/** The size classes of asm/mote.ts, for the model and the heap reader. */
import { ALIGN, SL_COUNT, SMALL } from "./_layout.ts";

/**
 * How many blocks of a request's own class are looked at, head first, for one that fits,
 * before the next non-empty class is taken.
 */
export const SCAN = 8;

/**
 * The class of a block size (a multiple of 16). Below 256 bytes each size is a class (1 to 15);
 * from 256 on, each power of two is cut into SL_COUNT classes of equal width, in order, so the
 * class of every size from 2^power to 2^(power + 1) - 1 is SL_COUNT * (power - 7) plus its
 * sixteenth of that power.
 */
export function classOf(size: number): number {
  if (size < SMALL) return size / ALIGN;
  const power = 31 - Math.clz32(size); // 2^power <= size < 2^(power + 1)
  const sixteenth = Math.floor(size / 2 ** (power - 4)) - SL_COUNT; // 0 to 15
  return SL_COUNT * (power - Math.log2(SMALL) + 1) + sixteenth;
}
