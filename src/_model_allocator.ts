/**
 * mote's policy, rule for rule, in plain TypeScript: the reference the differential fuzzer holds
 * asm/mote.ts to. Blocks are records in a map, each free list an array, and nothing is encoded
 * in bytes: the memory holds only what users write (and what calloc zeroes and realloc copies).
 * For any sequence of calls it returns what the wasm returns, and grows its memory when and by as
 * much as the wasm grows its own. Where the wasm reads a header to tell a pointer it never
 * returned, the model knows its blocks: for pointers into the middle of a block, or into freed
 * memory that was used again, the two may differ (the wasm's answer there depends on the bytes).
 */
import {
  ALIGN,
  CLASSES,
  FIRST,
  HEADER,
  MAX_ALIGN,
  MAX_LIMIT,
  MIN_BLOCK,
  PAGE,
  QUICK_LISTS,
  SMALL,
} from "./_layout.ts";
import { classOf, SCAN } from "./_size_class.ts";
import type { HeapBlock, HeapPicture } from "./_picture.ts";
import { FREED, LIVE, NOT_A_BLOCK, type Verdict } from "./_verdict.ts";

/** The largest result of a 32-bit size computation, such as calloc's product. */
const U32_MAX = 0xFFFF_FFFF;

/**
 * A block: a header and its payload, used or free; a free one waits either in its class's free
 * list, merged with its free neighbours, or unmerged in its size's quick list (`quick`).
 */
interface Block {
  readonly address: number;
  size: number;
  free: boolean;
  /** The bytes asked for, when used: the checked build's usable size (its red zone follows). */
  asked?: number;
  quick?: boolean;
}

function roundUp(value: number, multiple: number): number {
  return Math.ceil(value / multiple) * multiple;
}

/**
 * The C ABI of mote over a `WebAssembly.Memory`, with the same arguments and results as the
 * wasm's exports (unsigned): 0 for every failure, nothing thrown.
 */
export class ModelAllocator {
  /** The memory the heap lives in; the model grows it as the wasm would. */
  readonly memory: WebAssembly.Memory;
  /** The bytes a used block spends beyond its usable ones: the header, and a guard if checked. */
  readonly overhead: number;
  /** The most blocks a quick list holds, as the module's `mote_quick`: 0 for none at all. */
  readonly quickBound: number;
  /** Whether a block's usable bytes are exactly those asked for, as in the checked build. */
  readonly #exact: boolean;
  #root = 0;
  #limit = 0; // before init, a heap of zero capacity: every call fails
  #top = FIRST;
  /**
   * Memory from here to the memory's end reads zero: the model grew it and has not handed it out
   * since. Memory the owner may have written is never pristine: what lay above the limit below the
   * memory's end when the limit was set, and memory another module grew.
   */
  #pristine = 0;
  /** The memory's end when the model last looked: memory beyond it, another module grew. */
  #seen = 0;
  /** Every block, free or used, by address. */
  readonly #blocks = new Map<number, Block>();
  /** Each free block by the address just past it, where a block it can merge with starts. */
  readonly #freeEndingAt = new Map<number, Block>();
  /** The free list of each class, as a stack: the head is the last element. */
  readonly #lists: Block[][] = Array.from({ length: CLASSES }, () => []);
  /** The quick list of each size below SMALL, at size / ALIGN, as a stack likewise. */
  readonly #quick: Block[][] = Array.from({ length: QUICK_LISTS }, () => []);
  /**
   * The pointers freed (by free, or by realloc moving their block) since the heap started, that
   * no call has returned since: using one again is a double free. Every call reaches the model,
   * other modules' through its exports too, so this is exact.
   */
  readonly #freed = new Set<number>();

  /**
   * A model over `memory`, not started: call `init` first.
   *
   * @param memory The memory to allocate in.
   * @param checked Whether to model the checked build, whose used blocks end in a guard word.
   * @param quickBound The bound of the build's quick lists (its `mote_quick`): QUICK_BOUND for
   * the fast and checked builds, 0 for the release build, which has none.
   */
  constructor(memory: WebAssembly.Memory, checked = false, quickBound = 0) {
    this.memory = memory;
    this.quickBound = quickBound;
    this.overhead = checked ? HEADER + 4 : HEADER;
    this.#exact = checked;
  }

  /** Where the top region starts, as the wasm's `mote_top`. */
  get top(): number {
    return this.#top;
  }

