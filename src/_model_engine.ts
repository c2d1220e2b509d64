/** ModelHeap's engine: the model, as ModelHeap runs it. */
import type { Engine, EngineFactory } from "./_engine.ts";
import type { HeapReading } from "./_heap_reader.ts";
import type { MoteExports } from "./c_abi.ts";
import { ModelAllocator } from "./_model_allocator.ts";
import { checkPicture } from "./_picture.ts";
import { LIVE, type Verdict } from "./_verdict.ts";

/**
 * The model as a Heap's engine, its quick lists bounded as `quickBound` says for a checked heap or
 * not: its C functions read their arguments as wasm callers pass them.
 */
export const modelEngineFor = (quickBound: (checked: boolean) => number): EngineFactory =>
(
  given: WebAssembly.Memory | undefined,
  checked: boolean,
): Engine => new ModelEngine(given, checked, quickBound(checked));

/**
 * The model as an engine: a class, as the wasm's is, so that where a program runs both (the
 * bench, the fuzzers) the Heap's calls of its methods reach one method of each, both of which
 * V8 inlines; a closure per heap it would call, and the wasm engine's call with it.
 */
class ModelEngine implements Engine {
  readonly memory: WebAssembly.Memory;
  readonly exports: MoteExports;
  readonly #model: ModelAllocator;

  constructor(given: WebAssembly.Memory | undefined, checked: boolean, quickBound: number) {
    const memory = this.memory = given ?? new WebAssembly.Memory({ initial: 0, maximum: 65536 });
    const model = this.#model = new ModelAllocator(memory, checked, quickBound);
    this.exports = {
      memory,
      malloc: (size: number) => model.malloc(size >>> 0),
      free: (ptr: number) => model.free(ptr >>> 0),
      realloc: (ptr: number, size: number) => model.realloc(ptr >>> 0, size >>> 0),
      calloc: (count: number, size: number) => model.calloc(count >>> 0, size >>> 0),
      aligned_alloc: (alignment: number, size: number) =>
        model.aligned_alloc(alignment >>> 0, size >>> 0),
      malloc_usable_size: (ptr: number) => model.malloc_usable_size(ptr >>> 0),
    };
  }

  init(base: number, limitEnd: number): boolean {
    return this.#model.init(base, limitEnd);
  }

  setLimit(limitEnd: number): void {
    this.#model.limit = limitEnd >>> 0; // the wasm's global reads unsigned
  }

  malloc(size: number): number {
    return this.#model.malloc(size >>> 0);
  }

  calloc(count: number, size: number): number {
    return this.#model.calloc(count >>> 0, size >>> 0);
  }

  alignedAlloc(alignment: number, size: number): number {
    return this.#model.aligned_alloc(alignment >>> 0, size >>> 0);
  }

  free(ptr: number): Verdict {
    const verdict = this.verdict(ptr);
    if (verdict === LIVE) this.#model.free(ptr >>> 0);
    return verdict;
  }

  realloc(ptr: number, size: number): number {
    const verdict = ptr === 0 ? LIVE : this.verdict(ptr);
    return verdict === LIVE ? this.#model.realloc(ptr >>> 0, size >>> 0) : verdict;
  }

  usableSize(ptr: number): number {
    return this.#model.malloc_usable_size(ptr >>> 0);
  }

  /** From the model's own records of its blocks. */
  verdict(ptr: number): Verdict {
    return this.#model.verdict(ptr >>> 0);
  }

  read(): HeapReading {
    const picture = this.#model.picture();
    return { picture, problems: checkPicture(picture) };
  }
}
