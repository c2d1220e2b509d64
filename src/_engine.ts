/**
 * What a Heap runs on: mote's wasm (the release or the checked build) or, for ModelHeap, the
 * reference model. The Heap checks arguments and turns failures into errors; the engine
 * allocates. @module
 */
import { checkedWasm, ownWasm, regionWasm } from "./_wasm.ts";
import { type HeapReading, readHeap, rootOf } from "./_heap_reader.ts";
import type { CFunctions, MoteExports } from "./c_abi.ts";
import { LiveBlocks } from "./_live_blocks.ts";
import type { Verdict } from "./_verdict.ts";

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
  /**
   * Whether `ptr` is a live block of the heap, or what misuse its use would be: what the Heap's
   * pointer checks trust, before the allocator reads a byte at it. Each engine decides it from
   * its own records: the wasm's from a record of its calls, the model's from its blocks.
   */
  verdict(ptr: number): Verdict;
  /**
   * `free(ptr)` in one call to the allocator, when the engine's record holds `ptr` live and is
   * exact: true when done; false, and nothing done, otherwise. Absent: the Heap asks `verdict`.
   */
  freeLive?(ptr: number): boolean;
  /** `realloc(ptr, size)` as `freeLive` frees: its result, or 1 (no block's address) if not done. */
  reallocLive?(ptr: number, size: number): number;
  /**
   * The heap as data, read from the memory or the model, and what is wrong with it; the checked
   * build's poison only `poisonEdges` bytes deep at each end of a range, when given (a reader
   * that wants the blocks, not the problems, passes 0).
   */
  read(base: number, poisonEdges?: number): HeapReading;
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
  mote_set_limit(limitEnd: number): void;
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
  const heapMemory = memory ?? x.memory;
  const raw: Record<string, unknown> = {};
  const marked: Record<string, unknown> = {};
  // the Heap's calls are marked in the checked build, so that its reports name its method
  const mark = <F extends (...args: number[]) => number>(call: F): F =>
    checked
      ? ((...args: number[]) => {
        heapCall = true;
        const result = call(...args);
        heapCall = false;
        return result;
      }) as F
      : call;
  for (const name of C_NAMES) {
    raw[name] = x[name];
    marked[name] = mark(x[name] as (...args: number[]) => number);
  }
  let base = 0;
  const read = (at: number, poisonEdges?: number) =>
    readHeap({
      buffer: heapMemory.buffer as ArrayBuffer,
      root: rootOf(at),
      top: x.mote_top.value >>> 0,
      limit: x.mote_limit.value >>> 0,
      checked,
      poisonEdges,
    });
  // which pointers are live, for the Heap to trust. Other modules get the wasm's own functions,
  // called wasm to wasm, and the record catches up with their calls by a walk; but a checked
  // heap, which names a double free, passes their free and realloc through the record, as only
  // these know which blocks were freed (a block allocated and freed between two walks is seen)
  const live = new LiveBlocks(() => read(base, 0).picture.blocks, x.mote_frees, checked);
  // taken from the exports once: loaded from them at each call, as each heap has an instance of
  // its own, they were a megamorphic load (V8's LoadIC_Megamorphic, in a profile of the bench)
  const freeSeen = mark(x.mote_free_seen), reallocSeen = mark(x.mote_realloc_seen);
  const recorded = live.track(raw as unknown as CFunctions);
  const exported = checked
    ? { ...raw, free: recorded.free.bind(recorded), realloc: recorded.realloc.bind(recorded) }
    : raw;
  return {
    memory: heapMemory,
    calls: live.track(marked as unknown as CFunctions),
    exports: { memory: heapMemory, ...exported } as MoteExports,
    init: (at, limitEnd) => {
      live.reset(base = at);
      return x.mote_init(at, limitEnd) === 1;
    },
    setLimit: (limitEnd) => x.mote_set_limit(limitEnd),
    verdict: (ptr) => live.verdict(ptr),
    freeLive: (ptr) => live.freeLive(ptr, freeSeen),
    reallocLive: (ptr, size) => live.reallocLive(ptr, size, reallocSeen),
    read,
  };
};
