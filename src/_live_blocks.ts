/**
 * The wasm engine's record of a heap's live blocks: one bit per 16 bytes of the heap, set where a
 * block that is in use starts its payload. It is what makes the Heap's `free`, `realloc`,
 * `usableSize` and `bytes` refuse every pointer that is not a live block, in every build,
 * whatever the bytes in memory say: the wasm reads a header in front of the pointer, and a stale
 * pointer (from before a `reset()`) or a forged one (into a free block whose old bytes read like a
 * header) can look live there.
 *
 * The record learns of every call made through it (its methods take the wasm's function to call):
 * the Heap's own calls, and in a checked heap the `free` and `realloc` other modules call through
 * `exports` too, so that there it knows every pointer freed, by anyone, and not handed out since,
 * and names its use a double free. Other calls through `exports` are the wasm's own functions,
 * which no JavaScript sees; the wasm counts the calls that can end a block's life (`free` and
 * `realloc`) in `mote_frees`, and when that count is not the one the record expects (the release
 * build's `exports` are all the wasm's own), the record is rebuilt by one walk of the heap. Blocks
 * another module allocated are found the same way: a pointer missing from the record is looked up
 * by a walk before it is refused, so `heap.free(p)` of such a block works, and only a bad pointer
 * pays for the walk.
 *
 * The reference model decides liveness from its own records (src/_model_allocator.ts), not from
 * this: the two are held to each other by the fuzzers.
 */
import { ALIGN, FIRST, HEADER } from "./_layout.ts";
import type { HeapBlock } from "./_picture.ts";
import { FREED, LIVE, NOT_A_BLOCK, type Verdict } from "./_verdict.ts";

/**
 * What mote_free_seen and mote_realloc_seen return, and `reallocLive` says, when they did nothing
 * (the record was not exact, or did not hold the pointer): no block's address.
 */
export const NOT_DONE = 1;

/** log2(ALIGN): a payload's index in the record by a shift, not a float division. */
const SHIFT = 31 - Math.clz32(ALIGN);
/**
 * The low bits of a payload's address, which are 0: a constant of this module, as the paths of
 * every malloc and free use it, and V8 loads an imported one (ALIGN) through its module at each
 * use, which takes longer.
 */
const ALIGN_MASK = ALIGN - 1;

/** Which payloads of a heap are live blocks, and which were freed and not handed out since. */
export class LiveBlocks {
  /** The first payload the heap can hand out: its root's end plus a header. */
  #first = 0;
  /** Bit i: a live block's payload is at first + 16 i. */
  #live: Uint32Array<ArrayBuffer> = new Uint32Array(64);
  /**
   * Bit i: the block at first + 16 i was freed and has not been handed out since; kept only for
   * a checked heap, which tells a double free from any other pointer.
   */
  #freed: Uint32Array<ArrayBuffer> | undefined;
  /**
   * Whether `#freed` is kept: what the paths of every malloc and free test, as V8 tests a
   * boolean faster than whether an object is there.
   */
  readonly #keepsFreed: boolean;
  /** The wasm's count of free and realloc calls when the record was last exact. */
  #frees = 0;
  /** The wasm's count of free and realloc calls now. */
  readonly #countFrees: () => number;
  /** The heap's blocks, read by a walk of its memory. */
  readonly #walk: () => Iterable<HeapBlock>;

  /**
   * A record for a heap whose blocks `walk` lists and whose free and realloc calls `frees`
   * counts; `freed` says whether to remember the blocks freed, to tell a double free.
   */
  constructor(walk: () => Iterable<HeapBlock>, frees: () => number, freed: boolean) {
    this.#walk = walk;
    this.#countFrees = frees;
    this.#freed = freed ? new Uint32Array(64) : undefined;
    this.#keepsFreed = freed;
  }

  /** Forgets every block: the heap at `base` starts (again) empty. */
  reset(base: number): void {
    this.#first = Math.ceil(base / ALIGN) * ALIGN + FIRST + HEADER;
    this.#live.fill(0);
    this.#freed?.fill(0);
    this.#frees = this.#countFrees();
  }

