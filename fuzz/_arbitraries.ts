/**
 * What the fuzzer generates: request sizes that hit the places allocators get wrong, the heaps
 * a differential run starts from, and the mix of operations for each kind of run.
 */
import fc from "fast-check";
import {
  ALIGN,
  FIRST,
  HEADER,
  MAX_ALIGN,
  MAX_LIMIT,
  MIN_BLOCK,
  PAGE,
  QUICK_BOUND,
  SMALL,
} from "../src/_layout.ts";
import { classOf } from "../src/_size_class.ts";
import { rootOf } from "../src/_heap_reader.ts";
import {
  allocate,
  burst,
  BURST_ORDERS,
  type Change,
  type Driven,
  type Foreign,
  foreignPointer,
  freeTwice,
  onBlock,
  realloc,
  reset,
  setLimit,
  type Size,
} from "./_commands.ts";
import type { PointerCall, Session } from "./_session.ts";
import type { Abi } from "./_abi.ts";

const PAGES_MAX = 65536;

/** An entry of `fc.oneof`: `drawn` (as `make` makes it, if given), `weight` times in so many. */
export function weighted<T, U = T>(weight: number, drawn: fc.Arbitrary<T>, make?: (drawn: T) => U) {
  return { weight, arbitrary: (make ? drawn.map(make) : drawn) as fc.Arbitrary<U> };
}

/**
 * Block sizes where mote's size classes start, up to 4 MiB: derived from the class function the
 * model shares with the allocator (one class per 16 bytes below 256 B, then 16 per power of two),
 * so the edges move when the classes do.
 */
export function classStarts(): number[] {
  const starts = [];
  for (let size = MIN_BLOCK; size <= 4 << 20; size += ALIGN) {
    if (size === MIN_BLOCK || classOf(size) !== classOf(size - ALIGN)) starts.push(size);
  }
  return starts;
}

/**
 * Requests around every class start, for the overheads of a header (release) and a header and a
 * guard (checked), and around the first pages.
 */
export const EDGES: number[] = [
  ...classStarts().flatMap((start) =>
    [HEADER, 2 * HEADER].flatMap((overhead) => [-1, 0, 1].map((delta) => start - overhead + delta))
  ),
  ...[1, 2, 3, 4].flatMap((pages) =>
    [-9, -8, -5, -4, -1, 0, 1].map((delta) => pages * PAGE + delta)
  ),
];

/** Requests no 32-bit heap can serve: they must fail without wrapping around. */
const HOPELESS = [
  0xFFFF_FFFF,
  0xFFFF_FFFE,
  0xFFFF_FFF0,
  0xFFFF_0000,
  MAX_LIMIT + 1,
  MAX_LIMIT,
  MAX_LIMIT - 1,
  MAX_LIMIT - 200,
];

/**
 * Request sizes; with `relative`, also sizes near what is left below the limit and in the memory.
 */
export function sizes(relative: boolean): fc.Arbitrary<Size> {
  const absolute: fc.WeightedArbitrary<Size>[] = [
    weighted(8, fc.integer({ min: 0, max: 256 })),
    weighted(4, fc.constantFrom(...EDGES)),
    weighted(2, fc.integer({ min: 257, max: 70_000 })),
    weighted(1, fc.integer({ min: 70_000, max: 4 << 20 })),
    weighted(1, fc.constantFrom(...HOPELESS)),
  ];
  if (!relative) return fc.oneof(...absolute);
  return fc.oneof(
    ...absolute,
    weighted(2, fc.integer({ min: -40, max: 40 }).map((room) => ({ room }))),
    weighted(2, fc.integer({ min: -40, max: 40 }).map((memory) => ({ memory }))),
    weighted(1, fc.integer({ min: -600, max: 40 }).map((limit) => ({ limit }))),
  );
}

/** Every alignment mote takes: the powers of two up to MAX_ALIGN. */
export const POWERS_OF_TWO = Array.from({ length: Math.log2(MAX_ALIGN) + 1 }, (_, i) => 2 ** i);
const BAD_ALIGNMENTS = [0, 3, 24, 48, 2 * MAX_ALIGN, 2 ** 31, 0xFFFF_FFFF];

