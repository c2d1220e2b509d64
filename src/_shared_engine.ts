/**
 * The shared build as a Heap's engine: one heap in a shared `WebAssembly.Memory`, each thread
 * with its own instance of asm/shared.ts over it, every call under the lock in the memory. Also
 * what the concurrent fuzzer needs: the header's layout and its operation log.
 *
 * @module
 */
import { sharedWasm } from "./_wasm.ts";
import { readHeap, rootOf } from "./_heap_reader.ts";
import { ALIGN, FIRST, HEADER } from "./_layout.ts";
import type { HeapPicture } from "./_picture.ts";
import { C_NAMES, type Engine } from "./_engine.ts";
import type { CFunctions } from "./c_abi.ts";
import { LIVE, NOT_A_BLOCK } from "./_verdict.ts";
import { describe } from "./_validate.ts";

/** The C ABI with its memory, as a Heap hands it out (heap.ts's MoteExports, not imported back). */
type MoteExports = Engine["exports"];

/** Why a heap cannot be both shared and checked: said by Heap's constructor and by linkHeap. */
export const NOT_CHECKED = "A shared heap runs the release build: checked must be false";

/** The bytes of the shared header in front of the heap: asm/shared.ts's SIZE. */
export const SHARED_HEADER = 64;
/** Word offsets in the header, as asm/shared.ts lays it out. */
const LOCK = 0, TICKETS = 8, MAGIC = 20, STATE = 32;
/** What mote_create writes at MAGIC: "MOTS" in memory, asm/shared.ts's SHARED_MAGIC. */
const SHARED_MAGIC = 0x53544F4D;
const TOP = STATE + 8, LIMIT = STATE + 12;
/** Where the record of live blocks is, and its length in bytes: a bit per ALIGN bytes. */
const RECORD = STATE + 24, RECORD_BYTES = STATE + 28;
const WAITERS = 1 << 31;
/** A log entry's bytes: 8 words. */
export const LOG_ENTRY = 32;

/** The operations as the log names them. */
export const OPERATIONS = [
  "",
  "malloc",
  "free",
  "realloc",
  "calloc",
  "aligned_alloc",
  "malloc_usable_size",
  "init",
  "set_limit",
] as const;

/**
 * What a worker needs to attach to a shared heap, from `heap.share()`: plain data that
 * `postMessage` can send (a shared memory is sent as itself, not copied).
 *
 * @example What a worker is sent, and attaches to
 * ```ts
 * import { Heap, type SharedHeap } from "@mote/alloc";
 * import assert from "node:assert/strict";
 *
 * const heap = new Heap({ shared: true });
 * const shared: SharedHeap = heap.share(); // postMessage(shared) to a worker, which does:
 * const attached = Heap.attach(shared);
 * const ptr = attached.malloc(100);
 * assert.equal(heap.usableSize(ptr), attached.usableSize(ptr));
 * ```
 */
export interface SharedHeap {
  /** The shared memory the heap lives in. */
  readonly memory: WebAssembly.Memory;
  /** The first byte of the heap's region in it. */
  readonly base: number;
  /**
   * The shared build, compiled, so that the worker need not compile it again; or another build
   * of asm/shared.ts, such as a fuzzer's mutant. Defaults to mote's.
   */
  readonly module?: WebAssembly.Module;
  /**
   * Which thread each owner attached from, for `Heap.prototype.recover`'s proof on Node: the
   * same buffer for every thread of the heap. A heap attached without it is one whose lock
   * `recover` never frees.
   */
  readonly threads?: SharedArrayBuffer;
}

/** What the shared build exports beyond the C functions. */
interface SharedExports extends MoteExports {
  mote_free(ptr: number): number;
  mote_create(base: number): void;
  mote_attach(base: number, wait: number): number;
  mote_init(base: number, limitEnd: number): number;
  mote_set_limit(limitEnd: number): number;
  mote_lock(): void;
  mote_unlock(): void;
  mote_recover(owner: number): number;
  mote_log(address: number, entries: number): void;
}

/** A Heap's controls over sharing, beyond the Engine's. */
export interface Sharing {
  /** This instance's owner id, which the lock records while this thread holds it. */
  readonly owner: number;
  /** The owner id of the lock's holder, 0 when it is free. */
  holder(): number;
  /**
   * Frees the lock if `owner` holds it: "between" operations, "inside" one (whose changes may be
   * half made), or undefined when it does not hold it.
   */
  recover(owner: number): "between" | "inside" | undefined;
  /** The heap's end address, as any thread last set it. */
  limitEnd(): number;
  /** Runs `body` holding the lock: the heap stays still for it, other threads wait. */
  locked<T>(body: () => T): T;
  /** Which thread each owner attached from: what `share()` passes on. */
  readonly threads: SharedArrayBuffer;
}

