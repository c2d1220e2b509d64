/**
 * The fuzzer one layer up: `Heap` and `ModelHeap` side by side, through the API users call, with
 * everything a user can do to a heap: allocate and free, reset it (keeping the stale pointers),
 * move its limit up and down, hand it pointers that are not live blocks (freed, stale, forged on
 * bytes that read like a header, interior, misaligned, outside), call its `exports` as another
 * module would, grow its memory from outside (up to wasm32's full 4 GiB), and, for the checked
 * build, corrupt one word (a guard, a header, a free block's links or back word, poison) and
 * require the exact report at the call that must see it. Results must be equal, errors equal by
 * class, message and kind, the heaps equal block for block, and in a region of a given memory,
 * the owner's bytes below `base` and above `base + limit` untouched.
 */
import fc from "fast-check";
import { Heap, HeapMisuseError, type MisuseKind } from "../mod.ts";
import { ModelHeap } from "../src/model.ts";
import { ALIGN, FIRST, HEADER, MAX_LIMIT, MIN_BLOCK, QUICK_BOUND } from "../src/_layout.ts";
import { classOf, SCAN } from "../src/_size_class.ts";
import { readHeap, rootOf } from "../src/_heap_reader.ts";
import { runOn } from "../src/heap.ts";
import { wasmEngineFor } from "../src/_engine.ts";
import { modelEngineFor } from "../src/_model_engine.ts";
import { checkedWasm, fastWasm, regionWasm } from "../src/_wasm.ts";
import {
  allocationCommands,
  classStarts,
  type HeapSetup,
  heapSetups,
  sizes as arbitrarySizes,
} from "./_arbitraries.ts";
import { type Block, Contract } from "./_contract.ts";
import { Picture } from "./_picture_command.ts";
import { differBlocks } from "./_session.ts";

const PAGE = 65536;
const WASM32_PAGES = 65536;
/** How many of the owner's bytes either side of a region it writes at the start. */
const NEAR = 4096;
/**
 * A heap this small is check()ed after every step; a larger one every CHECK_EVERY steps, as
 * reading all of a checked heap's poison after each was nine tenths of the fuzz's time.
 */
const SMALL_SPAN = 1 << 20;
const CHECK_EVERY = 8;
/**
 * The most a heap may span for check() to read it whole: a checked heap's poison is read word by
 * word, seconds for a heap grown to 4 GiB, which a run's walk and contract cover instead.
 */
const CHECKED_SPAN = 64 << 20;

/** Where a Heap-layer run's heaps live: a C-ABI setup, its build named. */
export type HeapLayerSetup = Omit<HeapSetup, "build"> & {
  readonly build: "release" | "checked" | "fast";
};

/** mote's fast build behind the Heap API: its own memory only, as it is built. */
class FastHeap extends Heap {}
runOn(FastHeap, wasmEngineFor({ own: fastWasm, region: regionWasm, checked: checkedWasm }));
/** The model of the fast build: quick lists. */
class FastModelHeap extends ModelHeap {}
runOn(FastModelHeap, modelEngineFor(() => QUICK_BOUND));

/** One run: a heap and its model, and the contract's record of what the program did. */
export class HeapRun {
  readonly heap: Heap;
  readonly model: ModelHeap;
  readonly setup: HeapLayerSetup;
  readonly contract: Contract;
  readonly trace: string[] = [];
  operations = 0;
  /**
   * Checked: the heap's poison reaches at least this high above the top: the memory there at
   * init (below the limit), and every top since, whose memory was freed back into the top.
   */
  poisonedTo = 0;
  /** The memory's size after the last command: bytes past it appeared since. */
  #bytes: number;
  /** Steps since the last whole check(). */
  #unchecked = 0;

  constructor(setup: HeapLayerSetup, kind?: typeof Heap, fastKind: typeof Heap = FastHeap) {
    this.setup = setup;
    const { build, region, base, pages, maximum, limit } = setup;
    const checked = build === "checked";
    kind = build === "fast" ? fastKind : kind ?? Heap;
    const modelKind = build === "fast" ? FastModelHeap : ModelHeap;
    this.poisonedTo = Math.min(pages * PAGE, Math.floor((base + limit) / ALIGN) * ALIGN);
    const memories = [0, 1].map(() =>
      region ? new WebAssembly.Memory({ initial: pages, maximum }) : undefined
    );
    const at = region ? { base, limit, checked } : { limit, checked };
    this.contract = new Contract(
      () => (memories[0] ?? this.heap.memory).buffer,
      () => [base, base + (this.heap?.limit ?? limit)],
      (problem) => this.fail(problem),
    );
    this.#bytes = pages * PAGE;
    if (region) {
      // the owner's bytes either side of the region, and the zeros beyond them
      const end = Math.min(base + limit, pages * PAGE), near = Math.max(0, base - NEAR);
      this.contract.appeared(0, near);
      this.contract.appeared(Math.min(end + NEAR, pages * PAGE), pages * PAGE);
      this.ownerWrites(near, base);
      this.ownerWrites(end, Math.min(end + NEAR, pages * PAGE));
    }
    const made = [kind, modelKind].map((k, i) =>
      attempt(() => new k({ memory: memories[i], ...at }))
    );
    if (!("value" in made[0] && "value" in made[1])) {
      if (sameOutcome(made[0], made[1])) throw new Refused(show(made[0]));
      this.fail(`new Heap: the heap gave ${show(made[0])}, the model ${show(made[1])}`);
    }
    [this.heap, this.model] = [made[0].value, made[1].value];
    this.after("new Heap");
  }

