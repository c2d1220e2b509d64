// mote: an O(1) allocator for WebAssembly linear memory.
//
// Segregated free lists found through two levels of bitmaps (the TLSF family), boundary tags for
// coalescing with both neighbours, and a "top" region above the last block that is carved from
// directly and merged back into when its left neighbour is freed. In front of them, a quick list
// per small size: a freed small block waits there unmerged, a few to a size, for the next request
// of its size, which takes it with a load and two stores (see "Quick lists" below). Everything
// lives in raw linear memory; the only state outside it is a handful of globals.
//
// The policy is mirrored, rule for rule, by the reference model in src/model.ts, which predicts
// every pointer this file returns; the differential fuzzer in fuzz/ holds the two to each other.
// A change of policy here is a change there.
//
// - `fls(x)` (find last set) is `31 - clz(x)` for x != 0; `ffs(x)` (find first set) is `ctz(x)`.

// ╒══════════════════════ Block layout (32-bit) ══════════════════════╕
//    3                   2                   1
//  1 0 9 8 7 6 5 4 3 2 1 0 9 8 7 6 5 4 3 2 1 0 9 8 7 6 5 4 3 2 1 0  bits
// ├─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┼─┴─┼─┼─┤      ┐
// │                  size (a multiple of 16)                  │H│Q│L│F│ ◄ h  │ HEADER
// ╞═ptr = h + 4, 16-byte aligned══════════════════════════════╧═══╧═╧═╡      ┘
// │                         if free: prev ◄                           │ h+4
// ├───────────────────────────────────────────────────────────────────┤
// │                         if free: next ►                           │ h+8
// ├───────────────────────────────────────────────────────────────────┤
// │                               ...                                 │
// ├───────────────────────────────────────────────────────────────────┤
// │                         if free: back ▲ (= h)                     │ h+size-4
// └───────────────────────────────────────────────────────────────────┘ h+size: next header
// F: FREE, L: LEFT_FREE (the block just below is free and its `back` word names it), Q: QUICK
// (a used block waiting in a quick list), H: FREED_HERE (checked, on a free block: the caller
// freed the block that began here). Q is only ever on a used block and H on a free one.
// A used block is its header and `size - 4` usable bytes; a free one is found by its neighbours
// through its header and its `back` word, and by the lists through `prev`/`next` (0 ends a list).

// @ts-ignore: decorator
@inline const ALIGN_BITS: usize = 4;
// @ts-ignore: decorator
@inline const ALIGN: usize = 1 << ALIGN_BITS; // wasm32 clang's max_align_t: v128 loads
// @ts-ignore: decorator
@inline const ALIGN_MASK: usize = ALIGN - 1;
// @ts-ignore: decorator
@inline const HEADER: usize = sizeof<u32>();
// @ts-ignore: decorator
@inline const MIN_BLOCK: usize = (HEADER + 3 * sizeof<u32>() + ALIGN_MASK) & ~ALIGN_MASK; // + prev, next, back
// @ts-ignore: decorator
@inline const FREE: u32 = 1 << 0;
// @ts-ignore: decorator
@inline const LEFT_FREE: u32 = 1 << 1;
// @ts-ignore: decorator
@inline const QUICK: u32 = 1 << 2;
// @ts-ignore: decorator
@inline const TAGS: u32 = <u32>ALIGN_MASK; // sizes are multiples of ALIGN, so their low bits are ours
// @ts-ignore: decorator
@inline const PREV: usize = HEADER;
// @ts-ignore: decorator
@inline const NEXT: usize = HEADER + sizeof<u32>();

// ╒═══════════════ Size class of a block size s (32-bit) ═════════════╕
//    3                   2                   1
//  1 0 9 8 7 6 5 4 3 2 1 0 9 8 7 6 5 4 3 2 1 0 9 8 7 6 5 4 3 2 1 0  bits
// ├─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┼─┴─┴─┴─┴─┼─┴─┴─┴─╫─┴─┴─┴─┤
// │ 0 …  0   1 at bit fls(s) >= SMALL_BITS    │   SL    │  rounded down │ s >= SMALL
// ├───────────────────────────────────────────┴─────────┴───────╨───────┤
// │ 0 …                               0 │      s >> 4     │ 0  0  0  0 │ s < SMALL
// └─────────────────────────────────────┴─────────────────┴────────────┘
// Below SMALL every class holds one size: class s >> 4, from 1 (16 bytes) to SL_COUNT - 1.
// From SMALL up each power of two is cut in SL_COUNT classes, each 1/16 of its power wide:
// class SL_COUNT * (fls(s) - SMALL_BITS) + (s >> (fls(s) - SL_BITS)), from SL_COUNT on, so the
// class index is fl * SL_COUNT + sl with fl = index >> SL_BITS. A bit in `flMap` says slMap[fl]
// is not 0; a bit in slMap[fl] says heads[index] starts a non-empty list.

// @ts-ignore: decorator
@inline const SL_BITS: usize = 4;
// @ts-ignore: decorator
@inline const SL_COUNT: usize = 1 << SL_BITS;
// @ts-ignore: decorator
@inline const SMALL_BITS: usize = SL_BITS + ALIGN_BITS;
// @ts-ignore: decorator
@inline const SMALL: usize = 1 << SMALL_BITS; // 256: 16, 32, … 240 each have a class
// @ts-ignore: decorator
@inline const FL_COUNT: usize = 32 - SMALL_BITS + 1; // fls(s) <= 31 below 4 GiB
// @ts-ignore: decorator
@inline const CLASSES: usize = FL_COUNT << SL_BITS;
// How many blocks of a request's own class are looked at, head first, for one that fits, before
// the next non-empty class is taken: a few find a fit where the head alone would not (the soak's
// heap needs ~15% less memory for it), and a bound keeps malloc O(1).
// @ts-ignore: decorator
@inline const SCAN: u32 = 8;

// ╒═════════════════════ Root layout (at `root`) ═════════════════════╕
// │ slMap[0] … slMap[FL_COUNT - 1]                 u32 each           │ root
// ├───────────────────────────────────────────────────────────────────┤
// │ (padding to ALIGN)                                                │
// ├───────────────────────────────────────────────────────────────────┤
// │ heads[0] … heads[CLASSES - 1]                  u32 each, 0 = ∅    │ root + HEADS
// ├───────────────────────────────────────────────────────────────────┤
// │ quick[0] … quick[SMALL / ALIGN - 1]: size s's at s / ALIGN, 0 = ∅ │ root + QUICK_HEADS
// ╞═══════════════════════════════════════════════════════════════════╡ root + ROOT_SIZE
// │ (12 bytes, so the first payload is 16-aligned)                    │
// ├─ first block header ──────────────────────────────────────────────┤ root + FIRST
// │ blocks, each header naming its size …                             │
// ├─ top ─────────────────────────────────────────────────────────────┤ never a free block's
// │ the top region: no header, carved from directly                   │ neighbour: freeing the
// │                                                                   │ block below it merges
// ├─ heap end - HEADER ───────────────────────────────────────────────┤ where carving stops
// │ 4 bytes: the header a block starting there would need             │
// └───────────────────────────────────────────────────────────────────┘ min(memory end, limit)
// A head's `prev` is its slot - NEXT, which stays above `root`: class 0 is never used.