/**
 * Slots of the record of which thread each owner attached from: owner o's thread id is in slot
 * o % THREAD_SLOTS, beside o itself, so that a later owner that takes the slot is told apart
 * (its owner's record is then lost, and `recover` refuses it). Owners are handed out one after
 * another, so only a heap attached to more than this many times loses one.
 */
const THREAD_SLOTS = 1024;
/** The record's bytes: two Int32 words (owner, thread id) per slot. */
const THREADS_BYTES = THREAD_SLOTS * 8;

/** Node's process (not Deno's or Bun's imitation of it), where a worker's thread id is known. */
interface NodeProcess {
  on(event: "worker", listener: (worker: StoppedWorker) => void): void;
  getBuiltinModule?(name: "node:worker_threads"): { threadId: number } | undefined;
}

function nodeProcess(): NodeProcess | undefined {
  const runtime = globalThis as {
    Deno?: unknown;
    Bun?: unknown;
    process?: NodeProcess & { versions?: { node?: string } };
  };
  return runtime.Deno === undefined && runtime.Bun === undefined &&
      runtime.process?.versions?.node !== undefined
    ? runtime.process
    : undefined;
}

/**
 * The thread id of every Node worker this thread made since mote was loaded, read when it
 * started: Node sets a Worker's threadId to -1 once it exits, and `recover` needs to know which
 * thread the exited worker was.
 */
const workerThreads = new WeakMap<object, number>();
nodeProcess()?.on("worker", (worker) => workerThreads.set(worker, worker.threadId));

let compiled: WebAssembly.Module | undefined;

/** mote's shared build, compiled once per thread. */
export function sharedModule(): WebAssembly.Module {
  return compiled ??= new WebAssembly.Module(sharedWasm);
}

let waitAllowed: boolean | undefined;

/**
 * Whether this thread may block in `Atomics.wait` (and the wasm's memory.atomic.wait32):
 * everywhere but a browser's main thread, which must spin instead.
 */
export function canWait(): boolean {
  if (waitAllowed === undefined) {
    try {
      // the value differs, so it returns at once where waiting is allowed, and throws where not
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
      waitAllowed = true;
    } catch {
      waitAllowed = false;
    }
  }
  return waitAllowed;
}

/**
 * Makes this thread's shared heaps attached from now on (or, given `attaching`, those it
 * attaches) spin where they would wait, as on a browser's main thread: for testing that path
 * anywhere, and for a thread that must never sleep on a lock.
 */
export function spinOnly(attaching?: () => void): void {
  const was = canWait();
  waitAllowed = false;
  if (attaching === undefined) return;
  try {
    attaching();
  } finally {
    waitAllowed = was;
  }
}

/** Whether `memory` is a shared WebAssembly memory. */
export function isShared(memory: WebAssembly.Memory): boolean {
  return typeof SharedArrayBuffer === "function" && memory.buffer instanceof SharedArrayBuffer;
}

/**
 * The shared build over `memory` (a new shared one when undefined), either making a new heap's
 * header at `base` (`attach` false: nothing may use the region yet) or attaching to the heap
 * another thread made there.
 */
