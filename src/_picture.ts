/**
 * A heap described as plain data: its blocks, its free lists and its top region. The reader
 * draws this picture from a live wasm heap's bytes and the model from its own records; the rules
 * every heap obeys, and the statistics, are stated here once for both.
 */
import { ALIGN, CLASSES, FIRST, HEADER, MIN_BLOCK, QUICK_BOUND, QUICK_LISTS } from "./_layout.ts";
import { classOf } from "./_size_class.ts";

/**
 * One block of a heap, as {@linkcode Heap.prototype.walk} lists them.
 *
 * @example Finding the block behind a pointer
 * ```ts
 * import { Heap, type HeapBlock } from "@mote/alloc";
 * import assert from "node:assert/strict";
 *
 * const heap = new Heap();
 * const ptr = heap.malloc(100);
 * const block: HeapBlock = heap.walk().find((block) => block.ptr === ptr)!;
 * assert.equal(block.size, 112);
 * assert.equal(block.free, false);
 * ```
 */
export interface HeapBlock {
  /** The block's first byte, where its 4-byte header is. */
  readonly address: number;
  /** Its payload, 4 bytes in: for a block in use, what the allocation returned. */
  readonly ptr: number;
  /** Its bytes, header included: a multiple of 16. */
  readonly size: number;
  /**
   * Whether it is free rather than in use: waiting in a free list, or (small blocks) in its
   * size's quick list, where it stays unmerged with its free neighbours until it is reused or
   * memory runs short.
   */
  readonly free: boolean;
}

/**
 * What a heap holds, as {@linkcode Heap.prototype.stats} counts it. The parts add up:
 * `span = overheadBytes + usedBytes + freeBytes + topBytes`.
 *
 * @example Watching a heap fragment
 * ```ts
 * import { Heap, type HeapStats } from "@mote/alloc";
 * import assert from "node:assert/strict";
 *
 * const heap = new Heap();
 * const ptrs = Array.from({ length: 10 }, () => heap.malloc(1000));
 * for (const ptr of ptrs.filter((_, i) => i % 2 === 0)) heap.free(ptr);
 * const stats: HeapStats = heap.stats();
 * assert.equal(stats.usedBlocks, 5);
 * assert.equal(stats.freeBlocks, 5);
 * assert.ok(stats.fragmentation > 0);
 * ```
 */
export interface HeapStats {
  /** Bytes from the heap's base to its end: the memory it has grown into, up to its limit. */
  readonly span: number;
  /** Bytes of bookkeeping: alignment padding in front, the root, and the word at the end. */
  readonly overheadBytes: number;
  /** How many blocks are in use. */
  readonly usedBlocks: number;
  /** The bytes of the blocks in use, headers included. */
  readonly usedBytes: number;
  /** How many blocks are free, waiting in the free lists. */
  readonly freeBlocks: number;
  /** The bytes of the free blocks. */
  readonly freeBytes: number;
  /** The size of the largest free block; 0 when there is none. */
  readonly largestFree: number;
  /**
   * The bytes of the top region: the memory above the last block, which new blocks are carved
   * from when no free block fits (more can be had by growing memory, up to the limit).
   */
  readonly topBytes: number;
  /**
   * The share of the free memory (free blocks and the top region) that lies outside its largest
   * piece, from 0 to 1: `1 - max(largestFree, topBytes) / (freeBytes + topBytes)`, and 0 when
   * nothing is free. 0 means any request up to all the free memory can be served in one piece.
   */
  readonly fragmentation: number;
}

/** A heap as data, whichever side drew it. */
export interface HeapPicture {
  /** Where the heap's bookkeeping starts: its base, rounded up to 16. */
  readonly root: number;
  /** Every block in address order, from the first (at `root + FIRST`) up to `top`. */
  readonly blocks: readonly HeapBlock[];
  /** For each class, the addresses of its free blocks from the list's head to its tail. */
  readonly lists: readonly (readonly number[])[];
  /** For each size below SMALL, at size / ALIGN, its quick list's blocks from head to tail. */
  readonly quick: readonly (readonly number[])[];
  /** Where the top region starts. */
  readonly top: number;
  /** Where the top region ends: the heap's end less the word a block there would need. */
  readonly end: number;
}

