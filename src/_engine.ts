/**
 * What a Heap runs on: mote's wasm (the release or the checked build) or, for ModelHeap, the
 * reference model. The Heap checks arguments and turns failures into errors; the engine
 * allocates. @module
 */
import { checkedWasm, ownWasm, regionWasm } from "./_wasm.ts";
import { type HeapReading, readHeap, rootOf } from "./_heap_reader.ts";
import type { MoteExports } from "./c_abi.ts";
import { LiveBlocks, NOT_DONE } from "./_live_blocks.ts";
import { LIVE, type Verdict } from "./_verdict.ts";

/**
 * An allocator a Heap can run on. Its allocating methods are the Heap's calls, made once their
 * arguments are checked: the Heap turns their failures into errors, and the engine decides which
 * pointers are live blocks, from its own records.
 */
export interface Engine {
  /** The memory it allocates in. */
  readonly memory: WebAssembly.Memory;
  /** What the Heap hands out as `exports`: the C functions, wrapped where reports need it. */
  readonly exports: MoteExports;
  /** Starts, or starts again, an empty heap in [base, limitEnd); false when it cannot. */
  init(base: number, limitEnd: number): boolean;
  /**
   * Moves the address the heap may grow to (a multiple of 16); when lowered, at least the top of
   * the blocks plus a header, and carving from the top region stops below it at once.
   */
  setLimit(limitEnd: number): void;
  /** The C functions that allocate: the block's address, or 0 when it cannot be had. */
  malloc(size: number): number;
  calloc(count: number, size: number): number;
  alignedAlloc(alignment: number, size: number): number;
  /**
   * Frees `ptr` if it is a live block, and says {@linkcode LIVE}; otherwise says what it is
   * ({@linkcode FREED} or {@linkcode NOT_A_BLOCK}), having done nothing.
   */
  free(ptr: number): Verdict;
  /**
   * `realloc(ptr, size)` if `ptr` is 0 or a live block: the block's address, or 0 when it cannot
   * grow. Otherwise what `ptr` is, {@linkcode FREED} or {@linkcode NOT_A_BLOCK}, having done
   * nothing: no block's address, as blocks are 16-byte aligned.
   */
  realloc(ptr: number, size: number): number;
  /** The C function `malloc_usable_size`, for a pointer the Heap has found live. */
  usableSize(ptr: number): number;
  /**
   * Whether `ptr` is a live block of the heap, or what misuse its use would be: what the Heap's
   * pointer checks trust, before the allocator reads a byte at it. Each engine decides it from
   * its own records: the wasm's from a record of its calls, the model's from its blocks.
   */
  verdict(ptr: number): Verdict;
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
export const wasmEngineFor = (modules: WasmModules): EngineFactory => (given, checked, hooks) =>
  new WasmEngine(modules, given, checked, hooks);

/** A C function of the wasm's, from JavaScript. */
type Call<A extends number[], R = number> = (...args: A) => R;

/**
 * mote's wasm as an engine: a class, so that the Heap's calls of its methods reach one method
 * each, which V8 inlines into the Heap's (a closure per heap it would not), and each of them
 * calls the wasm once and keeps the record of live blocks in JavaScript.
 */
class WasmEngine implements Engine {
  readonly memory: WebAssembly.Memory;
  readonly exports: MoteExports;
  /** Which pointers are live, for the Heap to trust. */
  readonly #live: LiveBlocks;
  readonly #exports: WasmExports;
  readonly #checked: boolean;
  /** The first byte of the heap's region, as the last init set it. */
  #base = 0;
  // the wasm's functions for the Heap's calls (marked, in a checked heap), taken from the
  // exports once: loaded from them at each call, as each heap has an instance of its own, they
  // were a megamorphic load (V8's LoadIC_Megamorphic, in a profile of the bench)
  readonly #malloc: Call<[number]>;
  readonly #calloc: Call<[number, number]>;
  readonly #alignedAlloc: Call<[number, number]>;
  readonly #free: Call<[number], void>;
  readonly #freeSeen: Call<[number, number]>;
  readonly #realloc: Call<[number, number]>;
  readonly #reallocSeen: Call<[number, number, number]>;
  readonly #usableSize: Call<[number]>;