export function sharedEngine(
  given: WebAssembly.Memory | undefined,
  base: number,
  attach: boolean,
  module = sharedModule(),
  threads = new SharedArrayBuffer(THREADS_BYTES),
): Engine & { sharing: Sharing; module: WebAssembly.Module; calls: CFunctions } {
  if (!(threads instanceof SharedArrayBuffer) || threads.byteLength !== THREADS_BYTES) {
    throw new TypeError(
      `Shared's threads must be the ${THREADS_BYTES}-byte SharedArrayBuffer heap.share() gave, ` +
        `got ${describe(threads)}`,
    );
  }
  const memory = given ?? new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
  const header = rootOf(base);
  if (memory.buffer.byteLength < header + SHARED_HEADER) {
    throw new RangeError(
      attach
        ? `No shared heap at base ${base}: its header would end at ${header + SHARED_HEADER}, ` +
          `past the memory's ${memory.buffer.byteLength} bytes`
        : `A shared heap at ${base} needs its memory to reach ${header + SHARED_HEADER} bytes, ` +
          `got ${memory.buffer.byteLength}`,
    );
  }
  // only what mote_create made carries the magic word: attaching anywhere else would take a
  // lock and a state that are not there
  if (
    attach && Atomics.load(new Int32Array(memory.buffer, header + MAGIC, 1), 0) !== SHARED_MAGIC
  ) {
    throw new RangeError(
      `No shared heap at base ${base}: attach takes the memory and base that heap.share() gave`,
    );
  }
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  const x = instance.exports as unknown as SharedExports;
  if (!attach) x.mote_create(base);
  const owner = x.mote_attach(base, canWait() ? 1 : 0);
  const thread = nodeProcess()?.getBuiltinModule?.("node:worker_threads")?.threadId;
  const slots = new Int32Array(threads);
  if (thread !== undefined) {
    const slot = (owner % THREAD_SLOTS) * 2;
    // cleared, then the thread, then the owner: a reader that finds the owner before and after
    // reading the thread read this owner's thread
    Atomics.store(slots, slot, 0);
    Atomics.store(slots, slot + 1, thread);
    Atomics.store(slots, slot, owner);
  }
  const words = () => new Int32Array(memory.buffer, header, SHARED_HEADER / 4);
  const locked = <T>(body: () => T): T => {
    x.mote_lock();
    try {
      return body();
    } finally {
      x.mote_unlock();
    }
  };
  const exports = { memory } as Record<string, unknown>;
  for (const name of C_NAMES) exports[name] = x[name];
  // the record of live blocks is the wasm's, in the shared memory, kept under the lock
  // (asm/shared.ts): malloc_usable_size is 0 for any pointer that is not a live block
  const verdict = (ptr: number) => (x.malloc_usable_size(ptr) >>> 0) === 0 ? NOT_A_BLOCK : LIVE;
  return {
    memory,
    module,
    calls: x,
    exports: exports as unknown as MoteExports,
    init: (_, limitEnd) => x.mote_init(base, limitEnd) === 1,
    setLimit: (limitEnd) => {
      if (x.mote_set_limit(limitEnd) === 0) {
        throw new RangeError(
          `Limit must reach ${limitEnd} or more, the end of what the heap spans now: ` +
            `another thread grew it since`,
        );
      }
    },
    malloc: x.malloc,
    calloc: x.calloc,
    alignedAlloc: x.aligned_alloc,
    // one call that decides and frees under the lock (another thread may free ptr meanwhile)
    free: (ptr) => x.mote_free(ptr) === 1 ? LIVE : NOT_A_BLOCK,
    realloc: (ptr, size) => {
      if (ptr !== 0 && verdict(ptr) !== LIVE) return NOT_A_BLOCK;
      const moved = x.realloc(ptr, size);
      // refused, when another thread freed the block since the check: not out of memory
      if (moved === 0 && ptr !== 0 && verdict(ptr) !== LIVE) return NOT_A_BLOCK;
      return moved;
    },
    usableSize: x.malloc_usable_size,
    verdict,
    read: () =>
      locked(() => {
        const reading = readHeap({
          buffer: memory.buffer,
          root: rootOf(header + SHARED_HEADER),
          top: words()[TOP / 4] >>> 0,
          limit: words()[LIMIT / 4] >>> 0,
        });
        const record = words()[RECORD / 4] >>> 0, bytes = words()[RECORD_BYTES / 4] >>> 0;
        const problems = recordProblems(memory, reading.picture, record, bytes);
        return { ...reading, problems: [...reading.problems, ...problems] };
      }),
    sharing: {
      owner,
      holder: () => Atomics.load(words(), LOCK / 4) & ~WAITERS,
      recover: (dead) => ([undefined, "between", "inside"] as const)[x.mote_recover(dead)],
      limitEnd: () => Atomics.load(words(), LIMIT / 4) >>> 0,
      locked,
      threads,
    },
  };
}

/**
 * A proof that a thread has stopped, as `Heap.prototype.recover` takes it: the Node
 * `worker_threads` Worker the thread ran in, once it has exited (its `exit` event has fired, or
 * the promise `worker.terminate()` returned has settled).
 *
 * @example What Node's Worker looks like once it has exited
 * ```ts
 * import type { StoppedWorker } from "@mote/alloc";
 *
 * const exited: StoppedWorker = { threadId: -1 };
 * ```
 */
export interface StoppedWorker {
  /** Node sets it to -1 once the worker's thread has exited. */
  readonly threadId: number;
}

/**
 * Why `worker` does not prove that `owner` has stopped, in this runtime, as the error that
 * `Heap.prototype.recover` throws; undefined when it does. Only Node proves it: a worker_threads
 * Worker's threadId turns -1 once its thread has exited, and `threads` (what `share()` passes
 * on) says which thread the owner attached from. Deno's terminate() lets a worker busy in
 * synchronous code run on (2.9), and a browser's stops it up to seconds later with no event:
 * there nothing proves a thread stopped.
 */
