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
import { Heap, heapMapSvg, HeapMisuseError, type MisuseKind } from "../mod.ts";
import { ModelHeap } from "../src/model.ts";
import { ALIGN, FIRST, HEADER, MAX_LIMIT, MIN_BLOCK, QUICK_BOUND, SMALL } from "../src/_layout.ts";
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
  sizes,
  weighted,
} from "./_arbitraries.ts";
import { command as commandOn } from "./_commands.ts";
import type { Block } from "./_contract.ts";
import { differBlocks, Run, withWord } from "./_session.ts";

const PAGE = 65536;
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
export type HeapLayerSetup = Omit<HeapSetup, "build"> & { readonly build: Build };

/** mote's fast build behind the Heap API: its own memory only, as it is built. */
class FastHeap extends Heap {}
runOn(FastHeap, wasmEngineFor({ own: fastWasm, region: regionWasm, checked: checkedWasm }));
/** The model of the fast build: quick lists. */
class FastModelHeap extends ModelHeap {}
runOn(FastModelHeap, modelEngineFor(() => QUICK_BOUND));

/** One run: a heap and its model, and the contract's record of what the program did. */
export class HeapRun extends Run {
  readonly heap: Heap;
  readonly model: ModelHeap;
  /**
   * Checked: the heap's poison reaches at least this high above the top: the memory there at
   * init (below the limit), and every top since, whose memory was freed back into the top.
   */
  poisonedTo: number;
  /** The first payload a heap can have. */
  readonly first: number;
  /** The memory's size after the last command: bytes past it appeared since. */
  #bytes: number;
  /** Steps since the last whole check(). */
  #unchecked = 0;

  constructor(readonly setup: HeapLayerSetup, kind = Heap, fastKind: typeof Heap = FastHeap) {
    const { build, region, base, pages, maximum, limit } = setup, checked = build === "checked";
    const memories = [0, 1].map(() =>
      region ? new WebAssembly.Memory({ initial: pages, maximum }) : undefined
    );
    super(
      () => (memories[0] ?? this.heap.memory).buffer,
      () => [base, base + (this.heap?.limit ?? limit)],
    );
    this.poisonedTo = poisonAtInit(pages * PAGE, base + limit);
    this.#bytes = pages * PAGE;
    // the owner's bytes either side of the region, and the zeros beyond them
    const end = Math.min(base + limit, pages * PAGE), near = Math.max(0, base - NEAR);
    const owners = region ? [[near, base], [end, Math.min(end + NEAR, pages * PAGE)]] : [];
    if (region) {
      this.contract.appeared(0, near);
      this.contract.appeared(Math.min(end + NEAR, pages * PAGE), pages * PAGE);
    }
    for (const [from, to] of owners) this.ownerWrites(from, to);
    const at = region ? { base, limit, checked } : { limit, checked };
    const kinds = build === "fast" ? [fastKind, FastModelHeap] : [kind, ModelHeap];
    const made = kinds.map((k, i) => attempt(() => new k({ memory: memories[i], ...at })));
    if (!("value" in made[0] && "value" in made[1])) {
      if (sameOutcome(made[0], made[1])) throw new Refused(show(made[0]));
      this.fail(`new Heap: the heap gave ${show(made[0])}, the model ${show(made[1])}`);
    }
    [this.heap, this.model] = [made[0].value, made[1].value];
    for (const [from, to] of owners) this.#mirror(from, to);
    this.first = rootOf(this.heap.base) + FIRST + HEADER;
    this.after("new Heap");
  }

  /** Does `call` on both heaps: equal results or equal errors, then the checks. */
  both<T>(what: string, call: (heap: Heap) => T): T | undefined {
    this.operations++;
    const actual = attempt(() => call(this.heap)), expected = attempt(() => call(this.model));
    this.trace.push(`${what} -> ${show(actual)}`);
    if (!sameOutcome(actual, expected)) {
      this.fail(`${what}: the heap gave ${show(actual)}, the model ${show(expected)}`);
    }
    this.after(what);
    return "value" in actual ? actual.value : undefined;
  }

  /** Where a block may lie: from the first payload to the limit. */
  get bounds(): [number, number] {
    return [this.first, this.heap.base + this.heap.limit];
  }

  /** Records a block both heaps handed out for a request of `requested` bytes. */
  hold(ptr: number | undefined, requested: number, alignment = ALIGN, zeroed = false): void {
    if (ptr === undefined) return;
    const usable = this.heap.usableSize(ptr), bounds = this.bounds;
    // ModelHeap keeps calloc's promise too, on its own memory, which holds what the program wrote
    if (zeroed) {
      this.contract.zeroed(this.model.memory.buffer, ptr, requested, "ModelHeap's calloc");
    }
    this.contract.place(ptr, requested, usable, { alignment, zeroed, bounds });
    this.#mirror(ptr, ptr + usable);
  }