// @ts-ignore: decorator
@inline const HEADS: usize = (FL_COUNT * sizeof<u32>() + ALIGN_MASK) & ~ALIGN_MASK;
// @ts-ignore: decorator
@inline const QUICK_HEADS: usize = HEADS + CLASSES * sizeof<u32>();
// @ts-ignore: decorator
@inline const ROOT_SIZE: usize = QUICK_HEADS + (SMALL >> ALIGN_BITS) * sizeof<u32>();
// @ts-ignore: decorator
@inline const FIRST: usize = ROOT_SIZE + ALIGN - HEADER;

// ╒═════════════════════ Quick lists (below SMALL) ═══════════════════╕
// │ size | QUICK (| LEFT_FREE) │ next ► (a link) │ …                  │ a quick-listed block
// └────────────────────────────┴─────────────────┴────────────────────┘ h, h+4
//    3                   2                   1
//  1 0 9 8 7 6 5 4 3 2 1 0 9 8 7 6 5 4 3 2 1 0 9 8 7 6 5 4 3 2 1 0  bits
// ├─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┴─┼─┴─┴─┴─┤
// │         the block's address, less its low bits           │length │ a link (0: none)
// └───────────────────────────────────────────────────────────┴───────┘
// Freeing a block of size s < SMALL whose right neighbour is not the top region pushes it on the
// quick list of s, unmerged, when that list holds fewer than QUICK_BOUND blocks; a request of size
// s pops it. A list's head (in the root) and each block's `next` is a link: the block's address,
// whose low ALIGN_BITS bits are always ALIGN - HEADER, with them replaced by the length of the
// list from that block on. So a free learns how full the list is from the head in the root,
// without reading the head block's memory (which for a block freed long ago is a cache miss), and
// a pop leaves the right length behind with the link it takes from the block. To every other path a quick-listed block is a used one, tagged QUICK instead of FREE:
// neighbours neither merge with it nor set LEFT_FREE for it, and blockOf refuses it. The lists
// hold at most QUICK_BOUND * (16 + 32 + … + 240) bytes; they are emptied into the free lists,
// merging each block, when a request finds no fit in them, in the free lists, or in the top region
// within the memory as it is, before the memory grows: no memory is grown or refused for want of
// what they hold. The top region may be carved while they hold blocks: emptying them on every
// request the free lists missed (most of them large: sqlite's page buffers) emptied them for
// nothing, and kept sqlite's trace 1.8 times slower (bench/README.md).

// Quick lists are the fast build's, and the checked build's, which checks them. In the smallest
// build they would cost 267 bytes (1,781 -> 2,048 at the time), which its budget of 2 KiB cannot
// hold beside the rest; there every free merges at once, and the quick heads stay 0. Whether a
// module has them, and their bound, it exports as `mote_quick` (0: none), for the model to mirror.
// `--use MOTE_NO_QUICK=1` leaves them out of those too: the bench's profile times the fast build
// both ways, side by side.
// @ts-ignore: decorator
@inline const QUICK_LISTS: bool = (isDefined(MOTE_FAST) || isDefined(MOTE_CHECKED)) &&
  !isDefined(MOTE_NO_QUICK);
// @ts-ignore: decorator
@inline const QUICK_BOUND: u32 = 8; // at most ALIGN_MASK: a link's low bits count to it
// @ts-ignore: decorator
@inline const LINK: usize = PREV; // a quick-listed block's `next`, a link
// How many blocks all the quick lists hold, kept in the root's padding after `poisoned`, so that a
// request that no list serves knows at once whether there is anything to flush.
// @ts-ignore: decorator
@inline const QUICK_COUNT: usize = FL_COUNT * sizeof<u32>() + sizeof<u32>();

// Growth asks the engine for the pages a request needs and no more. Each memory.grow costs about
// a microsecond, which spread over the 64 KiB it brings is a fraction of a nanosecond per
// allocation, while growing ahead (by a sixteenth of the heap, say) left up to 6% of the memory
// unused and was most of mote's memory over peak live bytes in the benchmarks.
// @ts-ignore: decorator
@inline const PAGE_BITS: usize = 16;
// @ts-ignore: decorator
@inline const PAGE_MASK: usize = (1 << PAGE_BITS) - 1;
// The largest limit leaves room for a 64 KiB alignment's slack above any request that can fit,
// so no size computation below overflows 32 bits.
// @ts-ignore: decorator
@inline const MAX_LIMIT: usize = 0xFFFE_0000;
// @ts-ignore: decorator
@inline const MAX_ALIGN: usize = 1 << PAGE_BITS;

// ╒══════════════ Checked build (--use MOTE_CHECKED=1) ═══════════════╕
// │ header │ the bytes asked for …                 │ RED … (slack) │ guard  │ a used block
// └────────┴───────────────────────────────────────┴───────────────┴────────┘
//                                      guard = h ^ GUARD_KEY ^ slack * SLACK_BYTES
// │ header │ prev │ next │ POISON … (FREED where a block began) │ back │ a free block
// ├────────┼──────┼──────┴┬─────────────────────────────────────┴──────┤
// │ header │ next │ POISON …                                   │ guard  │ a quick-listed block
// └────────┴──────┴────────────────────────────────────────────┴────────┘ checked when popped
// Same layout and policy as the release build, but a used block ends in a guard word, so it costs
// OVERHEAD = 8 bytes instead of 4. The guard also holds the block's slack, the bytes between the
// size asked for and the 16-byte rounded end (0 to 15, in each of the guard's four bytes, so that
// no one-byte write makes another slack), and the slack is filled with RED: a byte-exact red
// zone, at no cost in memory. A write of even one byte past the size asked for hits the red zone
// or the guard (or the next header); a write into freed memory hits the poison. Where a block the
// caller freed began, its free header carries FREED_HERE, or the word a FREED mark once the block
// is merged away, and a split's header over such a mark takes the tag again: freeing it again is
// told from a stray pointer, and memory the heap freed itself (a tail or gap it gave back, a
// split's rest), which was never the caller's block, is not taken for one (unless it begins
// where a block the caller freed began). malloc_usable_size says the size asked for: all of it
// may be written.
// Every check runs before anything changes; a failure calls mote_report(kind, address, operation)
// and gives up, so the heap stays as it was: free does nothing, the others return 0.

