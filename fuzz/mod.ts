/**
 * Fuzzing for WebAssembly allocators, with fast-check's model-based testing.
 *
 * {@linkcode fuzzMote} holds mote's builds to its reference model: after every operation the
 * pointers, usable sizes, failures and memory size must be the ones the model predicts, the heap
 * read from memory must be the model's, block for block and list for list, and pass the
 * integrity check. {@linkcode fuzzAllocator} fuzzes any module without a model, in C's ABI
 * (`malloc`, `free`, `realloc`, …) or Rust's `GlobalAlloc` (`alloc`, `dealloc`, `realloc`, …), in
 * a worker with a watchdog: alignment as asked, bounds, no overlap, contents kept, calloc zeroed,
 * no hang, liveness, reuse of an emptied heap, and bounded growth over a long run.
 *
 * Both run sequences of operations on fresh instances in batches of 25 runs, each batch with its
 * own seed, and shrink a failure to a short sequence. `deno task fuzz` is the command line.
 *
 * @example Holding mote to its model
 * ```ts
 * import { fuzzMote } from "@mote/alloc/fuzz";
 * import assert from "node:assert/strict";
 *
 * const report = fuzzMote({ runs: 10, seed: 42 });
 * assert.equal(report.failure, undefined);
 * assert.equal(report.runs, 10);
 * ```
 *
 * @module
 */
import { checkedWasm, fastWasm, ownWasm, regionWasm } from "../src/_wasm.ts";
import { checkFields } from "../src/_validate.ts";
import {
  FUZZ_OPTION_CHECKS,
  type FuzzOptions,
  type FuzzReport,
  moteBuild,
  runFuzz,
} from "./_runner.ts";
import { isMote } from "./_subject.ts";
import { ThirdParty } from "./_third_party.ts";

export type {
  FuzzFailureReport,
  FuzzOptions,
  FuzzProgress,
  FuzzReport,
  FuzzSoakReport,
} from "./_runner.ts";
export {
  type ConcurrentFuzzOptions,
  type ConcurrentFuzzReport,
  fuzzConcurrent,
} from "./concurrent.ts";

/**
 * A WebAssembly module, compiled or as bytes.
 *
 * @example
 * ```ts
 * import type { WasmSource } from "@mote/alloc/fuzz";
 *
 * const bytes = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0]); // "\0asm", version 1
 * const asBytes: WasmSource = bytes;
 * const compiled: WasmSource = new WebAssembly.Module(bytes);
 * ```
 */
export type WasmSource = WebAssembly.Module | BufferSource;

/**
 * Options of {@linkcode fuzzMote}.
 *
 * @example
 * ```ts
 * import { fuzzMote, type FuzzMoteOptions } from "@mote/alloc/fuzz";
 *
 * const options: FuzzMoteOptions = { runs: 5, maxCommands: 20 }; // the builds mote ships
 * fuzzMote(options);
 * ```
 */
export interface FuzzMoteOptions extends FuzzOptions {
  /**
   * A build of mote to fuzz instead of the shipped ones: any module compiled from asm/mote.ts
   * (or a changed copy of it), owning its memory or importing it, release or checked.
   */
  readonly wasm?: WasmSource;
}

/**
 * Fuzzes mote's builds against the reference model: by default the four it ships (its own
 * memory, a region of an imported memory, the checked build and the fast build), in both
 * placements, with limits from a few hundred bytes to all of wasm32 and memories that refuse to
 * grow.
 *
 * @param options How long to fuzz, from which seed, and optionally which build.
 * @returns The runs, operations and seeds, and the first failure, shrunk, if there was one.
 * @throws {TypeError} When `wasm` is not a mote build.
 *
 * @example
 * ```ts
 * import { fuzzMote } from "@mote/alloc/fuzz";
 *
 * const report = fuzzMote({ runs: 5, maxCommands: 50 });
 * if (report.failure) throw new Error(report.failure.message);
 * ```
 */
export function fuzzMote(options: FuzzMoteOptions = {}): FuzzReport {
  const { wasm, ...rest } = checkFields<FuzzMoteOptions>(options, FUZZ_OPTION_CHECKS);
  if (wasm === undefined) {
    const builds = [
      moteBuild("release build (own memory)", new WebAssembly.Module(ownWasm)),
      moteBuild("release build (imported memory)", new WebAssembly.Module(regionWasm)),
      moteBuild("checked build", new WebAssembly.Module(checkedWasm)),
      moteBuild("fast build", new WebAssembly.Module(fastWasm)),
    ];
    return runFuzz({ kind: "mote", builds }, rest);
  }
  const module = wasm instanceof WebAssembly.Module ? wasm : new WebAssembly.Module(wasm);
  if (!isMote(module)) {
    throw new TypeError(
      "The module is not a mote build: it must export mote_init, mote_top, mote_limit " +
        "and malloc_usable_size",
    );
  }
  return runFuzz({ kind: "mote", builds: [moteBuild("the given build", module)] }, rest);
}

/**
 * Options of {@linkcode fuzzAllocator}.
 *
 * @example An allocator whose malloc aligns to 8 bytes
 * ```ts
 * import type { FuzzAllocatorOptions } from "@mote/alloc/fuzz";
 *
 * const options: FuzzAllocatorOptions = { seconds: 60, alignment: 8 };
 * ```
 */