  /**
   * The address the heap may not grow past, as the wasm's `mote_limit`; settable like it, and
   * carving from the top region stops below it at once.
   */
  get limit(): number {
    return this.#limit;
  }

  set limit(address: number) {
    // what lies above the limit and below the memory's end is the owner's to write while it stays
    // there (a limit lowered below the memory's end, or the memory grown past the limit): a limit
    // set anew gives none of it back as pristine
    this.#pristine = Math.max(this.#pristine, this.#memoryEnd());
    this.#limit = address; // as the wasm's mote_set_limit, which trusts its caller to round it
  }

  /**
   * Starts an empty heap in `[base, limitEnd)`, as mote_init: false when the range cannot hold
   * the root (changing nothing) or memory for it cannot be had (leaving zero capacity).
   */
  init(base: number, limitEnd: number): boolean {
    const root = roundUp(base, ALIGN);
    const limit = Math.floor(Math.min(limitEnd, MAX_LIMIT) / ALIGN) * ALIGN;
    if (base > MAX_LIMIT || root + FIRST + HEADER > limit) return false;
    this.#root = root;
    this.#limit = limit;
    this.#top = root + FIRST;
    this.#pristine = this.#memoryEnd(); // memory there already may hold anything
    this.#blocks.clear();
    this.#freeEndingAt.clear();
    this.#freed.clear();
    for (const list of [...this.#lists, ...this.#quick]) list.length = 0;
    if (!this.#room(0)) {
      this.#limit = 0;
      return false;
    }
    return true;
  }

  /** Allocates `bytes` bytes; 0 when they cannot be had. */
  malloc(bytes: number): number {
    if (bytes >= this.#limit) return 0; // cannot fit below the limit; keeps block sizes in 32 bits
    const block = this.#allocate(this.#blockSize(bytes));
    return block ? this.#handOut(block, bytes) : 0;
  }

  /** Frees a live block; any other pointer is ignored. */
  free(ptr: number): void {
    const block = this.#live(ptr);
    if (block) {
      this.#discard(block);
      this.#freed.add(ptr);
    }
  }

  /**
   * What `ptr` is: a live block's payload, a pointer freed and not returned since (using it is a
   * double free), or neither (never returned, from before `init`, or inside a block).
   */
  verdict(ptr: number): Verdict {
    if (this.#live(ptr)) return LIVE;
    return this.#freed.has(ptr) ? FREED : NOT_A_BLOCK;
  }

  /**
   * Resizes in place when it can: shrinking, into a free right neighbour, or at the top;
   * otherwise moves, copying the old usable bytes. 0 on failure, the old block unchanged.
   */
  realloc(ptr: number, bytes: number): number {
    if (ptr === 0) return this.malloc(bytes);
    const block = this.#live(ptr);
    if (!block || bytes >= this.#limit) return 0;
    const size = this.#blockSize(bytes);
    // a right neighbour waiting unmerged in a quick list may, merged, make room to grow in place
    if (size > block.size && this.#blocks.get(block.address + block.size)?.quick) this.#flush();
    if (size > block.size) {
      const rightAddress = block.address + block.size;
      const right = this.#blocks.get(rightAddress);
      if (right?.free && !right.quick && block.size + right.size >= size) {
        this.#forget(right);
        block.size += right.size;
      } else if (rightAddress === this.#top && this.#room(size - block.size)) {
        this.#raiseTop(block.address + size);
        block.size = size;
      } else {
        const moved = this.malloc(bytes);
        if (moved) {
          new Uint8Array(this.memory.buffer).copyWithin(moved, ptr, ptr + this.#usable(block));
          this.#discard(block);
          this.#freed.add(ptr);
        }
        return moved;
      }
    }
    this.#trim(block, size);
    return this.#handOut(block, bytes);
  }

  /** Allocates `count * size` zeroed bytes; 0 when the product overflows or cannot be had. */
  calloc(count: number, size: number): number {
    const bytes = count * size;
    if (bytes > U32_MAX) return 0;
    this.#noticeOutsideGrowth();
    const pristine = this.#pristine;
    const ptr = this.malloc(bytes);
    if (ptr) new Uint8Array(this.memory.buffer).fill(0, ptr, Math.min(ptr + bytes, pristine));
    return ptr;
  }

  /**
   * Allocates `bytes` bytes at a multiple of `alignment`, a power of two up to 64 KiB (0 for
   * any other). It takes a block with room to spare for the alignment and frees the gap in
   * front of the aligned address as a block of its own.
   */
  aligned_alloc(alignment: number, bytes: number): number {
    if (!(alignment >= 1 && alignment <= MAX_ALIGN && Number.isInteger(Math.log2(alignment)))) {
      return 0;
    }
    if (alignment <= ALIGN) return this.malloc(bytes);
    if (bytes >= this.#limit) return 0;
    const size = this.#blockSize(bytes);
    const block = this.#allocate(size + alignment - ALIGN);
    if (!block) return 0;
    const gap = roundUp(block.address + HEADER, alignment) - (block.address + HEADER);
    let aligned = block;
    if (gap > 0) {
      aligned = this.#add({ address: block.address + gap, size: block.size - gap, free: false });
      block.size = gap;
      this.#release(block);
    }
    this.#trim(aligned, size);
    return this.#handOut(aligned, bytes);
  }

  /** The bytes usable at a live block; 0 for any other pointer. */
  malloc_usable_size(ptr: number): number {
    const block = this.#live(ptr);
    return block ? this.#usable(block) : 0;
  }

  /** The heap as data, in the shape the reader draws a wasm heap in. */
  picture(): HeapPicture {
    const blocks: HeapBlock[] = [...this.#blocks.values()]
      .sort((a, b) => a.address - b.address)
      .map(({ address, size, free }) => ({ address, ptr: address + HEADER, size, free }));
    const addresses = (list: Block[]) => list.map((block) => block.address).reverse();
    const end = Math.min(this.#memoryEnd(), this.#limit) - HEADER;
    const [lists, quick] = [this.#lists.map(addresses), this.#quick.map(addresses)];
    return { root: this.#root, blocks, lists, quick, top: this.#top, end };
  }

  /** Returns a used block's payload for a request of `bytes`: no longer a freed pointer. */
  #handOut(block: Block, bytes: number): number {
    block.asked = bytes;
    this.#freed.delete(block.address + HEADER);
    return block.address + HEADER;
  }

  /** The block size serving a request of `bytes` (below the limit, so it cannot overflow). */
  #blockSize(bytes: number): number {
    return roundUp(bytes + this.overhead, ALIGN);
  }

  #usable(block: Block): number {
    return this.#exact ? block.asked! : block.size - this.overhead;
  }

  /** The used block whose payload starts at `ptr`, if there is one. */
  #live(ptr: number): Block | undefined {
    const block = this.#blocks.get(ptr - HEADER);
    return block && !block.free ? block : undefined;
  }

  /**
   * A used block of at least `size` bytes. The head of the size's quick list is taken, if it is
   * small and has one; otherwise the first of the first SCAN blocks of the size's own class, from
   * its head, that is large enough; otherwise the head of the lowest non-empty class above, whose
   * every block is; otherwise a block is carved from the top region. No list is searched beyond
   * its first SCAN blocks. Before the memory grows for it (or is refused), whatever waits in the
   * quick lists is emptied into the free lists, and the search is made again; the top region is
   * carved without that when it holds the request in the memory as it is.
   */
  #allocate(size: number): Block | undefined {
    const waiting = size < SMALL ? this.#quick[size / ALIGN].pop() : undefined;
    if (waiting) {
      waiting.free = waiting.quick = false;
      return waiting;
    }
    const own = this.#lists[classOf(size)];
    const fit = own.slice(-SCAN).reverse().find((block) => block.size >= size);
    if (fit) return this.#take(fit, size);
    for (let index = classOf(size) + 1; index < CLASSES; index++) {
      const above = this.#head(index);
      if (above) return this.#take(above, size);
    }
    if (!this.#inMemory(size) && this.#flush()) return this.#allocate(size);
    if (!this.#room(size)) return undefined;
    const block = this.#add({ address: this.#top, size, free: false });
    this.#raiseTop(this.#top + size);
    return block;
  }

  #head(index: number): Block | undefined {
    return this.#lists[index].at(-1);
  }

  /** Takes a listed block for a request of `size` bytes, giving back what is beyond. */
  #take(block: Block, size: number): Block {
    this.#unlist(block);
    block.free = false;
    this.#trim(block, size);
    return block;
  }

  /**
   * Frees a used block: onto its size's quick list, unmerged, when it is below SMALL, does not end
   * at the top region, and the list holds fewer than `quickBound` blocks; otherwise, release.
   */
  #discard(block: Block): void {
    const list = block.size < SMALL ? this.#quick[block.size / ALIGN] : [];
    const atTop = block.address + block.size === this.#top;
    if (block.size < SMALL && !atTop && list.length < this.quickBound) {
      block.free = block.quick = true;
      list.push(block);
    } else {
      this.#release(block);
    }
  }

  /**
   * Empties the quick lists, smallest size first and each from its head, releasing every block;
   * whether there was any.
   */
  #flush(): boolean {
    const waiting = this.#quick.flatMap((list) => list.splice(0).reverse());
    for (const block of waiting) {
      block.free = block.quick = false;
      this.#release(block);
    }
    return waiting.length > 0;
  }

  /**
   * Frees a used block: it merges with a free left neighbour, then either falls into the top
   * region when it ends there, or merges with a free right neighbour; the result is listed.
   */
  #release(block: Block): void {
    const rightAddress = block.address + block.size;
    let merged = block;
    const left = this.#freeEndingAt.get(block.address);
    if (left) {
      this.#unlist(left);
      this.#blocks.delete(block.address);
      left.size += block.size;
      merged = left;
    }
    if (rightAddress === this.#top) {
      this.#blocks.delete(merged.address);
      this.#top = merged.address;
      return;
    }
    const right = this.#blocks.get(rightAddress)!;
    if (right.free && !right.quick) {
      this.#forget(right);
      merged.size += right.size;
    }
    merged.free = true;
    this.#list(merged);
  }

  /** Gives back a used block's bytes beyond `size` when they make a block of their own. */
  #trim(block: Block, size: number): void {
    const rest = block.size - size;
    if (rest >= MIN_BLOCK) {
      block.size = size;
      this.#release(this.#add({ address: block.address + size, size: rest, free: false }));
    }
  }

  /** Moves the top region's start up to `address`: the memory below has been handed out. */
  #raiseTop(address: number): void {
    this.#top = address;
    this.#pristine = Math.max(this.#pristine, address);
  }

  /**
   * Whether the top region holds `size` bytes, growing memory, within the limit, by the pages
   * needed if it must. False, changing nothing, when the limit or the memory says no. Carving
   * stops at min(memory's end, limit) less a header, worked out afresh on every call.
   */
  #room(size: number): boolean {
    const need = this.#top + size + HEADER;
    if (need > this.#limit) return false;
    this.#noticeOutsideGrowth();
    const have = this.#memoryEnd();
    if (need > have && !this.#growMemoryTo(need, have)) return false;
    this.#seen = this.#memoryEnd();
    return true;
  }

  /** Whether the top region holds `size` bytes below the limit in the memory as it is. */
  #inMemory(size: number): boolean {
    return this.#top + size + HEADER <= Math.min(this.#limit, this.#memoryEnd());
  }

  /** Takes memory that another module grew since the model last looked for written. */
  #noticeOutsideGrowth(): void {
    if (this.#memoryEnd() !== this.#seen) {
      this.#pristine = Math.max(this.#pristine, this.#memoryEnd());
    }
  }

  /** Grows memory by the pages that reach `address` from `have`; false if the memory refuses. */
  #growMemoryTo(address: number, have: number): boolean {
    try {
      this.memory.grow(Math.ceil((address - have) / PAGE));
      return true;
    } catch {
      return false;
    }
  }

  /** The end of memory, as far as the heap can use it. */
  #memoryEnd(): number {
    return Math.min(this.memory.buffer.byteLength, MAX_LIMIT);
  }

  #add(block: Block): Block {
    this.#blocks.set(block.address, block);
    return block;
  }

  /** Pushes a free block on its class's list: the list's new head. */
  #list(block: Block): void {
    this.#lists[classOf(block.size)].push(block);
    this.#freeEndingAt.set(block.address + block.size, block);
  }

  /** Takes a free block off its list, before its size changes. */
  #unlist(block: Block): void {
    const list = this.#lists[classOf(block.size)];
    list.splice(list.lastIndexOf(block), 1);
    this.#freeEndingAt.delete(block.address + block.size);
  }

  /** Unlists a free block that a neighbour absorbs, and forgets it. */
  #forget(block: Block): void {
    this.#unlist(block);
    this.#blocks.delete(block.address);
  }
}
