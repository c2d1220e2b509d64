/**
 * What the fuzzer drives: an allocator's C ABI. A mote module (one exporting `mote_init`) can
 * also be restarted, and shows its top and limit, which the differential mode needs; any other
 * module is run by `_third_party.ts`.
 */
import { HeapMisuseError } from "../src/errors.ts";
import { importsFor } from "./_imports.ts";

/** An allocator's C ABI as the fuzzer calls it; optional functions may be missing. */
export interface Allocator {
  readonly memory: WebAssembly.Memory;
  malloc(size: number): number;
  free(ptr: number): void;
  realloc(ptr: number, size: number): number;
  calloc?(count: number, size: number): number;
  aligned_alloc?(alignment: number, size: number): number;
  malloc_usable_size?(ptr: number): number;
}

/** A mote module: the C ABI, and the hooks a differential run needs. */
export interface MoteAllocator extends Required<Allocator> {
  init(base: number, limitEnd: number): boolean;
  top(): number;
  /** Its count of free and realloc calls. */
  frees(): number;
  limit: number;
  /** The bound of its quick lists, its `mote_quick`: 0 when it has none (or no such export). */
  readonly quickBound: number;
  /** Misuse reports of a checked build since the last `takeReports`, as "kind at address". */
  takeReports(): string[];
}

/** Whether a module imports its memory (as a region build does) rather than exporting its own. */
export function importsMemory(module: WebAssembly.Module): boolean {
  return WebAssembly.Module.imports(module).some((entry) => entry.kind === "memory");
}

/** Whether a module is a mote build: it exports what a differential run needs. */
export function isMote(module: WebAssembly.Module): boolean {
  const names = new Set(WebAssembly.Module.exports(module).map((entry) => entry.name));
  return ["mote_init", "mote_top", "mote_limit", "malloc_usable_size"].every((n) => names.has(n));
}

/**
 * A fresh, not yet started instance of a mote build, in `memory` if the build imports one. Its
 * imports: the memory, a `mote_report` that records, and any other function as `importsFor` gives
 * it to any allocator.
 */
export function moteAllocator(
  module: WebAssembly.Module,
  memory?: WebAssembly.Memory,
): MoteAllocator {
  const reports: string[] = [];
  const { imports } = importsFor(module, memory!); // a build that imports one is given one
  (imports.env ??= {}).mote_report = (code: number, address: number) =>
    reports.push(`${new HeapMisuseError(code, address, "mote_report").kind} at ${address >>> 0}`);
  // deno-lint-ignore no-explicit-any
  const exports: Record<string, any> = new WebAssembly.Instance(module, imports).exports;
  if (!["malloc", "free", "realloc"].every((name) => typeof exports[name] === "function")) {
    throw new TypeError("The module must export malloc, free and realloc");
  }
  const unsigned = (name: string) => (...args: number[]) => exports[name](...args) >>> 0;
  return {
    quickBound: exports.mote_quick?.value ?? 0,
    memory: memory ?? exports.memory,
    malloc: unsigned("malloc"),
    free: (ptr) => void exports.free(ptr),
    realloc: unsigned("realloc"),
    calloc: unsigned("calloc"),
    aligned_alloc: unsigned("aligned_alloc"),
    malloc_usable_size: unsigned("malloc_usable_size"),
    init: (base, limitEnd) => exports.mote_init(base, limitEnd) !== 0,
    top: () => exports.mote_top.value >>> 0,
    frees: unsigned("mote_frees"),
    get limit() {
      return exports.mote_limit.value >>> 0;
    },
    set limit(address: number) {
      exports.mote_set_limit(address);
    },
    takeReports: () => reports.splice(0),
  };
}
