/**
 * The two shapes in which wasm allocators export themselves, told apart by their exports, and
 * each driven through the C ABI the fuzzer's session speaks:
 *
 * - C: `malloc(size)`, `free(ptr)`, `realloc(ptr, size)`; optionally `calloc(count, size)`,
 *   `aligned_alloc(align, size)` (or `memalign(align, size)`, or
 *   `posix_memalign(out, align, size)`) and `malloc_usable_size(ptr)`.
 * - Rust's `GlobalAlloc`: `alloc(size, align)`, `dealloc(ptr, size, align)`,
 *   `realloc(ptr, size, align, new_size)`; optionally `alloc_zeroed(size, align)`. The fuzzer
 *   remembers each block's layout and passes it back as Rust does, and only ever asks for
 *   layouts Rust can make: a size of at least 1 (a request of 0 is made as 1), a power-of-two
 *   alignment, and the size rounded up to it at most `isize::MAX`.
 *
 * Every allocation is also held to liveness ({@linkcode livenessBroken}).
 */
import { livenessBroken, OracleFailure } from "./_oracles.ts";
import type { SoakAllocator } from "./_soak.ts";
import type { Allocator } from "./_subject.ts";
import type { Call } from "./_imports.ts";

/** The two ABIs. */
export type AbiName = "c" | "rust";

/** An allocator module's ABI, as its exports show it. */
export interface Abi {
  readonly name: AbiName;
  /** The function that allocates zeroed memory, if exported. */
  readonly zeroed?: "calloc" | "alloc_zeroed";
  /** C's function for aligned allocations, if exported; Rust's `alloc` takes an alignment. */
  readonly aligned?: "aligned_alloc" | "memalign" | "posix_memalign";
  readonly usableSize: boolean;
}

const C_REQUIRED = ["malloc", "free", "realloc"];
const RUST_REQUIRED = ["alloc", "dealloc", "realloc"];
/** isize::MAX on wasm32: the largest size a Rust layout may round up to. */
const ISIZE_MAX = 0x7FFF_FFFF;

/**
 * The ABI of a module exporting functions `names`: C if it has C's three functions, else Rust's
 * if it has those (or `choose`, if given). Throws a one-line `TypeError` naming what is missing.
 */
export function detectAbi(names: readonly string[], choose?: AbiName): Abi {
  const has = (name: string) => names.includes(name);
  const missing = (required: string[]) => required.filter((name) => !has(name));
  const c = missing(C_REQUIRED), rust = missing(RUST_REQUIRED);
  const name = choose ?? (c.length === 0 ? "c" : rust.length === 0 ? "rust" : undefined);
  if (name === undefined || (name === "c" ? c : rust).length > 0) {
    const shown = names.length === 0 ? "no functions" : names.slice(0, 12).join(", ") +
      (names.length > 12 ? `, … (${names.length})` : "");
    const wanted = name === undefined
      ? "neither C's malloc, free and realloc nor Rust's alloc, dealloc and realloc"
      : name === "c"
      ? `not C's ${c.join(", ")}`
      : `not Rust's ${rust.join(", ")}`;
    throw new TypeError(`The module exports ${wanted}: it exports ${shown}`);
  }
  if (name === "rust") {
    return { name, zeroed: has("alloc_zeroed") ? "alloc_zeroed" : undefined, usableSize: false };
  }
  const aligned = (["aligned_alloc", "memalign", "posix_memalign"] as const).find(has);
  return {
    name,
    zeroed: has("calloc") ? "calloc" : undefined,
    aligned,
    usableSize: has("malloc_usable_size"),
  };
}

/** Whether Rust can make a layout of `size` bytes aligned to `align`. */
function rustLayout(size: number, align: number): boolean {
  return align > 0 && (align & (align - 1)) === 0 && align <= 2 ** 31 &&
    Math.ceil(size / align) * align <= ISIZE_MAX;
}

/**
 * An allocator of either ABI as the session drives it. `alignment` is what a plain allocation
 * asks Rust for (C's malloc is not told); `maxBytes` is how large the memory may grow, if known.
 */
