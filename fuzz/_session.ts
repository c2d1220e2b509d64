/**
 * One fuzz run: an allocator under test, optionally the reference model beside it, and the
 * blocks handed out so far. Every operation goes through here: it is done on both, the results
 * compared, and the heap checked; the first thing wrong throws a {@linkcode FuzzFailure} that
 * carries the run's operations as they happened.
 */
import { FIRST, HEADER, MAX_LIMIT } from "../src/_layout.ts";
import type { ModelAllocator } from "../src/_model_allocator.ts";
import type { HeapBlock, HeapPicture } from "../src/_picture.ts";
import { readHeap, rootOf } from "../src/_heap_reader.ts";
import { U32_MAX } from "../src/_validate.ts";
import type { Allocator, MoteAllocator } from "./_subject.ts";
import { OracleFailure } from "./_oracles.ts";
import { type Block, Contract, type Misuse } from "./_contract.ts";

/** What a pointer that is no live block gets passed to. */
export type PointerCall = "free" | "realloc" | "malloc_usable_size";

/**
 * The bytes of poison read at each end of a freed range after every step: a stray write lands
 * near a block's edge, and the end of a run reads all of it.
 */
const POISON_EDGES = 4096;

/** The failure of a run: what went wrong, after the operations that led there. */
export class FuzzFailure extends Error {
  override name = "FuzzFailure";

  /** `trace`: the run's operations, one a line, with their results. */
  constructor(problem: string, readonly trace: readonly string[]) {
    super(`${problem}\n  after ${trace.length} operations:\n    ${trace.join("\n    ")}`);
  }
}

/** The differential side of a run: the model, and where the heap lives. */
export interface Differential {
  readonly model: ModelAllocator;
  readonly base: number;
  /** The heap's end address as Heap computes it from `base` and a limit in bytes. */
  readonly limitEnd: number;
}

/** How a block must be handed out, beyond its size: see `#allocation`. */
type How = { alignment?: number; zeroed?: boolean; old?: Block };

/**
 * What every run keeps, C-ABI session or Heap-layer run: the contract's record of what the
 * program did, and the trace and count of its operations.
 */
export abstract class Run {
  /** The contract's record of the run, and its checks. */
  readonly contract: Contract;
  readonly trace: string[] = [];
  /** Operations done, counting each call into the allocator once. */
  operations = 0;

  /** A run whose contract reads the memory `buffer` gives, the heap's bytes `region` gives. */
  constructor(
    buffer: () => ArrayBufferLike,
    region: () => readonly [number, number] | undefined,
    freedUntil?: Contract["freedUntil"],
  ) {
    this.contract = new Contract(buffer, region, (problem) => this.fail(problem), freedUntil);
  }

  /** The live blocks, as the contract records them. */
  get live(): readonly Block[] {
    return this.contract.live;
  }

  /** Ends the run: `problem`, after the operations that led there. */
  fail(problem: string): never {
    throw new FuzzFailure(problem, this.trace);
  }
}

/** A run of the C ABI in progress. */
export class Session extends Run {
  /** The sizes asked for by every allocation that succeeded, in order: the churn repeats them. */
  readonly history: number[] = [];
  /** Calls of free and realloc, which a mote build counts in `mote_frees`. */
  frees = 0;
  /** The heap's end address the next reset starts with; the limit's end as last set. */
  limitEnd: number;
  /** Whether realloc to 0 bytes is checked: only mote's answer is defined. */
  readonly reallocZero: boolean;
  /** Whether this run's allocator is mote's checked build, which reports misuse. */
  readonly checked: boolean;
  /** The allocator as a mote build; only differential runs have one. */
  readonly mote: MoteAllocator;

  /** `alignment`: the alignment every plain allocation must have. */
  constructor(
    readonly real: Allocator,
    readonly diff: Differential | undefined,
    readonly alignment: number,
  ) {
    super(() => real.memory.buffer, () => diff && [diff.base, this.mote.limit], {
      overhead: diff?.model.overhead ?? HEADER,
    });
    this.mote = real as MoteAllocator;
    this.limitEnd = diff?.limitEnd ?? 0;
    this.reallocZero = diff !== undefined;
    this.checked = diff !== undefined && diff.model.overhead > HEADER;
    if (diff) this.#start();
  }

  /** Bytes left in the top region below the limit, as a request that fills it exactly. */
  get room(): number {
    const { model } = this.diff!;
    return model.limit - model.top - HEADER - model.overhead;
  }

