/**
 * The C ABI of mote's modules, the one type both the Heap and its engines use.
 *
 * @module
 */
/**
 * The C ABI of a mote module: what another wasm module built without an allocator imports.
 * Pointers are wasm `i32`s, so from JavaScript an address of 2 GiB or more reads negative;
 * `>>> 0` makes it unsigned.
 *
 * The release build checks nothing here: each function returns 0 (or, for `free`, does nothing)
 * where {@linkcode Heap} would throw. A shared heap's (`shared: true`) refuse, the same way, any
 * pointer that is not a live block, whatever the bytes in front of it say: they check the heap's
 * record of live blocks, which the shared memory holds. The checked build's functions (a heap made with
 * `checked: true`) check every pointer, guard and poisoned byte they touch and throw
 * {@linkcode HeapMisuseError} when they find misuse, through the caller's wasm frames; a request
 * that cannot be served still returns 0.
 *
 * @example Giving malloc and free to another module
 * ```ts
 * import { Heap } from "@mote/alloc";
 *
 * const heap = new Heap();
 * const imports = { env: heap.exports }; // memory, malloc, free, realloc, calloc, ...
 * ```
 */
export interface MoteExports {
  /** The memory the heap lives in. */
  readonly memory: WebAssembly.Memory;
  /** Allocates `size` bytes, 16-byte aligned; 0 when they cannot be had. */
  malloc(size: number): number;
  /**
   * Frees a block; 0 and pointers mote cannot have returned are ignored (in the checked build, a
   * pointer that is not a live block throws {@linkcode HeapMisuseError}).
   */
  free(ptr: number): void;
  /** Resizes a block, in place when it can; 0 on failure, the old block untouched. */
  realloc(ptr: number, size: number): number;
  /** Allocates `count * size` zeroed bytes; 0 on overflow or when they cannot be had. */
  calloc(count: number, size: number): number;
  /** Allocates with a power-of-two alignment up to 64 KiB; 0 for any other alignment. */
  aligned_alloc(alignment: number, size: number): number;
  /**
   * The bytes usable at `ptr`, at least what was asked for (in the checked build, exactly that);
   * 0 for a pointer not live.
   */
  malloc_usable_size(ptr: number): number;
}

/** The C functions of {@linkcode MoteExports}, unchecked: they return 0 (or nothing) on failure. */
export type CFunctions = Omit<MoteExports, "memory">;
