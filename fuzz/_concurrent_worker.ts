/**
 * One worker of the concurrent fuzz (fuzz/concurrent.ts): it attaches to the shared heap it is
 * sent, waits at a barrier for the other workers, runs its commands through the heap's raw C
 * ABI, and answers with every call it made and what it saw. Each block holds a pattern of its
 * own, made from the worker's number and the block's, which is checked before it is freed, after
 * it is reallocated and whenever a command says: a block changed by anyone but its owner shows.
 *
 * @module
 */
import { sharedEngine, spinOnly } from "../src/_shared_engine.ts";
import { extents as extentsOf, fillPattern, patternMismatch } from "./_pattern.ts";

/** One command of a worker; indices pick a live block modulo how many there are. */
export type WorkerCommand =
  | { readonly op: "malloc"; readonly size: number; readonly atStackEnd?: boolean }
  | { readonly op: "calloc"; readonly count: number; readonly size: number }
  | { readonly op: "aligned_alloc"; readonly alignment: number; readonly size: number }
  | { readonly op: "realloc"; readonly index: number; readonly size: number }
  | { readonly op: "free"; readonly index: number }
  | { readonly op: "malloc_usable_size"; readonly index: number }
  /** The raw `mote_set_limit` export, called with the span's end plus `fromSpanEnd`. */
  | { readonly op: "set_limit"; readonly fromSpanEnd: number }
  | { readonly op: "verify" };

/** What the main thread sends for one run. */
export interface WorkerRun {
  readonly memory: WebAssembly.Memory;
  readonly base: number;
  /** The shared build the heap runs. */
  readonly module?: WebAssembly.Module;
  /** This worker's number, 0 to 7: part of every pattern it writes. */
  readonly worker: number;
  /** How many workers take part: the barrier waits for them all. */
  readonly workers: number;
  /** Int32 0 of it counts the workers at the barrier; 1 + `worker` takes this one's owner id. */
  readonly barrier: SharedArrayBuffer;
  readonly commands: readonly WorkerCommand[];
}

/** A call into the heap as this worker saw it: operation, arguments, result. */
export type Call = readonly [operation: string, a: number, b: number, result: number];

/** What a worker answers. */
export interface WorkerResult {
  /** The owner id its instance had: the log's entries of this worker carry it. */
  readonly owner: number;
  /** Every call it made, in order. */
  readonly calls: readonly Call[];
  /** The first thing it found wrong, with the index of the call it found it at. */
  readonly problem?: string;
}

/** A live block of this worker. */
interface Block {
  readonly id: number;
  readonly ptr: number;
  readonly usable: number;
}

/** Blocks up to this size are filled and checked whole; larger ones at both ends. */
const WHOLE = 1 << 16;
const EDGE = 1 << 12;
const PAGE = 65536;

const extents = (usable: number) => extentsOf(usable, WHOLE, EDGE);

class Failure extends Error {}

/**
 * `f()` where the stack runs out: called from the deepest frame that recursion reaches, it
 * throws (a stack overflow) frame by frame on the way back up until one has room.
 */
function atStackEnd(f: () => number): number {
  let result = 0;
  const deeper = (): void => {
    try {
      deeper();
    } catch {
      result = f();
    }
  };
  deeper();
  return result;
}

