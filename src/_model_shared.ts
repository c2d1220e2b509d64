/**
 * The shared build's policy (asm/shared.ts) on top of mote's, for the reference model: what a
 * shared heap does beyond the lock. It keeps a record of its live blocks, a bit per 16 bytes,
 * which free, realloc and malloc_usable_size trust instead of the header in front of a pointer;
 * the record is a block of the heap itself, so where it lies, and when it moves, changes the
 * pointers every later call returns. This model allocates it exactly when the wasm does:
 *
 * - before an operation that may carve `need` bytes from the top region (malloc: its size; calloc:
 *   the product; aligned_alloc: size plus alignment; realloc: its new size), when the top plus
 *   `need` is within the limit, it reaches that plus 32 bytes (a header, the rounding, the header
 *   after; at most the limit). When that lies past what the record covers, the record grows: a
 *   zeroed block (calloc) covering twice the reach from the first payload, at least a page, at
 *   most to the limit, the old bits copied in; then the old record is freed;
 * - for the length of the operation the limit is lowered to the record's reach, so no block is
 *   carved without a bit, even when the record could not grow;
 * - a pointer whose bit is clear is refused: free ignores it, realloc and malloc_usable_size
 *   return 0, and nothing is allocated for it;
 * - a successful mote_init forgets the record with every block.
 *
 * @module
 */
import { ALIGN, FIRST, HEADER, MAX_LIMIT } from "./_layout.ts";
import { ModelAllocator } from "./_model_allocator.ts";
import type { HeapPicture } from "./_picture.ts";

/** Bytes of heap one byte of the record covers: a bit per ALIGN bytes. */
const COVER = ALIGN * 8;
/** How far a carve may reach past the top and its request: a header, rounding, the next header. */
const SLACK = 2 * ALIGN;
/** The least a record covers: a page. */
const MIN_COVER = 65536;
/** The largest 32-bit value: a need that overflows 32 bits saturates to it. */
const U32_MAX = 0xFFFF_FFFF;

/**
 * The C ABI of mote's shared build over a `WebAssembly.Memory`, one thread's view of it: the
 * same arguments and results as the wasm's exports, for replaying its ticket log in order.
 */
export class SharedModelAllocator {
  readonly #heap: ModelAllocator;
  /** The payloads of the blocks handed out and not freed since: the record's set bits. */
  readonly #live = new Set<number>();
  /** The record's payload, 0 before the first one. */
  #record = 0;
  /** Its length in bytes: it covers the payloads below first + COVER × this. */
  #recordBytes = 0;
  /** The lowest payload the heap can have (before the first init, as the wasm's root of 0). */
  #first = FIRST + HEADER;

  /**
   * A model over `memory`, not started: call `init` first.
   *
   * @param memory The memory to allocate in, not shared: the model runs on one thread.
   */
  constructor(memory: WebAssembly.Memory) {
    this.#heap = new ModelAllocator(memory);
  }

  /** The memory the heap lives in. */
  get memory(): WebAssembly.Memory {
    return this.#heap.memory;
  }

  /** The address the heap may grow to, as set (not as lowered during an operation). */
  get limit(): number {
    return this.#heap.limit;
  }

  set limit(address: number) {
    this.#heap.limit = address;
  }

  /**
   * Moves the limit to `limitEnd`, as mote_set_limit: 1, or 0 changing nothing when it lies below
   * the end of what the heap spans (the memory's end, or the limit if lower).
   */
  mote_set_limit(limitEnd: number): number {
    if (limitEnd < Math.min(this.memory.buffer.byteLength, MAX_LIMIT, this.limit)) return 0;
    this.limit = limitEnd;
    return 1;
  }

  /** Starts an empty heap in `[base, limitEnd)`, as mote_init; the record is forgotten. */
  init(base: number, limitEnd: number): boolean {
    const done = this.#heap.init(base, limitEnd);
    if (done) {
      this.#live.clear();
      this.#record = this.#recordBytes = 0;
      this.#first = Math.ceil(base / ALIGN) * ALIGN + FIRST + HEADER;
    }
    return done;
  }

  /** Allocates `bytes` bytes, the record readied first; 0 when they cannot be had. */
  malloc(bytes: number): number {
    return this.#served(this.#carving(bytes, () => this.#heap.malloc(bytes)));
  }

  /** Frees a live block; ignores any other pointer. */
  free(ptr: number): void {
    this.mote_free(ptr);
  }

  /** As free: 1 when `ptr` was a live block, now freed; 0 when it was refused. */
  mote_free(ptr: number): number {
    if (!this.#live.delete(ptr)) return 0;
    this.#heap.free(ptr);
    return 1;
  }

  /** Resizes a live block, or allocates for 0; 0, changing nothing, for any other pointer. */
  realloc(ptr: number, bytes: number): number {
    if (ptr !== 0 && !this.#live.has(ptr)) return 0;
    const moved = this.#carving(bytes, () => this.#heap.realloc(ptr, bytes));
    if (moved !== 0 && moved !== ptr) {
      this.#live.delete(ptr);
      this.#live.add(moved);
    }
    return moved;
  }

  /** Allocates `count * size` zeroed bytes; 0 on overflow or when they cannot be had. */
  calloc(count: number, size: number): number {
    const need = Math.min(count * size, U32_MAX);
    return this.#served(this.#carving(need, () => this.#heap.calloc(count, size)));
  }

  /** Allocates with a power-of-two alignment up to 64 KiB; 0 for any other alignment. */
  aligned_alloc(alignment: number, bytes: number): number {
    const need = Math.min(bytes + alignment, U32_MAX);
    return this.#served(this.#carving(need, () => this.#heap.aligned_alloc(alignment, bytes)));
  }

  /** The bytes usable at a live block; 0 for any other pointer. */
  malloc_usable_size(ptr: number): number {
    return this.#live.has(ptr) ? this.#heap.malloc_usable_size(ptr) : 0;
  }

  /** The heap as data: every block, the record's among the used ones. */
  picture(): HeapPicture {
    return this.#heap.picture();
  }

  /** Runs `operation` with the record ready for `need` bytes carved and the limit at its reach. */
  #carving(need: number, operation: () => number): number {
    const limit = this.#heap.limit;
    // a carve of `need` bytes reaches past it by its block's rounding and the header after
    const carved = this.#heap.top + need;
    const want = carved <= limit ? Math.min(carved + SLACK, limit) : Infinity;
    if (want <= limit && want > this.#reach()) {
      const room = limit - this.#first;
      const reach = want - this.#first;
      const span = reach > Math.floor(room / 2) ? room : Math.max(reach * 2, MIN_COVER);
      const bytes = Math.ceil(Math.ceil(Math.min(span, room) / COVER) / 16) * 16;
      const fresh = this.#heap.calloc(bytes, 1);
      if (fresh !== 0) {
        if (this.#record !== 0) this.#heap.free(this.#record);
        this.#record = fresh;
        this.#recordBytes = bytes;
      }
    }
    this.#heap.limit = Math.min(limit, this.#reach());
    try {
      return operation();
    } finally {
      this.#heap.limit = limit;
    }
  }

  /** Where the record's cover ends: payloads from here up have no bit. */
  #reach(): number {
    return this.#first + this.#recordBytes * COVER;
  }

  #served(ptr: number): number {
    if (ptr !== 0) this.#live.add(ptr);
    return ptr;
  }
}