  constructor(
    modules: WasmModules,
    given: WebAssembly.Memory | undefined,
    checked: boolean,
    hooks: EngineHooks,
  ) {
    let instance: WebAssembly.Instance;
    let memory = given;
    // whether the checked build is running one of the Heap's own calls, which the Heap names
    let heapCall = false;
    if (checked) {
      memory ??= new WebAssembly.Memory({ initial: 0, maximum: 65536 });
      // the wasm names the C function it was called as, so a module calling it wasm to wasm
      // (with no JavaScript to say which function it called) is told which call found the misuse
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
    const x = this.#exports = instance.exports as unknown as WasmExports;
    this.memory = memory ?? x.memory;
    this.#checked = checked;
    // the Heap's calls are marked in the checked build, so that its reports name its method
    const mark = <A extends number[], R>(call: Call<A, R>): Call<A, R> =>
      checked
        ? (...args: A) => {
          heapCall = true;
          const result = call(...args);
          heapCall = false;
          return result;
        }
        : call;
    this.#malloc = mark(x.malloc);
    this.#calloc = mark(x.calloc);
    this.#alignedAlloc = mark(x.aligned_alloc);
    this.#free = mark(x.free);
    this.#freeSeen = mark(x.mote_free_seen);
    this.#realloc = mark(x.realloc);
    this.#reallocSeen = mark(x.mote_realloc_seen);
    this.#usableSize = mark(x.malloc_usable_size);
    // other modules get the wasm's own functions, called wasm to wasm, and the record catches
    // up with their calls by a walk; but a checked heap, which names a double free, passes their
    // free and realloc through the record, as only these know which blocks were freed (a block
    // allocated and freed between two walks is seen)
    const live = this.#live = new LiveBlocks(
      () => this.read(this.#base, 0).picture.blocks,
      x.mote_frees,
      checked,
    );
    const raw: Record<string, unknown> = {};
    for (const name of C_NAMES) raw[name] = x[name];
    if (checked) {
      raw.free = (ptr: number) => live.free(ptr, x.free);
      raw.realloc = (ptr: number, size: number) => live.realloc(ptr, size, x.realloc);
    }
    this.exports = { memory: this.memory, ...raw } as MoteExports;
  }

  init(base: number, limitEnd: number): boolean {
    this.#live.reset(this.#base = base);
    return this.#exports.mote_init(base, limitEnd) === 1;
  }

  setLimit(limitEnd: number): void {
    this.#exports.mote_set_limit(limitEnd);
  }

  malloc(size: number): number {
    return this.#live.served(this.#malloc(size));
  }

  calloc(count: number, size: number): number {
    return this.#live.served(this.#calloc(count, size));
  }

  alignedAlloc(alignment: number, size: number): number {
    return this.#live.served(this.#alignedAlloc(alignment, size));
  }

  // free and realloc: one call, when the record is exact and holds ptr; else the record catches
  // up first, out of line, to keep the paths V8 inlines into the Heap's small

  free(ptr: number): Verdict {
    return this.#live.freeLive(ptr, this.#freeSeen) ? LIVE : this.#freeCaughtUp(ptr);
  }

  realloc(ptr: number, size: number): number {
    const moved = ptr === 0 ? NOT_DONE : this.#live.reallocLive(ptr, size, this.#reallocSeen);
    return moved === NOT_DONE ? this.#reallocCaughtUp(ptr, size) : moved;
  }

  #freeCaughtUp(ptr: number): Verdict {
    const verdict = this.#live.verdict(ptr);
    if (verdict === LIVE) this.#live.free(ptr, this.#free);
    return verdict;
  }

  #reallocCaughtUp(ptr: number, size: number): number {
    const verdict = ptr === 0 ? LIVE : this.#live.verdict(ptr);
    return verdict === LIVE ? this.#live.realloc(ptr, size, this.#realloc) : verdict;
  }

  usableSize(ptr: number): number {
    return this.#usableSize(ptr);
  }

  verdict(ptr: number): Verdict {
    return this.#live.verdict(ptr);
  }

  read(base: number, poisonEdges?: number): HeapReading {
    return readHeap({
      buffer: this.memory.buffer as ArrayBuffer,
      root: rootOf(base),
      top: this.#exports.mote_top.value >>> 0,
      limit: this.#exports.mote_limit.value >>> 0,
      checked: this.#checked,
      poisonEdges,
    });
  }
}