// @ts-ignore: decorator
@inline const CHECKED: bool = isDefined(MOTE_CHECKED);
// @ts-ignore: decorator
@inline const GUARD: usize = CHECKED ? sizeof<u32>() : 0;
// @ts-ignore: decorator
@inline const OVERHEAD: usize = HEADER + GUARD;
// @ts-ignore: decorator
@inline const GUARD_KEY: u32 = 0x6D6F7465; // "mote"
// @ts-ignore: decorator
@inline const POISON_BYTE: u8 = 0xDB;
// @ts-ignore: decorator
@inline const RED: u8 = 0xFD;
// @ts-ignore: decorator
@inline const SLACK_BYTES: u32 = 0x0101_0101;
// @ts-ignore: decorator
@inline const POISON: u32 = 0xDBDB_DBDB;
// @ts-ignore: decorator
@inline const FREED: u32 = 0xF4EE_F4EE;
// @ts-ignore: decorator
@inline const FREED_HERE: u32 = CHECKED ? 1 << 3 : 0; // a free block's tag: the caller freed it
// What mote_report's first argument means; the second is the pointer, or the damaged word.
// @ts-ignore: decorator
@inline const DOUBLE_FREE: u32 = 1; // the block at the pointer was freed already
// @ts-ignore: decorator
@inline const NOT_A_BLOCK: u32 = 2; // mote never returned the pointer (or not lately)
// @ts-ignore: decorator
@inline const OVERFLOW: u32 = 3; // the block's guard, or the header after it, was overwritten
// @ts-ignore: decorator
@inline const USE_AFTER_FREE: u32 = 4; // freed memory (at the address given) was written

// What mote_report's third argument means: the C function that was called, numbered in the order
// of C_NAMES in src/_engine.ts, so that a module calling mote wasm to wasm learns which call it was.
// @ts-ignore: decorator
@inline const OP_MALLOC: u32 = 1;
// @ts-ignore: decorator
@inline const OP_FREE: u32 = 2;
// @ts-ignore: decorator
@inline const OP_REALLOC: u32 = 3;
// @ts-ignore: decorator
@inline const OP_CALLOC: u32 = 4;
// @ts-ignore: decorator
@inline const OP_ALIGNED_ALLOC: u32 = 5;
// @ts-ignore: decorator
@inline const OP_USABLE_SIZE: u32 = 6;

// ╒═════════════════ Fast build (--use MOTE_FAST=1, -O3) ═════════════════╕
// Same policy, layout and results as the release build, for speed over size: the commonest paths
// are also written out where they are entered (malloc popping a quick list, or carving the top
// region with no block listed; free checking its pointer once, then pushing a quick list or
// giving the block just below the top region back to it; a split's rest listed without a merge
// check), where the smallest build takes them through the general paths.

// @ts-ignore: decorator
@inline const FAST: bool = isDefined(MOTE_FAST) && !CHECKED;

// @ts-ignore: decorator
@external("env", "mote_report")
declare function mote_report(kind: u32, address: usize, operation: u32): void;

// The C function in progress. `nested` is set just before realloc, calloc or aligned_alloc calls
// malloc, so that malloc keeps its caller's name; malloc's enter() clears it at once.
let operation: u32 = 0;
let nested = false;

/** Names the C function in progress for reports, unless it was called by another. */
// @ts-ignore: decorator
@inline function enter(op: u32): void {
  if (nested) nested = false;
  else operation = op;
}

function report(kind: u32, address: usize): void {
  mote_report(kind, address, operation);
}

// The state. Before mote_init it describes a heap of zero capacity (limit 0), so every call fails
// cleanly, malloc returning 0 and free ignoring its pointer, without touching memory.
let root: usize = 0;
let flMap: u32 = 0;
let top: usize = FIRST;
let limit: usize = 0; // exclusive end address of the heap, a multiple of ALIGN, <= MAX_LIMIT
// Memory from max(clean, top) to the memory's end is zero: the heap grew it and has not handed it
// out since. Only memory the heap grew itself counts: the owner may write what lies above the
// limit, so lowering the limit below the memory's end, and another module growing the memory,
// both raise `clean` to that end (calloc then clears what comes back to the heap).
let clean: usize = 0;
let seen: usize = 0; // the memory's size in pages when room() last looked, 0 to look afresh
// checked: memory from top to max(poisoned, top) is poison (or FREED marks); it never passes the
// limit it was poisoned under, so the owner's bytes above a region are never read as freed memory.
// `poisoned` is kept in the root's padding after the slMaps (HEADS leaves 12 bytes there), so that
// the heap reader can read it too and the release build pays nothing for it.
// @ts-ignore: decorator
@inline const POISONED: usize = FL_COUNT * sizeof<u32>();
// @ts-ignore: decorator
@inline function poisoned(): usize {
  return limit ? load<u32>(root + POISONED) : 0; // before the first mote_init there is no root
}

// Calls of free and realloc, the calls that can end a block's life, wrapping at 2^32: the Heap
// keeps a record of its live blocks, and learns from this count that another module called them.
let frees: u32 = 0;

// checked: FREED_HERE when the block allocate() took last began where the caller freed a block,
// so that aligned_alloc, giving its start back as a gap, gives back the tag with it
let takenFreed: u32 = 0;

// checked: set while the heap gives back bytes that were free when the call began and were never
// the caller's since (aligned_alloc's gap and tail, the rest of a block grown into its free right
// neighbour): their FREED marks still say where blocks the caller freed began, and are kept
let keepMarks = false;

// For the TypeScript side: the heap walk reads `top` and `limit`; Heap.limit sets `limit` through
// mote_set_limit (below), and carving from the top region stops below it at once (room() reads it
// on every carve).
export { top as mote_top, limit as mote_limit };

/** The most blocks a quick list holds; 0 in a build without quick lists. */
export const mote_quick: u32 = QUICK_LISTS ? QUICK_BOUND : 0;

/**
 * The count of free and realloc calls: a function, as JavaScript calls one faster than it reads
 * a global.
 */
export function mote_frees(): u32 {
  return frees;
}

/**
 * The Heap's free and realloc of a block its record holds live, in one call from JavaScript
 * instead of two (mote_frees, then the call): done only when the count is still `seen`, the one
 * at which the record was exact, so no other caller has freed anything since; otherwise they do
 * nothing and return 1, which no block's address is, and the Heap catches up and asks again.
 */
export function mote_free_seen(ptr: usize, seen: u32): usize {
  if (frees != seen) return 1;
  free(ptr);
  return 0;
}

export function mote_realloc_seen(ptr: usize, bytes: usize, seen: u32): usize {
  return frees == seen ? realloc(ptr, bytes) : 1;
}

/** The class of a block size. */
function classOf(size: usize): usize {
  if (size < SMALL) return size >> ALIGN_BITS;
  let bits = 31 - clz(size);
  return ((bits - SMALL_BITS) << SL_BITS) + (size >> (bits - SL_BITS));
}

/**
 * Pushes a free block on its class's list; the caller has written its header and `back`.
 * A list's head has as `prev` its slot minus NEXT, so unlinking any block is the same two
 * stores, and a block whose `prev` lies in the root is a head.
 */
