/**
 * What a pointer given to a Heap is: a live block, or the misuse its use would be. Each engine
 * gives its own verdict from its own records (the wasm's record of its calls in _live_blocks.ts,
 * the model's blocks in _model_allocator.ts); the misuse codes are the checked build's.
 */

/** A live block: the pointer may be freed, resized or read. */
export const LIVE = 0;
/** Freed, by anyone, and not handed out since: using it again is a double free. */
export const FREED = 1;
/** Never a block (misaligned, inside a block, outside the heap), or not since the last reset. */
export const NOT_A_BLOCK = 2;
/** {@linkcode LIVE}, {@linkcode FREED} or {@linkcode NOT_A_BLOCK}. */
export type Verdict = typeof LIVE | typeof FREED | typeof NOT_A_BLOCK;