export function unproven(
  worker: unknown,
  owner: number,
  threads: SharedArrayBuffer,
): TypeError | RangeError | undefined {
  const cannot = `recover cannot free owner ${owner}'s lock: `;
  if ((globalThis as { Deno?: unknown }).Deno !== undefined) {
    return new TypeError(
      cannot + "Deno gives no proof that a worker has stopped: its terminate() lets a worker " +
        "busy in synchronous code run on, and no event says when it ends",
    );
  }
  if (nodeProcess() === undefined) {
    return new TypeError(
      cannot + "this runtime gives no proof that a worker has stopped (a browser's " +
        "terminate() stops a worker up to seconds later, with no event); only Node's " +
        "worker_threads do",
    );
  }
  const node = worker as Partial<StoppedWorker> | null;
  if (typeof node !== "object" || node === null || typeof node.threadId !== "number") {
    return new TypeError(
      cannot +
        `the proof must be the node:worker_threads Worker the owner ran in, got ${
          describe(worker)
        }`,
    );
  }
  if (node.threadId !== -1) {
    return new RangeError(
      cannot + `its worker (thread ${node.threadId}) has not exited: await ` +
        `worker.terminate(), or its 'exit' event, first`,
    );
  }
  const ran = workerThreads.get(node);
  if (ran === undefined) {
    return new TypeError(
      cannot + "this thread did not see that worker start (made before mote was loaded, or " +
        "by another thread), so nothing says which thread it was",
    );
  }
  const slots = new Int32Array(threads), slot = (owner % THREAD_SLOTS) * 2;
  const before = Atomics.load(slots, slot), thread = Atomics.load(slots, slot + 1);
  if (before !== owner || Atomics.load(slots, slot) !== owner) {
    return new TypeError(
      cannot + `no record says which thread it attached from (attach with what ` +
        `heap.share() gave, on Node 20.16 or later)`,
    );
  }
  if (thread !== ran) {
    return new RangeError(
      cannot + `it attached from thread ${thread}, not from that worker's thread ${ran}`,
    );
  }
  return undefined;
}

/**
 * What is wrong with a shared heap's record of live blocks (`bytes` bytes at `record`), read
 * against its blocks: a bit set where no used block's payload is, or a used block whose bit is
 * clear (the record's own block has none).
 */
function recordProblems(
  memory: WebAssembly.Memory,
  picture: HeapPicture,
  record: number,
  bytes: number,
): string[] {
  const problems: string[] = [];
  const used = new Set(picture.blocks.filter((b) => !b.free && b.ptr !== record).map((b) => b.ptr));
  const first = picture.root + FIRST + HEADER;
  const bits = record === 0 ? new Uint8Array() : new Uint8Array(memory.buffer, record, bytes);
  bits.forEach((byte, i) => {
    for (let bit = 0; byte >> bit; bit++) {
      const ptr = first + (i * 8 + bit) * ALIGN;
      if ((byte >> bit) & 1 && !used.delete(ptr)) {
        problems.push(`The record of live blocks marks ${ptr}, which is not a used block`);
      }
    }
  });
  for (const ptr of used) {
    problems.push(`Block ${ptr} is used, but the record of live blocks does not mark it`);
  }
  return problems;
}

/** One operation as the log recorded it. */
export interface LogEntry {
  readonly ticket: number;
  readonly operation: (typeof OPERATIONS)[number];
  /** The owner id of the instance that did it. */
  readonly owner: number;
  readonly a: number;
  readonly b: number;
  readonly result: number;
  /** The usable size of the block it returned; 0 when it returned none. */
  readonly usable: number;
}

/** How many operations the heap at `base` has done: the next ticket. */
export function ticketsOf(memory: WebAssembly.Memory, base: number): number {
  return Atomics.load(new Int32Array(memory.buffer, rootOf(base), SHARED_HEADER / 4), TICKETS / 4);
}

/**
 * Starts logging every operation on the shared heap `engine` runs, into `entries` (a power of
 * two) entries at `address`, outside the heap: ticket t goes to entry t mod entries.
 */
export function startLog(
  engine: ReturnType<typeof sharedEngine>,
  address: number,
  entries: number,
): void {
  (engine.calls as unknown as SharedExports).mote_log(address, entries);
}

/** Reads the log's entries for tickets `[from, to)`; they must not have been overwritten. */
export function readLog(
  memory: WebAssembly.Memory,
  address: number,
  entries: number,
  from: number,
  to: number,
): LogEntry[] {
  const words = new Uint32Array(memory.buffer, address, (entries * LOG_ENTRY) / 4);
  const log: LogEntry[] = [];
  for (let ticket = from; ticket < to; ticket++) {
    const at = (ticket % entries) * (LOG_ENTRY / 4);
    log.push({
      ticket: words[at],
      operation: OPERATIONS[words[at + 1]] ?? `operation ${words[at + 1]}` as never,
      owner: words[at + 2],
      a: words[at + 3],
      b: words[at + 4],
      result: words[at + 5],
      usable: words[at + 6],
    });
  }
  return log;
}
