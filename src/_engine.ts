/**
 * What a Heap runs on: mote's wasm (the release or the checked build) or, for ModelHeap, the
 * reference model. The Heap checks arguments and turns failures into errors; the engine
 * allocates. @module
 */
import { checkedWasm, ownWasm, regionWasm } from "./_wasm.ts";
import { type HeapReading, readHeap, rootOf } from "./_heap_reader.ts";
import type { MoteExports } from "./c_abi.ts";

/** The C functions, unchecked: they return 0 (or nothing) on failure. */
export type CFunctions = Omit<MoteExports, "memory">;

/** An allocator a Heap can run on. */
export interface Engine {
  /** The memory it allocates in. */
  readonly memory: WebAssembly.Memory;
  /** Its C functions, for the Heap's own calls. */
  readonly calls: CFunctions;
  /** What the Heap hands out as `exports`: the C functions, wrapped where reports need it. */
  readonly exports: MoteExports;
  /** Starts, or starts again, an empty heap in [base, limitEnd); false when it cannot. */
  init(base: number, limitEnd: number): boolean;
  /**
   * Moves the address the heap may grow to (a multiple of 16); when lowered, at least the top of
   * the blocks plus a header, and carving from the top region stops below it at once.
   */
  setLimit(limitEnd: number): void;
  /** How many times `free` and `realloc` were called, by anyone, as an i32 that wraps. */
  frees(): number;
  /**
   * `free(ptr)` in one call, done only when `frees()` is still `seen`: 0 when done, 1 (and
   * nothing done) when another caller has freed since. Absent: the Heap asks `frees()` first.
   */
  freeSeen?(ptr: number, seen: number): number;
  /** `realloc(ptr, size)` as `freeSeen` frees: its result, or 1 when the count has moved. */
  reallocSeen?(ptr: number, size: number, seen: number): number;
  /** The heap as data, read from the memory or the model, and what is wrong with it. */
  read(base: number): HeapReading;
}

/** What a Heap lends its engine, for the checked build's reports. */
export interface EngineHooks {
  /** Names the C function another module called, for the report that follows to name. */
  enter(operation: string): void;
  /** Turns the checked build's report into the error the Heap throws. */
  report(code: number, address: number): never;
}

/** Makes an engine over a given memory, or over one of its own when `memory` is undefined. */
export type EngineFactory = (
  memory: WebAssembly.Memory | undefined,
  checked: boolean,
  hooks: EngineHooks,
) => Engine;

/** What mote's wasm exports beyond the C functions. */
interface WasmExports extends MoteExports {
  mote_init(base: number, limitEnd: number): number;
  readonly mote_top: WebAssembly.Global;
  readonly mote_limit: WebAssembly.Global;
  mote_frees(): number;
  mote_free_seen(ptr: number, seen: number): number;
  mote_realloc_seen(ptr: number, size: number, seen: number): number;
}

const modules = new Map<Uint8Array, WebAssembly.Module>();

/** A module compiled once, synchronously: each is far below browsers' 4 KiB sync limit. */
function compiled(bytes: Uint8Array<ArrayBuffer>): WebAssembly.Module {
  let module = modules.get(bytes);
  if (!module) modules.set(bytes, module = new WebAssembly.Module(bytes));
  return module;
}

/** mote's C functions, in the order of the checked build's operation codes (1-based). */
export const C_NAMES = [
  "malloc",
  "free",
  "realloc",
  "calloc",
  "aligned_alloc",
  "malloc_usable_size",
] as const;

/** The three modules a wasm engine instantiates: as shipped, or built from a changed source. */
export interface WasmModules {
  readonly own: Uint8Array<ArrayBuffer>;
  readonly region: Uint8Array<ArrayBuffer>;
  readonly checked: Uint8Array<ArrayBuffer>;
}

/**
 * mote's wasm: the release build owning its memory or managing a given one, or the checked
 * build (which always imports its memory: a heap of its own gets one made here).
 */
export const wasmEngine: EngineFactory = (given, checked, hooks) =>
  wasmEngineFor({ own: ownWasm, region: regionWasm, checked: checkedWasm })(given, checked, hooks);

/** A wasm engine over other builds of asm/mote.ts: the mutation run's mutants. */
export const wasmEngineFor = (modules: WasmModules): EngineFactory => (given, checked, hooks) => {
  let instance: WebAssembly.Instance;
  let memory = given;
  // whether the checked build is running one of the Heap's own calls, which the Heap names itself
  let heapCall = false;
  if (checked) {
    memory ??= new WebAssembly.Memory({ initial: 0, maximum: 65536 });
    // the wasm names the C function it was called as, so a module calling it wasm to wasm (with
    // no JavaScript to say which function it called) is told which call found the misuse
    const mote_report = (code: number, address: number, operation: number) => {
      if (!heapCall) hooks.enter(C_NAMES[operation - 1]);
      heapCall = false; // the report throws: the call ends here
      hooks.report(code, address);
    };
    instance = new WebAssembly.Instance(compiled(modules.checked), {
      env: { memory, mote_report },
    });
  } else if (memory) {
    instance = new WebAssembly.Instance(compiled(modules.region), { env: { memory } });
  } else {
    instance = new WebAssembly.Instance(compiled(modules.own));
  }
  const x = instance.exports as unknown as WasmExports;
  memory ??= x.memory;
  const exports: Record<string, unknown> = { memory };
  const calls: Record<string, unknown> = {};
  // the Heap's calls are marked in the checked build, so that its reports name the Heap's method
  const marked = <F extends (...args: number[]) => number>(call: F): F =>
    checked
      ? ((...args: number[]) => {
        heapCall = true;
        const result = call(...args);
        heapCall = false;
        return result;
      }) as F
      : call;
  for (const name of C_NAMES) {
    // other modules get the wasm's own functions, checked or not
    exports[name] = x[name];
    calls[name] = marked(x[name] as (...args: number[]) => number);
  }
  return {
    memory,
    calls: calls as unknown as CFunctions,
    exports: exports as unknown as MoteExports,
    init: (base, limitEnd) => x.mote_init(base, limitEnd) === 1,
    setLimit: (limitEnd) => {
      x.mote_limit.value = limitEnd; // carving stops below it now: the wasm reads it each time
    },
    frees: x.mote_frees,
    freeSeen: marked(x.mote_free_seen),
    reallocSeen: marked(x.mote_realloc_seen),
    read: (base) =>
      readHeap({
        buffer: memory.buffer as ArrayBuffer,
        root: rootOf(base),
        top: x.mote_top.value >>> 0,
        limit: x.mote_limit.value >>> 0,
        checked,
      }),
  };
};