function insert(block: usize, size: usize): void {
  let index = classOf(size);
  let slot = root + HEADS + (index << 2);
  let head = load<u32>(slot);
  store<u32>(block, slot - NEXT, PREV);
  store<u32>(block, head, NEXT);
  if (head) store<u32>(head, block, PREV);
  store<u32>(slot, block);
  let fl = index >> SL_BITS;
  store<u32>(root + (fl << 2), load<u32>(root + (fl << 2)) | (1 << <u32>(index & (SL_COUNT - 1))));
  flMap |= 1 << <u32>fl;
}

/** Unlinks a free block from its list, clearing its class's bits when the list empties. */
function remove(block: usize): void {
  let prev = load<u32>(block, PREV);
  let next = load<u32>(block, NEXT);
  store<u32>(prev, next, NEXT);
  if (next) {
    store<u32>(next, prev, PREV);
  } else if (prev < root + ROOT_SIZE) {
    let index = (prev + NEXT - root - HEADS) >> 2;
    let fl = index >> SL_BITS;
    let slMap = load<u32>(root + (fl << 2)) & ~(1 << <u32>(index & (SL_COUNT - 1)));
    store<u32>(root + (fl << 2), slMap);
    if (!slMap) flMap &= ~(1 << <u32>fl);
  }
}

/**
 * Whether the top region holds `size` bytes, growing memory within the limit, by the pages
 * needed, if it must. False, changing nothing, when the limit or the engine says no. Where
 * carving stops (the limit or the memory's end, less the header a block there would need) is
 * worked out afresh each time rather than kept: the limit's setter and other modules growing a
 * shared memory then move it at once, with no state for either to keep in step.
 */
function room(size: usize): bool {
  let need = top + size + HEADER;
  if (need > limit || need < size) return false;
  // need <= limit <= MAX_LIMIT: the pages that reach it are counted without wrapping, and a
  // memory already 4 GiB long has them all
  let want = <i32>((need + PAGE_MASK) >> PAGE_BITS);
  let pages = memory.size();
  // a shared memory's size as this thread sees it may lag: where it matters, the true one
  if (ASC_FEATURE_THREADS && (<usize>pages != seen || pages < want)) pages = pagesNow();
  // memory grown by another module, or looked at afresh after the limit was lowered, may hold
  // anything (clean never passes the memory's end: it only ever moves up to it, or to top)
  if (<usize>pages != seen) clean = endOf(pages);
  if (pages < want) {
    let old = memory.grow(want - pages);
    if (old < 0) return false;
    // another module grew the shared memory in between: what it grew may hold anything too
    if (ASC_FEATURE_THREADS && old != pages) clean = endOf(old);
    pages = old + want - pages;
  }
  seen = pages;
  return true;
}

/**
 * The memory's size in pages, as the engine knows it. V8 shows one thread the growth of a shared
 * memory by another (in memory.size(), and in the bounds this thread's loads and stores trap
 * past) only at its next interrupt check, which may come after it took the heap's lock and
 * reached for a block carved in the new pages: memory.grow(0) answers the true size, and brings
 * the thread up to date.
 */
function pagesNow(): i32 {
  return ASC_FEATURE_THREADS ? memory.grow(0) : memory.size();
}

/** The end of `pages` pages, so that a full 4 GiB memory does not wrap to 0. */
function endOf(pages: i32): usize {
  return <usize>min(pages, <i32>(MAX_LIMIT >> PAGE_BITS)) << PAGE_BITS;
}

/** The end of memory (for mote_init). */
function memoryEnd(): usize {
  return endOf(pagesNow());
}

/**
 * Whether the top region holds `size` bytes below the limit in the memory as it is, so that
 * carving them grows nothing (room() carves them either way; this only looks).
 */
function inMemory(size: usize): bool {
  let need = top + size + HEADER;
  return need >= size && need <= min(limit, memoryEnd());
}

/**
 * A used block of at least `size` bytes (a multiple of ALIGN), or 0. The first of the first SCAN
 * blocks of the request's own class that fits is taken (below SMALL, the head always fits);
 * otherwise the head of the next non-empty class, which fits whatever its size; otherwise the
 * top region. No list is walked further than SCAN.
 */
function allocate(size: usize): usize {
  let block: usize = 0;
  if (QUICK_LISTS && size < SMALL) {
    let slot = root + (size >> (ALIGN_BITS - 2)); // less QUICK_HEADS: the word size / ALIGN
    let head = load<u32>(slot, QUICK_HEADS);
    if (head) {
      block = linked(head);
      if (CHECKED) {
        let damaged = quickDamage(block, size, head & ALIGN_MASK);
        if (damaged) {
          report(USE_AFTER_FREE, damaged);
          return 0;
        }
      }
      fromQuick(slot, block);
      if (CHECKED) takenFreed = FREED_HERE; // the caller freed the block that began here
      return block;
    }
  }
  if (flMap) { // with no block listed at all, straight to the top region
    let index = classOf(size);
    block = load<u32>(root + (index << 2), HEADS);
    for (let n: u32 = 1; block && (load<u32>(block) & ~TAGS) < size; n++) {
      if (CHECKED && n < SCAN && linkDamaged(block)) return 0;
      block = n < SCAN ? load<u32>(block, NEXT) : 0;
    }
    if (!block) {
      let fl = index >> SL_BITS;
      let slMap = load<u32>(root + (fl << 2)) & (-2 << <u32>(index & (SL_COUNT - 1)));
      if (!slMap) {
        let above = flMap & (-2 << <u32>fl);
        if (above) {
          fl = ctz(above);
          slMap = load<u32>(root + (fl << 2));
        }
      }
      if (slMap) block = load<u32>(root + (((fl << SL_BITS) + ctz(slMap)) << 2), HEADS);
    }
  }
  if (!block) {
    // nothing listed fits: unless the top region holds the request in the memory there is, what
    // waits in the quick lists is merged, and the lists searched again, before the memory grows
    if (QUICK_LISTS && load<u32>(root, QUICK_COUNT) && !inMemory(size)) {
      if (CHECKED && quickListsDamaged()) return 0;
      flush();
      return allocate(size); // once: the quick lists are empty now
    }
    // checked: past the limit is out of memory, whatever lies there; the poison is read only below
    if (CHECKED && size <= limit - HEADER - top && topDamaged(top + size)) return 0;
    if (!room(size)) return 0;
    block = top;
    top += size;
    if (CHECKED) takenFreed = load<u32>(block) == FREED ? FREED_HERE : 0;
    setUsed(block, size); // top's left neighbour is never free: no tags
    return block;
  }
  if (CHECKED) {
    let damaged = freeDamage(block, block + size);
    if (damaged) {
      report(USE_AFTER_FREE, damaged);
      return 0;
    }
  }
  remove(block);
  // a listed block's left neighbour is used and its right one is used: no tags, no merging
  let blockSize = load<u32>(block) & ~TAGS;
  if (CHECKED) takenFreed = load<u32>(block) & FREED_HERE;
  let rest = blockSize - size;
  if (rest >= MIN_BLOCK) {
    // the rest is freed; the right neighbour keeps LEFT_FREE, now for the rest
    setUsed(block, size);
    if (CHECKED || FAST) { // checked: the rest is poisoned already, only its words are written
      let spare = block + size;
      let mark = CHECKED ? load<u32>(spare) : 0;
      store<u32>(spare, rest | FREE);
      // checked: a rest starting where a freed block began (its FREED mark) takes its tag
      if (mark == FREED) store<u32>(spare, rest | FREE | FREED_HERE);
      store<u32>(spare + rest - HEADER, spare);
      insert(spare, rest);
    } else {
      release(block + size, rest);
    }
  } else {
    setUsed(block, blockSize);
    store<u32>(block + blockSize, load<u32>(block + blockSize) & ~LEFT_FREE);
  }
  return block;
}