/** The heap's end, where memory or the limit stops it: `end` is a header short of it. */
export function heapEnd(picture: HeapPicture): number {
  return picture.end + HEADER;
}

/** Counts what a heap holds; `base` is where its region starts. */
export function statsOf(picture: HeapPicture, base: number): HeapStats {
  let usedBlocks = 0, usedBytes = 0, freeBlocks = 0, freeBytes = 0, largestFree = 0;
  for (const block of picture.blocks) {
    if (block.free) {
      freeBlocks++;
      freeBytes += block.size;
      largestFree = Math.max(largestFree, block.size);
    } else {
      usedBlocks++;
      usedBytes += block.size;
    }
  }
  const topBytes = picture.end - picture.top;
  const allFree = freeBytes + topBytes;
  return {
    span: heapEnd(picture) - base,
    overheadBytes: picture.root - base + FIRST + HEADER,
    usedBlocks,
    usedBytes,
    freeBlocks,
    freeBytes,
    largestFree,
    topBytes,
    fragmentation: allFree === 0 ? 0 : 1 - Math.max(largestFree, topBytes) / allFree,
  };
}

/**
 * The rules every heap obeys, checked on its picture: blocks tile the space from the first block
 * to the top region; every free block is in its size's quick list or in its class's free list,
 * once; no quick list holds more than QUICK_BOUND; and no two free blocks of the free lists
 * touch, nor does one touch the top region. Returns what is wrong; empty when nothing is.
 */
export function checkPicture(picture: HeapPicture): string[] {
  const problems: string[] = [];
  const { root, blocks, lists, quick, top, end } = picture;
  const quickListed = new Set(quick.flat());
  const first = root + FIRST;
  if (top < first || top > end || (top - first) % ALIGN !== 0) {
    problems.push(`Top ${top} is not a block boundary between ${first} and ${end}`);
  }
  let expected = first;
  let leftFree = false;
  const unlisted = new Map<number, HeapBlock>();
  for (const block of blocks) {
    if (block.address !== expected) {
      problems.push(
        `Block at ${block.address} does not start where the one below ends, ${expected}`,
      );
    }
    if (block.size < MIN_BLOCK || block.size % ALIGN !== 0) {
      problems.push(
        `Block at ${block.address} has size ${block.size}, not a multiple of 16 from 16`,
      );
    }
    const merged = block.free && !quickListed.has(block.address);
    if (merged && leftFree) {
      problems.push(`Free block at ${block.address} touches the free block below it`);
    }
    if (block.free) unlisted.set(block.address, block);
    leftFree = merged;
    expected = block.address + block.size;
  }
  if (expected !== top) problems.push(`The last block ends at ${expected}, not at top ${top}`);
  if (leftFree) problems.push(`The free block below top ${top} was not merged into it`);
  if (lists.length !== CLASSES) problems.push(`There are ${lists.length} lists, not ${CLASSES}`);
  if (quick.length !== QUICK_LISTS) {
    problems.push(`There are ${quick.length} quick lists, not ${QUICK_LISTS}`);
  }
  const listsOf = [["List", lists, classOf], [
    "Quick list",
    quick,
    (size: number) => size / ALIGN,
  ]] as const;
  for (const [name, all, indexOf] of listsOf) {
    all.forEach((list, index) => {
      if (name === "Quick list" && list.length > QUICK_BOUND) {
        problems.push(`Quick list ${index} holds ${list.length} blocks, over ${QUICK_BOUND}`);
      }
      for (const address of list) {
        const block = unlisted.get(address);
        if (block === undefined) {
          problems.push(
            `${name} ${index} holds ${address}, which is not a free block or is listed twice`,
          );
        } else {
          unlisted.delete(address);
          if (indexOf(block.size) !== index) {
            problems.push(
              `Free block at ${address} of size ${block.size} is in ${name.toLowerCase()} ` +
                `${index}, not ${indexOf(block.size)}`,
            );
          }
        }
      }
    });
  }
  for (const address of unlisted.keys()) {
    problems.push(`Free block at ${address} is in no list`);
  }
  return problems;
}