  /** Bytes left in the top region in the memory as it is, as a request that fills it exactly. */
  get memoryRoom(): number {
    const { model } = this.diff!;
    const end = Math.min(model.limit, model.memory.buffer.byteLength);
    return end - model.top - HEADER - model.overhead;
  }

  /** The heap's limit in bytes from its base. */
  get limitBytes(): number {
    return this.diff ? this.diff.model.limit - this.diff.base : 0;
  }

  /** The C ABI's calls, as the allocation commands make them. */
  malloc(size: number): void {
    this.#allocation(`malloc(${size})`, (a) => a.malloc(size), size);
  }
  calloc(count: number, size: number): void {
    const what = `calloc(${count}, ${size})`;
    this.#allocation(what, (a) => a.calloc!(count, size), count * size, { zeroed: true });
  }
  alignedAlloc(alignment: number, size: number): void {
    const what = `aligned_alloc(${alignment}, ${size})`;
    const aligned = { alignment: Math.max(alignment, this.alignment) };
    this.#allocation(what, (a) => a.aligned_alloc!(alignment, size), size, aligned);
  }
  reallocNull(size: number): void {
    this.frees++;
    this.#allocation(`realloc(0, ${size})`, (a) => a.realloc(0, size), size);
  }
  free(index: number): void {
    const block = this.contract.take(index, "free"), what = `free(${Contract.nameOf(block)})`;
    this.frees++;
    this.contract.freed.add(block.ptr);
    this.#call(what, (a) => a.free(block.ptr));
    this.trace.push(what);
    this.#after();
  }
  realloc(index: number, size: number): void {
    const block = this.contract.take(index, "realloc");
    this.frees++;
    const what = `realloc(${Contract.nameOf(block)}, ${size})`;
    this.#allocation(what, (a) => a.realloc(block.ptr, size), size, { old: block });
  }
  usableSize(index: number): void {
    const block = this.live[index], what = `malloc_usable_size(${Contract.nameOf(block)})`;
    const usable = this.#call(what, (a) => a.malloc_usable_size!(block.ptr));
    this.trace.push(`${what} -> ${usable}`);
    if (usable !== block.usable) this.fail(`${what} changed to ${usable}`);
    this.#after();
  }