/**
 * Frees a used block, merging it with a free neighbour on either side, or into the top region.
 * Its header keeps FREE even when the block is merged away, so freeing it again is refused.
 * Checked: `header` has FREED_HERE when the caller freed the block, not when the heap gives back
 * memory of its own; each header a merge buries leaves a FREED mark where it has the tag.
 */
function release(block: usize, header: u32): void {
  let size = header & ~TAGS;
  let right = block + size;
  let freed = block;
  let tag = header & FREED_HERE; // the merged block's: the freed one's, or its left neighbour's
  store<u32>(block, header | FREE);
  // checked: the freed bytes are poisoned, and so is every word a merge buries
  if (CHECKED) {
    if (keepMarks) repoison(freed + HEADER, right);
    else poison(freed + HEADER, right);
  }
  if (header & LEFT_FREE) {
    block = load<u32>(block - HEADER);
    remove(block);
    let leftHeader = load<u32>(block);
    size += leftHeader & ~TAGS;
    tag = leftHeader & FREED_HERE;
    if (CHECKED) poison(freed - HEADER, freed); // the left block's back word
  }
  if (right == top) {
    // what falls back to the top region has been written: calloc must zero it when reused
    clean = max(clean, top);
    if (CHECKED) store<u32>(root + POISONED, max(poisoned(), top));
    top = block;
    if (CHECKED) {
      poison(block + PREV, block + NEXT + sizeof<u32>()); // a merged left block's links
      store<u32>(block, tag ? FREED : POISON);
      store<u32>(freed, header & FREED_HERE ? FREED : POISON);
    }
    return;
  }
  let rightHeader = load<u32>(right);
  if (rightHeader & FREE) {
    remove(right);
    size += rightHeader & ~TAGS;
  } else {
    store<u32>(right, rightHeader | LEFT_FREE);
  }
  if (CHECKED) {
    store<u32>(freed, header & FREED_HERE ? FREED : POISON); // overwritten below if merged one
    if (rightHeader & FREE) {
      poison(right + PREV, right + NEXT + sizeof<u32>());
      store<u32>(right, rightHeader & FREED_HERE ? FREED : POISON);
    }
  }
  store<u32>(block, size | FREE | tag);
  store<u32>(block + size - HEADER, block);
  insert(block, size);
}

/**
 * Frees a used block: onto its size's quick list, unmerged, when it is small, its right neighbour
 * is not the top region and the list holds fewer than QUICK_BOUND blocks; otherwise as release.
 */
function discard(block: usize): void {
  let header = load<u32>(block);
  let size = header & ~TAGS;
  if (QUICK_LISTS && size < SMALL && block + size != top && toQuick(block, header)) return;
  release(block, header | FREED_HERE); // the caller's own block
}

/**
 * Pushes a used block of a size below SMALL on its size's quick list, unless the list holds
 * QUICK_BOUND blocks already: whether it did.
 */
// @ts-ignore: decorator
@inline function toQuick(block: usize, header: u32): bool {
  let size = header & ~TAGS;
  let slot = root + (size >> (ALIGN_BITS - 2)); // less QUICK_HEADS
  let head = load<u32>(slot, QUICK_HEADS);
  let length = (head & ALIGN_MASK) + 1; // the list's, with this block
  if (length > QUICK_BOUND) return false;
  if (CHECKED) { // poisoned, and its guard kept: the left check of the block above reads it
    poison(block + HEADER, block + size - GUARD);
    setUsed(block, header);
  }
  store<u32>(block, header | QUICK);
  store<u32>(block, head, LINK);
  store<u32>(slot, (block & ~ALIGN_MASK) | length, QUICK_HEADS);
  store<u32>(root, load<u32>(root, QUICK_COUNT) + 1, QUICK_COUNT);
  return true;
}

/** Pops the head of the quick list at `slot` (less QUICK_HEADS), `block`, and makes it used. */
// @ts-ignore: decorator
@inline function fromQuick(slot: usize, block: usize): void {
  store<u32>(slot, load<u32>(block, LINK), QUICK_HEADS);
  store<u32>(root, load<u32>(root, QUICK_COUNT) - 1, QUICK_COUNT);
  setUsed(block, load<u32>(block) & ~QUICK); // LEFT_FREE stays: the block below may be free
}

/** The block a quick list's link names (not 0): its address, the length replaced. */
// @ts-ignore: decorator
@inline function linked(link: u32): usize {
  return (link & ~ALIGN_MASK) | (ALIGN - HEADER);
}

/**
 * Empties the quick lists, smallest size first and each from its head, releasing every block as
 * free would have (merging it).
 */
function flush(): void {
  store<u32>(root, 0, QUICK_COUNT);
  for (let slot = root; slot < root + ROOT_SIZE - QUICK_HEADS; slot += sizeof<u32>()) {
    let link = load<u32>(slot, QUICK_HEADS);
    store<u32>(slot, 0, QUICK_HEADS);
    while (link) {
      let block = linked(link);
      link = load<u32>(block, LINK); // before release() poisons it
      release(block, (load<u32>(block) & ~QUICK) | FREED_HERE); // the caller freed it
    }
  }
}

/**
 * Frees a used block's bytes beyond `size`, when they can form a block of their own (checked:
 * tagged FREED_HERE when they start at a FREED mark, where a block the caller freed began).
 */
function trim(block: usize, size: usize): void {
  let header = load<u32>(block);
  let rest = (header & ~TAGS) - size;
  if (rest >= MIN_BLOCK) {
    setUsed(block, size | (header & LEFT_FREE));
    if (CHECKED && load<u32>(block + size) == FREED) rest |= FREED_HERE;
    release(block + size, rest);
  }
}

/** The block size serving a request of `bytes`; the caller has checked `bytes < limit`. */
// @ts-ignore: decorator
@inline function blockSize(bytes: usize): usize {
  return (bytes + OVERHEAD + ALIGN_MASK) & ~ALIGN_MASK; // never below MIN_BLOCK
}

/** Writes a used block's header (and, checked, its guard with no slack: seal() sets it). */
// @ts-ignore: decorator
@inline function setUsed(block: usize, header: u32): void {
  store<u32>(block, header);
  if (CHECKED) store<u32>(block + (header & ~TAGS) - GUARD, <u32>block ^ GUARD_KEY);
}