/** A differential run's heap, before it is made. */
export interface HeapSetup {
  /** Which build to run, an index into the target's builds. */
  readonly build: number;
  /** A region of a given memory, or the build's own memory (or a fresh one at 0). */
  readonly region: boolean;
  readonly base: number;
  /** The region memory's initial pages. */
  readonly pages: number;
  /** The region memory's maximum pages, if it has one: growth beyond is refused. */
  readonly maximum: number | undefined;
  /** The heap's limit in bytes from its base. */
  readonly limit: number;
}

/** Heaps to start runs from: both placements, odd bases, refusing memories, small limits. */
export function heapSetups(builds: readonly { importsMemory: boolean }[]): fc.Arbitrary<HeapSetup> {
  // the largest base a heap may have, and bases past it, in a memory of all of wasm32
  const highest = MAX_LIMIT - FIRST - HEADER - ALIGN;
  return fc.record({
    build: fc.nat({ max: builds.length - 1 }),
    region: fc.boolean(),
    base: fc.oneof(
      weighted(8, fc.constantFrom(0, 1, 4100, 65535, 65536)),
      weighted(8, fc.nat({ max: 200_000 })),
      weighted(1, fc.constantFrom(highest - 70_000, highest, highest + 16, MAX_LIMIT)),
    ),
    extraPages: fc.integer({ min: -1, max: 3 }),
    growablePages: fc.option(fc.nat({ max: 24 }), { nil: undefined }),
    limit: fc.oneof(
      // around the least a region can be: its root, the first header, and nothing more
      weighted(1, fc.integer({ min: -20, max: 20 }).map((d) => -(FIRST + HEADER + d))),
      weighted(2, fc.integer({ min: 250, max: PAGE })),
      weighted(3, fc.integer({ min: PAGE, max: 8 << 20 })),
      weighted(2, fc.constant(MAX_LIMIT)),
    ),
  }).map(({ build, region, base, extraPages, growablePages, limit: wanted }) => {
    // a negative limit is relative to the least a heap at this base needs: -(least + delta)
    const at = region && builds[build].importsMemory ? base : 0;
    const limit = wanted < 0 ? rootOf(at) - at - wanted : wanted;
    if (!region || !builds[build].importsMemory) {
      const own = { build, region: false, base: 0, pages: 0, maximum: undefined };
      return { ...own, limit: Math.min(limit, MAX_LIMIT) };
    }
    const needed = Math.ceil((base + FIRST + 16) / PAGE);
    // a memory ending below the root makes the first growth as large as the limit allows
    const extra = limit > 8 << 20 ? Math.max(0, extraPages) : extraPages;
    const pages = Math.min(PAGES_MAX, Math.max(0, needed + extra));
    const maximum = growablePages === undefined
      ? undefined
      : Math.min(PAGES_MAX, pages + growablePages);
    return { build, region, base, pages, maximum, limit: Math.min(limit, MAX_LIMIT - base) };
  });
}

const indices = fc.nat({ max: 1 << 16 });
const pointerCalls = fc.constantFrom<PointerCall>("free", "realloc", "malloc_usable_size");

function changes(size: fc.Arbitrary<Size>, zero: boolean): fc.Arbitrary<Change> {
  return fc.oneof(
    weighted(3, size.map((to) => ({ to }))),
    weighted(3, fc.integer({ min: -300, max: 300 }).map((by) => ({ by }))),
    weighted(1, fc.integer({ min: -70_000, max: 70_000 }).map((by) => ({ by }))),
    weighted(1, fc.constant({ by: 0 })), // the same size
    weighted(zero ? 1 : 0, fc.constant({ to: 0 })),
  );
}

/**
 * calloc's arguments: few elements of any size, many small ones, and products that overflow
 * 32 bits. Products that fit stay below 64 MiB, so no run fills gigabytes.
 */
function callocs(size: fc.Arbitrary<Size>): fc.Arbitrary<[number, Size]> {
  const huge = fc.constantFrom(65536, 65537, 0x8000_0000, 0xFFFF_FFFF);
  return fc.oneof(
    fc.tuple(fc.nat({ max: 16 }), size),
    fc.tuple(fc.nat({ max: 5000 }), fc.nat({ max: 4096 })),
    fc.tuple(huge, fc.constantFrom(65536, 65537, 0xFFFF_FFFF)),
  );
}