  /**
   * Writes what the program wrote to the heap's memory (`[from, to)`, its blocks' patterns and
   * the owner's bytes) to the model's too, so that ModelHeap's calloc and realloc are held to
   * the contract as well: what the model clears and copies is then not zeros by chance.
   */
  #mirror(from: number, to: number): void {
    const source = new Uint8Array(this.heap.memory.buffer);
    const target = new Uint8Array(this.model.memory.buffer);
    to = Math.min(to, source.length, target.length);
    if (from < to) target.set(source.subarray(from, to), from);
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
    const usable = this.heap.usableSize(moved), kept = Math.min(old.usable, usable);
    const how = { kept, what, alignment: ALIGN, bounds: this.bounds };
    const [real, model] = [this.heap, this.model].map((h) => new Uint8Array(h.memory.buffer));
    const lost = real.subarray(moved, moved + kept).findIndex((b, i) => model[moved + i] !== b);
    if (lost >= 0) {
      const [was, is] = [real[moved + lost], model[moved + lost]];
      this.fail(`${what}: ModelHeap's realloc kept byte ${lost} at ${moved} as ${is}, not ${was}`);
    }
    this.contract.moved(old, moved, requested, usable, how);
    this.#mirror(moved, moved + usable);
  }

  /** Frees the live block at `index` through `free` (the Heap's or another module's). */
  free(index: number, how = "free", free = (heap: Heap, ptr: number) => heap.free(ptr)): void {
    const block = this.contract.take(index, how);
    this.contract.freed.add(block.ptr);
    this.both(`${how}(${block.ptr})`, (heap) => free(heap, block.ptr));
  }

  /** The owner (or `who`) writes bytes `[from, to)` outside the region; checked once it runs. */
  ownerWrites(from: number, to: number, who = "owner"): void {
    to = Math.min(to, this.contract.buffer().byteLength); // a memory may end below the region
    if (from >= to) return;
    const what = `${who} writes [${from}, ${to})`;
    this.trace.push(what);
    this.contract.ownerWrites(from, to);
    if (!this.heap) return;
    this.#mirror(from, to);
    // the heap's poison above the top is gone where the owner wrote, once it is the heap's again
    this.poisonedTo = Math.min(this.poisonedTo, Math.max(from, this.top));
    this.after(what);
  }

  /** The end of the heap's blocks: where its top region starts, from the walk. */
  get top(): number {
    const last = this.model.walk().at(-1);
    return last ? last.address + last.size : this.first - HEADER;
  }

  /** Bytes a request may ask to fill the heap up to its limit, capped. */
  get room(): number {
    return Math.max(0, this.bounds[1] - this.top - 16);
  }

  /** Bytes a request may ask to fill the top region in the memory as it is (its span), capped. */
  get memoryRoom(): number {
    return Math.max(0, this.heap.base + this.heap.span - this.top - 16);
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
    const difference = differBlocks(this.heap.walk(), this.model.walk());
    if (difference) this.fail(`after ${what}, ${difference}`);
    const [bytes, modelBytes] = [this.heap, this.model].map((h) => h.memory.buffer.byteLength);
    if (bytes !== modelBytes) {
      this.fail(`after ${what}, memory is ${bytes} bytes, the model's is ${modelBytes}`);
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
    const problems = this.heap.check().join("; ");
    if (problems) this.fail(`after ${what}, the heap is damaged: ${problems}`);
  }

  /** The end of a run: every block freed, then the contract and the heap checked whole. */
  finish(): void {
    while (this.live.length > 0) this.free(this.live.length - 1);
    // small blocks may wait unmerged in quick lists (fast and checked builds), but free
    if (this.heap.walk().some((b) => !b.free)) this.fail("used blocks remain, every block freed");
    this.contract.check("the run", true);
    this.checkWhole("the run");
  }
}

/** A run on the heaps `setup` describes; undefined when both refuse it alike: nothing to do. */
export function startHeapRun(...args: ConstructorParameters<typeof HeapRun>): HeapRun | undefined {
  try {
    return new HeapRun(...args);
  } catch (error) {
    if (error instanceof Refused) return undefined;
    throw error;
  }
}

/**
 * Checked: where init's poison ends, in a memory of `bytes` and a limit ending at `limitEnd`:
 * the memory there (a heap poisons no bytes past it, nor past its limit, ALIGNed down).
 */
