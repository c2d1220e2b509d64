// mote's shared build: one heap in a shared memory, used at once by every thread that
// instantiates this module over it (web workers, Deno and Node workers, wasm threads).
//
//     asc asm/shared.ts --enable threads --importMemory --sharedMemory --maximumMemory 65536
//
// The allocator is asm/mote.ts, unchanged: this entry wraps each of its C functions in a lock that
// lives in the shared memory, keeps the allocator's state there too, and a record of the live
// blocks, which the pointer checks trust instead of the bytes in front of a pointer. The state's
// globals in mote.ts are per instance, so per thread; they hold the state only while the lock is
// held: loaded from the memory on taking it, stored back after every operation. Inside the lock
// each operation also takes a ticket, the next number of a counter in the memory, and when a log is
// set, writes what it did there: replayed in ticket order, the log is a sequential history of the
// heap, which the reference model must reproduce pointer for pointer (fuzz/concurrent.ts).

import {
  aligned_alloc as moteAlignedAlloc,
  calloc as moteCalloc,
  free as moteFree,
  malloc as moteMalloc,
  malloc_usable_size as moteUsableSize,
  mote_init as moteInit,
  mote_set_limit as moteSetLimit,
  realloc as moteRealloc,
} from "./mote";

// ╒══════════════ Shared header (at `at`: base rounded up to 16) ══════════════╕
// │ LOCK     0 when free; else the holder's owner id, | WAITERS if a thread    │ at
// │          may be waiting in memory.atomic.wait32 for it                     │
// ├────────────────────────────────────────────────────────────────────────────┤
// │ OWNERS   the last owner id handed out (one per attached instance)          │ at + 4
// ├────────────────────────────────────────────────────────────────────────────┤
// │ TICKETS  operations done: the next operation's ticket                      │ at + 8
// ├────────────────────────────────────────────────────────────────────────────┤
// │ LOG      where the log's entries are, 0 for no log                         │ at + 12
// ├────────────────────────────────────────────────────────────────────────────┤
// │ LOG_MASK its entry count - 1 (a power of two): ticket t goes to t & mask   │ at + 16
// ├────────────────────────────────────────────────────────────────────────────┤
// │ MAGIC    SHARED_MAGIC once mote_create made the header: what attach checks │ at + 20
// ├────────────────────────────────────────────────────────────────────────────┤
// │ BUSY     1 from an operation's start to its state stored back, else 0      │ at + 24
// ├────────────────────────────────────────────────────────────────────────────┤
// │ (reserved)                                                                 │
// ├────────────────────────────────────────────────────────────────────────────┤
// │ STATE    root, flMap, top, limit, clean, seen: mote.ts's globals, u32 each │ at + 32
// ├────────────────────────────────────────────────────────────────────────────┤
// │ (reserved: room for one more word of state)                                │
// ├────────────────────────────────────────────────────────────────────────────┤
// │ RECORD   the record of live blocks: its address, 0 for none yet            │ at + 56
// ├────────────────────────────────────────────────────────────────────────────┤
// │ RECORD_BYTES  its length: it covers the payloads below first + 128 × this  │ at + 60
// ╞════════════════════════════════════════════════════════════════════════════╡ at + SIZE
// │ the heap, as mote_init lays it out from base at + SIZE                     │
// └────────────────────────────────────────────────────────────────────────────┘
// A log entry is 8 words: ticket, operation, owner, the two arguments, the result, the usable
// size of the block returned (0 when none), 0.
//
// ╒═══════════ The record of live blocks (at RECORD: a used block of the heap) ═══════════╕
// │ byte 0: bits 0 … 7 │ byte 1: bits 8 … 15 │ …                 RECORD_BYTES bytes │
// └──────────────────────────────────────────────────────────────────────────────────────┘
// Bit i (bit i & 7 of byte i >> 3) is set while a block handed out has its payload at
// first + 16 i, first being the lowest payload a heap can have (root + FIRST + HEADER). It is
// what free, realloc and malloc_usable_size trust, not the header in front of a pointer: the
// bytes there may be a user's (a pointer into a block) or an old heap's (a pointer from before
// mote_init), and read as a header of a live block. One bit per 16 bytes is 1/128 of the span.
// The record is a block mote allocates like any other, when an operation may carve past what
// the record covers: zeroed, twice the reach needed (up to the limit), the old bits copied in
// and the old record freed. For the length of each operation the limit mote carves to is
// lowered to where the record reaches, so that no block is ever carved without its bit, even
// when the record cannot grow. src/_model_shared.ts mirrors it, step for step.