  /**
   * Hands the allocator a pointer that is no live block: it must refuse it, changing nothing,
   * and a checked build must report exactly `kind` at it.
   */
  foreignPointer(ptr: number, call: PointerCall, kind: Misuse, forgedHeader?: number): void {
    if (call !== "malloc_usable_size") this.frees++;
    const what = `${call}(${ptr}), a pointer not live` +
      (forgedHeader === undefined ? "" : ` behind a forged header ${forgedHeader}`);
    const result = this.#call(what, (a) =>
      // the word in front, in a live block's bytes, reads as a header: in the wasm's memory only
      a === this.real && forgedHeader !== undefined
        ? withWord(a.memory, ptr - HEADER, forgedHeader, () => callWith(a))
        : callWith(a));
    function callWith(a: Allocator) {
      if (call === "free") return a.free(ptr);
      return call === "realloc" ? a.realloc(ptr, 16) : a.malloc_usable_size!(ptr);
    }
    this.trace.push(`${what} -> ${result ?? "done"}`);
    if (result) this.fail(`${call} of ${ptr}, a pointer not live, returned ${result}`);
    this.#after({ ptr, kind });
  }

  /** Sets the limit as Heap.limit does, raw: never below the heap's current end. */
  setLimit(limitEnd: number): void {
    const address = Math.floor(Math.min(limitEnd, MAX_LIMIT) / 16) * 16;
    this.trace.push(`limit = ${address}`);
    this.mote.limit = address;
    this.diff!.model.limit = address;
    this.limitEnd = address;
    this.#after();
  }

  /** Starts the heap again, forgetting every block, as Heap.reset does. */
  reset(): void {
    this.contract.reset();
    this.#start();
  }

  /**
   * Ends the run: every block is verified whole and freed; then a differential heap must serve
   * one request for all the memory it has from its first block (what waits unmerged in a quick
   * list is merged when nothing else can serve), and be empty once that is freed. A model-free
   * run then repeats its allocations on the emptied heap, and the heap must stop growing.
   */
  finish(): void {
    for (const block of this.live) this.contract.verify(block, "at the end of the run");
    while (this.live.length > 0) this.free(this.live.length - 1);
    if (!this.diff) return this.#churn(8);
    if (this.diff.model.limit === 0) return;
    this.#readWasm(true); // the checked build's poison too, all of it
    const first = rootOf(this.diff.base) + FIRST;
    const end = Math.min(this.real.memory.buffer.byteLength, this.mote.limit) - HEADER;
    const whole = end - first - this.diff.model.overhead;
    if (whole < 0) return;
    this.malloc(whole);
    if (this.live[0]?.ptr !== first + HEADER) {
      this.fail(`With every block freed, malloc(${whole}) did not get the first block`);
    }
    this.free(0);
    const picture = this.#readWasm();
    if (picture.blocks.length > 0 || picture.top !== first) {
      this.fail(`With every block freed, ${picture.blocks.length} blocks remain`);
    }
  }

  /**
   * Repeats the run's first allocations (at most 32, of up to 256 KiB each and 4 MiB in all) on
   * the emptied heap, `rounds` times, freeing all after each round: the highest address used
   * must stop rising (a leak makes it rise every round).
   */
  #churn(rounds: number): void {
    let total = 0;
    const sizes = this.history
      .filter((size) => size <= 256 * 1024 && (total += size) <= 4 << 20)
      .slice(0, 32);
    const highs: number[] = [];
    for (let round = 0; round < rounds; round++) {
      for (const size of sizes) this.malloc(size);
      highs.push(Math.max(0, ...this.live.map((block) => block.ptr + block.usable)));
      while (this.live.length > 0) this.free(this.live.length - 1);
    }
    const settled = highs.slice(rounds / 2);
    if (settled.every((high, i) => i === 0 || high > settled[i - 1])) {
      this.fail(
        `Repeating the same allocations on an emptied heap uses ever higher addresses: ` +
          `${highs.join(", ")}`,
      );
    }
  }

  /** Calls the allocator, and the model if there is one; fails when they return differently. */
  #call<T extends number | void>(what: string, call: (allocator: Allocator) => T): T {
    this.operations++;
    const result = this.#attempt(what, "allocator", () => call(this.real));
    if (this.diff) {
      const model = this.diff.model as unknown as Allocator;
      const predicted = this.#attempt(what, "model", () => call(model));
      if (result !== predicted) {
        this.trace.push(`${what} -> ${result}`);
        this.fail(`${what} returned ${result}, but the model returned ${predicted}`);
      }
    }
    return result;
  }

  /** Runs a call that should not throw: a trap (or a model's exception) fails the run. */
  #attempt<T>(what: string, who: string, call: () => T): T {
    try {
      return call();
    } catch (error) {
      // a rule of _oracles.ts broken inside the call (a hang, liveness) is reported as itself
      if (error instanceof OracleFailure) {
        this.trace.push(`${what} -> ${error.outcome}`);
        return this.fail(error.message);
      }
      this.trace.push(`${what} -> threw`);
      return this.fail(`The ${who} threw in ${what}: ${error}`);
    }
  }

  /**
   * A call that hands out a block: it must be aligned to `alignment`, zero if `zeroed`, and a
   * realloc of `old` must keep its bytes, or leave it intact when it fails.
   */
  #allocation(what: string, call: (a: Allocator) => number, requested: number, how: How = {}) {
    const { alignment = this.alignment, zeroed = false, old } = how;
    const ptr = this.#call(what, call);
    if (ptr === 0) {
      this.trace.push(`${what} -> 0`);
      if (old) this.contract.restore(old, what);
    } else if (requested > U32_MAX) { // calloc's count times size
      this.trace.push(`${what} -> ${ptr}`);
      this.fail(`${what} returned ${ptr}, but the product overflows 32 bits`);
    } else {
      // the request, when the usable size cannot be asked
      const usable = this.real.malloc_usable_size
        ? this.#call(`malloc_usable_size(${ptr})`, (a) => a.malloc_usable_size!(ptr))
        : requested;
      this.trace.push(`b${this.contract.nextId} = ${what} -> ${ptr}, usable ${usable}`);
      // above the heap's bookkeeping and below its top, or in the memory
      const bounds: [number, number] = this.diff
        ? [rootOf(this.diff.base) + FIRST + HEADER, this.mote.top()]
        : [1, this.real.memory.buffer.byteLength];
      if (old) {
        // mote keeps every usable byte; C promises only the bytes asked for
        const kept = this.diff ? Math.min(old.usable, usable) : Math.min(old.requested, requested);
        this.contract.moved(old, ptr, requested, usable, { kept, what, alignment, bounds });
      } else {
        this.contract.place(ptr, requested, usable, { alignment, zeroed, bounds });
      }
      this.history.push(requested);
    }
    this.#after();
  }

  /**
   * The checks after every operation: the first and last bytes of every live block are intact,
   * a checked build reported what it should and nothing else, and a differential heap matches
   * the model: its top, limit and memory size, and its blocks and lists as read from memory,
   * which must also pass the integrity check.
   */
  #after(misuse?: { ptr: number; kind: Misuse }): void {
    this.contract.check("the last operation");
    if (!this.diff) return;
    const reports = this.mote.takeReports().join(", ");
    const expected = misuse === undefined || !this.checked ? "" : `${misuse.kind} at ${misuse.ptr}`;
    if (reports !== expected) {
      this.fail(`The checked build reported [${reports}]${misuse ? `, not ${expected}` : ""}`);
    }
    const frees = this.mote.frees();
    if (frees !== this.frees >>> 0) {
      this.fail(`mote_frees() is ${frees}, not the ${this.frees} calls of free and realloc`);
    }
    const { model } = this.diff;
    const memory = this.real.memory.buffer.byteLength;
    if (memory !== model.memory.buffer.byteLength) {
      this.fail(`Memory is ${memory} bytes, but the model's is ${model.memory.buffer.byteLength}`);
    }
    if (this.mote.top() !== model.top || this.mote.limit !== model.limit) {
      this.fail(
        `Top and limit are ${this.mote.top()} and ${this.mote.limit}, ` +
          `but the model's are ${model.top} and ${model.limit}`,
      );
    }
    if (model.limit === 0) return; // a heap of zero capacity has no bookkeeping to read
    const difference = differ(this.#readWasm(), model.picture());
    if (difference) this.fail(`The heap differs from the model's: ${difference}`);
  }

  /**
   * The heap as read, which must pass the integrity check: the checked build's poison near each
   * range's ends, or all of it if `whole`.
   */
  #readWasm(whole = false): HeapPicture {
    const { picture, problems } = readHeap({
      buffer: this.real.memory.buffer,
      root: rootOf(this.diff!.base),
      top: this.mote.top(),
      checked: this.checked,
      limit: this.mote.limit,
      poisonEdges: whole ? undefined : POISON_EDGES,
    });
    if (problems.length > 0) this.fail(`The heap is damaged:\n  ${problems.join("\n  ")}`);
    return picture;
  }

  #start(): void {
    const { model, base } = this.diff!;
    const what = `init(${base}, ${this.limitEnd})`;
    this.operations++;
    const started = this.#attempt(what, "allocator", () => this.mote.init(base, this.limitEnd));
    this.trace.push(`${what} -> ${started ? "started" : "failed"}`);
    if (started !== model.init(base, this.limitEnd)) {
      this.fail(`${what} ${started ? "started" : "failed"}, but the model's did not`);
    }
    this.#after();
  }
}

