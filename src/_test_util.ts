/** Helpers for tests: raw instances of the shipped modules, and a seeded random source. */
import { fastWasm, ownWasm, regionWasm } from "./_wasm.ts";
import type { MoteExports } from "./heap.ts";

/** The raw exports of a mote instance, unsigned where they return pointers or sizes. */
export interface Raw extends MoteExports {
  mote_init(base: number, limitEnd: number): number;
  top(): number;
}

function wrap(instance: WebAssembly.Instance, memory?: WebAssembly.Memory): Raw {
  // deno-lint-ignore no-explicit-any
  const x = instance.exports as any;
  return {
    memory: memory ?? x.memory,
    malloc: (size) => x.malloc(size) >>> 0,
    free: (ptr) => x.free(ptr),
    realloc: (ptr, size) => x.realloc(ptr, size) >>> 0,
    calloc: (count, size) => x.calloc(count, size) >>> 0,
    aligned_alloc: (alignment, size) => x.aligned_alloc(alignment, size) >>> 0,
    malloc_usable_size: (ptr) => x.malloc_usable_size(ptr) >>> 0,
    mote_init: (base, limitEnd) => x.mote_init(base, limitEnd),
    top: () => x.mote_top.value >>> 0,
  };
}

/** A fresh own-memory instance, not yet initialised: the release build, or the fast one. */
export function ownRaw(fast = false): Raw {
  return wrap(new WebAssembly.Instance(new WebAssembly.Module(fast ? fastWasm : ownWasm)));
}

/** A fresh region instance over `memory`, not yet initialised. */
export function regionRaw(memory: WebAssembly.Memory): Raw {
  return wrap(
    new WebAssembly.Instance(new WebAssembly.Module(regionWasm), { env: { memory } }),
    memory,
  );
}

/** A small, fast, seeded generator (mulberry32): the same seed gives the same run everywhere. */
export function seeded(seed: number): (bound: number) => number {
  let state = seed >>> 0;
  return (bound) => {
    state = (state + 0x6D2B79F5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * bound | 0;
  };
}