function poisonAtInit(bytes: number, limitEnd: number): number {
  return Math.min(bytes, Math.floor(Math.min(limitEnd, MAX_LIMIT) / ALIGN) * ALIGN);
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

/** The misuse report an outcome is, or undefined for a value or another error. */
function reportOf(outcome: Outcome<unknown>): HeapMisuseError | undefined {
  return "error" in outcome && outcome.error instanceof HeapMisuseError ? outcome.error : undefined;
}

/** The item `n` names, modulo their number; undefined when there is none. */
function nth<T>(items: readonly T[], n: number): T | undefined {
  return items.length ? items[n % items.length] : undefined;
}

type Command = fc.Command<HeapRun, HeapRun>;
/** A command of a Heap-layer run, made as the C-ABI fuzz makes its own. */
const command = commandOn<HeapRun>;

/** What a pointer that is not live is given to. */
const POINTER_CALLS = {
  free: (heap: Heap, ptr: number) => heap.free(ptr),
  realloc: (heap: Heap, ptr: number) => heap.realloc(ptr, 24),
  usableSize: (heap: Heap, ptr: number) => heap.usableSize(ptr),
  bytes: (heap: Heap, ptr: number) => heap.bytes(ptr).length,
};

/** Offsets into a block that no payload starts at: the layout's edges. */
const MISALIGNED = [1, HEADER, ALIGN / 2, ALIGN - HEADER, ALIGN - 1];

/**
 * Where a pointer that is no live block comes from, the `n`th of its kind (undefined when there
 * is none). `freed` and `stale` name the run's own (modulo their number); `interior` is inside a
 * live block; `inFree` inside a free block; the others are misaligned, below the first block, or
 * above the top. With `forge`, the word in front of it is made to read as the header of a used
 * block that fits, as a user's old bytes may.
 */
const BAD_POINTERS = {
  freed: (run, n) => nth([...run.contract.freed], n),
  stale: (run, n) => nth([...run.contract.stale], n),
  interior: (run, n) => inside(run, n, false),
  inFree: (run, n) => inside(run, n, true),
  misaligned: (run, n) => nth(run.live.map((b) => b.ptr + MISALIGNED[n % MISALIGNED.length]), n),
  below: (run, n) => Math.max(ALIGN, run.first - ALIGN * (1 + n % 8)),
  above: (run, n) => run.top + HEADER + ALIGN * (n % 8),
} satisfies Record<string, (run: HeapRun, n: number) => number | undefined>;
type Where = keyof typeof BAD_POINTERS;

/** A pointer inside the `n`th used (or free) block, past its first ALIGN and before its end. */
function inside(run: HeapRun, n: number, free: boolean): number | undefined {
  const b = nth(run.model.walk().filter((b) => b.free === free && b.size > 2 * ALIGN), n);
  return b && b.ptr + ALIGN * (1 + n % ((b.size - ALIGN) / ALIGN - 1));
}

/** Gives a pointer that is not live to `call`: both heaps must refuse it alike. */
function giveBadPointer(run: HeapRun, where: Where, n: number, forged: boolean) {
  const ptr = BAD_POINTERS[where](run, n);
  if (ptr === undefined || ptr > 0xFFFF_FFFF) return;
  // a forged header, a used block of 32 bytes, over the user's bytes only: a header or a free
  // block's words are the heap's, not the user's
  const forgeAt = ptr - HEADER;
  const forge = forged && ptr % 4 === 0 && forgeAt >= run.first && forgeAt + 8 <= run.top &&
    !run.model.walk().some((b) =>
      b.address === forgeAt || (b.free && [4, 8, b.size - 4].includes(forgeAt - b.address))
    );
  const kind = run.contract.misuseOf(ptr);
  // every call in turn: each must refuse it, and a refusal changes nothing for the next
  for (const [call, give] of Object.entries(POINTER_CALLS)) {
    run.both(
      `${call}(${ptr}), ${where}${forge ? ", forged header" : ""}`,
      (heap) =>
        forge ? withWord(heap.memory, forgeAt, 2 * ALIGN, () => give(heap, ptr)) : give(heap, ptr),
    );
  }
  // both refused it alike; a checked heap must name the kind the run expects
  if (!run.heap.checked) return;
  const refused = attempt(() => run.heap.usableSize(ptr)), report = reportOf(refused);
  if ("value" in refused) run.fail(`usableSize(${ptr}) of a pointer not live was not refused`);
  if (report?.kind !== kind || report.address !== ptr) {
    run.fail(`${ptr} (${where}) was refused with ${refused.error}, not ${kind} at ${ptr}`);
  }
}

/** reset(): the run's blocks become stale, and the heap poisons as at init. */
function reset(run: HeapRun): void {
  run.contract.reset();
  run.poisonedTo = poisonAtInit(run.heap.memory.buffer.byteLength, run.bounds[1]);
  run.both("reset()", (heap) => heap.reset());
}

/** Moves the limit: to the heap's end (its top) or span and past, up or down by some bytes. */
function setLimit(run: HeapRun, to: "top" | "span" | "up" | "down", bytes: number): void {
  const { heap } = run;
  const limit = { // the top itself is a header short: refused
    top: run.top - heap.base + bytes,
    span: heap.span + bytes,
    up: Math.min(heap.limit + bytes, MAX_LIMIT - heap.base),
    down: heap.limit - bytes,
  }[to];
  // the rule as documented, not the setter both heaps share: a whole number from the top of
  // the blocks plus a header (and at least room for one block) up to the end of wasm32
  const least = Math.max(run.top, rootOf(heap.base) + FIRST + MIN_BLOCK) + HEADER - heap.base;
  const allowed = Number.isInteger(limit) && limit >= least && limit <= MAX_LIMIT - heap.base;
  const before = heap.limit;
  // what lies above a lowered limit is the owner's: raised again, it is not the heap's poison
  if (allowed && limit < before) run.poisonedTo = Math.min(run.poisonedTo, heap.base + limit);
  run.both(`limit = ${limit}`, (h) => void (h.limit = limit));
  if (heap.limit !== (allowed ? limit : before)) {
    run.fail(`limit = ${limit} was ${allowed ? "refused" : "taken"}; the least is ${least}`);
  }
}

/** Another module calls the heap's exports, wasm to wasm as far as the Heap can tell. */
function viaExports(run: HeapRun, op: "malloc" | "free" | "realloc", index: number, size: number) {
  if (op === "malloc") {
    const ptr = run.both(`exports.malloc(${size})`, (heap) => heap.exports.malloc(size) >>> 0);
    if (ptr) run.hold(ptr, size);
    return;
  }
  if (run.live.length === 0) return;
  const i = index % run.live.length;
  if (op === "free") return run.free(i, "exports.free", (heap, p) => heap.exports.free(p));
  run.resize(i, size, "exports.realloc", (heap, p) => heap.exports.realloc(p, size) >>> 0);
}

/**
 * The owner of a region's memory writes its own bytes outside the region: just below `base`, or
 * from the limit's end up (the bytes a lowered limit gave back), as many as asked or all up to
 * the memory's end. The heap must leave them as they are, and once a raised limit gives them to
 * the heap again, a calloc that carves them must clear them.
 */
function ownerWrites(run: HeapRun, below: boolean, bytes: number): void {
  const { base } = run.heap, end = run.bounds[1]; // run.ownerWrites stops at the memory's end
  if (below) run.ownerWrites(Math.max(0, base - bytes), base);
  else run.ownerWrites(end, end + bytes);
}

/**
 * The world writes memory that becomes the heap's, then a calloc carves it, which must be zero:
 * another module grows the memory (by pages, or to all of wasm32) and writes its first new page;
 * or the heap grows its memory itself (its limit first raised two pages past the memory, if
 * lower: a heap that never grew its memory has none it may think zero), its limit is lowered to
 * its blocks' end (and `slack`), the owner writes above it, and the limit is raised: in one step,
 * as random orders rarely are, first in the memory the heap had, then once it grew; or the heap
 * grows the memory past its limit, the owner writes above it, and the limit is raised. Either way
 * a calloc's bytes end `past` into the new memory.
 */
function worldWrites(run: HeapRun, growth: number | "all" | "limit", past: number, slack: number) {
  const end = () => run.heap.memory.buffer.byteLength;
  if (growth === "limit") {
    if (!run.setup.region) return;
    const short = end() + 2 * PAGE - run.heap.base - run.heap.limit;
    if (short > 0) setLimit(run, "up", short);
    // first in memory the heap had (a checked heap's poisoned at its start), then grown by `past`
    for (const grown of [0, past]) {
      const before = run.heap.limit;
      if (grown > 0) carveTo(run, end() + grown); // grows the memory, if its maximum lets it
      setLimit(run, "top", HEADER + slack);
      if (run.heap.limit >= before) continue;
      const lowered = run.heap.base + run.heap.limit;
      run.ownerWrites(lowered, lowered + PAGE);
      setLimit(run, "up", before - run.heap.limit);
      carveTo(run, end() - 2 * ALIGN); // as far as a block fits in the memory there is
    }
    // and the heap grows the memory by a page past its limit, which ends `past` and a few ALIGNs
    // past the memory's end: what lies above the limit is the owner's until it is raised
    const raised = run.heap.limit, into = past % PAGE + 3 * ALIGN;
    setLimit(run, "down", run.heap.base + raised - (end() + into));
    carveTo(run, end() + into);
    const limitEnd = run.heap.base + run.heap.limit;
    if (limitEnd >= end()) return;
    run.ownerWrites(limitEnd, end());
    setLimit(run, "up", raised - run.heap.limit);
    return carveTo(run, end() - 2 * ALIGN);
  }
  const have = end() / PAGE;
  const pages = growth === "all" ? 2 ** 32 / PAGE - have : growth; // all of wasm32's 4 GiB
  const grew = [run.heap, run.model].map((h) => "value" in attempt(() => h.memory.grow(pages)));
  run.trace.push(`memory.grow(${pages}) -> ${grew[0]}`);
  if (grew[0] !== grew[1]) run.fail("the memories grew differently");
  run.after(`memory.grow(${pages})`);
  if (grew[0] && pages > 0 && run.setup.region) {
    run.ownerWrites(have * PAGE, (have + 1) * PAGE, "the module that grew it");
    carveTo(run, have * PAGE + past);
  }
}

/**
 * A calloc from the heap's top whose bytes end at `end`: up to 1 MiB, and two ALIGNs below the
 * limit, the most a block there may reach with its header and alignment.
 */
function carveTo(run: HeapRun, end: number): void {
  const bytes = Math.min(end - run.top - HEADER, run.bounds[1] - 2 * ALIGN - run.top, 1 << 20);
  if (bytes > 0) run.calloc(1, bytes);
}

const CLASS_STARTS = classStarts().filter((size) => size <= 1 << 16);

/**
 * Many free blocks of one class kept apart by live ones, all of the class's smallest size but
 * one of its largest, which sits in the list at the bounded scan's last place, just past it, or
 * just before it (or, for a class of one size, anywhere); then a request of the largest size. The
 * scan looks at SCAN blocks, no more: at the last place it finds the block, past it it does not.
 */
function scatteredClass(run: HeapRun, classIndex: number, extra: number, fitAt: number): void {
  const wide = CLASS_STARTS.filter((start, i) => CLASS_STARTS[i + 1] - start > ALIGN);
  const starts = classIndex % 2 ? CLASS_STARTS : wide;
  const at = classIndex % (starts.length - 1);
  const [from, to] = [starts[at], CLASS_STARTS[CLASS_STARTS.indexOf(starts[at]) + 1]];
  const overhead = run.heap.checked ? 2 * HEADER : HEADER, largest = to - ALIGN - overhead;
  const placed: number[] = [];
  // the list is last freed first: the block freed k-th from the end is at place k
  for (let place = SCAN + extra; place >= 0; place--) {
    const size = place === fitAt ? largest : from - overhead;
    const ptr = run.both(`malloc(${size}) of class [${from}, ${to})`, (h) => h.malloc(size));
    run.hold(ptr, size);
    if (ptr !== undefined) placed.push(ptr);
    run.hold(run.both("malloc(0) between", (heap) => heap.malloc(0)), 0);
  }
  for (const ptr of placed) run.free(run.contract.indexOf(ptr));
  const what = `malloc(${largest}), the class's largest`;
  run.hold(run.both(what, (heap) => heap.malloc(largest)), largest);
}

/**
 * The checked build's misuse, one word corrupted in the heap's memory (not the model's): the
 * call that must see it must report it exactly (kind and address), change nothing, and once the
 * word is restored, do what the model does. A guard (the word past a usable end) or the header
 * after a block is seen by the block's usableSize. A free block's word (a link, its back word or
 * poison) is seen by its left neighbour's usableSize, its right neighbour's, by the malloc that
 * takes the block whole, or by the realloc that grows its left neighbour over it; the top
 * region's poison, by the malloc that carves over it.
 */
const DAMAGE = [
  "guard",
  "redzone",
  "nextHeader",
  "prev",
  "next",
  "back",
  "poison",
  "top",
  "link",
] as const;
const VIA = ["left", "right", "take", "grow", "scan", "flush"] as const;

/** A report: its kind and address, or one of `or` (where the first check may fall elsewhere). */
type Report = { kind: MisuseKind; at: number; or?: readonly Report[] };
const uaf = (at: number): Report => ({ kind: "use-after-free", at });
const overflow = (at: number): Report => ({ kind: "overflow", at });

/**
 * What a corruption is seen by, and the report expected of it. The call: usableSize of the block
 * at `of`; or malloc of `bytes`, or with `of` too, a realloc of the block there to `bytes`.
 */
interface Plan {
  readonly address: number;
  readonly value?: number;
  readonly of?: number;
  readonly bytes?: number;
  /**
   * The report the call must make, given what the model did; undefined when it must make none;
   * "any" when it may report or not (a list scan that may pass the damaged block), but then must
   * change nothing.
   */
  readonly expect: (predicted: Outcome<unknown>) => Report | undefined | "any";
}

type Damage = typeof DAMAGE[number];
type Via = typeof VIA[number];

/** How the `n`th word `damage` names is corrupted and seen `via` a call; undefined if none is. */
function plan(run: HeapRun, damage: Damage, via: Via, n: number): Plan | undefined {
  const blocks = run.model.walk(), top = run.top;
  // the blocks at i that the call `via` names can see: a used neighbour on its side to make it
  const used = (i: number) => blocks[i] !== undefined && !blocks[i].free;
  const seeable = (i: number) =>
    via === "left" || via === "grow" ? used(i - 1) : via !== "right" || used(i + 1);
  // a flush of the quick lists merges free blocks beside quick-listed ones: it sees only those
  if (via === "flush" && !(damage === "prev" || damage === "next" || damage === "back")) return;
  if (damage === "guard" || damage === "nextHeader") {
    const guard = damage === "guard";
    const b = nth(blocks.filter((b) => !b.free && (guard || b.address + b.size < top)), n);
    if (!b) return undefined;
    const address = b.address + b.size - (guard ? HEADER : 0);
    return { address, of: b.ptr, expect: () => overflow(b.ptr) };
  }
  if (damage === "redzone") {
    // one byte past the bytes asked for, in the red zone up to the guard: seen by the block's
    // own calls and by its used neighbours', which must blame it, not themselves
    const held = blocks.filter((b, i) => !b.free && seeable(i) && run.contract.indexOf(b.ptr) >= 0);
    const b = nth(held, n);
    if (!b) return undefined;
    const { requested } = run.live[run.contract.indexOf(b.ptr)];
    const slack = b.address + b.size - HEADER - (b.ptr + requested);
    const address = b.ptr + requested + (slack > 0 ? n % slack : 0);
    const at = blocks.indexOf(b);
    const by = via === "left" ? blocks[at - 1] : via === "right" ? blocks[at + 1] : b;
    const value = run.heap.view.getUint32(address, true) ^ 0xFF; // its first byte flipped
    return { address, value, of: by.ptr, expect: () => overflow(b.ptr) };
  }
  if (damage === "top") {
    // memory above the top that the heap poisoned: at init, and whatever fell back to the top
    const span = Math.min(64, (run.poisonedTo - top) / 4);
    if (span < 1) return undefined;
    const address = top + 4 * [0, span - 1, n % span][n % 3];
    // a request up to the limit, or just over the word: the block the model hands out for it
    // reports the word when it covers it (carved from the top, or from free blocks waiting in
    // quick lists below it, merged with it), and nothing when it lies elsewhere or fails
    const bytes = via === "take" || via === "grow" ? address - top + 8 : run.bounds[1] - top;
    const covers = (p: Outcome<unknown>) =>
      taken(p) >= 0 && taken(p) <= address && address < taken(p) + HEADER + bytes;
    // a carve within the limit (from the top as the call left it: quick lists flushed into it)
    // that the memory cannot grow to may read the poison before it fails
    const carved = Math.max(MIN_BLOCK, (bytes + HEADER + ALIGN - 1) & -ALIGN);
    const inLimit = () => run.top + carved + HEADER <= run.bounds[1];
    const expect = (p: Outcome<unknown>) =>
      covers(p) ? uaf(address) : "error" in p && inLimit() ? "any" : undefined;
    return { address, bytes, expect };
  }
  // a block of the free lists: one waiting in a quick list has no links, and its neighbours
  // may be free too (they are not merged)
  const image = { buffer: run.heap.memory.buffer, root: rootOf(run.heap.base), top };
  const { lists, quick } = readHeap({ ...image, limit: MAX_LIMIT }).picture;
  const listed = new Set(lists.flat()), quickListed = new Set(quick.flat());
  if (damage === "link") {
    // a quick list's head: its link to the next block, which the malloc of its size that pops it
    // checks, the list's length in the link's low bits too (one more or one less, the address
    // kept), or a link cut short, or one leading out of the heap
    const head = via === "take" ? nth(quick.map((list) => list[0]).filter(Boolean), n) : undefined;
    if (head === undefined) return undefined;
    const address = head + HEADER, link = run.heap.view.getUint32(address, true);
    const value = [link ^ 1, link + 1, 0, undefined][n % 4];
    const size = blocks.find((b) => b.address === head)!.size;
    const expect = (p: Outcome<unknown>) =>
      taken(p) === head && value !== link ? uaf(address) : undefined;
    return { address, value, bytes: size - 2 * HEADER, expect };
  }
  const candidates = blocks.filter((b, i) =>
    listed.has(b.address) && (damage !== "poison" || b.size >= 32) && seeable(i) &&
    (via !== "scan" || classOf(b.size + ALIGN) === classOf(b.size)) &&
    (via !== "flush" || [i - 1, i + 1].some((j) => quickListed.has(blocks[j]?.address)))
  );
  const f = nth(candidates, n);
  if (!f) return undefined;
  const at = blocks.indexOf(f);
  const left = blocks[at - 1], right = blocks[at + 1]; // used, or waiting in a quick list
  const words = (f.size - 16) / 4; // the poison between the links and the back word
  const poison = 12 + 4 * [0, words - 1, n % words][n % 3];
  const address = f.address + { prev: 4, next: 8, back: f.size - 4, poison }[damage];
  const damaged = uaf(address);
  // what a neighbour's check of f reads: its links and back word, not its poison; the left one
  // takes a back word that does not match for its own overflow into f
  const neighbourSees = damage === "poison" ? undefined : damaged;
  const leftSees = () => damage === "back" ? overflow(left.ptr) : neighbourSees;
  // f's list, head first, and its neighbours there; the one a damaged link of f names reports
  // its own link to f when it is checked first
  const list = lists.find((list) => list.includes(f.address)) ?? [];
  const place = list.indexOf(f.address);
  const before = list[place - 1] ?? -2, after = list[place + 1] ?? -2;
  // (past a list's ends, no block: -2, which no outcome takes, -1 being "none taken")
  const [linked, linkedReport] = damage === "next"
    ? [after, uaf(after + 4)]
    : [before, uaf(before + 8)];
  switch (via) {
    case "flush": {
      // a request no listed block fits, nor a quick list (SMALL and up), nor the top region in
      // the memory as it is: the quick lists are flushed, and first each quick-listed block's
      // neighbours are checked
      const sizes = blocks.filter((b) => listed.has(b.address)).map((b) => b.size);
      sizes.push(run.memoryRoom + 16); // past what the top region holds
      // a quick-listed right neighbour finds f by its back word; a left one reads f's header and
      // back word, and takes a mismatch for its own overflow into f; a list neighbour of f checked
      // first reports its own link to f
      const [quickLeft, quickRight] = [left, right].map((b) => quickListed.has(b?.address));
      const reports = damage !== "back"
        ? [damaged, linkedReport]
        : [...quickRight ? [damaged] : [], ...quickLeft ? [overflow(left.ptr)] : []];
      const bytes = Math.max(SMALL, ...sizes);
      return { address, bytes, expect: () => ({ ...reports[0], or: reports.slice(1) }) };
    }
    case "left":
      return { address, of: left.ptr, expect: leftSees };
    case "right": {
      // the right's own right neighbour is checked first: when free, a link of it to f is
      // what reports; so only a right whose right is used or the top
      if (blocks[at + 2]?.free) return undefined;
      // a back word naming another free block, which does not end where this one does
      const value = damage === "back"
        ? blocks.find((b) => b.free && b !== f && b.address < right.address)?.address
        : undefined;
      return { address, value, of: right.ptr, expect: () => neighbourSees };
    }
    case "take": // the block the model takes is checked whole, and its links' ends
      return {
        address,
        bytes: f.size - 2 * HEADER,
        // a block further along the list may be reached past a damaged link
        expect: (p) => {
          if (taken(p) === f.address) return damaged;
          if (damage !== "prev" && damage !== "next") return undefined;
          return taken(p) === linked ? linkedReport : "any";
        },
      };
    case "scan": {
      // a request of f's class that f cannot serve: the bounded scan passes f, following its
      // next link, when f is among the first SCAN - 1 blocks and none before it fits
      const size = f.size + ALIGN;
      if (damage !== "next") return undefined;
      const sizes = new Map(blocks.map((b) => [b.address, b.size]));
      const reached = place <= SCAN - 2 && list.slice(0, place).every((b) => sizes.get(b)! < size);
      const expect = (p: Outcome<unknown>) =>
        reached ? damaged : taken(p) === linked ? linkedReport : "any";
      return { address, bytes: size - 2 * HEADER, expect };
    }
    case "grow": // realloc checks its block's neighbours first
      return {
        address,
        bytes: left.size + f.size - 2 * HEADER,
        of: left.ptr,
        expect: (p) => leftSees() ?? (taken(p) === left.address ? damaged : undefined),
      };
  }
}

/** The address of the block an outcome handed out, its header's; -1 when it handed out none. */
function taken(outcome: Outcome<unknown>): number {
  return "value" in outcome && typeof outcome.value === "number" ? outcome.value - HEADER : -1;
}

/** Corrupts the word `plan` names, in the heap's memory only, and holds its call to the plan. */
function corrupt(run: HeapRun, damage: Damage, via: Via, n: number, name: string): void {
  const seen = plan(run, damage, via, n);
  if (!seen) return;
  const { address, of, bytes } = seen;
  const call = (heap: Heap) =>
    bytes === undefined
      ? heap.usableSize(of!)
      : of === undefined
      ? heap.malloc(bytes)
      : heap.realloc(of, bytes);
  const what = `${name}: word ${address} corrupted`;
  run.trace.push(what);
  const predicted = attempt(() => call(run.model));
  const expected = seen.expect(predicted);
  const value = seen.value ?? 0x0BAD_0001 ^ (n & 0xFFF0); // in the heap's memory only
  const got = withWord(run.heap.memory, address, value, () => attempt(() => call(run.heap)));
  const report = reportOf(got);
  const reported = (r: Report) => report?.kind === r.kind && report.address === r.at;
  if (expected === "any" && "error" in got && !report && !sameOutcome(got, predicted)) {
    run.fail(`${what}: got ${show(got)}, a report or the model's ${show(predicted)}`);
  }
  if (expected && expected !== "any" && ![expected, ...expected.or ?? []].some(reported)) {
    run.fail(`${what}: got ${show(got)}, not ${expected.kind} at ${expected.at}`);
  }
  // a report changed nothing: the call again, the word restored, must do what the model did
  const outcome = expected && "error" in got ? attempt(() => call(run.heap)) : got;
  if (!sameOutcome(outcome, predicted)) {
    run.fail(`${what}: got ${show(outcome)}, the model ${show(predicted)}`);
  }
  if (bytes !== undefined && "value" in outcome && typeof outcome.value === "number") {
    const grown = of === undefined ? -1 : run.contract.indexOf(of);
    if (grown >= 0) run.moved(run.contract.live.splice(grown, 1)[0], outcome.value, bytes, what);
    else run.hold(outcome.value, bytes);
  }
  run.after(what);
}

const index = fc.nat({ max: 1 << 16 });

/** The commands of a Heap-layer run. */
export function heapCommands(): fc.Arbitrary<Command> {
  // the limit at the heap's top, its end exactly (the top plus a header), just past it, or anywhere
  const nearTop = fc.constantFrom(0, HEADER, 2 * HEADER, ALIGN + HEADER);
  const limitBytes = fc.oneof(nearTop, fc.nat({ max: 300_000 }));
  const wheres = fc.constantFrom(...Object.keys(BAD_POINTERS) as Where[]);
  const pointers = fc.tuple(wheres, index, fc.boolean());
  const widths = fc.integer({ min: 320, max: 4096 });
  const limits = fc.tuple(fc.constantFrom("top", "span", "up", "down" as const), limitBytes);
  const owners = fc.tuple(fc.boolean(), fc.oneof(fc.nat({ max: 64 }), fc.constant(1 << 20)));
  const exported = fc.constantFrom("malloc", "free", "realloc" as const);
  const calls = fc.tuple(exported, index, fc.nat(5000));
  const growths = fc.tuple(
    fc.oneof(fc.nat({ max: 3 }), fc.constantFrom("all" as const, "limit" as const)),
    // into the new memory by a header, a block's least, half a page, or all of it
    fc.constantFrom(HEADER, MIN_BLOCK, PAGE / 2, PAGE),
    fc.constantFrom(0, ALIGN, MIN_BLOCK),
  );
  const damages = fc.tuple(fc.constantFrom(...DAMAGE), index);
  const classes = fc.tuple(fc.nat({ max: 200 }), fc.nat({ max: 3 }), fc.nat({ max: 15 }));
  return fc.oneof(
    ...allocationCommands(sizes(true)),
    weighted(5, pointers, ([where, n, forge]) => {
      const name = `bad pointer(${where} ${n}${forge ? ", forged" : ""})`;
      return command(name, (run) => giveBadPointer(run, where, n, forge));
    }),
    weighted(1, fc.constant(command("reset()", reset))),
    weighted(1, widths, (width) => command(`picture(${width})`, (run) => picture(run, width))),
    weighted(2, limits, ([to, bytes]) => {
      return command(`limit ${to} ${bytes}`, (run) => setLimit(run, to, bytes));
    }),
    weighted(2, owners, ([below, bytes]) => {
      const name = `owner writes ${bytes} ${below ? "below base" : "above the limit"}`;
      return command(name, (run) => ownerWrites(run, below, bytes), (run) => run.setup.region);
    }),
    weighted(2, calls, ([op, i, size]) => {
      return command(`exports.${op}(#${i}, ${size})`, (run) => viaExports(run, op, i, size));
    }),
    weighted(2, growths, ([growth, past, slack]) => {
      const name = `world writes (${growth}, ${past} past, ${slack} slack), calloc over it`;
      return command(name, (run) => worldWrites(run, growth, past, slack));
    }),
    weighted(1, classes, ([c, extra, order]) => {
      const fitAt = SCAN - 2 + order % 3; // the largest block's place in the list, head 0
      const name = `scattered(class ${c}, ${SCAN}+1+${extra}, fit at ${fitAt})`;
      return command(name, (run) => scatteredClass(run, c, extra, fitAt));
    }),
    // in checked runs only; seen by each call in turn, as damage is rare and each is a rule
    weighted(8, damages, ([damage, n]) =>
      command(
        `corrupt(${damage}, ${n})`,
        (run, name) => VIA.forEach((via) => corrupt(run, damage, via, n, `${name} via ${via}`)),
        (run) => run.heap.checked,
      )),
  );
}

/** The Heap-layer builds, for the setups of the C-ABI fuzz: fast runs in its own memory only. */
const BUILDS = [
  { name: "release", importsMemory: true },
  { name: "checked", importsMemory: true },
  { name: "fast", importsMemory: false },
] as const;
type Build = typeof BUILDS[number]["name"];

/**
 * The heap as people see it: `stats()`, `heapMapSvg` and `viewsFollowGrowth` of the Heap must be
 * the model's, and `u8` and `view` span its memory, whatever the commands did before.
 */
function picture(run: HeapRun, width: number): void {
  const [heap, model] = [run.heap, run.model];
  const stats = JSON.stringify(heap.stats()), modelStats = JSON.stringify(model.stats());
  if (stats !== modelStats) run.fail(`stats() is ${stats}, the model's ${modelStats}`);
  if (heapMapSvg(heap, { width }) !== heapMapSvg(model, { width })) {
    run.fail(`heapMapSvg(heap, { width: ${width} }) differs from the model's`);
  }
  if (heap.viewsFollowGrowth !== model.viewsFollowGrowth) {
    run.fail(`viewsFollowGrowth is ${heap.viewsFollowGrowth}, not the model's`);
  }
  // the views read afresh cover the whole memory, however it grew, from inside or outside
  const bytes = heap.memory.buffer.byteLength;
  if (heap.u8.byteLength !== bytes || heap.view.byteLength !== bytes) {
    run.fail(`u8 and view span ${heap.u8.byteLength} and ${heap.view.byteLength} of ${bytes}`);
  }
}

/** Heaps for runs: the setups of the C-ABI fuzz, each build's name for its index. */
export function heapLayerSetups(): fc.Arbitrary<HeapLayerSetup> {
  return heapSetups(BUILDS).map((setup) => ({ ...setup, build: BUILDS[setup.build].name }));
}