/** What `call` returns, run with the 32-bit word at `at` in `memory` set to `value`. */
export function withWord<T>(memory: WebAssembly.Memory, at: number, value: number, call: () => T) {
  const view = () => new DataView(memory.buffer); // afresh: the call may grow the memory
  const saved = view().getUint32(at, true);
  view().setUint32(at, value, true);
  try {
    return call();
  } finally {
    view().setUint32(at, saved, true);
  }
}

/** The first difference between two heap pictures, in words; undefined when they agree. */
function differ(actual: HeapPicture, expected: HeapPicture): string | undefined {
  if (actual.top !== expected.top) return `top is ${actual.top}, not ${expected.top}`;
  if (actual.end !== expected.end) {
    return `the top region ends at ${actual.end}, not ${expected.end}`;
  }
  const blocks = differBlocks(actual.blocks, expected.blocks);
  if (blocks) return blocks;
  for (const name of ["lists", "quick"] as const) {
    const [lists, expectedLists] = [actual[name], expected[name]];
    const i = lists.findIndex((list, i) => list.join() !== expectedLists[i].join());
    if (i >= 0) return `${name} ${i} is [${lists[i]}], not [${expectedLists[i]}]`;
  }
  return undefined;
}

/** The first block that differs between two heaps' walks, in words; undefined when none. */
export function differBlocks(actual: readonly HeapBlock[], expected: readonly HeapBlock[]) {
  for (let i = 0; i < Math.max(actual.length, expected.length); i++) {
    const a = actual[i], e = expected[i];
    if (a?.address !== e?.address || a?.size !== e?.size || a?.free !== e?.free) {
      const show = (b?: HeapBlock) =>
        b ? `${b.free ? "free" : "used"} ${b.size} at ${b.address}` : "none";
      return `block ${i} is ${show(a)}, not ${show(e)}`;
    }
  }
  return undefined;
}