type CommandArbitrary = fc.Arbitrary<fc.Command<Session, Session>>;

/**
 * The C ABI's allocation calls as weighted commands, by name, in the order a run against a model
 * draws from. With `model`, what only a model can judge too: invalid alignments, realloc to 0.
 */
function calls(size: fc.Arbitrary<Size>, model: boolean) {
  const alignments = fc.constantFrom(...POWERS_OF_TWO);
  const badAlignments = fc.constantFrom(...BAD_ALIGNMENTS);
  const burstOrders = fc.constantFrom(...BURST_ORDERS);
  const anyAlignment = fc.oneof(weighted(5, alignments), weighted(1, badAlignments));
  // a burst: small blocks, just below a quick list's bound, at it and past it
  const bursts = fc.tuple(fc.nat({ max: SMALL }), fc.integer({ min: -1, max: 2 }), burstOrders);
  const aligned = fc.tuple(model ? anyAlignment : alignments, size);
  return {
    malloc: weighted(10, size.map((s) => allocate("malloc", s))),
    calloc: weighted(3, callocs(size).map(([n, s]) => allocate("calloc", s, n))),
    burst: weighted(2, bursts.map(([s, past, order]) => burst(s, QUICK_BOUND + past, order))),
    alignedAlloc: weighted(3, aligned.map(([a, s]) => allocate("aligned_alloc", s, a))),
    free: weighted(8, indices.map((i) => onBlock("free", i))),
    realloc: weighted(6, fc.tuple(indices, changes(size, model)).map(([i, c]) => realloc(i, c))),
    reallocNull: weighted(2, size.map((s) => allocate("realloc", s, 0))),
    usableSize: weighted(2, indices.map((i) => onBlock("malloc_usable_size", i))),
  };
}

/**
 * The allocation calls against a model, for the C ABI and the Heap API alike: every size, every
 * alignment (invalid ones too), realloc by every change, to 0 bytes included.
 */
export function allocationCommands(
  size: fc.Arbitrary<Size>,
): fc.WeightedArbitrary<fc.Command<Driven, Driven>>[] {
  return Object.values(calls(size, true));
}

/** The operations of a differential run: every call of the C ABI, misuse, limits, resets. */
export function moteCommands(): CommandArbitrary {
  const size = sizes(true);
  const foreign: fc.Arbitrary<Foreign> = fc.oneof(
    fc.integer({ min: 1, max: 15 }).map((misaligned) => ({ misaligned })),
    fc.integer({ min: 1, max: 20 }).map((below) => ({ below })),
    // the top itself most: a heap that failed to start has no memory there
    fc.oneof(fc.constant(0), fc.nat({ max: 20 })).map((above) => ({ above })),
    fc.nat({ max: 1 << 16 }).map((interior) => ({ interior })),
    fc.nat({ max: 1 << 16 }).map((freed) => ({ freed })),
  );
  const limits = fc.tuple(fc.boolean(), fc.nat({ max: 300_000 }));
  return fc.oneof(
    ...allocationCommands(size),
    weighted(1, fc.tuple(indices, pointerCalls).map(([i, then]) => freeTwice(i, then))),
    weighted(1, fc.tuple(foreign, pointerCalls).map(([w, call]) => foreignPointer(w, call))),
    weighted(1, limits.map(([lower, bytes]) => setLimit(lower, bytes))),
    weighted(1, fc.constant(reset)),
  );
}

/**
 * The operations of a model-free run: the C ABI where C defines it (no realloc to 0 bytes,
 * no invalid alignment, no pointer that is not live), and only what the module's `abi` exports
 * (Rust's alloc takes an alignment).
 */
export function anyCommands(abi: Abi): CommandArbitrary {
  const c = calls(sizes(false), false);
  return fc.oneof(
    c.malloc,
    c.free,
    c.realloc,
    c.reallocNull,
    ...(abi.zeroed ? [c.calloc] : []),
    ...(abi.name === "rust" || abi.aligned ? [c.alignedAlloc] : []),
    ...(abi.usableSize ? [c.usableSize] : []),
  );
}