/**
 * Checked: makes the used block at `ptr` one of `bytes` bytes, the size asked for: its slack
 * (the bytes up to its guard, fewer than ALIGN since the block's size is blockSize(bytes)) is
 * filled with RED and counted in its guard.
 */
function seal(ptr: usize, bytes: usize): void {
  let block = ptr - HEADER;
  let guard = block + (load<u32>(block) & ~TAGS) - GUARD;
  let slack = guard - ptr - bytes;
  for (let at = ptr + bytes; at < guard; at++) store<u8>(at, RED); // few: faster than memory.fill
  store<u32>(guard, (<u32>block ^ GUARD_KEY) ^ (<u32>slack * SLACK_BYTES));
}

/** Checked: the slack a used block's guard names, or ALIGN when the guard names none. */
function slackOf(block: usize, header: u32): usize {
  let slack = load<u32>(block + (header & ~TAGS) - GUARD) ^ GUARD_KEY ^ <u32>block;
  return slack == (slack & ALIGN_MASK) * SLACK_BYTES ? slack & ALIGN_MASK : ALIGN;
}

/**
 * The used block whose payload starts at `ptr`, or 0 for a pointer mote cannot have returned:
 * misaligned, outside the blocks, already free, or with a header whose size leaves the heap. The
 * checked build also verifies the block's guard and its neighbours, and reports what is wrong.
 */
function blockOf(ptr: usize): usize {
  let block = ptr - HEADER;
  let first = root + FIRST;
  if ((ptr & ALIGN_MASK) || block - first >= top - first) {
    // a block freed into the top region left its FREED mark there
    if (CHECKED && ptr) {
      let freedIntoTop = !(ptr & ALIGN_MASK) && block - top < max(poisoned(), top) - top &&
        load<u32>(block) == FREED;
      report(freedIntoTop ? DOUBLE_FREE : NOT_A_BLOCK, ptr);
    }
    return 0;
  }
  let header = load<u32>(block);
  if (!CHECKED) return header & (FREE | QUICK) || !fits(block, header) ? 0 : block;
  if (header & (FREE | QUICK) || !fits(block, header) || !guarded(block, header)) {
    report(classify(block, header), ptr);
    return 0;
  }
  return neighboursDamaged(block, header) ? 0 : block;
}

/** Whether a header's size keeps its block inside the blocks. */
function fits(block: usize, header: u32): bool {
  let size = header & ~TAGS;
  return size >= MIN_BLOCK && size <= top - block;
}

// === Checks of the checked build: cold paths, never compiled into the release build ===

/** Whether a used block's guard, and the red zone it names, are intact. */
function guarded(block: usize, header: u32): bool {
  let guard = block + (header & ~TAGS) - GUARD;
  let slack = slackOf(block, header);
  if (slack > guard - block - HEADER) return false; // no slack named, or more than its bytes
  for (let at = guard - slack; at < guard; at++) if (load<u8>(at) != RED) return false;
  return true;
}

/** Why `block`, which fails the used-block checks, was passed in: the report's kind. */
function classify(block: usize, header: u32): u32 {
  if (header == FREED) return DOUBLE_FREE;
  if (header & QUICK) return fits(block, header) && isBlockStart(block) ? DOUBLE_FREE : NOT_A_BLOCK;
  if (header & FREE) {
    return header & FREED_HERE && fits(block, header) &&
        load<u32>(block + (header & ~TAGS) - HEADER) == block
      ? DOUBLE_FREE
      : NOT_A_BLOCK;
  }
  return fits(block, header) && isBlockStart(block) ? OVERFLOW : NOT_A_BLOCK;
}

/** Whether a block begins at `target`, by walking the blocks from the first: O(n), cold. */
function isBlockStart(target: usize): bool {
  let block = root + FIRST;
  while (block < target) {
    let header = load<u32>(block);
    if (!fits(block, header)) return false;
    block += header & ~TAGS;
  }
  return block == target;
}

/**
 * Reports the first damage around a used block, if any: an overflow of the block itself when the
 * header above it was overwritten, an overflow of a used neighbour whose guard or red zone was,
 * a use after free for a word of a free neighbour.
 */
function neighboursDamaged(block: usize, header: u32): bool {
  let first = root + FIRST;
  let right = block + (header & ~TAGS);
  let damaged: usize = 0;
  if (right != top) {
    let rightHeader = load<u32>(right);
    if (
      !fits(right, rightHeader) ||
      (rightHeader & FREE && load<u32>(right + (rightHeader & ~TAGS) - HEADER) != right)
    ) return overflowed(block);
    if (!(rightHeader & FREE)) {
      if (!guarded(right, rightHeader)) return overflowed(right);
    } else {
      damaged = freeDamage(right, right);
    }
  }
  if (!damaged && header & LEFT_FREE) {
    let left = load<u32>(block - HEADER);
    let leftHeader = left - first < block - first ? load<u32>(left) : 0; // read inside only
    damaged = !(leftHeader & FREE) || left + (leftHeader & ~TAGS) != block
      ? block - HEADER
      : freeDamage(left, left);
  } else if (!damaged && block != first) {
    // a used left neighbour: its guard, the word below the header, names it, as h ^ slack bytes
    let named = load<u32>(block - HEADER) ^ GUARD_KEY;
    let left: usize = named ^ (((named & ALIGN_MASK) ^ (ALIGN - HEADER)) * SLACK_BYTES);
    let leftHeader = left - first < block - first ? load<u32>(left) : FREE; // read inside only
    if (leftHeader & FREE || left + (leftHeader & ~TAGS) != block || !guarded(left, leftHeader)) {
      left = blockBefore(block);
      return overflowed(left ? left : block); // a damaged heap: the block itself, then
    }
  }
  if (damaged) report(USE_AFTER_FREE, damaged);
  return damaged != 0;
}

/** Reports an overflow of the used block at `block`. */
function overflowed(block: usize): bool {
  report(OVERFLOW, block + HEADER);
  return true;
}

/** The block that ends at `target`, by walking the blocks from the first (O(n), cold), or 0. */
function blockBefore(target: usize): usize {
  let block = root + FIRST;
  let before: usize = 0;
  while (block < target) {
    let header = load<u32>(block);
    if (!fits(block, header)) return 0;
    before = block;
    block += header & ~TAGS;
  }
  return block == target ? before : 0;
}

/**
 * The first damaged word of a listed free block, or 0: its header, back word and links, and its
 * poison below `upTo` (the bytes about to be handed out; the rest is checked when it is).
 */
function freeDamage(block: usize, upTo: usize): usize {
  let first = root + FIRST;
  let header = load<u32>(block);
  if (!(header & FREE) || !fits(block, header)) return block;
  let size = header & ~TAGS;
  if (load<u32>(block + size - HEADER) != block) return block + size - HEADER;
  let prev = load<u32>(block, PREV);
  let next = load<u32>(block, NEXT);
  let isHead = prev - (root + HEADS - NEXT) < CLASSES << 2 && !(prev & 3);
  if (!isHead && (prev - first >= top - first || load<u32>(prev, NEXT) != block)) return block + PREV;
  if (next && (next - first >= top - first || load<u32>(next, PREV) != block)) return block + NEXT;
  return poisonDamage(block + NEXT + sizeof<u32>(), min(upTo, block + size - HEADER));
}

