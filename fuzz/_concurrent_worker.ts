/**
 * One worker of the concurrent fuzz (fuzz/concurrent.ts): it attaches to the shared heap it is
 * sent, waits at a barrier for the other workers, runs its commands through the heap's raw C
 * ABI, and answers with every call it made and what it saw. Its blocks are held to the contract
 * (fuzz/_contract.ts), with ids that no other worker's blocks have, so each holds a pattern of
 * its own, checked before it is freed or reallocated, after it is reallocated, at both ends after
 * every command and whole whenever a command says: a block changed by anyone but its owner shows.
 *
 * @module
 */
import { ALIGN, PAGE } from "../src/_layout.ts";
import { sharedEngine, spinOnly } from "../src/_shared_engine.ts";
import { Contract } from "./_contract.ts";
import type { Call, Operation, WorkerResult, WorkerRun } from "./concurrent.ts";

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
  // what Heap.attach makes, with the raw exports as wasm linked to the heap calls them
  const engine = sharedEngine(run.memory, run.base, true, run.module);
  const { owner, limitEnd } = engine.sharing;
  const raw = engine.calls as unknown as Record<string, (a: number, b: number) => number>;
  const calls: Call[] = [];
  /** Calls `operation(a, b)` (around `f`, if given) and records it as the log names it. */
  const call = (operation: Operation, a: number, b = 0, around = (f: () => number) => f()) => {
    const name = operation === "set_limit" ? "mote_set_limit" : operation;
    const result = around(() => raw[name](a, b)) >>> 0;
    calls.push([operation, a, b, result]);
    return result;
  };
  const buffer = () => run.memory.buffer;
  const fail = (what: string): never => {
    throw new Failure(`worker ${run.worker}, call ${calls.length - 1}: ${what}`);
  };
  // ids run.worker, + run.workers, + 2 * run.workers, …: no two workers' patterns are the same
  const ids = { first: run.worker, step: run.workers };
  const contract = new Contract(buffer, () => undefined, fail, "reused", ids);
  const { live } = contract;
  const bounds = () => [run.base, buffer().byteLength] as const;
  /** Checks and records a block just returned for `requested` bytes, asking its usable size. */
  const place = (ptr: number, requested: number, alignment = ALIGN, zeroed = false) => {
    const usable = call("malloc_usable_size", ptr), how = { alignment, zeroed, bounds: bounds() };
    return contract.place(ptr, requested, usable, how);
  };
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
        case "malloc": {
          const around = "atStackEnd" in command ? atStackEnd : undefined;
          const ptr = call("malloc", command.size, 0, around);
          if (ptr) place(ptr, command.size);
          break;
        }
        case "aligned_alloc": {
          const { alignment, size } = command;
          const ptr = call("aligned_alloc", alignment, size);
          if (ptr) place(ptr, size, Math.max(ALIGN, alignment));
          break;
        }
        case "calloc": {
          const { count, size } = command;
          const ptr = call("calloc", count, size);
          if (ptr === 0) break;
          if (count * size > 0xFFFF_FFFF) fail(`calloc(${count}, ${size}) overflowed to ${ptr}`);
          place(ptr, count * size, ALIGN, true);
          break;
        }
        case "realloc": {
          const index = pick(command.index), size = command.size;
          const what = `realloc(${live[index]?.ptr ?? 0}, ${size})`;
          const old = index < 0 ? undefined : contract.take(index, what);
          const ptr = call("realloc", old?.ptr ?? 0, size);
          if (ptr === 0 && old) contract.restore(old, what);
          else if (ptr && !old) place(ptr, size);
          else if (ptr && old) {
            const usable = call("malloc_usable_size", ptr), kept = Math.min(old.usable, size);
            const how = { kept, what: `${what} -> ${ptr}`, alignment: ALIGN, bounds: bounds() };
            contract.moved(old, ptr, size, usable, how);
          }
          break;
        }
        case "free": {
          const index = pick(command.index);
          if (index < 0) break;
          const block = contract.take(index, `free(${live[index].ptr})`);
          if (block.usable > 16) { // first inside it, behind a forged header: to be refused
            new DataView(buffer()).setUint32(block.ptr + 12, 16, true);
            call("free", block.ptr + 16);
          }
          call("free", block.ptr);
          contract.freed.add(block.ptr);
          break;
        }
        case "malloc_usable_size": {
          const block = live[pick(command.index)];
          if (!block) break;
          const usable = call("malloc_usable_size", block.ptr);
          if (usable !== block.usable) fail(`block ${block.ptr}'s usable size became ${usable}`);
          break;
        }
        case "set_limit": {
          // The span only grows (a limit comes down to it at the lowest), so the span before
          // the call and the span after it bound the span the call saw: no lock is held across
          // JavaScript, where a main thread that raises the limit meanwhile could block for good.
          const spanEnd = () => Math.min(run.memory.grow(0) * PAGE, limitEnd());
          const before = limitEnd(), spanBefore = spanEnd();
          const end = spanBefore + command.fromSpanEnd;
          const set = call("set_limit", end);
          if (set && end < spanBefore) {
            fail(`mote_set_limit(${end}) took a limit below the span's end, ${spanBefore}`);
          }
          const spanAfter = spanEnd();
          if (!set && end >= spanAfter) {
            fail(`mote_set_limit(${end}) refused a limit at or above the span's end, ${spanAfter}`);
          }
          // lowered to the span, the heap could grow no more: the limit goes back
          if (set && end < before) call("set_limit", before);
          break;
        }
        case "verify":
          for (const block of live) contract.verify(block, "on a verify");
          break;
      }
      contract.check(command.op);
    }
    for (const block of live) contract.verify(block, "at the end");
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