// @ts-ignore: decorator
@inline const LOCK: usize = 0;
// @ts-ignore: decorator
@inline const OWNERS: usize = 4;
// @ts-ignore: decorator
@inline const TICKETS: usize = 8;
// @ts-ignore: decorator
@inline const LOG: usize = 12;
// @ts-ignore: decorator
@inline const LOG_MASK: usize = 16;
// @ts-ignore: decorator
@inline const MAGIC: usize = 20;
// A thread stopped while BUSY is 1 (Node's terminate() stops one at any call or loop inside the
// wasm) may have changed blocks without storing the state, or the state without its log entry:
// recover tells its caller so, as the heap's own checks may not see it.
// @ts-ignore: decorator
@inline const BUSY: usize = 24;
// @ts-ignore: decorator
@inline const STATE: usize = 32;
// "MOTS" in memory: a header that mote_create made, which attaching requires (src/_shared_engine.ts)
// @ts-ignore: decorator
@inline const SHARED_MAGIC: u32 = 0x53544F4D;
// @ts-ignore: decorator
@inline const SIZE: usize = STATE + 8 * sizeof<u32>(); // the state, the record
// The record's cost per call is measured against this build without it, as it was before:
// `--use MOTE_UNRECORDED=1`, which only examples/shared/table.ts compiles, leaves mote.ts's
// reading of the header in front of a pointer as the only check.
// @ts-ignore: decorator
@inline const RECORDED: bool = !isDefined(MOTE_UNRECORDED);
// @ts-ignore: decorator
@inline const RECORD: usize = STATE + 24; // past the state's six words
// @ts-ignore: decorator
@inline const RECORD_BYTES: usize = STATE + 28;
// @ts-ignore: decorator
@inline const GRANULE_BITS: usize = 4; // a bit per 16 bytes: mote's ALIGN, the payloads' grid
// @ts-ignore: decorator
@inline const COVER_BITS: usize = GRANULE_BITS + 3; // a byte of the record covers 128 bytes
// What a carve may reach past the top and its request: a header, the rounding up to ALIGN, and
// the header after the block.
// @ts-ignore: decorator
@inline const SLACK: usize = 2 << GRANULE_BITS;
// The least a record covers: a page, for 512 bytes.
// @ts-ignore: decorator
@inline const MIN_COVER: usize = 1 << 16;
// @ts-ignore: decorator
@inline const ENTRY_BITS: usize = 5;
// @ts-ignore: decorator
@inline const WAITERS: i32 = 1 << 31;
// The pages below mote.ts's MAX_LIMIT: a full 4 GiB memory's size, read so that it cannot wrap.
// @ts-ignore: decorator
@inline const MAX_PAGES: i32 = 0xFFFE;
// How many times a thread that finds the lock taken reads it again before it waits (or, where
// it may not wait, goes on reading): an operation holds the lock for tens of nanoseconds.
// @ts-ignore: decorator
@inline const SPINS: i32 = 64;
// How many calls deeper than an operation the stack must reach before its lock is taken: room
// for the engine's frames when an operation calls into it (V8's runtime checks the stack there).
// @ts-ignore: decorator
@inline const PROBE_DEPTH: i32 = 16;

// The operations, as the log names them.
// @ts-ignore: decorator
@inline const MALLOC: u32 = 1;
// @ts-ignore: decorator
@inline const FREE: u32 = 2;
// @ts-ignore: decorator
@inline const REALLOC: u32 = 3;
// @ts-ignore: decorator
@inline const CALLOC: u32 = 4;
// @ts-ignore: decorator
@inline const ALIGNED_ALLOC: u32 = 5;
// @ts-ignore: decorator
@inline const USABLE_SIZE: u32 = 6;
// @ts-ignore: decorator
@inline const INIT: u32 = 7;
// @ts-ignore: decorator
@inline const SET_LIMIT: u32 = 8;

// This instance's own: where the header is (0 until attached), its owner id, how deep it holds
// the lock (mote_lock nests, and operations run inside it), and whether it may wait.
let at: usize = 0;
let me: i32 = 0;
let held: u32 = 0;
let canWait: bool = false;
// Whether mote's limit is lowered to the record's reach, for the operation in progress.
let clipped: bool = false;

