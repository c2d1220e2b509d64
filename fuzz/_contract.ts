/**
 * The contract every fuzzer holds an allocator to, from its own record of what the program did
 * and never from the model (which shares the allocator's policy) nor from code the heap runs:
 *
 * - a block lies in the heap, aligned, with a usable size of at least what was asked, and
 *   overlaps no other live block;
 * - calloc's bytes are zero, whatever the memory held before (the owner's old bytes included);
 * - a block's bytes are exactly what the program wrote until it is freed or reallocated, and
 *   realloc keeps the prefix the old and new blocks share;
 * - every byte outside the heap's region is what its owner left there: the bytes it wrote, and
 *   the zeros of memory grown from outside;
 * - a pointer that is not live is one the run freed (since the last reset, and not handed out
 *   again: a double free) or any other (invalid): the kind a checked heap must name.
 *
 * The record: the live blocks, with contents made by `_pattern.ts` from each block's id; the
 * pointers freed and those gone stale at a reset; the owner's ranges of bytes outside the region.
 * The fuzzers call it as they act, and {@linkcode Contract.check} after every command.
 */
import { ALIGN, HEADER } from "../src/_layout.ts";
import { extents, fillPattern, patternByte, patternMismatch } from "./_pattern.ts";

/** A block the allocator handed out and the run has not freed. */
export interface Block {
  /** Its name in the trace, `b<id>`; its contents are a pattern made from it. */
  readonly id: number;
  readonly ptr: number;
  readonly requested: number;
  /** The bytes the run may write: the usable size, or the request if it cannot be asked. */
  readonly usable: number;
}

/** How a block handed out must lie: aligned to `alignment`, within `bounds`; zero if `zeroed`. */
interface Placement {
  readonly alignment: number;
  readonly bounds: readonly [number, number];
  readonly zeroed?: boolean;
}

/** A realloc's move: what it was (`what`), and how many of the old block's bytes it must keep. */
type Moved = Omit<Placement, "zeroed"> & { readonly kept: number; readonly what: string };

/** What a checked heap must call a pointer that is not live. */
export type Misuse = "double-free" | "invalid-pointer";

/** Bytes the owner wrote (a pattern of `id`) or found (`id` 0: zeros) outside the region. */
interface Owned {
  readonly from: number;
  readonly to: number;
  readonly id: number;
  /** Where its pattern starts: its `from` as written, before the region took a part of it. */
  readonly origin: number;
}

/** Blocks up to this size are filled and verified whole; larger ones at both ends only. */
const WHOLE = 1 << 20;
const EDGE = 1 << 18;
/** The owner's ranges up to this size are checked whole after each command; larger, the ends. */
const OWNED_WHOLE = 1 << 16;
const OWNED_EDGE = 1 << 12;

/** The contract's record of one run, and its checks; `fail` throws the run's failure. */
export class Contract {
  readonly live: Block[] = [];
  /** Pointers freed since the last reset, not handed out again: double frees. */
  readonly freed = new Set<number>();
  /** Pointers from before a reset, not handed out since. */
  readonly stale = new Set<number>();
  readonly #owned: Owned[] = [];
  /** The id the next block placed gets. */
  nextId: number;

  constructor(
    /** The memory's bytes as they are now (a memory's buffer changes as it grows). */
    readonly buffer: () => ArrayBufferLike,
    /** The heap's region, `[start, end)`, or undefined when the whole memory may be its. */
    readonly region: () => readonly [number, number] | undefined,
    readonly fail: (problem: string) => never,
    /**
     * Whether a freed pointer stays a double free until handed out again (a record of pointers,
     * as the Heap keeps), or only until a block covers the word in front of it (the raw ABI,
     * which can only read that word): a block from its header up to its usable end plus
     * `overhead` (header and guard), rounded up to the 16-byte alignment its sizes have.
     */
    readonly freedUntil: "reused" | { readonly overhead: number } = "reused",
    /** The ids blocks get: `first`, then every `step`th (threads sharing a heap interleave). */
    readonly ids = { first: 1, step: 1 },
  ) {
    this.nextId = ids.first;
  }

