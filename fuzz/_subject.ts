/**
 * What the fuzzer drives: an allocator's C ABI. A mote module (one exporting `mote_init`) can
 * also be restarted, and shows its top and limit, which the differential mode needs; any other
 * module is run by `_third_party.ts`.
 */

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
 * Instantiates `module` with every import it asks for: the given memory, a `mote_report` that
 * records, and for any other function a stub that throws, naming it.
 */
function instantiate(
  module: WebAssembly.Module,
  memory: WebAssembly.Memory | undefined,
  reports: string[],
): WebAssembly.Instance {
  const imports: Record<string, Record<string, unknown>> = {};
  for (const { module: from, name, kind } of WebAssembly.Module.imports(module)) {
    imports[from] ??= {};
    if (kind === "memory") {
      imports[from][name] = memory;
    } else if (kind === "function" && name === "mote_report") {
      imports[from][name] = (kind: number, address: number) =>
        reports.push(
          `${["double free", "not a block", "overflow", "use after free"][kind - 1]}` +
            ` at ${address >>> 0}`,
        );
    } else if (kind === "function") {
      imports[from][name] = () => {
        throw new Error(`The module called its import ${from}.${name}, which the fuzzer lacks`);
      };
    } else {
      throw new TypeError(`The module imports ${kind} ${from}.${name}, which the fuzzer lacks`);
    }
  }
  return new WebAssembly.Instance(module, imports as WebAssembly.Imports);
}

type Exports = Record<string, unknown>;

function wrap(exports: Exports, memory: WebAssembly.Memory): Allocator {
  const fn = (name: string) => {
    const f = exports[name];
    return typeof f === "function" ? f as (...args: number[]) => number : undefined;
  };
  const unsigned = (name: string) => {
    const f = fn(name);
    return f && ((...args: number[]) => f(...args) >>> 0);
  };
  const malloc = unsigned("malloc"), free = fn("free"), realloc = unsigned("realloc");
  if (!malloc || !free || !realloc) {
    throw new TypeError("The module must export malloc, free and realloc");
  }
  return {
    memory,
    malloc,
    free: (ptr) => void free(ptr),
    realloc,
    calloc: unsigned("calloc"),
    aligned_alloc: unsigned("aligned_alloc"),
    malloc_usable_size: unsigned("malloc_usable_size"),
  };
}

/** A fresh, not yet started instance of a mote build, in `memory` if the build imports one. */
export function moteAllocator(
  module: WebAssembly.Module,
  memory?: WebAssembly.Memory,
): MoteAllocator {
  const reports: string[] = [];
  const instance = instantiate(module, memory, reports);
  const exports = instance.exports as Exports;
  const own = memory ?? exports.memory as WebAssembly.Memory;
  const allocator = wrap(exports, own) as Required<Allocator>;
  const mote_init = exports.mote_init as (base: number, limitEnd: number) => number;
  const top = exports.mote_top as WebAssembly.Global;
  const limit = exports.mote_limit as WebAssembly.Global;
  const setLimit = exports.mote_set_limit as (limitEnd: number) => void;
  const quick = exports.mote_quick as WebAssembly.Global | undefined;
  return {
    quickBound: quick?.value ?? 0,
    ...allocator,
    init: (base, limitEnd) => mote_init(base, limitEnd) !== 0,
    top: () => top.value >>> 0,
    frees: () => (exports.mote_frees as () => number)() >>> 0,
    get limit() {
      return limit.value >>> 0;
    },
    set limit(address: number) {
      setLimit(address);
    },
    takeReports: () => reports.splice(0),
  };
}