/** Takes the lock: a compare-and-swap, then reading it until it is free, waiting where allowed. */
function acquire(): void {
  let lock = at + LOCK;
  if (atomic.cmpxchg<i32>(lock, 0, me) == 0) return;
  // Once a thread has waited, it takes the lock marked WAITERS: others may wait still, and the
  // mark makes their release notify them (after Drepper's "Futexes are tricky", mutex 2).
  let mark: i32 = 0;
  for (let spins: i32 = 0;; spins++) {
    let seen = atomic.load<i32>(lock);
    if (seen == 0) {
      if (atomic.cmpxchg<i32>(lock, 0, me | mark) == 0) return;
    } else if (canWait && spins >= SPINS) {
      if (seen & WAITERS || atomic.cmpxchg<i32>(lock, seen, seen | WAITERS) == seen) {
        atomic.wait<i32>(lock, seen | WAITERS, -1);
        mark = WAITERS;
      }
    }
  }
}

/**
 * Gives the lock up, waking every waiter if any may be waiting. All, not one: a woken thread
 * may die before it takes the lock (a Node worker terminated there), and the wake-up would die
 * with it while the others sleep on with the lock free. Those that lose the race wait again.
 */
function release(): void {
  if (atomic.xchg<i32>(at + LOCK, 0) & WAITERS) atomic.notify(at + LOCK, -1);
}

/**
 * Goes PROBE_DEPTH calls deeper than the caller, and back: an engine that is short of stack
 * throws here (a RangeError in V8), before the lock is taken, not in the middle of an operation.
 */
function probe(depth: i32): i32 {
  return depth > 0 ? probe(depth - 1) + 1 : 0;
}

/**
 * Starts an operation: takes the lock, unless this instance holds it, and the state with it.
 * Nothing may throw from here to the lock's release, or the lock would outlive its call and
 * `held` would count a call that is over: the build inlines every call the operations make into
 * the exports (scripts/build.ts), so the engine checks their stack once, at the export's entry,
 * and probe() makes sure the stack has room for the engine's own calls inside (memory.grow, an
 * interrupt at a loop) before the lock is taken.
 */
function enter(): void {
  if (held == 0) {
    if (probe(PROBE_DEPTH) != PROBE_DEPTH) unreachable(); // never: it keeps the probe's calls
    acquire();
    moteLoadState(at + STATE);
    moteSeeMemory();
    clipped = false;
  }
  held++; // only once the lock is held: a throw before leaves this instance outside
}

/** Whether `ptr` is a live block's payload, by its bit: the memory in front of it is not read. */
function isLive(ptr: usize): bool {
  if (!RECORDED) return true;
  let offset = ptr - moteFirstPayload(); // below the first payload it wraps, and is refused
  if (offset & ((1 << GRANULE_BITS) - 1) || offset >> COVER_BITS >= load<u32>(at + RECORD_BYTES)) {
    return false;
  }
  let bit = offset >> GRANULE_BITS;
  return ((load<u8>(load<u32>(at + RECORD) + (bit >> 3)) >> <u8>(bit & 7)) & 1) != 0;
}

/** Sets or clears the bit of `ptr`, a payload the record covers. */
function mark(ptr: usize, live: bool): void {
  if (!RECORDED) return;
  let offset = ptr - moteFirstPayload();
  if (offset >> COVER_BITS >= load<u32>(at + RECORD_BYTES)) return; // never: reserve's limit
  let bit = offset >> GRANULE_BITS;
  let byte = load<u32>(at + RECORD) + (bit >> 3);
  let mask = <u8>(1 << <u8>(bit & 7));
  store<u8>(byte, live ? load<u8>(byte) | mask : load<u8>(byte) & ~mask);
}

/**
 * Readies the record for an operation that may carve up to `need` bytes from the top region:
 * grows it when it does not reach that far (and the limit does), then lowers mote's limit to
 * its reach until leave(), so that whatever is carved has a bit.
 */