export interface FuzzAllocatorOptions extends FuzzOptions {
  /**
   * The alignment every plain allocation must have: what C's `malloc` must give, and what a
   * Rust allocator is asked for. Defaults to 16, wasm32's `max_align_t`.
   */
  readonly alignment?: number;
  /** Which ABI to fuzz when a module exports both; by default C's if it has it, else Rust's. */
  readonly abi?: "c" | "rust";
  /**
   * How long one call may take before it is a hang, in milliseconds; 2000 by default. Only a
   * module given as bytes can be stopped: a compiled `WebAssembly.Module` runs unwatched.
   */
  readonly watchdogMs?: number;
  /** Operations of the bounded-growth run after the fuzz runs (0 skips it); 200 000 by default. */
  readonly soakOperations?: number;
  /** The most blocks live at once in the bounded-growth run; 1000 by default. */
  readonly soakLive?: number;
}

/**
 * Fuzzes any allocator module without a model, in either ABI, read from its exports: C's
 * (`malloc`, `free`, `realloc`, and when exported `calloc`, `aligned_alloc` or `memalign` or
 * `posix_memalign`, `malloc_usable_size`) or Rust's `GlobalAlloc` (`alloc`, `dealloc`,
 * `realloc`, and when exported `alloc_zeroed`), given the sizes and alignments it was asked
 * with. Imports allocators commonly need (AssemblyScript's `env.abort`, WASI's, Emscripten's
 * `emscripten_resize_heap` and others) get deterministic stand-ins, listed in the report; others
 * throw when called. Given as bytes, the module runs in a worker whose memory the fuzzer shares,
 * and a call that does not return within `watchdogMs` fails the run as a hang. The hung worker
 * is terminated, but Deno's `terminate()` does not stop a worker busy in wasm: it spins on until
 * the process exits (`deno task fuzz` exits once it has reported), so fuzz a module that may
 * hang in a process of its own, as `fuzz/third_party_test.ts` does (`src/shared_test.ts` shows
 * Deno's `terminate()` leaving a busy worker running).
 *
 * Each run is a fresh instance, and each block handed out must be aligned as asked, inside the
 * memory, overlapping no other, as large as asked (by `malloc_usable_size`, which may then all
 * be written), its contents kept across other operations and up to the smaller size across
 * `realloc`, zeroed from `calloc`. A small request on a nearly empty heap that can grow must
 * succeed (liveness), and the emptied heap must reuse its memory for the same allocations. After
 * the runs, a bounded-growth run of `soakOperations` random operations over at most `soakLive`
 * blocks must see the memory stop growing. A failure names the rule it broke.
 *
 * @param wasm The allocator module: bytes, to be watched, or compiled.
 * @param options How long to fuzz, from which seed, the alignment to expect, the watchdog.
 * @returns The runs, operations and seeds, the ABI and stubs, the bounded-growth run, and the
 * first failure, shrunk, if there was one.
 * @throws {TypeError} When the module is not valid wasm, has no memory, or exports neither ABI.
 *
 * @example An allocator that never allocates breaks liveness
 * ```ts
 * import { fuzzAllocator } from "@mote/alloc/fuzz";
 * import assert from "node:assert/strict";
 *
 * // malloc(size) and realloc(ptr, size) return 0, free(ptr) does nothing
 * const name = (text: string) => [text.length, ...new TextEncoder().encode(text)];
 * const wasm = new Uint8Array([
 *   ...[0x00, 0x61, 0x73, 0x6D, 1, 0, 0, 0], // "\0asm", version 1
 *   ...[1, 16, 3, 0x60, 1, 0x7F, 1, 0x7F, 0x60, 2, 0x7F, 0x7F, 1, 0x7F, 0x60, 1, 0x7F, 0], // types
 *   ...[3, 4, 3, 0, 1, 2], // three functions, of types 0, 1 and 2
 *   ...[5, 3, 1, 0, 1], // a memory of one page
 *   ...[7, 36, 4, ...name("memory"), 2, 0, ...name("malloc"), 0, 0],
 *   ...[...name("realloc"), 0, 1, ...name("free"), 0, 2], // the exports
 *   ...[10, 14, 3, 4, 0, 0x41, 0, 0x0B, 4, 0, 0x41, 0, 0x0B, 2, 0, 0x0B], // the code
 * ]);
 * const report = fuzzAllocator(wasm, { runs: 5, seed: 1 });
 * assert.equal(report.subject?.abi, "c");
 * assert.equal(report.failure?.rule, "liveness");
 * ```
 */
export function fuzzAllocator(wasm: WasmSource, options: FuzzAllocatorOptions = {}): FuzzReport {
  const {
    alignment = 16,
    abi,
    watchdogMs = 2000,
    soakOperations = 200_000,
    soakLive = 1000,
    ...rest
  } = checkFields<FuzzAllocatorOptions>(options, FUZZ_OPTION_CHECKS);
  // bytes as a copy in an ArrayBuffer of its own, whatever view or buffer they came in
  const source = wasm instanceof WebAssembly.Module
    ? wasm
    : ArrayBuffer.isView(wasm)
    ? new Uint8Array(wasm.buffer, wasm.byteOffset, wasm.byteLength).slice()
    : new Uint8Array(wasm).slice();
  const subject = new ThirdParty(source, { abi, watchdogMs });
  try {
    const soak = soakOperations > 0 ? { operations: soakOperations, live: soakLive } : undefined;
    return runFuzz({ kind: "any", subject, alignment, soak }, rest);
  } finally {
    subject.close();
  }
}
