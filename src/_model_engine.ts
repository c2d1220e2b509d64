/** ModelHeap's engine: the model, as ModelHeap runs it. */
import type { Engine, EngineFactory } from "./_engine.ts";
import { ModelAllocator } from "./_model_allocator.ts";
import { checkPicture } from "./_picture.ts";
import { LIVE } from "./_verdict.ts";

/**
 * The model as a Heap's engine, its quick lists bounded as `quickBound` says for a checked heap or
 * not: its C functions read their arguments as wasm callers pass them.
 */
export const modelEngineFor = (quickBound: (checked: boolean) => number): EngineFactory =>
(
  given: WebAssembly.Memory | undefined,
  checked: boolean,
): Engine => {
  const memory = given ?? new WebAssembly.Memory({ initial: 0, maximum: 65536 });
  const model = new ModelAllocator(memory, checked, quickBound(checked));
  const calls = {
    malloc: (size: number) => model.malloc(size >>> 0),
    free: (ptr: number) => model.free(ptr >>> 0),
    realloc: (ptr: number, size: number) => model.realloc(ptr >>> 0, size >>> 0),
    calloc: (count: number, size: number) => model.calloc(count >>> 0, size >>> 0),
    aligned_alloc: (alignment: number, size: number) =>
      model.aligned_alloc(alignment >>> 0, size >>> 0),
    malloc_usable_size: (ptr: number) => model.malloc_usable_size(ptr >>> 0),
  };
  // from the model's own records of its blocks
  const verdict = (ptr: number) => model.verdict(ptr >>> 0);
  return {
    memory,
    exports: { memory, ...calls },
    init: (base, limitEnd) => model.init(base, limitEnd),
    setLimit: (limitEnd) => model.limit = limitEnd >>> 0, // the wasm's global reads unsigned
    malloc: calls.malloc,
    calloc: calls.calloc,
    alignedAlloc: calls.aligned_alloc,
    free: (ptr) => {
      const found = verdict(ptr);
      if (found === LIVE) calls.free(ptr);
      return found;
    },
    realloc: (ptr, size) => {
      const found = ptr === 0 ? LIVE : verdict(ptr);
      return found === LIVE ? calls.realloc(ptr, size) : found;
    },
    usableSize: calls.malloc_usable_size,
    verdict,
    read: () => {
      const picture = model.picture();
      return { picture, problems: checkPicture(picture) };
    },
  };
};
