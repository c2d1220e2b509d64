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
import { ALIGN, FIRST, HEADER, MAX_LIMIT } from "../src/_layout.ts";
import { classOf, SCAN } from "../src/_size_class.ts";
import { readHeap, rootOf } from "../src/_heap_reader.ts";
import type { HeapBlock } from "../src/_picture.ts";
import { classStarts, EDGES } from "./_arbitraries.ts";
import { Picture } from "./_picture_command.ts";

const PAGE = 65536;
const WASM32_PAGES = 65536;
/** The owner's bytes around a region, the canary: a byte no heap writes by chance. */
const CANARY = 0xA5;
/** How many canary bytes either side of a region are checked after every command. */
const NEAR = 4096;
/** The most a relative size asks for, so no run fills gigabytes. */
const RELATIVE_CAP = 8 << 20;

/** Where a Heap-layer run's heaps live. */
export interface HeapLayerSetup {
  readonly checked: boolean;
  /** A region of a given memory (with the owner's bytes around it), or the heap's own. */
  readonly region: boolean;
  readonly base: number;
  /** The given memory's initial pages, from below the region's end to above it. */
  readonly pages: number;
  /** The given memory's maximum: growth beyond it is refused. */
  readonly maximum: number | undefined;
  /** The heap's limit in bytes. */
  readonly limit: number;
}

/** A block the run holds: its pointer on both heaps, which must be the same. */
interface Held {
  readonly id: number;
  readonly ptr: number;
}

/** One run: a heap and its model, the blocks live, and the pointers that are not. */
export class HeapRun {
  readonly heap: Heap;
  readonly model: ModelHeap;
  readonly setup: HeapLayerSetup;
  readonly live: Held[] = [];
  /** Pointers the run freed since the last reset, not handed out again: double frees. */
  readonly freed = new Set<number>();
  /** Pointers from before a reset, not handed out since. */
  readonly stale = new Set<number>();
  readonly trace: string[] = [];
  operations = 0;
  /**
   * Checked: the heap's poison reaches at least this high above the top: the memory there at
   * init (below the limit), and every top since, whose memory was freed back into the top.
   */
  poisonedTo = 0;
  #nextId = 1;