  /** Records the block that malloc, calloc or aligned_alloc returned, unless 0; returns it. */
  served(ptr: number): number {
    if (ptr === 0) return 0;
    // #add's common case written out: a record that holds the bit and no freed blocks to update
    const index = ((ptr >>> 0) - this.#first) >>> SHIFT, word = index >>> 5, live = this.#live;
    if (word < live.length && !this.#keepsFreed) live[word] |= 1 << index;
    else this.#add(ptr >>> 0);
    return ptr;
  }

  /**
   * `free(ptr)` by `free`, the wasm's, for any `ptr`, recorded: a checked heap passes other
   * modules' calls through here, and the Heap its own once `verdict` found `ptr` live. A call
   * that throws (a checked build's report) freed nothing, and the block stays in the record.
   */
  free(ptr: number, free: (ptr: number) => void): void {
    this.#frees = (this.#frees + 1) | 0; // as the wasm counts it, whatever the pointer
    free(ptr);
    if (ptr !== 0) this.#delete(ptr >>> 0);
  }

  /** `realloc(ptr, size)` by `realloc`, the wasm's, recorded as `free` records. */
  realloc(
    ptr: number,
    size: number,
    realloc: (ptr: number, size: number) => number,
  ): number {
    this.#frees = (this.#frees + 1) | 0;
    const moved = realloc(ptr, size);
    if (moved !== 0 && moved !== ptr && ptr !== 0) this.#delete(ptr >>> 0);
    return this.served(moved);
  }

  /**
   * Whether `ptr` is a live block, by the record, caught up by a walk when calls it did not see
   * may have changed it, or when `ptr` is not in it.
   */
  verdict(ptr: number): Verdict {
    if (this.#countFrees() !== this.#frees) this.#rebuild();
    if (this.#has(this.#live, ptr)) return LIVE;
    this.#rebuild();
    if (this.#has(this.#live, ptr)) return LIVE;
    return this.#freed && this.#has(this.#freed, ptr) ? FREED : NOT_A_BLOCK;
  }

  /**
   * free(ptr) in one call when the record holds `ptr` live: `freeSeen` (the wasm's
   * mote_free_seen) frees it only while the wasm's count of frees is still the record's, so that
   * no call the record did not see can have freed it. True when done; false, and nothing done,
   * otherwise (the engine then asks `verdict`, which catches up).
   */
  freeLive(ptr: number, freeSeen: (ptr: number, seen: number) => number): boolean {
    const index = this.#indexIn(this.#live, ptr);
    if (index < 0) return false;
    const seen = this.#frees;
    this.#frees = (seen + 1) | 0; // as the wasm counts it, even a call the checked build reports
    if (freeSeen(ptr, seen) !== 0) {
      this.#frees = seen;
      return false;
    }
    this.#forget(index);
    return true;
  }

  /** realloc(ptr, size) as `freeLive` frees: its result, or {@linkcode NOT_DONE}. */
  reallocLive(
    ptr: number,
    size: number,
    reallocSeen: (ptr: number, size: number, seen: number) => number,
  ): number {
    const index = this.#indexIn(this.#live, ptr);
    if (index < 0) return NOT_DONE;
    const seen = this.#frees;
    this.#frees = (seen + 1) | 0;
    const moved = reallocSeen(ptr, size, seen) >>> 0;
    if (moved === NOT_DONE) this.#frees = seen;
    else if (moved !== 0 && moved !== ptr) {
      this.#forget(index);
      this.served(moved);
    }
    return moved;
  }

  /**
   * Makes the record the heap's used blocks, as a walk lists them. A block live in the record and
   * not in the walk was freed by a call the record did not see: it is remembered as freed, as is
   * every block freed before, until it is handed out again.
   */
  #rebuild(): void {
    const was = this.#live;
    this.#live = new Uint32Array(was.length);
    for (const block of this.#walk()) {
      if (!block.free) this.#add(block.ptr);
    }
    if (this.#freed) {
      was.forEach((bits, word) => {
        const gone = bits & ~(this.#live[word] ?? 0);
        if (gone) this.#mark(word, gone);
      });
    }
    this.#frees = this.#countFrees();
  }

  /** Whether `bits` has the bit of payload `ptr`. */
  #has(bits: Uint32Array, ptr: number): boolean {
    return this.#indexIn(bits, ptr) >= 0;
  }

  /** The index of payload `ptr`'s bit when `bits` has it set; -1 when it has not. */
  #indexIn(bits: Uint32Array, ptr: number): number {
    const offset = ptr - this.#first; // ptr is an integer below 2^32: & keeps its low bits
    if (offset < 0 || (offset & ALIGN_MASK) !== 0) return -1;
    const index = offset >>> SHIFT;
    return index >>> 5 < bits.length && ((bits[index >>> 5] >>> index) & 1) === 1 ? index : -1;
  }

  /** Records a block handed out at `ptr` (a payload the allocator returned). */
  #add(ptr: number): void {
    const index = (ptr - this.#first) >>> SHIFT;
    const word = index >>> 5;
    if (word >= this.#live.length) this.#live = grown(this.#live, word);
    this.#live[word] |= 1 << index; // shifts take their count modulo 32
    if (this.#freed && word < this.#freed.length) this.#freed[word] &= ~(1 << index);
  }

  /** Records that the block at `ptr` was freed. */
  #delete(ptr: number): void {
    const offset = ptr - this.#first;
    if (offset < 0 || (offset & ALIGN_MASK) !== 0) return; // never a block: nothing to forget
    this.#forget(offset >>> SHIFT);
  }

  /** Records that the block of bit `index` was freed. */
  #forget(index: number): void {
    if (index >>> 5 < this.#live.length) this.#live[index >>> 5] &= ~(1 << index);
    if (this.#keepsFreed) this.#mark(index >>> 5, 1 << index);
  }

  /** Remembers the blocks of `bits` in word `word` as freed, in a checked heap. */
  #mark(word: number, bits: number): void {
    if (!this.#freed) return;
    if (word >= this.#freed.length) this.#freed = grown(this.#freed, word);
    this.#freed[word] |= bits;
  }
}

/** A copy of `words` long enough to hold word `index`, at least twice as long. */
function grown(words: Uint32Array, index: number): Uint32Array<ArrayBuffer> {
  const larger = new Uint32Array(Math.max(words.length * 2, index + 1));
  larger.set(words);
  return larger;
}
