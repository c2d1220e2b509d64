// mote's shared build: one heap in a shared memory, used at once by every thread that
// instantiates this module over it (web workers, Deno and Node workers, wasm threads).
//
//     asc asm/shared.ts --enable threads --importMemory --sharedMemory --maximumMemory 65536
//
// The allocator is asm/mote.ts, unchanged: this entry wraps each of its C functions in a lock
// that lives in the shared memory, and keeps the allocator's state there too. The state's
// globals in mote.ts are per instance, so per thread; they hold the state only while the lock is
// held: loaded from the memory on taking it, stored back after every operation. Inside the lock
// each operation also takes a ticket, the next number of a counter in the memory, and when a log
// is set, writes what it did there: replayed in ticket order, the log is a sequential history of
// the heap, which the reference model must reproduce pointer for pointer (fuzz/concurrent.ts).

import {
  aligned_alloc as moteAlignedAlloc,
  calloc as moteCalloc,
  free as moteFree,
  malloc as moteMalloc,
  malloc_usable_size as moteUsableSize,
  mote_init as moteInit,
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
// │ (reserved)                                                                 │
// ├────────────────────────────────────────────────────────────────────────────┤
// │ STATE    root, flMap, top, limit, clean: mote.ts's globals, u32 each       │ at + 32
// ├────────────────────────────────────────────────────────────────────────────┤
// │ (reserved)                                                                 │
// ╞════════════════════════════════════════════════════════════════════════════╡ at + SIZE
// │ the heap, as mote_init lays it out from base at + SIZE                     │
// └────────────────────────────────────────────────────────────────────────────┘
// A log entry is 8 words: ticket, operation, owner, the two arguments, the result, the usable
// size of the block returned (0 when none), 0.

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
// @ts-ignore: decorator
@inline const STATE: usize = 32;
// "MOTS" in memory: a header that mote_create made, which attaching requires (src/_shared_engine.ts)
// @ts-ignore: decorator
@inline const SHARED_MAGIC: u32 = 0x53544F4D;
// @ts-ignore: decorator
@inline const SIZE: usize = STATE + 8 * sizeof<u32>(); // the state, and room for three words more
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

/** Takes the lock: a compare-and-swap, then reading it until it is free, waiting where allowed. */
function acquire(): void {
  let lock = at + LOCK;
  if (atomic.cmpxchg<i32>(lock, 0, me) == 0) return;
  // Once a thread has waited, it takes the lock marked WAITERS: others may wait still, and the
  // mark makes their release notify one (Drepper's "Futexes are tricky", mutex 2).
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
  }
  held++; // only once the lock is held: a throw before leaves this instance outside
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
  moteStoreState(at + STATE);
  if (--held == 0) release();
}

// === The C ABI, each call under the lock ===

export function malloc(bytes: usize): usize {
  enter();
  let ptr = moteMalloc(bytes);
  leave(MALLOC, bytes, 0, ptr);
  return ptr;
}

export function free(ptr: usize): void {
  enter();
  moteFree(ptr);
  leave(FREE, ptr, 0, 0);
}

export function realloc(ptr: usize, bytes: usize): usize {
  enter();
  let moved = moteRealloc(ptr, bytes);
  leave(REALLOC, ptr, bytes, moved);
  return moved;
}

export function calloc(count: usize, size: usize): usize {
  enter();
  let ptr = moteCalloc(count, size);
  leave(CALLOC, count, size, ptr);
  return ptr;
}

export function aligned_alloc(alignment: usize, bytes: usize): usize {
  enter();
  let ptr = moteAlignedAlloc(alignment, bytes);
  leave(ALIGNED_ALLOC, alignment, bytes, ptr);
  return ptr;
}

export function malloc_usable_size(ptr: usize): usize {
  enter();
  let usable = moteUsableSize(ptr);
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
  enter();
  let done = moteInit(at + SIZE, limitEnd);
  leave(INIT, base, limitEnd, done);
  return done;
}

/**
 * Moves the address the heap may grow to (a multiple of 16): 1, or 0, changing nothing, when it
 * lies below the end of what the heap spans, which another thread may have grown since the
 * caller looked.
 */
export function mote_set_limit(limitEnd: usize): usize {
  enter();
  let spanEnd = min(<usize>min(memory.size(), MAX_PAGES) << 16, load<u32>(at + STATE, 12));
  let done: usize = limitEnd >= spanEnd ? 1 : 0;
  if (done) {
    store<u32>(at + STATE, limitEnd, 12); // the state in memory is current between operations
    moteLoadState(at + STATE);
  }
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
 * 0 if that owner does not hold it. Waiters are all woken.
 */
export function mote_recover(owner: i32): u32 {
  let seen = atomic.load<i32>(at + LOCK);
  if (owner == 0 || (seen & ~WAITERS) != owner) return 0;
  if (atomic.cmpxchg<i32>(at + LOCK, seen, 0) != seen) return 0;
  atomic.notify(at + LOCK, -1);
  return 1;
}

/** Logs every operation from now on into `entries` (a power of two) entries at `address`. */
export function mote_log(address: usize, entries: usize): void {
  enter();
  store<u32>(at + LOG_MASK, entries - 1);
  store<u32>(at + LOG, address);
  mote_unlock(); // no ticket: setting the log is not an operation on the heap
}