  constructor(setup: HeapLayerSetup, kind: typeof Heap = Heap) {
    this.setup = setup;
    const { checked, region, base, pages, maximum, limit } = setup;
    this.poisonedTo = Math.min(pages * PAGE, Math.floor((base + limit) / ALIGN) * ALIGN);
    if (region) {
      const memories = [0, 1].map(() => new WebAssembly.Memory({ initial: pages, maximum }));
      for (const memory of memories) new Uint8Array(memory.buffer).fill(CANARY);
      this.heap = new kind({ memory: memories[0], base, limit, checked });
      this.model = new ModelHeap({ memory: memories[1], base, limit, checked });
    } else {
      this.heap = new kind({ limit, checked });
      this.model = new ModelHeap({ limit, checked });
    }
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

  /** Records a block both heaps handed out. */
  hold(ptr: number | undefined): void {
    if (ptr === undefined) return;
    this.freed.delete(ptr);
    this.stale.delete(ptr);
    this.live.push({ id: this.#nextId++, ptr });
  }

  /** Forgets a live block the run freed. */
  release(index: number): void {
    const [block] = this.live.splice(index, 1);
    this.freed.add(block.ptr);
  }

  /** The kind a checked heap reports for a pointer that is not live. */
  misuseOf(ptr: number): MisuseKind {
    return this.freed.has(ptr) ? "double-free" : "invalid-pointer";
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
    return Math.min(RELATIVE_CAP, Math.max(0, this.heap.base + this.heap.limit - this.top - 16));
  }

  /**
   * The checks after every command: the two heaps walk the same, with memories of one size;
   * the wasm heap passes its integrity check; and the owner's bytes near a region are intact.
   */
  after(what: string): void {
    this.poisonedTo = Math.max(this.poisonedTo, this.top);
    const walk = this.heap.walk(), modelWalk = this.model.walk();
    const difference = differ(walk, modelWalk);
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
    const problems = this.heap.check();
    if (problems.length > 0) {
      this.fail(`after ${what}, the heap is damaged: ${problems.join("; ")}`);
    }
    if (this.setup.region) this.checkCanary(what, NEAR);
  }

  /**
   * The owner's bytes outside the region intact: `near` either side of it, or with `near`
   * undefined all of them in the memory as made, and `NEAR` beyond.
   */
  highestEnd = 0;

  checkCanary(what: string, near?: number): void {
    const { base, pages } = this.setup;
    const u8 = this.heap.u8;
    // the owner's bytes start above the highest limit ever set: below it, a heap whose limit was
    // lowered may have written while they were its own
    const end = this.highestEnd = Math.max(this.highestEnd, base + this.heap.limit);
    const initial = pages * PAGE;
    const bad = (from: number, to: number, value: (i: number) => number) => {
      for (let i = Math.max(0, from); i < Math.min(to, u8.length); i++) {
        if (u8[i] !== value(i)) return i;
      }
      return -1;
    };
    const canary = (i: number) => (i < initial ? CANARY : 0);
    for (
      const [from, to] of [
        [near === undefined ? 0 : base - near, base],
        [end, near === undefined ? Math.max(initial, end + NEAR) : end + near],
      ]
    ) {
      const at = bad(from, to, canary);
      if (at >= 0) this.fail(`after ${what}, the owner's byte at ${at} changed to ${u8[at]}`);
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

function differ(actual: HeapBlock[], expected: HeapBlock[]): string | undefined {
  for (let i = 0; i < Math.max(actual.length, expected.length); i++) {
    const a = actual[i], e = expected[i];
    if (a?.address !== e?.address || a?.size !== e?.size || a?.free !== e?.free) {
      const block = (b?: HeapBlock) =>
        b ? `${b.free ? "free" : "used"} ${b.size} at ${b.address}` : "none";
      return `block ${i} is ${block(a)}, the model's ${block(e)}`;
    }
  }
  return undefined;
}

export function describeSetup(setup: HeapLayerSetup): string {
  const build = setup.checked ? "checked" : "release";
  return setup.region
    ? `${build} Heap at ${setup.base} of a memory of ${setup.pages} pages` +
      `${setup.maximum === undefined ? "" : ` (at most ${setup.maximum})`}, limit ${setup.limit}`
    : `${build} Heap in its own memory, limit ${setup.limit}`;
}

// === Commands ===

type Command = fc.Command<HeapRun, HeapRun>;

/** A size: bytes, or relative to the room left below the limit. */
type Size = number | { readonly room: number };

function bytesOf(size: Size, run: HeapRun): number {
  return typeof size === "number" ? size : Math.max(0, run.room + size.room);
}

function showSize(size: Size): string {
  return typeof size === "number" ? String(size) : `room${size.room >= 0 ? "+" : ""}${size.room}`;
}

abstract class Base implements Command {
  check(_run: Readonly<HeapRun>): boolean {
    return true;
  }
  abstract run(run: HeapRun): void;
  abstract toString(): string;
}

abstract class OnLive extends Base {
  constructor(readonly index: number) {
    super();
  }
  override check(run: Readonly<HeapRun>): boolean {
    return run.live.length > 0;
  }
  at(run: HeapRun): number {
    return this.index % run.live.length;
  }
}

class Allocate extends Base {
  constructor(
    readonly how: "malloc" | "calloc" | "alignedAlloc" | "realloc0",
    readonly size: Size,
    readonly extra: number,
  ) {
    super();
  }
  run(run: HeapRun): void {
    const bytes = bytesOf(this.size, run);
    const { how, extra } = this;
    const ptr = run.both(
      `${this}`,
      (heap) =>
        how === "malloc"
          ? heap.malloc(bytes)
          : how === "calloc"
          ? heap.calloc(extra, bytes)
          : how === "alignedAlloc"
          ? heap.alignedAlloc(extra, bytes)
          : heap.realloc(0, bytes),
    );
    if (how === "calloc" && ptr !== undefined) {
      // zero, at both ends of a large block, whatever the memory held before
      const u8 = run.heap.u8, length = extra * bytes, edge = Math.min(length, 1 << 16);
      for (const from of [ptr, ptr + length - edge]) {
        const at = u8.subarray(from, from + edge).findIndex((byte) => byte !== 0);
        if (at >= 0) run.fail(`${this}: byte ${from + at - ptr} of ${ptr} is not zero`);
      }
    }
    run.hold(ptr);
  }

  toString(): string {
    const size = showSize(this.size);
    return this.how === "malloc" || this.how === "realloc0"
      ? `${this.how}(${size})`
      : `${this.how}(${this.extra}, ${size})`;
  }
}

class Free extends OnLive {
  run(run: HeapRun): void {
    const i = this.at(run);
    const { ptr } = run.live[i];
    run.release(i);
    run.both(`free(${ptr})`, (heap) => heap.free(ptr));
  }
  toString(): string {
    return `free(#${this.index})`;
  }
}

class Realloc extends OnLive {
  constructor(index: number, readonly size: Size) {
    super(index);
  }
  run(run: HeapRun): void {
    const i = this.at(run);
    const { ptr } = run.live[i];
    const bytes = bytesOf(this.size, run);
    const moved = run.both(`realloc(${ptr}, ${bytes})`, (heap) => heap.realloc(ptr, bytes));
    if (moved !== undefined) {
      run.release(i);
      if (moved === ptr) run.freed.delete(ptr);
      run.hold(moved);
    }
  }
  toString(): string {
    return `realloc(#${this.index}, ${showSize(this.size)})`;
  }
}

class UsableSize extends OnLive {
  run(run: HeapRun): void {
    const { ptr } = run.live[this.at(run)];
    run.both(`usableSize(${ptr})`, (heap) => heap.usableSize(ptr));
  }
  toString(): string {
    return `usableSize(#${this.index})`;
  }
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
    const nth = <T>(items: T[]) => items.length ? items[n % items.length] : undefined;
    switch (this.where) {
      case "freed":
        return nth([...run.freed]);
      case "stale":
        return nth([...run.stale]);
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
    const kind = run.misuseOf(ptr);
    run.both(`${this.call}(${ptr}), ${this.where}${forge ? ", forged header" : ""}`, (heap) => {
      try {
        return callWith(heap, this.call, ptr);
      } finally {
        if (forge) heap.view.setUint32(forgeAt, saved, true);
      }
    });
    // both refused it alike; a checked heap must name the kind the run expects
    if (run.setup.checked) {
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
    for (const { ptr } of run.live) run.stale.add(ptr);
    for (const ptr of run.freed) run.stale.add(ptr);
    run.live.length = 0;
    run.freed.clear();
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

class SetLimit extends Base {
  constructor(readonly to: "span" | "up" | "down", readonly bytes: number) {
    super();
  }
  run(run: HeapRun): void {
    const { heap } = run;
    const limit = this.to === "span"
      ? heap.span + this.bytes
      : this.to === "up"
      ? Math.min(heap.limit + this.bytes, MAX_LIMIT - heap.base)
      : heap.limit - this.bytes;
    run.both(`limit = ${limit}`, (h) => {
      h.limit = limit;
    });
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
      if (ptr) run.hold(ptr);
      return;
    }
    if (run.live.length === 0) return;
    const i = this.index % run.live.length;
    const { ptr } = run.live[i];
    // the Heap learns of another module's frees by its count, and forgets what it freed itself
    run.freed.clear();
    if (op === "free") {
      run.live.splice(i, 1);
      run.both(`exports.free(${ptr})`, (heap) => heap.exports.free(ptr));
    } else {
      const moved = run.both(
        `exports.realloc(${ptr}, ${size})`,
        (heap) => heap.exports.realloc(ptr, size) >>> 0,
      );
      if (moved) {
        run.live.splice(i, 1);
        run.hold(moved);
      }
    }
  }
  toString(): string {
    return `exports.${this.op}(#${this.index}, ${this.size})`;
  }
}

/** Grows the memory from outside the heap, as its owner may: by pages, or to all of wasm32. */
class GrowMemory extends Base {
  constructor(readonly pages: number | "all") {
    super();
  }
  run(run: HeapRun): void {
    const have = run.heap.memory.buffer.byteLength / PAGE;
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
  }
  toString(): string {
    return `memory.grow(${this.pages})`;
  }
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
    const overhead = run.setup.checked ? 2 * HEADER : HEADER;
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
      run.hold(ptr);
      if (ptr !== undefined) placed.push(ptr);
      run.hold(run.both("malloc(0) between", (heap) => heap.malloc(0)));
    }
    for (const ptr of placed) {
      const i = run.live.findIndex((b) => b.ptr === ptr);
      run.release(i);
      run.both(`free(${ptr})`, (heap) => heap.free(ptr));
    }
    run.hold(run.both(`malloc(${largest}), the class's largest`, (heap) => heap.malloc(largest)));
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
type Damage = "guard" | "nextHeader" | "prev" | "next" | "back" | "poison" | "top";
type Via = "left" | "right" | "take" | "grow" | "scan";

/** What a corruption is seen by: the call, and the report expected of it. */
interface Plan {
  readonly address: number;
  readonly value?: number;
  readonly call: (heap: Heap) => unknown;
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
    return run.setup.checked;
  }
  plan(run: HeapRun): Plan | undefined {
    const blocks = run.model.walk();
    const top = run.top;
    const n = this.pick;
    const nth = <T>(items: T[]) => items.length ? items[n % items.length] : undefined;
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
    if (this.damage === "top") {
      // memory above the top that the heap poisoned: at init, and whatever fell back to the top
      const span = Math.min(64, (run.poisonedTo - top) / 4);
      if (span < 1) return undefined;
      const address = top + 4 * [0, span - 1, n % span][n % 3];
      if (this.via === "take" || this.via === "grow") {
        const bytes = address - top + 8;
        return {
          address,
          call: (heap) => heap.malloc(bytes),
          expect: (p) =>
            "value" in p && p.value === top + HEADER
              ? { kind: "use-after-free", at: address }
              : undefined,
        };
      }
      // a request past the limit is out of memory, whatever the poison below it says
      const bytes = run.heap.base + run.heap.limit - top;
      return { address, call: (heap) => heap.malloc(bytes), expect: () => undefined };
    }
    const f = nth(blocks.filter((b) =>
      b.free && (this.damage !== "poison" || b.size >= 32) &&
      (this.via !== "scan" || classOf(b.size + ALIGN) === classOf(b.size))
    ));
    if (!f) return undefined;
    const at = blocks.indexOf(f);
    const left = blocks[at - 1], right = blocks[at + 1]; // used: free blocks never touch
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
        if (!left) return undefined;
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
      (this.damage !== "guard" && this.damage !== "nextHeader" &&
        (this.via === "take" || this.via === "grow" || this.via === "scan"));
    if (allocates && "value" in outcome && typeof outcome.value === "number") {
      const ptr = outcome.value;
      if (!run.live.some((b) => b.ptr === ptr)) run.hold(ptr); // grown in place: held already
    }
    run.after(what);
  }
  toString(): string {
    return `corrupt(${this.damage} via ${this.via}, ${this.pick})`;
  }
}

/** The free list holding the block at `address`, head first, as read from the heap. */
function listOf(run: HeapRun, address: number): readonly number[] {
  const { picture } = readHeap({
    buffer: run.heap.memory.buffer,
    root: rootOf(run.heap.base),
    top: run.top,
    limit: MAX_LIMIT,
  });
  return picture.lists.find((list) => list.includes(address)) ?? [];
}

/** The free blocks before and after the one at `address` in its list. */
function listNeighbours(run: HeapRun, address: number): { before: number; after: number } {
  const list = listOf(run, address);
  const at = list.indexOf(address);
  return { before: list[at - 1] ?? -1, after: list[at + 1] ?? -1 };
}

// === Arbitraries ===

const sizes: fc.Arbitrary<Size> = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 256 }) },
  { weight: 4, arbitrary: fc.constantFrom(...EDGES) },
  { weight: 2, arbitrary: fc.integer({ min: 257, max: 70_000 }) },
  { weight: 1, arbitrary: fc.constantFrom(0xFFFF_FFFF, MAX_LIMIT, 1 << 31) },
  { weight: 2, arbitrary: fc.integer({ min: -40, max: 40 }).map((room) => ({ room })) },
);

const pointerCalls = fc.constantFrom<PointerCall>("free", "realloc", "usableSize", "bytes");
const index = fc.nat({ max: 1 << 16 });

/** The commands of a Heap-layer run. */
export function heapCommands(): fc.Arbitrary<Command> {
  return fc.oneof(
    { weight: 10, arbitrary: sizes.map((s) => new Allocate("malloc", s, 0)) },
    {
      weight: 2,
      arbitrary: fc.tuple(fc.nat({ max: 16 }), sizes).map(([n, s]) => new Allocate("calloc", s, n)),
    },
    {
      weight: 2,
      arbitrary: fc.tuple(fc.constantFrom(1, 16, 32, 64, 4096, 65536), sizes).map(([a, s]) =>
        new Allocate("alignedAlloc", s, a)
      ),
    },
    { weight: 1, arbitrary: sizes.map((s) => new Allocate("realloc0", s, 0)) },
    { weight: 8, arbitrary: index.map((i) => new Free(i)) },
    { weight: 5, arbitrary: fc.tuple(index, sizes).map(([i, s]) => new Realloc(i, s)) },
    { weight: 2, arbitrary: index.map((i) => new UsableSize(i)) },
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
      weight: 1,
      arbitrary: fc.tuple(fc.constantFrom("span", "up", "down" as const), fc.nat({ max: 300_000 }))
        .map(([to, bytes]) => new SetLimit(to as "span" | "up" | "down", bytes)),
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
      weight: 1,
      arbitrary: fc.oneof(fc.nat({ max: 3 }), fc.constant("all" as const)).map((p) =>
        new GrowMemory(p)
      ),
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
        fc.constantFrom<Damage>("guard", "nextHeader", "prev", "next", "back", "poison", "top"),
        fc.constantFrom<Via>("left", "right", "take", "grow", "scan"),
        index,
      ).map(([d, v, p]) => new Corrupt(d, v, p)),
    },
  );
}

/** Heaps for runs: both builds, own memory or a region, limits below, at and above its end. */
export function heapLayerSetups(): fc.Arbitrary<HeapLayerSetup> {
  return fc.record({
    checked: fc.boolean(),
    region: fc.boolean(),
    base: fc.oneof(fc.constantFrom(0, 1, 4100, 65535, 65536), fc.nat({ max: 150_000 })),
    extraPages: fc.integer({ min: -1, max: 3 }),
    growable: fc.option(fc.nat({ max: 8 }), { nil: undefined }),
    limit: fc.oneof(
      { weight: 2, arbitrary: fc.integer({ min: 2100, max: 4 * PAGE }) },
      { weight: 2, arbitrary: fc.integer({ min: 4 * PAGE, max: 4 << 20 }) },
      { weight: 1, arbitrary: fc.constant(MAX_LIMIT) },
    ),
  }).map(({ checked, region, base, extraPages, growable, limit }) => {
    const least = rootOf(base) - base + FIRST + HEADER + ALIGN;
    if (!region) {
      return {
        checked,
        region,
        base: 0,
        pages: 0,
        maximum: undefined,
        limit: Math.max(least, limit),
      };
    }
    const clamped = Math.max(least, Math.min(limit, MAX_LIMIT - base));
    // the memory ends below, at or above the region's end (far below it for a limit of GiBs)
    const needed = Math.ceil((base + least) / PAGE);
    const end = Math.min(Math.ceil((base + clamped) / PAGE), needed + 64);
    const pages = Math.max(needed, end + extraPages);
    const maximum = growable === undefined ? undefined : Math.min(WASM32_PAGES, pages + growable);
    return { checked, region, base, pages, maximum, limit: clamped };
  });
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
}

/** Runs the Heap-layer fuzz; throws the shrunk failure. */
export function fuzzHeapLayer(options: HeapFuzzOptions = {}): { runs: number; operations: number } {
  let runs = 0, operations = 0;
  fc.assert(
    fc.property(
      heapLayerSetups(),
      fc.commands([heapCommands()], {
        maxCommands: options.maxCommands ?? 60,
        size: "max",
        replayPath: options.replayPath,
      }),
      (setup, commands) => {
        const run = new HeapRun(setup, options.kind);
        try {
          fc.modelRun(() => ({ model: run, real: run }), commands);
          while (run.live.length > 0) {
            const { ptr } = run.live[run.live.length - 1];
            run.release(run.live.length - 1);
            run.both(`free(${ptr})`, (heap) => heap.free(ptr));
          }
          if (run.heap.walk().length > 0) run.fail("blocks remain with every block freed");
          if (setup.region) run.checkCanary("the run");
        } finally {
          runs++;
          operations += run.operations;
        }
      },
    ),
    { numRuns: options.runs ?? 100, seed: options.seed, path: options.path },
  );
  return { runs, operations };
}