  /** A fresh id, for a block or the owner's bytes. */
  #newId(): number {
    const id = this.nextId;
    this.nextId += this.ids.step;
    return id;
  }

  /** The name of a block in the trace. */
  static nameOf(block: Block): string {
    return `b${block.id}`;
  }

  /**
   * Checks a block just handed out at `ptr` and records it, filling it with its pattern: it is
   * aligned, as large as asked, within `bounds`, overlaps no live block, and if `zeroed`, zero.
   */
  place(ptr: number, requested: number, usable: number, how: Placement): Block {
    const { alignment, zeroed, bounds: [low, high] } = how;
    const block = { id: this.#newId(), ptr, requested, usable };
    if (ptr % alignment !== 0) this.fail(`${ptr} is not aligned to ${alignment}`);
    if (usable < requested) {
      this.fail(`Block ${ptr}'s usable size ${usable} is less than the ${requested} asked`);
    }
    if (ptr < low || ptr + usable > high) {
      this.fail(`Block ${ptr} + ${usable} lies outside the heap, [${low}, ${high})`);
    }
    for (const other of this.live) {
      if (ptr < other.ptr + other.usable && other.ptr < ptr + usable) {
        this.fail(`Block ${ptr} + ${usable} overlaps ${Contract.nameOf(other)} at ${other.ptr}`);
      }
    }
    if (zeroed) this.zeroed(this.buffer(), ptr, requested, "calloc");
    this.live.push(block);
    const until = this.freedUntil;
    // the block's end: usable bytes and overhead, in ALIGN steps (the checked build's red zone
    // lies past the usable bytes, over whatever word a freed block left there)
    const end = until === "reused"
      ? 0
      : ptr - HEADER + Math.ceil((usable + until.overhead) / ALIGN) * ALIGN;
    for (const set of [this.freed, this.stale]) {
      set.delete(ptr);
      for (const p of set) if (p >= ptr && p - HEADER < end) set.delete(p);
    }
    for (const [from, to] of extents(usable, WHOLE, EDGE)) {
      fillPattern(this.buffer(), ptr, block.id, from, to);
    }
    return block;
  }

  /** Checks that `requested` bytes at `ptr` in `buffer` are zero, as `whose` calloc promises. */
  zeroed(buffer: ArrayBufferLike, ptr: number, requested: number, whose: string): void {
    const bytes = new Uint8Array(buffer, ptr);
    for (const [from, to] of extents(requested, WHOLE, EDGE)) {
      const at = bytes.subarray(from, to).findIndex((byte) => byte !== 0);
      if (at >= 0) this.fail(`${whose}'s byte ${from + at} at ${ptr} is ${bytes[from + at]}`);
    }
  }

  /** Verifies a live block whole, as read before a free or a move; or its `upTo` bytes at `at`. */
  verify(block: Block, when: string, at = block.ptr, upTo = block.usable): void {
    for (const [from, to] of extents(block.usable, WHOLE, EDGE)) {
      this.verifyRange(block, from, Math.min(to, upTo), at, when);
    }
  }

  /** Checks that bytes `[from, to)` of `block`'s pattern are found at `at`. */
  verifyRange(block: Block, from: number, to: number, at: number, when: string): void {
    const buffer = this.buffer();
    const offset = patternMismatch(buffer, at, block.id, from, to);
    if (offset < 0) return;
    this.fail(
      `${Contract.nameOf(block)}'s byte ${offset} (of ${block.usable}) is ` +
        `${new Uint8Array(buffer)[at + offset]}, not ${patternByte(block.id, offset)}, ${when}` +
        ` (address ${at + offset})`,
    );
  }

  /** The live block at `ptr`'s index, or -1. */
  indexOf(ptr: number): number {
    return this.live.findIndex((block) => block.ptr === ptr);
  }

  /**
   * Takes the live block at `index` out of the record for a call that may move or free it,
   * verifying it whole first: while the call runs, its bytes are the allocator's.
   */
  take(index: number, why: string): Block {
    this.verify(this.live[index], `before ${why}`);
    return this.live.splice(index, 1)[0];
  }

  /** Puts back a block taken for a call that failed: it must be intact, as it was. */
  restore(block: Block, why: string): void {
    this.live.push(block);
    this.verify(block, `after ${why} failed`);
  }

  /**
   * Records a realloc of `old`, taken, to `ptr`, checked as a block just handed out: its first
   * `kept` bytes must be the old block's.
   */
  moved(old: Block, ptr: number, requested: number, usable: number, how: Moved): Block {
    this.verify(old, `after ${how.what}`, ptr, how.kept);
    this.freed.add(old.ptr);
    return this.place(ptr, requested, usable, { alignment: how.alignment, bounds: how.bounds });
  }

  /** What a checked heap must report for `ptr`, a pointer that is not live. */
  misuseOf(ptr: number): Misuse {
    return this.freed.has(ptr) ? "double-free" : "invalid-pointer";
  }

  /** Forgets every block, as a reset does: what was live or freed is stale now. */
  reset(): void {
    for (const { ptr } of this.live) this.stale.add(ptr);
    for (const ptr of this.freed) this.stale.add(ptr);
    this.live.length = 0;
    this.freed.clear();
  }

  /** The owner writes bytes `[from, to)`, outside the region, with a pattern of its own. */
  ownerWrites(from: number, to: number): void {
    const id = this.#newId();
    fillPattern(this.buffer(), from, id, 0, to - from);
    this.#own({ from, to, id, origin: from });
  }

  /** Memory from `from` to `to` appeared, zero: the owner's while outside the region. */
  appeared(from: number, to: number): void {
    this.#own({ from, to, id: 0, origin: from });
  }

  #own(range: Owned): void {
    this.#cut(range.from, range.to);
    this.#owned.push(range);
    this.regionMoved();
  }

  /**
   * The region moved (its limit raised, or set): the owner's bytes now inside it are the heap's
   * to use, and no longer the owner's to find again.
   */
  regionMoved(): void {
    const region = this.region();
    if (region === undefined) this.#owned.length = 0;
    else this.#cut(...region);
  }

  /** Forgets the owner's bytes in `[start, end)`; a range keeps its pattern's origin. */
  #cut(start: number, end: number): void {
    for (const range of this.#owned.splice(0)) {
      const below = { ...range, to: Math.min(range.to, start) };
      const above = { ...range, from: Math.max(range.from, end) };
      if (below.from < below.to) this.#owned.push(below);
      if (above.from < above.to) this.#owned.push(above);
    }
  }

  /**
   * The checks after every command: the ends of every live block are intact, and so are the
   * owner's bytes (whole with `whole`, at the end of a run; else near each range's ends).
   */
  check(what: string, whole = false): void {
    for (const block of this.live) {
      const edge = Math.min(16, block.usable);
      this.verifyRange(block, 0, edge, block.ptr, `after ${what}`);
      this.verifyRange(block, block.usable - edge, block.usable, block.ptr, `after ${what}`);
    }
    const buffer = this.buffer(), bytes = new Uint8Array(buffer);
    for (const { from, to, id, origin } of this.#owned) {
      const spans = extents(to - from, whole ? WHOLE : OWNED_WHOLE, whole ? EDGE : OWNED_EDGE);
      for (const [start, end] of spans) {
        const [low, high] = [from + start, Math.min(from + end, bytes.length)];
        const at = id === 0
          ? bytes.subarray(low, high).findIndex((byte) => byte !== 0) + low
          : patternMismatch(buffer, origin, id, low - origin, high - origin) + origin;
        if (at >= low) {
          this.fail(`after ${what}, the owner's byte at ${at} changed to ${bytes[at]}`);
        }
      }
    }
  }
}