/**
 * The first damaged word of a quick-listed block of `size` bytes, the list from it `length` long,
 * or 0: its header, its link (which must end the list, or lead to a block and count one less) and
 * its poison.
 */
function quickDamage(block: usize, size: usize, length: u32): usize {
  let first = root + FIRST;
  if ((load<u32>(block) & ~LEFT_FREE) != (<u32>size | QUICK)) return block;
  let next = load<u32>(block, LINK);
  if (next ? (next & ALIGN_MASK) != length - 1 || linked(next) - first >= top - first : length != 1) {
    return block + LINK;
  }
  if (load<u32>(block + size - GUARD) != (<u32>block ^ GUARD_KEY)) return block + size - GUARD;
  return poisonDamage(block + LINK + sizeof<u32>(), block + size - GUARD);
}

/**
 * Reports the first damaged word of any quick-listed block, or around one, checking all before a
 * flush: the flush merges each with its free neighbours, unlinking them by their links and
 * finding the left one by its back word, which must not lead out of the blocks.
 */
function quickListsDamaged(): bool {
  for (let size = MIN_BLOCK; size < SMALL; size += ALIGN) {
    let link = load<u32>(root + QUICK_HEADS + (size >> (ALIGN_BITS - 2)));
    while (link) {
      let block = linked(link);
      let damaged = quickDamage(block, size, link & ALIGN_MASK);
      if (damaged) {
        report(USE_AFTER_FREE, damaged);
        return true;
      }
      if (neighboursDamaged(block, load<u32>(block))) return true;
      link = load<u32>(block, LINK);
    }
  }
  return false;
}

/** The first word in [from, to) that is neither POISON nor FREED, or 0. */
function poisonDamage(from: usize, to: usize): usize {
  for (let word = from; word < to; word += sizeof<u32>()) {
    let value = load<u32>(word);
    if (value != POISON && value != FREED) return word;
  }
  return 0;
}

/**
 * Reports a listed block's `next` link when it was overwritten to lead out of the blocks: the
 * scan follows links before it checks the block it takes, and must not read outside the heap.
 */
function linkDamaged(block: usize): bool {
  let first = root + FIRST;
  let next = load<u32>(block, NEXT);
  if (!next || (next - first < top - first && (next & ALIGN_MASK) == (first & ALIGN_MASK))) {
    return false;
  }
  report(USE_AFTER_FREE, block + NEXT);
  return true;
}

/** Reports freed memory in the top region below `to` that was written, if any. */
function topDamaged(to: usize): bool {
  let damaged = poisonDamage(top, min(to, max(poisoned(), top)));
  if (damaged) report(USE_AFTER_FREE, damaged);
  return damaged != 0;
}

/** Fills freed memory with poison. */
// @ts-ignore: decorator
@inline function poison(from: usize, to: usize): void {
  memory.fill(from, POISON_BYTE, to - from);
}

/** Poisons `[from, to)` but for its FREED marks: bytes that were free, never the caller's since. */
function repoison(from: usize, to: usize): void {
  for (let at = from; at < to; at += sizeof<u32>()) {
    if (load<u32>(at) != FREED) store<u32>(at, POISON);
  }
}

// === The C ABI ===

/** Allocates `bytes` bytes, 16-byte aligned; 0 when they cannot be had. */
export function malloc(bytes: usize): usize {
  if (CHECKED) enter(OP_MALLOC);
  if (bytes >= limit) return 0;
  let size = blockSize(bytes);
  if (FAST && QUICK_LISTS && size < SMALL) { // allocate's path from a quick list
    let slot = root + (size >> (ALIGN_BITS - 2)); // less QUICK_HEADS
    let head = load<u32>(slot, QUICK_HEADS);
    if (head) {
      let block = linked(head);
      fromQuick(slot, block);
      return block + HEADER;
    }
  }
  // allocate's path when no block is listed or waits in a quick list
  if (FAST && !flMap && !load<u32>(root, QUICK_COUNT) && room(size)) {
    let block = top;
    top += size;
    store<u32>(block, size);
    return block + HEADER;
  }
  let block = allocate(size);
  if (CHECKED && block) seal(block + HEADER, bytes);
  return block ? block + HEADER : 0;
}

/** Frees what malloc & co. returned; 0 and pointers mote cannot have returned are ignored. */
export function free(ptr: usize): void {
  if (CHECKED) enter(OP_FREE);
  frees++;
  if (FAST) { // blockOf and discard written out, and release's path into the top region
    let block = ptr - HEADER;
    if (ptr & ALIGN_MASK || block - (root + FIRST) >= top - (root + FIRST)) return;
    let header = load<u32>(block);
    let size = header & ~TAGS;
    if (header & (FREE | QUICK) || size < MIN_BLOCK || size > top - block) return;
    if (block + size == top) {
      if (!(header & LEFT_FREE)) { // a used left neighbour: nothing to merge
        store<u32>(block, header | FREE);
        clean = max(clean, top);
        top = block;
        return;
      }
    } else if (QUICK_LISTS && size < SMALL && toQuick(block, header)) {
      return;
    }
    release(block, header);
    return;
  }
  let block = blockOf(ptr);
  if (block) discard(block);
}

/**
 * Resizes in place when it can (shrinking, into a free right neighbour, or into the top region),
 * otherwise moves. 0 on failure, leaving the old block as it was. realloc(0, n) is malloc(n);
 * realloc(p, 0) shrinks p to the smallest block and returns it, so 0 always means failure.
 */
export function realloc(ptr: usize, bytes: usize): usize {
  if (CHECKED) {
    enter(OP_REALLOC);
    nested = !ptr; // so that malloc, called just below, keeps the name
  }
  frees++;
  if (!ptr) return malloc(bytes);
  let block = blockOf(ptr);
  if (!block || bytes >= limit) return 0;
  let size = blockSize(bytes);
  // a right neighbour waiting unmerged in a quick list may, merged, make room to grow in place
  let end = QUICK_LISTS ? block + (load<u32>(block) & ~TAGS) : top;
  if (QUICK_LISTS && end - block < size && end != top && load<u32>(end) & QUICK) {
    if (CHECKED && quickListsDamaged()) return 0;
    flush(); // which may set this block's LEFT_FREE: its header is read below
  }
  let header = load<u32>(block);
  let current = header & ~TAGS;
  if (size > current) {
    let right = block + current;
    let rightHeader = right == top ? 0 : load<u32>(right);
    let merged = current + (rightHeader & ~TAGS);
    if (rightHeader & FREE && merged >= size) {
      if (CHECKED) {
        let damaged = freeDamage(right, block + size);
        if (damaged) {
          report(USE_AFTER_FREE, damaged);
          return 0;
        }
      }
      remove(right);
      store<u32>(block + merged, load<u32>(block + merged) & ~LEFT_FREE);
    } else if (right == top && room(size - current)) {
      if (CHECKED && topDamaged(block + size)) return 0;
      top = block + (merged = size);
    } else {
      if (CHECKED) nested = true;
      let moved = malloc(bytes);
      if (moved) {
        memory.copy(moved, ptr, current - OVERHEAD);
        discard(block); // which reads the header again: malloc may have changed LEFT_FREE
      }
      return moved;
    }
    setUsed(block, merged | (header & LEFT_FREE));
    if (CHECKED) keepMarks = true; // the rest trimmed below was the free right neighbour's
  }
  trim(block, size);
  if (CHECKED) {
    keepMarks = false;
    seal(ptr, bytes);
  }
  return ptr;
}