function reserve(need: usize): void {
  if (!RECORDED) return;
  let first = moteFirstPayload();
  let limit = load<u32>(at + STATE, 12); // the state in memory is current between operations
  let want = load<u32>(at + STATE, 8) + need; // top + need; below need when it wraps
  let bytes = load<u32>(at + RECORD_BYTES);
  // a carve of `need` bytes reaches past it by its block's rounding and the header after; a need
  // past the limit cannot be carved, only served from the lists, which the record covers
  if (want >= need && want <= limit) {
    want = min(want + SLACK, limit);
    if (want > first + (bytes << COVER_BITS)) {
      // twice the reach, at least MIN_COVER, at most to the limit: amortised O(1), as a vector
      let room = limit - first;
      let reach = want - first;
      let span = reach > room >> 1 ? room : max(reach << 1, MIN_COVER);
      let grown = (((min(span, room) + (1 << COVER_BITS) - 1) >> COVER_BITS) + 15) & ~15;
      let fresh = moteCalloc(grown, 1);
      if (fresh) {
        let old = load<u32>(at + RECORD);
        if (old) {
          memory.copy(fresh, old, bytes);
          moteFree(old);
        }
        store<u32>(at + RECORD, fresh);
        store<u32>(at + RECORD_BYTES, bytes = grown);
      }
    }
  }
  let reach = first + (bytes << COVER_BITS);
  if (reach < limit) {
    moteLimitTo(reach);
    clipped = true;
  }
}

/** Ends an operation: its ticket and log entry, the state stored, the lock given up. */
function leave(op: u32, a: usize, b: usize, result: usize): void {
  let ticket = load<u32>(at + TICKETS);
  store<u32>(at + TICKETS, ticket + 1);
  let log = load<u32>(at + LOG);
  if (log) {
    let entry = log + ((ticket & load<u32>(at + LOG_MASK)) << ENTRY_BITS);
    let returnsBlock = op == MALLOC || op == REALLOC || op == CALLOC || op == ALIGNED_ALLOC;
    store<u32>(entry, ticket);
    store<u32>(entry, op, 4);
    store<u32>(entry, me, 8);
    store<u32>(entry, a, 12);
    store<u32>(entry, b, 16);
    store<u32>(entry, result, 20);
    store<u32>(entry, returnsBlock && result ? moteUsableSize(result) : 0, 24);
    store<u32>(entry, 0, 28);
  }
  if (clipped) {
    moteLimitTo(load<u32>(at + STATE, 12)); // the limit as set, which the state keeps
    clipped = false;
  }
  moteStoreState(at + STATE);
  store<u32>(at + BUSY, 0);
  if (--held == 0) release();
}

/** Starts an operation that changes the heap: the lock taken, BUSY set until leave(). */
function begin(): void {
  enter();
  store<u32>(at + BUSY, 1);
}

// === The C ABI, each call under the lock ===

export function malloc(bytes: usize): usize {
  begin();
  reserve(bytes);
  let ptr = moteMalloc(bytes);
  if (ptr) mark(ptr, true);
  leave(MALLOC, bytes, 0, ptr);
  return ptr;
}

/** Frees a live block; any other pointer (its bit clear) is ignored. */
export function free(ptr: usize): void {
  mote_free(ptr);
}

/** As free, telling whether `ptr` was a live block (1, now freed) or was refused (0). */
export function mote_free(ptr: usize): u32 {
  begin();
  let live = isLive(ptr);
  if (live) {
    mark(ptr, false);
    moteFree(ptr);
  }
  leave(FREE, ptr, 0, 0);
  return live;
}

/** As mote.ts's realloc, for 0 or a live block; 0, changing nothing, for any other pointer. */
export function realloc(ptr: usize, bytes: usize): usize {
  begin();
  let moved: usize = 0;
  if (!ptr || isLive(ptr)) {
    reserve(bytes);
    moved = moteRealloc(ptr, bytes);
    if (moved && moved != ptr) {
      if (ptr) mark(ptr, false);
      mark(moved, true);
    }
  }
  leave(REALLOC, ptr, bytes, moved);
  return moved;
}

export function calloc(count: usize, size: usize): usize {
  begin();
  let wide = <u64>count * <u64>size;
  reserve(wide >> 32 ? <usize>-1 : <usize>wide);
  let ptr = moteCalloc(count, size);
  if (ptr) mark(ptr, true);
  leave(CALLOC, count, size, ptr);
  return ptr;
}