export function abiAllocator(
  abi: Abi,
  call: Call,
  memory: WebAssembly.Memory,
  alignment: number,
  maxBytes: number | undefined,
): Allocator {
  /** Each live block's layout: the size and alignment it was asked with. */
  const layouts = new Map<number, { size: number; align: number }>();
  let liveBytes = 0, allocations = 0;
  /**
   * Takes `ptr`, which `what` returned for `size` bytes aligned to `align`, in place of block
   * `replaced` when it moved one: a 0 must be allowed by liveness; a Rust block, aligned (the
   * session holds a Rust allocator to alignment 1, so its results are checked here instead).
   */
  const placed = (what: string, ptr: number, size: number, align = 1, replaced = 0): number => {
    if (ptr === 0) {
      const heap = { allocations, liveBytes, memory, maxBytes };
      const why = livenessBroken({ size, alignment: align }, heap);
      if (why) throw new OracleFailure("liveness", `Liveness: ${what} returned 0: ${why}`, "0");
      return 0;
    }
    if (replaced !== 0) forget(replaced);
    allocations++;
    liveBytes += size;
    layouts.set(ptr, { size, align });
    if (abi.name === "rust" && ptr % align !== 0) {
      throw new OracleFailure(
        "alignment",
        `${ptr} is not aligned to ${align}, from ${what}`,
        `${ptr}`,
      );
    }
    return ptr;
  };
  const forget = (ptr: number) => {
    liveBytes -= layouts.get(ptr)?.size ?? 0;
    layouts.delete(ptr);
  };
  /** `name(...args)`, for a block of `size` bytes aligned to `align`. */
  const made = (name: string, args: number[], size: number, align?: number, replaced?: number) =>
    placed(`${name}(${args.join(", ")})`, call(name, args), size, align, replaced);
  if (abi.name === "c") {
    const aligned = cAligned(abi, call, memory);
    return {
      memory,
      malloc: (size) => made("malloc", [size], size),
      free: (ptr) => {
        forget(ptr);
        call("free", [ptr]);
      },
      realloc: (ptr, size) => made("realloc", [ptr, size], size, 1, ptr),
      calloc: abi.zeroed && ((count, size) => made("calloc", [count, size], count * size)),
      aligned_alloc: aligned &&
        ((align, size) =>
          placed(`${abi.aligned}(${align}, ${size})`, aligned(align, size), size, align)),
      malloc_usable_size: abi.usableSize ? (ptr) => call("malloc_usable_size", [ptr]) : undefined,
    };
  }
  const alloc = (size: number, align: number, zeroed = false): number => {
    const bytes = Math.max(1, size);
    if (!rustLayout(bytes, align)) return 0; // Layout::from_size_align fails: no call
    return made(zeroed ? "alloc_zeroed" : "alloc", [bytes, align], bytes, align);
  };
  return {
    memory,
    malloc: (size) => alloc(size, alignment),
    free: (ptr) => {
      const layout = layouts.get(ptr)!;
      forget(ptr);
      call("dealloc", [ptr, layout.size, layout.align]);
    },
    realloc: (ptr, size) => {
      if (ptr === 0) return alloc(size, alignment);
      const { size: old, align } = layouts.get(ptr)!;
      const bytes = Math.max(1, size);
      if (!rustLayout(bytes, align)) return 0;
      return made("realloc", [ptr, old, align, bytes], bytes, align, ptr);
    },
    calloc: abi.zeroed &&
      ((count, size) => count * size > 0xFFFF_FFFF ? 0 : alloc(count * size, alignment, true)),
    aligned_alloc: (align, size) => alloc(size, Math.max(align, 1)),
  };
}

/** C's aligned allocation through whichever function the module exports, if any. */
function cAligned(abi: Abi, call: Call, memory: WebAssembly.Memory) {
  if (!abi.aligned) return undefined;
  let out = 0; // posix_memalign's result slot, a block of its own
  return (align: number, size: number): number => {
    if (abi.aligned !== "posix_memalign") return call(abi.aligned!, [align, size]);
    out ||= call("malloc", [4]);
    if (out === 0) return 0;
    const error = call("posix_memalign", [out, Math.max(align, 4), size]);
    return error === 0 ? new DataView(memory.buffer).getUint32(out, true) : 0;
  };
}

/** The same allocator for the bounded-growth run, which calls Rust's way and skips the checks. */
export function soakAllocator(abi: Abi, call: Call, memory: WebAssembly.Memory): SoakAllocator {
  if (abi.name === "rust") {
    return {
      alloc: (size, align) => call("alloc", [size, align]),
      dealloc: (ptr, size, align) => void call("dealloc", [ptr, size, align]),
      realloc: (ptr, size, align, newSize) => call("realloc", [ptr, size, align, newSize]),
      aligns: true,
      reallocKeepsAlignment: true,
    };
  }
  const aligned = cAligned(abi, call, memory);
  return {
    alloc: (size, align) => aligned && align > 16 ? aligned(align, size) : call("malloc", [size]),
    dealloc: (ptr) => void call("free", [ptr]),
    realloc: (ptr, _size, _align, newSize) => call("realloc", [ptr, newSize]),
    aligns: aligned !== undefined,
    reallocKeepsAlignment: false,
  };
}