/** Allocates `count * size` zeroed bytes; 0 when the product overflows or cannot be had. */
export function calloc(count: usize, size: usize): usize {
  if (CHECKED) enter(OP_CALLOC);
  let wide = <u64>count * <u64>size;
  if (wide >> 32) return 0;
  let bytes = <usize>wide;
  let oldTop = top;
  if (CHECKED) nested = true;
  let ptr = malloc(bytes);
  // memory from here up came zeroed from memory.grow; `clean` is read after malloc, whose room()
  // raises it over memory that another module grew
  let zeroFrom = max(clean, oldTop);
  if (ptr && ptr < zeroFrom) memory.fill(ptr, 0, min(bytes, zeroFrom - ptr));
  return ptr;
}

/**
 * Allocates `bytes` bytes aligned to `alignment`, a power of two up to 64 KiB; 0 for any other
 * alignment. The padding in front of the aligned block is freed, not wasted.
 */
export function aligned_alloc(alignment: usize, bytes: usize): usize {
  if (CHECKED) enter(OP_ALIGNED_ALLOC);
  if (popcnt(alignment) != 1 || alignment > MAX_ALIGN) return 0; // 0 has no bit set
  if (CHECKED) nested = alignment <= ALIGN;
  if (alignment <= ALIGN) return malloc(bytes);
  if (bytes >= limit) return 0;
  let size = blockSize(bytes);
  let block = allocate(size + alignment - ALIGN);
  if (!block) return 0;
  let gap = (0 - block - HEADER) & (alignment - 1); // 0 or at least ALIGN: a block of its own
  if (CHECKED) keepMarks = true; // the gap and the tail were free, never handed out
  if (gap) {
    // a block from a quick list may have LEFT_FREE: it stays with the gap, released below
    let header = load<u32>(block);
    setUsed(block + gap, (header & ~TAGS) - gap);
    release(block, gap | (header & LEFT_FREE) | (CHECKED ? takenFreed : 0));
    block += gap;
  }
  trim(block, size);
  if (CHECKED) {
    keepMarks = false;
    seal(block + HEADER, bytes);
  }
  return block + HEADER;
}

/**
 * The bytes usable at `ptr` (at least what was asked for; checked, exactly that); 0 for 0 or a
 * pointer not ours.
 */
export function malloc_usable_size(ptr: usize): usize {
  if (CHECKED) enter(OP_USABLE_SIZE);
  let block = blockOf(ptr);
  if (CHECKED && block) {
    let header = load<u32>(block);
    return (header & ~TAGS) - OVERHEAD - slackOf(block, header);
  }
  return block ? (load<u32>(block) & ~TAGS) - OVERHEAD : 0;
}

/**
 * Starts, or starts again, an empty heap in `[base, limitEnd)`, growing memory to hold its root;
 * blocks already handed out are forgotten. 1 on success; 0 when the range cannot hold the root,
 * changing nothing, or when memory for it cannot be had, leaving a heap of zero capacity.
 */
export function mote_init(base: usize, limitEnd: usize): usize {
  let newRoot = (base + ALIGN_MASK) & ~ALIGN_MASK;
  let newLimit = min(limitEnd, MAX_LIMIT) & ~ALIGN_MASK;
  if (base > MAX_LIMIT || newRoot + FIRST + HEADER > newLimit) return 0;
  root = newRoot;
  limit = newLimit;
  top = newRoot + FIRST;
  flMap = 0;
  clean = memoryEnd(); // memory already there may hold anything
  if (!room(0)) {
    limit = 0;
    return 0;
  }
  memory.fill(newRoot, 0, ROOT_SIZE);
  if (CHECKED) { // as if all of the region's memory was freed, and none beyond it
    let poisonEnd = max(min(clean, newLimit), top);
    store<u32>(newRoot + POISONED, poisonEnd);
    memory.fill(top, POISON_BYTE, poisonEnd - top);
  }
  return 1;
}

/**
 * Moves the limit to `limitEnd`, a multiple of ALIGN from top + HEADER to MAX_LIMIT: the caller
 * checks it, as it did writing the global. Carving stops below it at once. Memory above the limit
 * and below the memory's end is the owner's to write while it stays there, whether the limit was
 * lowered below the memory's end or the heap grew the memory past its limit: a limit set anew
 * gives it back to the heap as memory that is not known to be zero, nor poisoned (checked).
 */
export function mote_set_limit(limitEnd: usize): void {
  seen = 0; // so room() takes all the memory there is now for written
  if (CHECKED && limitEnd < limit) store<u32>(root + POISONED, min(poisoned(), limitEnd));
  limit = limitEnd;
}

// === The shared build's hooks (asm/shared.ts, its entry, wraps the C ABI above in a lock) ===
// There the state lives in the shared memory, these globals being per instance and so per
// thread: they hold it only while the lock is held, loaded from `at` on taking it and stored
// back after each operation. Nothing calls these in the other builds, so nothing compiles them.

// @ts-ignore: decorator
@global function moteLoadState(at: usize): void {
  root = load<u32>(at);
  flMap = load<u32>(at, 4);
  top = load<u32>(at, 8);
  limit = load<u32>(at, 12);
  clean = load<u32>(at, 16);
  seen = load<u32>(at, 20);
}

// The shared build's record of live blocks (asm/shared.ts) needs where payloads start, and lowers
// the limit for the length of an operation so that no block is carved where it has no bit.
// On taking the lock, the shared build makes the pages the heap reaches, which the thread that
// grew them may not be, visible to this thread (see pagesNow): else it traps on them.
// @ts-ignore: decorator
@global function moteSeeMemory(): void {
  if (memory.size() < max(<i32>seen, <i32>((top + HEADER + PAGE_MASK) >> PAGE_BITS))) pagesNow();
}

// @ts-ignore: decorator
@global function moteFirstPayload(): usize {
  return root + FIRST + HEADER;
}

// @ts-ignore: decorator
@global function moteLimitTo(end: usize): void {
  limit = end;
}

// @ts-ignore: decorator
@global function moteStoreState(at: usize): void {
  store<u32>(at, root);
  store<u32>(at, flMap, 4);
  store<u32>(at, top, 8);
  store<u32>(at, limit, 12);
  store<u32>(at, clean, 16);
  store<u32>(at, seen, 20);
}
