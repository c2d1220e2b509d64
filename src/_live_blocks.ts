/**
 * The Heap's record of its live blocks: one bit per 16 bytes of the heap, set where a block that
 * is in use starts its payload. It is what makes `free`, `realloc`, `usableSize` and `bytes`
 * refuse every pointer that is not a live block, in both builds, whatever the bytes in memory say:
 * the wasm reads a header in front of the pointer, and a stale pointer (from before a `reset()`)
 * or a forged one (into a free block whose old bytes read like a header) can look live there.
 *
 * The record is exact while only the Heap calls the allocator. Another module calling the
 * heap's `exports` wasm to wasm is not seen by JavaScript, so the wasm counts the calls that can
 * end a block's life (`free` and `realloc`) in its `mote_frees` global: when that count is not the
 * one the Heap expects, the record is rebuilt by one walk of the heap. Blocks another module
 * allocated are found the same way: a pointer missing from the record is looked up by a walk
 * before it is refused, so `heap.free(p)` of such a block works, and only a bad pointer pays it.
 */
import { ALIGN, FIRST, HEADER } from "./_layout.ts";
import type { HeapBlock } from "./_picture.ts";

const SHIFT = 31 - Math.clz32(ALIGN);
/** Which payloads of a heap are live blocks, and which were freed by the Heap since its start. */
export class LiveBlocks {
  /** The first payload a heap can hand out: its root's end plus a header. */
  readonly #first: number;
  /** Bit i: a live block's payload is at first + 16 i. */
  #live: Uint32Array<ArrayBuffer> = new Uint32Array(64);
  /**
   * Bit i: the Heap freed the block at first + 16 i, and it has not been handed out since; kept
   * only for a checked heap, which tells a double free from any other pointer.
   */
  #freed: Uint32Array<ArrayBuffer> | undefined;

  /**
   * A record for a heap whose region starts at `base`.
   *
   * @param base The heap's base.
   * @param freed Whether to remember the blocks freed, to tell a double free.
   */
  constructor(base: number, freed: boolean) {
    this.#first = Math.ceil(base / ALIGN) * ALIGN + FIRST + HEADER;
    if (freed) this.#freed = new Uint32Array(64);
  }

  /** Whether `ptr` is a live block's payload, as far as the record knows. */
  has(ptr: number): boolean {
    const offset = ptr - this.#first; // ptr is an integer below 2^32: & keeps its low bits
    if (offset < 0 || (offset & (ALIGN - 1)) !== 0) return false;
    const index = offset >>> SHIFT;
    return ((this.#live[index >>> 5] >>> index) & 1) === 1;
  }

  /** Whether the Heap freed the block at `ptr` and it has not been handed out again. */
  wasFreed(ptr: number): boolean {
    const offset = ptr - this.#first;
    if (!this.#freed || offset < 0 || (offset & (ALIGN - 1)) !== 0) return false;
    const index = offset / ALIGN;
    return index >>> 5 < this.#freed.length && ((this.#freed[index >>> 5] >>> index) & 1) === 1;
  }

  /** Records a block handed out at `ptr` (a payload the allocator returned). */
  add(ptr: number): void {
    const index = (ptr - this.#first) >>> SHIFT;
    const word = index >>> 5;
    if (word >= this.#live.length) this.#live = grown(this.#live, word);
    this.#live[word] |= 1 << index; // shifts take their count modulo 32
    if (this.#freed && word < this.#freed.length) this.#freed[word] &= ~(1 << index);
  }

  /** Records that the block at `ptr`, live until now, was freed. */
  delete(ptr: number): void {
    const index = (ptr - this.#first) >>> SHIFT;
    this.#live[index >>> 5] &= ~(1 << index);
    if (this.#freed) {
      if (index >>> 5 >= this.#freed.length) this.#freed = grown(this.#freed, index >>> 5);
      this.#freed[index >>> 5] |= 1 << index;
    }
  }

  /** Forgets every block: after a reset, nothing is live and nothing was freed. */
  clear(): void {
    this.#live.fill(0);
    this.#freed?.fill(0);
  }

  /**
   * Makes the record the heap's used blocks, as a walk of the heap lists them. With `forgetFreed`
   * (another module freed blocks the record did not see), what the Heap freed is forgotten too:
   * from then on, only what the Heap itself frees is told as a double free.
   */
  rebuild(blocks: Iterable<HeapBlock>, forgetFreed: boolean): void {
    this.#live.fill(0);
    if (forgetFreed) this.#freed?.fill(0);
    for (const block of blocks) {
      if (!block.free) this.add(block.ptr);
    }
  }
}

/** A copy of `words` long enough to hold word `index`, at least twice as long. */
function grown(words: Uint32Array, index: number): Uint32Array<ArrayBuffer> {
  const larger = new Uint32Array(Math.max(words.length * 2, index + 1));
  larger.set(words);
  return larger;
}