/** Runs one worker's commands; what it saw, or the first problem. */
function runWorker(run: WorkerRun): WorkerResult {
  // worker 0 spins where it would wait, as a browser's main thread must: both paths are taken
  if (run.worker === 0) spinOnly();
  // what Heap.attach makes, for the raw exports too: as wasm linked to the heap calls them
  const engine = sharedEngine(run.memory, run.base, true, run.module);
  const { owner, limitEnd, locked } = engine.sharing;
  const x = engine.exports;
  const setLimit = (engine.calls as unknown as { mote_set_limit(end: number): number })
    .mote_set_limit;
  const calls: Call[] = [];
  const live: Block[] = [];
  let nextBlock = 0;
  const call = (operation: string, a: number, b: number, result: number) => {
    calls.push([operation, a, b, result >>> 0]);
    return result >>> 0;
  };
  const buffer = () => run.memory.buffer;
  const fail = (what: string): never => {
    throw new Failure(`worker ${run.worker}, call ${calls.length - 1}: ${what}`);
  };
  const check = (block: Block, upTo: number, at: number, when: string) => {
    for (const [from, to] of extents(block.usable)) {
      const end = Math.min(to, upTo);
      if (from >= end) continue;
      const offset = patternMismatch(buffer(), at, block.id, from, end);
      if (offset >= 0) {
        fail(
          `block ${block.ptr} (${block.usable} usable bytes) changed at offset ${offset} ` +
            `(address ${at + offset}) ${when}`,
        );
      }
    }
  };
  /** A block just returned for `requested` bytes: where it is, its size, and its pattern. */
  const place = (ptr: number, requested: number, alignment: number, id: number): Block => {
    if (ptr % alignment !== 0) fail(`${ptr} is not aligned to ${alignment}`);
    const usable = call("malloc_usable_size", ptr, 0, x.malloc_usable_size(ptr));
    if (usable < requested) fail(`block ${ptr} has ${usable} usable bytes, asked ${requested}`);
    if (ptr + usable > buffer().byteLength) fail(`block ${ptr} ends past the memory`);
    for (const other of live) {
      if (ptr < other.ptr + other.usable && other.ptr < ptr + usable) {
        fail(`block ${ptr} overlaps this worker's live block ${other.ptr}`);
      }
    }
    return { id, ptr, usable };
  };
  const fill = (block: Block) => {
    for (const [start, end] of extents(block.usable)) {
      fillPattern(buffer(), block.ptr, block.id, start, end);
    }
  };
  const newId = () => nextBlock++ * 8 + run.worker; // distinct rows of the pattern per worker
  const pick = (index: number) => live.length ? index % live.length : -1;

  // every worker starts at once, or the first could be done before the last has begun
  const arrived = new Int32Array(run.barrier);
  Atomics.store(arrived, 1 + run.worker, owner);
  Atomics.add(arrived, 0, 1);
  while (Atomics.load(arrived, 0) < run.workers);

  let problem: string | undefined;
  try {
    for (const command of run.commands) {
      switch (command.op) {
        case "malloc":
        case "aligned_alloc": {
          const alignment = command.op === "malloc" ? 16 : Math.max(16, command.alignment);
          const malloc = () => x.malloc(command.size);
          const ptr = command.op === "malloc"
            ? call("malloc", command.size, 0, command.atStackEnd ? atStackEnd(malloc) : malloc())
            : call(
              "aligned_alloc",
              command.alignment,
              command.size,
              x.aligned_alloc(command.alignment, command.size),
            );
          if (ptr === 0) break;
          const block = place(ptr, command.size, alignment, newId());
          fill(block);
          live.push(block);
          break;
        }
        case "calloc": {
          const { count, size } = command;
          const ptr = call("calloc", count, size, x.calloc(count, size));
          if (ptr === 0) break;
          if (count * size > 0xFFFF_FFFF) fail(`calloc(${count}, ${size}) overflowed to ${ptr}`);
          const block = place(ptr, count * size, 16, newId());
          const bytes = new Uint8Array(buffer(), ptr, Math.min(count * size, WHOLE));
          const nonzero = bytes.findIndex((byte) => byte !== 0);
          if (nonzero >= 0) fail(`calloc's block ${ptr} is not zero at offset ${nonzero}`);
          fill(block);
          live.push(block);
          break;
        }
        case "realloc": {
          const index = pick(command.index);
          const old = index < 0 ? undefined : live[index];
          if (old) check(old, old.usable, old.ptr, "before realloc");
          const ptr = call(
            "realloc",
            old?.ptr ?? 0,
            command.size,
            x.realloc(old?.ptr ?? 0, command.size),
          );
          if (ptr === 0) {
            if (old) check(old, old.usable, old.ptr, "after a failed realloc");
            break;
          }
          if (old) live.splice(index, 1);
          const block = place(ptr, command.size, 16, old?.id ?? newId());
          const kept = old ? Math.min(old.usable, command.size) : 0;
          if (old) check(old, kept, ptr, `after realloc to ${command.size} bytes at ${ptr}`);
          fill(block); // whole: a large block's middle was never filled, nor checked
          live.push(block);
          break;
        }
        case "free": {
          const index = pick(command.index);
          if (index < 0) break;
          const [block] = live.splice(index, 1);
          check(block, block.usable, block.ptr, "before free");
          if (block.usable > 16) { // first inside it, behind a forged header: to be refused
            new DataView(buffer()).setUint32(block.ptr + 12, 16, true);
            call("free", block.ptr + 16, 0, (x.free(block.ptr + 16), 0));
          }
          call("free", block.ptr, 0, (x.free(block.ptr), 0));
          break;
        }
        case "malloc_usable_size": {
          const index = pick(command.index);
          if (index < 0) break;
          const block = live[index];
          const usable = call("malloc_usable_size", block.ptr, 0, x.malloc_usable_size(block.ptr));
          if (usable !== block.usable) fail(`block ${block.ptr}'s usable size became ${usable}`);
          break;
        }
        case "set_limit":
          // under the lock the span holds still: the memory's end, or the limit if lower
          locked(() => {
            const before = limitEnd();
            const spanEnd = Math.min(run.memory.grow(0) * PAGE, before);
            const end = spanEnd + command.fromSpanEnd;
            const set = call("set_limit", end, 0, setLimit(end));
            if (set !== (end >= spanEnd ? 1 : 0)) {
              const what = set ? "took a limit below" : "refused a limit at or above";
              fail(`mote_set_limit(${end}) ${what} the span's end, ${spanEnd}`);
            }
            // lowered to the span, the heap could grow no more: the limit goes back
            if (set && end < before) call("set_limit", before, 0, setLimit(before));
          });
          break;
        case "verify":
          for (const block of live) check(block, block.usable, block.ptr, "on a verify");
          break;
      }
    }
    for (const block of live) check(block, block.usable, block.ptr, "at the end");
  } catch (error) {
    if (!(error instanceof Failure)) throw error;
    problem = error.message;
  }
  return { owner, calls, problem };
}

/** The worker's global scope, as far as it is used here. */
const scope = globalThis as unknown as {
  onmessage: (event: MessageEvent<WorkerRun>) => void;
  postMessage(message: WorkerResult | { error: string } | "ready"): void;
};

// this module runs as a worker: fuzz/concurrent.ts imports only its types
scope.onmessage = (event) => {
  try {
    scope.postMessage(runWorker(event.data));
  } catch (error) {
    scope.postMessage({ error: error instanceof Error ? `${error.stack}` : String(error) });
  }
};
scope.postMessage("ready");