  /** Does `call` on both heaps: equal results or equal errors, then the checks. */
  both<T>(what: string, call: (heap: Heap) => T): T | undefined {
    this.operations++;
    const actual = attempt(() => call(this.heap));
    const expected = attempt(() => call(this.model));
    this.trace.push(`${what} -> ${show(actual)}`);
    if (!sameOutcome(actual, expected)) {
      this.fail(`${what}: the heap gave ${show(actual)}, the model ${show(expected)}`);
    }
    this.after(what);
    return "value" in actual ? actual.value : undefined;
  }

  /** Whether the heap is the checked build, which names the misuse it finds. */
  get checked(): boolean {
    return this.setup.build === "checked";
  }

  /** The live blocks, as the contract records them. */
  get live(): readonly Block[] {
    return this.contract.live;
  }

  /** Records a block both heaps handed out for a request of `requested` bytes. */
  hold(ptr: number | undefined, requested: number, alignment = ALIGN, zeroed = false): void {
    if (ptr === undefined) return;
    this.contract.place(ptr, requested, this.heap.usableSize(ptr), {
      alignment,
      zeroed,
      bounds: [this.first, this.heap.base + this.heap.limit],
    });
  }

  /** The Heap API's calls, as the allocation commands make them. */
  malloc(bytes: number): void {
    this.hold(this.both(`malloc(${bytes})`, (heap) => heap.malloc(bytes)), bytes);
  }
  calloc(count: number, bytes: number): void {
    const ptr = this.both(`calloc(${count}, ${bytes})`, (heap) => heap.calloc(count, bytes));
    this.hold(ptr, count * bytes, ALIGN, true);
  }
  alignedAlloc(alignment: number, bytes: number): void {
    const what = `alignedAlloc(${alignment}, ${bytes})`;
    this.hold(this.both(what, (heap) => heap.alignedAlloc(alignment, bytes)), bytes, alignment);
  }
  reallocNull(bytes: number): void {
    this.hold(this.both(`realloc(0, ${bytes})`, (heap) => heap.realloc(0, bytes)), bytes);
  }
  realloc(index: number, bytes: number): void {
    this.resize(index, bytes, "realloc", (heap, ptr) => heap.realloc(ptr, bytes));
  }
  usableSize(index: number): void {
    const { ptr } = this.live[index];
    this.both(`usableSize(${ptr})`, (heap) => heap.usableSize(ptr));
  }
  readonly reallocZero = true;

  /** Reallocs the live block at `index` to `bytes` by `call` on both heaps. */
  resize(index: number, bytes: number, how: string, call: (heap: Heap, ptr: number) => number) {
    const old = this.contract.take(index, how), what = `${how}(${old.ptr}, ${bytes})`;
    const moved = this.both(what, (heap) => call(heap, old.ptr));
    if (!moved) this.contract.restore(old, what);
    else this.moved(old, moved, bytes, what);
  }

  /** Records a realloc of `old`, taken from the record, to `moved` for `requested` bytes. */
  moved(old: Block, moved: number, requested: number, what: string): void {
    const usable = this.heap.usableSize(moved);
    this.contract.moved(old, moved, requested, usable, {
      kept: Math.min(old.usable, usable),
      what,
      alignment: ALIGN,
      bounds: [this.first, this.heap.base + this.heap.limit],
    });
  }

  /** Frees the live block at `index` through `free` (the Heap's or another module's). */
  free(index: number, how = "free", free = (heap: Heap, ptr: number) => heap.free(ptr)): void {
    const block = this.contract.take(index, how);
    this.contract.freedBlock(block);
    this.both(`${how}(${block.ptr})`, (heap) => free(heap, block.ptr));
  }

  /** The owner writes bytes `[from, to)` of the memory, outside the region. */
  ownerWrites(from: number, to: number): void {
    to = Math.min(to, this.contract.buffer().byteLength); // a memory may end below the region
    if (from >= to) return;
    this.trace.push(`owner writes [${from}, ${to})`);
    this.contract.ownerWrites(from, to);
    // the heap's poison above the top is gone where the owner wrote, once it is the heap's again
    if (this.heap) this.poisonedTo = Math.min(this.poisonedTo, Math.max(from, this.top));
  }

  /** Writes the same 32-bit word into both heaps' memories; returns what was there. */
  poke(address: number, value: number, heaps: readonly Heap[] = [this.heap, this.model]): number {
    const old = this.heap.view.getUint32(address, true);
    for (const heap of heaps) heap.view.setUint32(address, value, true);
    return old;
  }

  /** The first payload a heap can have. */
  get first(): number {
    return rootOf(this.heap.base) + FIRST + HEADER;
  }

  /** The end of the heap's blocks: where its top region starts, from the walk. */
  get top(): number {
    const blocks = this.model.walk();
    const last = blocks.at(-1);
    return last ? last.address + last.size : this.first - HEADER;
  }

  /** Bytes a request may ask to fill the heap up to its limit, capped. */
  get room(): number {
    return Math.max(0, this.heap.base + this.heap.limit - this.top - 16);
  }

  /** The heap's limit in bytes. */
  get limitBytes(): number {
    return this.heap.limit;
  }

