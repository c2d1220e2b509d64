/**
 * Fuzzing for WebAssembly allocators, with fast-check's model-based testing.
 *
 * {@linkcode fuzzMote} holds mote's builds to its reference model: after every operation the
 * pointers, usable sizes, failures and memory size must be the ones the model predicts, the heap
 * read from memory must be the model's, block for block and list for list, and pass the
 * integrity check. {@linkcode fuzzAllocator} fuzzes any module that exports `malloc`, `free` and
 * `realloc` (and optionally `calloc`, `aligned_alloc`, `malloc_usable_size`) without a model:
 * alignment, bounds, no overlap, contents kept, calloc zeroed, and no growth without end for
 * the same work repeated.
 *
 * Both run sequences of operations on fresh instances in batches of 25 runs, each batch with its
 * own seed, and shrink a failure to a short sequence. `deno task fuzz` is the command line.
 *
 * @example Holding mote to its model
 * ```ts
 * import { fuzzMote } from "./mod.ts";
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
import { type FuzzOptions, type FuzzReport, type MoteBuild, runFuzz } from "./_runner.ts";
import { importsMemory, isMote } from "./_subject.ts";

export type { FuzzFailureReport, FuzzOptions, FuzzProgress, FuzzReport } from "./_runner.ts";
export {
  type ConcurrentFuzzOptions,
  type ConcurrentFuzzReport,
  fuzzConcurrent,
} from "./concurrent.ts";

/** A WebAssembly module, compiled or as bytes. */
export type WasmSource = WebAssembly.Module | BufferSource;

function compile(wasm: WasmSource): WebAssembly.Module {
  return wasm instanceof WebAssembly.Module ? wasm : new WebAssembly.Module(wasm);
}

function moteBuild(name: string, module: WebAssembly.Module): MoteBuild {
  const checked = WebAssembly.Module.imports(module).some((entry) => entry.name === "mote_report");
  return { name, module, checked, importsMemory: importsMemory(module) };
}

/** Options of {@linkcode fuzzMote}. */
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
 * import { fuzzMote } from "./mod.ts";
 *
 * const report = fuzzMote({ runs: 5, maxCommands: 50 });
 * if (report.failure) throw new Error(report.failure.message);
 * ```
 */
export function fuzzMote(options: FuzzMoteOptions = {}): FuzzReport {
  const { wasm, ...rest } = options;
  let builds: MoteBuild[];
  if (wasm === undefined) {
    builds = [
      moteBuild("release build (own memory)", new WebAssembly.Module(ownWasm)),
      moteBuild("release build (imported memory)", new WebAssembly.Module(regionWasm)),
      moteBuild("checked build", new WebAssembly.Module(checkedWasm)),
      moteBuild("fast build", new WebAssembly.Module(fastWasm)),
    ];
  } else {
    const module = compile(wasm);
    if (!isMote(module)) {
      throw new TypeError(
        "The module is not a mote build: it must export mote_init, mote_top, mote_limit " +
          "and malloc_usable_size",
      );
    }
    builds = [moteBuild("the given build", module)];
  }
  return runFuzz({ kind: "mote", builds }, rest);
}

/** Options of {@linkcode fuzzAllocator}. */
export interface FuzzAllocatorOptions extends FuzzOptions {
  /** The alignment every `malloc` result must have. Defaults to 16, wasm32's `max_align_t`. */
  readonly alignment?: number;
}

/**
 * Fuzzes any allocator module without a model. It must export `malloc`, `free` and `realloc`,
 * and its memory (or import one as `env.memory`); `calloc`, `aligned_alloc` and
 * `malloc_usable_size` are fuzzed when exported. Other imported functions throw when called. A
 * WASI reactor's `_initialize` is called first, and a mote build is started with `mote_init`.
 * Each run checks every block handed out: aligned, inside the memory, overlapping no other, at
 * least as large as asked (by `malloc_usable_size`, which may then all be written), contents
 * kept across other operations and up to the smaller size across `realloc`, `calloc` memory
 * zeroed; at the end of a run the same allocations are repeated on the emptied heap, and the
 * highest address used must stop rising.
 *
 * @param wasm The allocator module.
 * @param options How long to fuzz, from which seed, and the alignment to expect.
 * @returns The runs, operations and seeds, and the first failure, shrunk, if there was one.
 * @throws {TypeError} When the module lacks malloc, free, realloc or a memory.
 *
 * @example Fuzzing mote's own module as a third party would
 * ```ts
 * import { fuzzAllocator } from "./mod.ts";
 * import { ownWasm } from "../src/_wasm.ts";
 * import assert from "node:assert/strict";
 *
 * const report = fuzzAllocator(ownWasm, { runs: 5, maxCommands: 50 });
 * assert.equal(report.failure, undefined);
 * ```
 */
export function fuzzAllocator(wasm: WasmSource, options: FuzzAllocatorOptions = {}): FuzzReport {
  const { alignment = 16, ...rest } = options;
  return runFuzz({ kind: "any", module: compile(wasm), alignment }, rest);
}