export function aligned_alloc(alignment: usize, bytes: usize): usize {
  begin();
  let need = bytes + alignment; // the aligned block and the padding in front of it
  reserve(need < bytes ? <usize>-1 : need);
  let ptr = moteAlignedAlloc(alignment, bytes);
  if (ptr) mark(ptr, true);
  leave(ALIGNED_ALLOC, alignment, bytes, ptr);
  return ptr;
}

/** The bytes usable at a live block; 0 for any other pointer. */
export function malloc_usable_size(ptr: usize): usize {
  begin(); // it takes a ticket and writes the log
  let usable = isLive(ptr) ? moteUsableSize(ptr) : 0;
  leave(USABLE_SIZE, ptr, 0, usable);
  return usable;
}

// === Sharing ===

/**
 * Makes a new shared heap's header at `base` (rounded up to 16), before any thread attaches:
 * lock free, no owners, no tickets, no log, and the state of a heap of zero capacity. The
 * instance calling it must be fresh, its globals still those of a heap not started.
 */
export function mote_create(base: usize): void {
  let header = (base + 15) & ~15;
  memory.fill(header, 0, SIZE);
  moteStoreState(header + STATE);
  atomic.store<u32>(header + MAGIC, SHARED_MAGIC);
}

/**
 * Attaches this instance to the shared heap whose region starts at `base`; `wait` says whether
 * this thread may block in memory.atomic.wait32 (not a browser's main thread). Returns the
 * instance's owner id, which the lock records while it holds it.
 */
export function mote_attach(base: usize, wait: bool): i32 {
  at = (base + 15) & ~15;
  canWait = wait;
  me = atomic.add<i32>(at + OWNERS, 1) + 1;
  return me;
}

/** Starts, or starts again, the empty heap above the header, as mote.ts's mote_init. */
export function mote_init(base: usize, limitEnd: usize): usize {
  begin();
  let done = moteInit(at + SIZE, limitEnd);
  if (done) { // every block is forgotten, the record with them
    store<u32>(at + RECORD, 0);
    store<u32>(at + RECORD_BYTES, 0);
  }
  leave(INIT, base, limitEnd, done);
  return done;
}

/**
 * Moves the address the heap may grow to (a multiple of 16): 1, or 0, changing nothing, when it
 * lies below the end of what the heap spans, which another thread may have grown since the
 * caller looked.
 */
export function mote_set_limit(limitEnd: usize): usize {
  begin();
  // the memory's true size, which this thread may not see yet (mote.ts's pagesNow)
  let spanEnd = min(<usize>min(memory.grow(0), MAX_PAGES) << 16, load<u32>(at + STATE, 12));
  let done: usize = limitEnd >= spanEnd ? 1 : 0;
  if (done) moteSetLimit(limitEnd); // leave() stores the state it changed
  leave(SET_LIMIT, limitEnd, 0, done);
  return done;
}

/**
 * Holds the lock across several calls of this instance (which nest inside it), for a caller
 * that must see the heap still, such as one reading it. Each mote_lock needs its mote_unlock.
 */
export function mote_lock(): void {
  enter();
}

/** Ends a mote_lock; does nothing when this instance holds no lock. */
export function mote_unlock(): void {
  if (held == 0) return;
  moteStoreState(at + STATE);
  if (--held == 0) release();
}

/**
 * Frees the lock if the owner `owner` holds it: for a thread that died holding it. 1 if it did,
 * 2 if it did and that thread died inside an operation (BUSY), 0 if that owner does not hold it.
 * Waiters are all woken.
 */
export function mote_recover(owner: i32): u32 {
  let seen = atomic.load<i32>(at + LOCK);
  if (owner == 0 || (seen & ~WAITERS) != owner) return 0;
  let inside = load<u32>(at + BUSY); // the holder's alone to write while it holds the lock
  store<u32>(at + BUSY, 0);
  if (atomic.cmpxchg<i32>(at + LOCK, seen, 0) != seen) {
    store<u32>(at + BUSY, inside);
    return 0;
  }
  atomic.notify(at + LOCK, -1);
  return 1 + inside;
}

/** Logs every operation from now on into `entries` (a power of two) entries at `address`. */
export function mote_log(address: usize, entries: usize): void {
  enter();
  store<u32>(at + LOG_MASK, entries - 1);
  store<u32>(at + LOG, address);
  mote_unlock(); // no ticket: setting the log is not an operation on the heap
}