  /**
   * The checks after every command: the two heaps walk the same, with memories of one size;
   * the wasm heap passes its integrity check; and the contract holds.
   */
  after(what: string): void {
    this.poisonedTo = Math.max(this.poisonedTo, this.top);
    const walk = this.heap.walk(), modelWalk = this.model.walk();
    const difference = differBlocks(walk, modelWalk);
    if (difference) this.fail(`after ${what}, ${difference}`);
    const bytes = this.heap.memory.buffer.byteLength;
    if (bytes !== this.model.memory.buffer.byteLength) {
      this.fail(
        `after ${what}, memory is ${bytes} bytes, the model's is ` +
          `${this.model.memory.buffer.byteLength}`,
      );
    }
    if (this.heap.span !== this.model.span || this.heap.limit !== this.model.limit) {
      this.fail(`after ${what}, span and limit differ from the model's`);
    }
    // check() reads all of a checked heap's poison: after every step while the heap is small,
    // else every CHECK_EVERY steps, and always at the end of the run
    if (this.heap.span <= SMALL_SPAN || ++this.#unchecked >= CHECK_EVERY) this.checkWhole(what);
    if (bytes > this.#bytes) this.contract.appeared(this.#bytes, bytes);
    this.#bytes = bytes;
    this.contract.regionMoved();
    this.contract.check(what);
  }

  /** The heap's own integrity check, all of it, on a heap that spans up to CHECKED_SPAN. */
  checkWhole(what: string): void {
    this.#unchecked = 0;
    if (this.heap.span > CHECKED_SPAN) return;
    const problems = this.heap.check();
    if (problems.length > 0) {
      this.fail(`after ${what}, the heap is damaged: ${problems.join("; ")}`);
    }
  }

  fail(problem: string): never {
    throw new Error(
      `${problem}\n  heap: ${describeSetup(this.setup)}\n  after:\n    ${
        this.trace.join("\n    ")
      }`,
    );
  }
}

/** A setup both heaps refuse alike, with the same error: a run with nothing to do. */
class Refused extends Error {}

type Outcome<T> = { value: T } | { error: unknown };

function attempt<T>(call: () => T): Outcome<T> {
  try {
    return { value: call() };
  } catch (error) {
    return { error };
  }
}

function show(outcome: Outcome<unknown>): string {
  if ("value" in outcome) return String(outcome.value);
  const e = outcome.error;
  return e instanceof Error ? `${e.name}(${e.message})` : String(e);
}

function sameOutcome(a: Outcome<unknown>, b: Outcome<unknown>): boolean {
  if ("value" in a || "value" in b) return "value" in a && "value" in b && a.value === b.value;
  const x = a.error, y = b.error;
  if (!(x instanceof Error) || !(y instanceof Error)) return false;
  if (x.constructor !== y.constructor || x.message !== y.message) return false;
  return !(x instanceof HeapMisuseError) ||
    (x.kind === (y as HeapMisuseError).kind && x.address === (y as HeapMisuseError).address);
}

export function describeSetup(setup: HeapLayerSetup): string {
  const { build } = setup;
  return setup.region
    ? `${build} Heap at ${setup.base} of a memory of ${setup.pages} pages` +
      `${setup.maximum === undefined ? "" : ` (at most ${setup.maximum})`}, limit ${setup.limit}`
    : `${build} Heap in its own memory, limit ${setup.limit}`;
}

// === Commands ===

type Command = fc.Command<HeapRun, HeapRun>;

abstract class Base implements Command {
  check(_run: Readonly<HeapRun>): boolean {
    return true;
  }
  abstract run(run: HeapRun): void;
  abstract toString(): string;
}

/** What a pointer that is not live is given to. */
type PointerCall = "free" | "realloc" | "usableSize" | "bytes";

function callWith(heap: Heap, call: PointerCall, ptr: number): unknown {
  switch (call) {
    case "free":
      return heap.free(ptr);
    case "realloc":
      return heap.realloc(ptr, 24);
    case "usableSize":
      return heap.usableSize(ptr);
    case "bytes":
      return heap.bytes(ptr).length;
  }
}

/**
 * Where a pointer that is no live block comes from. `freed` and `stale` name the run's own
 * (modulo their number); `interior` is inside a live block; `inFree` inside a free block; the
 * others are misaligned, below the first block, or above the top. With `forge`, the word in front
 * of it is made to read as the header of a used block that fits, as a user's old bytes may.
 */
type Where = "freed" | "stale" | "interior" | "inFree" | "misaligned" | "below" | "above";

class BadPointer extends Base {
  constructor(
    readonly where: Where,
    readonly pick: number,
    readonly forge: boolean,
    readonly call: PointerCall,
  ) {
    super();
  }
  pointer(run: HeapRun): number | undefined {
    const n = this.pick;
    const nth = <T>(items: readonly T[]) => items.length ? items[n % items.length] : undefined;
    switch (this.where) {
      case "freed":
        return nth([...run.contract.freed]);
      case "stale":
        return nth([...run.contract.stale]);
      case "interior": {
        const blocks = run.model.walk().filter((b) => !b.free && b.size > 2 * ALIGN);
        const b = nth(blocks);
        return b && b.ptr + ALIGN * (1 + n % ((b.size - ALIGN) / ALIGN - 1));
      }
      case "inFree": {
        const blocks = run.model.walk().filter((b) => b.free && b.size > 2 * ALIGN);
        const b = nth(blocks);
        return b && b.ptr + ALIGN * (1 + n % ((b.size - ALIGN) / ALIGN - 1));
      }
      case "misaligned": {
        const b = nth(run.live);
        return b && b.ptr + 1 + n % (ALIGN - 1);
      }
      case "below":
        return Math.max(ALIGN, run.first - ALIGN * (1 + n % 8));
      case "above":
        return run.top + HEADER + ALIGN * (n % 8);
    }
  }
  run(run: HeapRun): void {
    const ptr = this.pointer(run);
    if (ptr === undefined || ptr > 0xFFFF_FFFF) return;
    // a forged header: a used block of 32 bytes, inside the heap's bytes only
    // over the user's bytes only: a header or a free block's words are the heap's, not the user's
    const forgeAt = ptr - HEADER;
    const heapWords = new Set(
      run.model.walk().flatMap((b) =>
        b.free ? [b.address, b.address + 4, b.address + 8, b.address + b.size - 4] : [b.address]
      ),
    );
    const forge = this.forge && ptr % 4 === 0 && forgeAt >= run.first &&
      forgeAt + 8 <= run.top && !heapWords.has(forgeAt);
    const saved = forge ? run.poke(forgeAt, 2 * ALIGN) : 0;
    const kind = run.contract.misuseOf(ptr);
    run.both(`${this.call}(${ptr}), ${this.where}${forge ? ", forged header" : ""}`, (heap) => {
      try {
        return callWith(heap, this.call, ptr);
      } finally {
        if (forge) heap.view.setUint32(forgeAt, saved, true);
      }
    });
    // both refused it alike; a checked heap must name the kind the run expects
    if (run.checked) {
      try {
        callWith(run.heap, "usableSize", ptr);
        run.fail(`usableSize(${ptr}) of a pointer not live was not refused`);
      } catch (error) {
        if (!(error instanceof HeapMisuseError) || error.kind !== kind || error.address !== ptr) {
          run.fail(`${ptr} (${this.where}) was refused with ${error}, not ${kind} at ${ptr}`);
        }
      }
    }
  }
  toString(): string {
    return `${this.call}(${this.where} ${this.pick}${this.forge ? ", forged" : ""})`;
  }
}

class Reset extends Base {
  run(run: HeapRun): void {
    run.contract.reset();
    const { heap } = run;
    run.poisonedTo = Math.min(
      heap.memory.buffer.byteLength,
      Math.floor(Math.min(heap.base + heap.limit, MAX_LIMIT) / ALIGN) * ALIGN,
    );
    run.both("reset()", (heap) => heap.reset());
  }
  toString(): string {
    return "reset()";
  }
}

/** Moves the limit: to the heap's end (its top) or span and past, up or down by some bytes. */
class SetLimit extends Base {
  constructor(readonly to: "top" | "span" | "up" | "down", readonly bytes: number) {
    super();
  }
  run(run: HeapRun): void {
    const { heap } = run;
    const limit = this.to === "top" // the top itself is a header short: refused
      ? run.top - heap.base + this.bytes
      : this.to === "span"
      ? heap.span + this.bytes
      : this.to === "up"
      ? Math.min(heap.limit + this.bytes, MAX_LIMIT - heap.base)
      : heap.limit - this.bytes;
    // the rule as documented, not the setter both heaps share: a whole number from the top of
    // the blocks plus a header (and at least room for one block) up to the end of wasm32
    const least = Math.max(run.top + HEADER, rootOf(heap.base) + FIRST + MIN_BLOCK + HEADER);
    const allowed = Number.isInteger(limit) && limit >= least - heap.base &&
      limit <= MAX_LIMIT - heap.base;
    const before = heap.limit;
    run.both(`limit = ${limit}`, (h) => {
      h.limit = limit;
    });
    if (heap.limit !== (allowed ? limit : before)) {
      run.fail(
        `limit = ${limit} was ${allowed ? "refused" : "taken"}; the least is ${least - heap.base}`,
      );
    }
  }
  toString(): string {
    return `limit ${this.to} ${this.bytes}`;
  }
}

/** Another module calls the heap's exports, wasm to wasm as far as the Heap can tell. */
class ViaExports extends Base {
  constructor(
    readonly op: "malloc" | "free" | "realloc",
    readonly index: number,
    readonly size: number,
  ) {
    super();
  }
  run(run: HeapRun): void {
    const { op, size } = this;
    if (op === "malloc") {
      const ptr = run.both(`exports.malloc(${size})`, (heap) => heap.exports.malloc(size) >>> 0);
      if (ptr) run.hold(ptr, size);
      return;
    }
    if (run.live.length === 0) return;
    const i = this.index % run.live.length;
    if (op === "free") return run.free(i, "exports.free", (heap, p) => heap.exports.free(p));
    run.resize(i, size, "exports.realloc", (heap, p) => heap.exports.realloc(p, size) >>> 0);
  }
  toString(): string {
    return `exports.${this.op}(#${this.index}, ${this.size})`;
  }
}

/**
 * The owner of a region's memory writes its own bytes outside the region: just below `base`, or
 * from the limit's end up (the bytes a lowered limit gave back), as many as asked or all up to
 * the memory's end. The heap must leave them as they are, and once a raised limit gives them to
 * the heap again, a calloc that carves them must clear them.
 */
class OwnerWrite extends Base {
  constructor(readonly below: boolean, readonly bytes: number) {
    super();
  }
  override check(run: Readonly<HeapRun>): boolean {
    return run.setup.region;
  }
  run(run: HeapRun): void {
    const { base, limit } = run.heap, memory = run.heap.memory.buffer.byteLength;
    const [from, to] = this.below
      ? [Math.max(0, base - this.bytes), base]
      : [base + limit, Math.min(memory, base + limit + this.bytes)];
    run.ownerWrites(from, to);
    run.after(`owner writes [${from}, ${to})`);
  }
  toString(): string {
    return `owner writes ${this.bytes} ${this.below ? "below base" : "above the limit"}`;
  }
}

/**
 * The world writes memory that becomes the heap's, then a calloc carves it, which must be zero:
 * another module grows the memory (by pages, or to all of wasm32) and writes its first new page;
 * or the heap grows its memory itself (its limit first raised two pages past the memory, if
 * lower: a heap that never grew its memory has none it may think zero), its limit is lowered to
 * its blocks' end (and `slack`), the owner writes above it, and the limit is raised: in one step,
 * as random orders rarely are. Either way a calloc's bytes end `past` into the new memory.
 */
class WorldWrites extends Base {
  constructor(readonly pages: number | "all" | "limit", readonly past: number, readonly slack = 0) {
    super();
  }
  run(run: HeapRun): void {
    const end = () => run.heap.memory.buffer.byteLength;
    if (this.pages === "limit") {
      if (!run.setup.region) return;
      const short = end() + 2 * PAGE - run.heap.base - run.heap.limit;
      if (short > 0) new SetLimit("up", short).run(run);
      const before = run.heap.limit;
      carveTo(run, end() + this.past); // grows the memory, if its maximum lets it
      new SetLimit("top", HEADER + this.slack).run(run);
      if (run.heap.limit >= before) return;
      const lowered = run.heap.base + run.heap.limit;
      run.ownerWrites(lowered, lowered + PAGE);
      run.after(`owner writes [${lowered}, ${lowered + PAGE})`);
      new SetLimit("up", before - run.heap.limit).run(run);
      return carveTo(run, end() - 2 * ALIGN); // as far as a block fits in the memory there is
    }
    const have = end() / PAGE;
    const pages = this.pages === "all" ? WASM32_PAGES - have : this.pages;
    const grew = [run.heap, run.model].map((heap) => {
      try {
        heap.memory.grow(pages);
        return true;
      } catch {
        return false;
      }
    });
    run.trace.push(`memory.grow(${pages}) -> ${grew[0]}`);
    if (grew[0] !== grew[1]) run.fail("the memories grew differently");
    run.after(`memory.grow(${pages})`);
    if (grew[0] && pages > 0 && run.setup.region) {
      run.ownerWrites(have * PAGE, (have + 1) * PAGE);
      run.after(`the module that grew it writes its first new page`);
      carveTo(run, have * PAGE + this.past);
    }
  }
  toString(): string {
    return `world writes (${this.pages}, ${this.past} past, ${this.slack} slack), calloc over it`;
  }
}

/**
 * A calloc from the heap's top whose bytes end at `end`: up to 1 MiB, and two ALIGNs below the
 * limit, the most a block there may reach with its header and alignment.
 */
function carveTo(run: HeapRun, end: number): void {
  const { base, limit } = run.heap, from = run.top + HEADER;
  const bytes = Math.min(end - from, base + limit - 2 * ALIGN - run.top, 1 << 20);
  if (bytes > 0) run.calloc(1, bytes);
}

/**
 * Many free blocks of one class kept apart by live ones, all of the class's smallest size but
 * one of its largest, which sits in the list at the bounded scan's last place, just past it, or
 * just before it (or, for a class of one size, anywhere); then a request of the largest size. The
 * scan looks at SCAN blocks, no more: at the last place it finds the block, past it it does not.
 */
class ScatteredClass extends Base {
  constructor(readonly classIndex: number, readonly extra: number, readonly order: number) {
    super();
  }
  run(run: HeapRun): void {
    const wide = CLASS_STARTS.filter((start, i) => CLASS_STARTS[i + 1] - start > ALIGN);
    const starts = this.classIndex % 2 ? CLASS_STARTS : wide;
    const at = this.classIndex % (starts.length - 1);
    const [from, to] = [starts[at], CLASS_STARTS[CLASS_STARTS.indexOf(starts[at]) + 1]];
    const overhead = run.checked ? 2 * HEADER : HEADER;
    const count = SCAN + 1 + this.extra;
    const fitAt = SCAN - 2 + this.order % 3; // its place in the list, the head's being 0
    const largest = to - ALIGN - overhead;
    // the list is last freed first: the block freed k-th from the end is at place k
    const sizes = Array.from(
      { length: count },
      (_, k) => count - 1 - k === fitAt ? largest : from - overhead,
    );
    const placed: number[] = [];
    for (const size of sizes) {
      const ptr = run.both(
        `malloc(${size}) of class [${from}, ${to})`,
        (heap) => heap.malloc(size),
      );
      run.hold(ptr, size);
      if (ptr !== undefined) placed.push(ptr);
      run.hold(run.both("malloc(0) between", (heap) => heap.malloc(0)), 0);
    }
    for (const ptr of placed) run.free(run.contract.indexOf(ptr));
    const what = `malloc(${largest}), the class's largest`;
    run.hold(run.both(what, (heap) => heap.malloc(largest)), largest);
  }
  toString(): string {
    return `scattered(class ${this.classIndex}, ${SCAN}+1+${this.extra}, fit at ${
      SCAN - 2 + this.order % 3
    })`;
  }
}

const CLASS_STARTS = classStarts().filter((size) => size <= 1 << 16);

/**
 * The checked build's misuse, one word corrupted in the heap's memory (not the model's): the
 * call that must see it must report it exactly (kind and address), change nothing, and once the
 * word is restored, do what the model does. A guard (the word past a usable end) or the header
 * after a block is seen by the block's usableSize. A free block's word (a link, its back word or
 * poison) is seen by its left neighbour's usableSize, its right neighbour's, by the malloc that
 * takes the block whole, or by the realloc that grows its left neighbour over it; the top
 * region's poison, by the malloc that carves over it.
 */
type Damage = "guard" | "redzone" | "nextHeader" | "prev" | "next" | "back" | "poison" | "top";
type Via = "left" | "right" | "take" | "grow" | "scan";

/** What a corruption is seen by: the call, and the report expected of it. */
interface Plan {
  readonly address: number;
  readonly value?: number;
  readonly call: (heap: Heap) => unknown;
  /** The bytes the call asks for, when it allocates; the block it grows, when it reallocates. */
  readonly bytes?: number;
  readonly grows?: number;
  /**
   * The report the call must make, given what the model did; undefined when it must make none;
   * "any" when it may report or not (a list scan that may pass the damaged block), but then must
   * change nothing.
   */
  readonly expect: (
    predicted: Outcome<unknown>,
  ) => { kind: MisuseKind; at: number } | undefined | "any";
}

class Corrupt extends Base {
  constructor(readonly damage: Damage, readonly via: Via, readonly pick: number) {
    super();
  }
  override check(run: Readonly<HeapRun>): boolean {
    return run.checked;
  }
  plan(run: HeapRun): Plan | undefined {
    const blocks = run.model.walk();
    const top = run.top;
    const n = this.pick;
    const nth = <T>(items: readonly T[]) => items.length ? items[n % items.length] : undefined;
    if (this.damage === "guard" || this.damage === "nextHeader") {
      const b = nth(
        blocks.filter((b) => !b.free && (this.damage === "guard" || b.address + b.size < top)),
      );
      if (!b) return undefined;
      const address = b.address + b.size - (this.damage === "guard" ? HEADER : 0);
      return {
        address,
        call: (heap) => heap.usableSize(b.ptr),
        expect: () => ({ kind: "overflow", at: b.ptr }),
      };
    }
    if (this.damage === "redzone") {
      // one byte past the bytes asked for, in the red zone up to the guard: seen by the block's
      // own calls and by its used neighbours', which must blame it, not themselves
      const b = nth(blocks.filter((b) => !b.free && run.contract.indexOf(b.ptr) >= 0));
      if (!b) return undefined;
      const { requested } = run.live[run.contract.indexOf(b.ptr)];
      const slack = b.address + b.size - HEADER - (b.ptr + requested);
      const address = b.ptr + requested + (slack > 0 ? n % slack : 0);
      const at = blocks.indexOf(b);
      const by = this.via === "left" ? blocks[at - 1] : this.via === "right" ? blocks[at + 1] : b;
      if (!by || by.free) return undefined;
      const old = run.heap.view.getUint32(address, true);
      return {
        address,
        value: (old & ~0xFF) | (~old & 0xFF), // its first byte only, flipped
        call: (heap) => heap.usableSize(by.ptr),
        expect: () => ({ kind: "overflow", at: b.ptr }),
      };
    }
    if (this.damage === "top") {
      // memory above the top that the heap poisoned: at init, and whatever fell back to the top
      const span = Math.min(64, (run.poisonedTo - top) / 4);
      if (span < 1) return undefined;
      const address = top + 4 * [0, span - 1, n % span][n % 3];
      if (this.via === "take" || this.via === "grow") {
        const bytes = address - top + 8;
        return {
          address,
          bytes,
          call: (heap) => heap.malloc(bytes),
          expect: (p) =>
            "value" in p && p.value === top + HEADER
              ? { kind: "use-after-free", at: address }
              : undefined,
        };
      }
      // a request past the limit is out of memory, whatever the poison below it says
      const bytes = run.heap.base + run.heap.limit - top;
      return { address, bytes, call: (heap) => heap.malloc(bytes), expect: () => undefined };
    }
    // a block of the free lists: one waiting in a quick list has no links, and its neighbours
    // may be free too (they are not merged)
    const listed = new Set(freeLists(run).flat());
    const f = nth(
      blocks.filter((b) =>
        listed.has(b.address) && (this.damage !== "poison" || b.size >= 32) &&
        (this.via !== "scan" || classOf(b.size + ALIGN) === classOf(b.size))
      ),
    );
    if (!f) return undefined;
    const at = blocks.indexOf(f);
    const left = blocks[at - 1], right = blocks[at + 1]; // used, or waiting in a quick list
    const words = (f.size - 16) / 4; // the poison between the links and the back word
    const address = f.address +
      (this.damage === "prev"
        ? 4
        : this.damage === "next"
        ? 8
        : this.damage === "back"
        ? f.size - 4
        : 12 + 4 * [0, words - 1, n % words][n % 3]);
    const uaf = { kind: "use-after-free" as const, at: address };
    switch (this.via) {
      case "left":
        if (!left || left.free) return undefined;
        return {
          address,
          call: (heap) => heap.usableSize(left.ptr),
          expect: () =>
            this.damage === "back"
              ? { kind: "overflow", at: left.ptr }
              : this.damage === "poison"
              ? undefined
              : uaf,
        };
      case "right": {
        // the right's own right neighbour is checked first: when free, a link of it to f is
        // what reports; so only a right whose right is used or the top
        if (!right || right.free || blocks[at + 2]?.free) return undefined;
        // a back word naming another free block, which does not end where this one does
        const other = this.damage === "back" &&
          blocks.find((b) => b.free && b !== f && b.address < right.address);
        return {
          address,
          value: other ? other.address : undefined,
          call: (heap) => heap.usableSize(right.ptr),
          expect: () => this.damage === "poison" ? undefined : uaf,
        };
      }
      case "take": {
        // the block the model takes is checked whole, and its links' ends: f's list neighbours
        // see a damaged link of f; a block further along the list may be reached past f
        const bytes = f.size - 2 * HEADER;
        const { before, after } = listNeighbours(run, f.address);
        return {
          address,
          bytes,
          call: (heap) => heap.malloc(bytes),
          expect: (p) => {
            const taken = "value" in p && typeof p.value === "number" ? p.value - HEADER : -1;
            if (taken === f.address) return uaf;
            if (this.damage === "prev" && taken === before) {
              return { kind: "use-after-free", at: before + 8 };
            }
            if (this.damage === "next" && taken === after) {
              return { kind: "use-after-free", at: after + 4 };
            }
            return this.damage === "prev" || this.damage === "next" ? "any" : undefined;
          },
        };
      }
      case "scan": {
        // a request of f's class that f cannot serve: the bounded scan passes f, following its
        // next link, when f is among the first SCAN - 1 blocks and none before it fits
        const size = f.size + ALIGN;
        if (this.damage !== "next" || classOf(size) !== classOf(f.size)) return undefined;
        const list = listOf(run, f.address);
        const sizes = new Map(blocks.map((b) => [b.address, b.size]));
        const at = list.indexOf(f.address);
        const reached = at <= SCAN - 2 && list.slice(0, at).every((b) => sizes.get(b)! < size);
        const after = list[at + 1] ?? -1;
        return {
          address,
          bytes: size - 2 * HEADER,
          call: (heap) => heap.malloc(size - 2 * HEADER),
          expect: (p) => {
            if (reached) return uaf;
            const taken = "value" in p && typeof p.value === "number" ? p.value - HEADER : -1;
            return taken === after ? { kind: "use-after-free", at: after + 4 } : "any";
          },
        };
      }
      case "grow": {
        if (!left) return undefined;
        const bytes = left.size + f.size - 2 * HEADER;
        return {
          address,
          bytes,
          grows: left.ptr,
          call: (heap) => heap.realloc(left.ptr, bytes),
          // realloc checks its block's neighbours first: a back word, as the left's overflow
          expect: (p) =>
            this.damage === "back"
              ? { kind: "overflow", at: left.ptr }
              : this.damage !== "poison" || ("value" in p && p.value === left.ptr)
              ? uaf
              : undefined,
        };
      }
    }
  }
  run(run: HeapRun): void {
    const plan = this.plan(run);
    if (!plan) return;
    const { address, call } = plan;
    const saved = run.poke(address, plan.value ?? 0x0BAD_0001 ^ (this.pick & 0xFFF0), [run.heap]);
    const what = `${this}: word ${address} corrupted`;
    run.trace.push(what);
    const predicted = attempt(() => call(run.model));
    const expected = plan.expect(predicted);
    const got = attempt(() => call(run.heap));
    run.poke(address, saved, [run.heap]);
    let outcome = got;
    if (expected === "any") {
      const e = "error" in got ? got.error : undefined;
      if (e !== undefined && !(e instanceof HeapMisuseError)) {
        run.fail(`${what}: got ${show(got)}, a report or the model's ${show(predicted)}`);
      }
      if (e !== undefined) outcome = attempt(() => call(run.heap));
    } else if (expected) {
      const e = "error" in got ? got.error : undefined;
      if (
        !(e instanceof HeapMisuseError) || e.kind !== expected.kind || e.address !== expected.at
      ) {
        run.fail(`${what}: got ${show(got)}, not ${expected.kind} at ${expected.at}`);
      }
      outcome = attempt(() => call(run.heap)); // refused, changing nothing: again, restored
    }
    if (!sameOutcome(outcome, predicted)) {
      run.fail(`${what}: got ${show(outcome)}, the model ${show(predicted)}`);
    }
    const allocates = this.damage === "top" ||
      (!["guard", "nextHeader", "redzone"].includes(this.damage) &&
        (this.via === "take" || this.via === "grow" || this.via === "scan"));
    if (allocates && "value" in outcome && typeof outcome.value === "number") {
      const grown = plan.grows === undefined ? -1 : run.contract.indexOf(plan.grows);
      if (grown >= 0) {
        run.moved(run.contract.live.splice(grown, 1)[0], outcome.value, plan.bytes!, what);
      } else run.hold(outcome.value, plan.bytes!);
    }
    run.after(what);
  }
  toString(): string {
    return `corrupt(${this.damage} via ${this.via}, ${this.pick})`;
  }
}

/** The free lists, each head first, as read from the heap (the quick lists apart). */
function freeLists(run: HeapRun): readonly (readonly number[])[] {
  const image = { buffer: run.heap.memory.buffer, root: rootOf(run.heap.base), top: run.top };
  return readHeap({ ...image, limit: MAX_LIMIT }).picture.lists;
}

/** The free list holding the block at `address`, head first, as read from the heap. */
function listOf(run: HeapRun, address: number): readonly number[] {
  return freeLists(run).find((list) => list.includes(address)) ?? [];
}

/** The free blocks before and after the one at `address` in its list. */
function listNeighbours(run: HeapRun, address: number): { before: number; after: number } {
  const list = listOf(run, address);
  const at = list.indexOf(address);
  return { before: list[at - 1] ?? -1, after: list[at + 1] ?? -1 };
}

// === Arbitraries ===

const sizes = arbitrarySizes(true);

const pointerCalls = fc.constantFrom<PointerCall>("free", "realloc", "usableSize", "bytes");
const index = fc.nat({ max: 1 << 16 });

/** The commands of a Heap-layer run. */
export function heapCommands(): fc.Arbitrary<Command> {
  return fc.oneof(
    ...allocationCommands(sizes),
    {
      weight: 5,
      arbitrary: fc.tuple(
        fc.constantFrom<Where>(
          "freed",
          "stale",
          "interior",
          "inFree",
          "misaligned",
          "below",
          "above",
        ),
        index,
        fc.boolean(),
        pointerCalls,
      ).map(([w, p, f, c]) => new BadPointer(w, p, f, c)),
    },
    { weight: 1, arbitrary: fc.constant(new Reset()) },
    { weight: 1, arbitrary: fc.integer({ min: 320, max: 4096 }).map((w) => new Picture(w)) },
    {
      weight: 2,
      arbitrary: fc.tuple(
        fc.constantFrom("top", "span", "up", "down" as const),
        // at the heap's top, its end exactly (the top plus a header), just past it, or anywhere
        fc.oneof(fc.constantFrom(0, HEADER, 2 * HEADER, ALIGN + HEADER), fc.nat({ max: 300_000 })),
      ).map(([to, bytes]) => new SetLimit(to, bytes)),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(fc.boolean(), fc.oneof(fc.nat({ max: 64 }), fc.constant(1 << 20)))
        .map(([below, bytes]) => new OwnerWrite(below, bytes)),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(
        fc.constantFrom("malloc", "free", "realloc" as const),
        index,
        fc.nat(5000),
      )
        .map(([op, i, s]) => new ViaExports(op as "malloc" | "free" | "realloc", i, s)),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(
        fc.oneof(fc.nat({ max: 3 }), fc.constantFrom("all" as const, "limit" as const)),
        // into the new memory by a header, a block's least, half a page, or all of it
        fc.constantFrom(HEADER, MIN_BLOCK, PAGE / 2, PAGE),
        fc.constantFrom(0, ALIGN, MIN_BLOCK),
      ).map(([p, past, slack]) => new WorldWrites(p, past, slack)),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.nat({ max: 200 }), fc.nat({ max: 3 }), fc.nat({ max: 15 })).map((
        [c, e, o],
      ) => new ScatteredClass(c, e, o)),
    },
    {
      weight: 8, // in checked runs only
      arbitrary: fc.tuple(
        fc.constantFrom<Damage>(
          "guard",
          "redzone",
          "nextHeader",
          "prev",
          "next",
          "back",
          "poison",
          "top",
        ),
        fc.constantFrom<Via>("left", "right", "take", "grow", "scan"),
        index,
      ).map(([d, v, p]) => new Corrupt(d, v, p)),
    },
  );
}

/** The Heap-layer builds, for the setups of the C-ABI fuzz: fast runs in its own memory only. */
const BUILDS = [
  { name: "release", importsMemory: true },
  { name: "checked", importsMemory: true },
  { name: "fast", importsMemory: false },
] as const;

/** Heaps for runs: the setups of the C-ABI fuzz, each build's name for its index. */
export function heapLayerSetups(): fc.Arbitrary<HeapLayerSetup> {
  return heapSetups(BUILDS).map((setup) => ({ ...setup, build: BUILDS[setup.build].name }));
}

/** Options of {@linkcode fuzzHeapLayer}. */
export interface HeapFuzzOptions {
  readonly runs?: number;
  readonly seed?: number;
  readonly maxCommands?: number;
  readonly path?: string;
  /** With `seed` and `path`: the commands the failing run kept, as its report printed them. */
  readonly replayPath?: string;
  /** The kind of Heap to hold to the model: a subclass running other builds, say. */
  readonly kind?: typeof Heap;
  /** The kind of Heap the fast build's runs hold to the model. */
  readonly fastKind?: typeof Heap;
}

/** Runs the Heap-layer fuzz; throws the shrunk failure. */
export function fuzzHeapLayer(options: HeapFuzzOptions = {}): { runs: number; operations: number } {
  let runs = 0, operations = 0;
  const property = fc.property(
    heapLayerSetups(),
    fc.commands([heapCommands()], {
      maxCommands: options.maxCommands ?? 60,
      size: "max",
      replayPath: options.replayPath,
    }),
    (setup, commands) => {
      let run: HeapRun;
      try {
        run = new HeapRun(setup, options.kind, options.fastKind);
      } catch (error) {
        if (error instanceof Refused) return; // both refused the setup alike
        throw error;
      }
      try {
        fc.modelRun(() => ({ model: run, real: run }), commands);
        while (run.live.length > 0) run.free(run.live.length - 1);
        // small blocks may wait unmerged in quick lists (fast and checked builds), but free
        if (run.heap.walk().some((b) => !b.free)) run.fail("used blocks remain, every block freed");
        run.contract.check("the run", true);
        run.checkWhole("the run");
      } finally {
        runs++;
        operations += run.operations;
      }
    },
  );
  try {
    fc.assert(property, { numRuns: options.runs ?? 100, seed: options.seed, path: options.path });
  } catch (error) {
    if (options.path !== undefined) throw error;
    throw replayed(error as Error, options);
  }
  return { runs, operations };
}

/** A failure, replayed at once as its report says to: noted as reproduced, or what differed. */
function replayed(error: Error, options: HeapFuzzOptions): Error {
  const path = /path: "([^"]*)"/.exec(error.message)?.[1];
  const replayPath = /replayPath="([^"]*)"/.exec(error.message)?.[1];
  let again: Error | undefined;
  try {
    fuzzHeapLayer({ ...options, runs: 1, path, replayPath });
  } catch (e) {
    again = e as Error;
  }
  const problem = (e: Error) => String((e.cause as Error | undefined)?.message ?? e.message);
  const note = again === undefined
    ? "NOT REPRODUCED by its replay, run at once: the replay passed"
    : problem(again) === problem(error)
    ? "Reproduced by its replay, run at once."
    : `NOT REPRODUCED by its replay, run at once: it failed otherwise: ${
      problem(again).split("\n")[0]
    }`;
  return new Error(`${error.message}\n${note}`, { cause: error.cause });
}
