/**
 * The reference model: mote's allocation policy in plain TypeScript, behind the same API as
 * {@linkcode Heap}. It keeps its blocks and free lists as ordinary records and arrays, and hands
 * out addresses into a `WebAssembly.Memory` that it grows exactly as the wasm grows its own, so a
 * model and a heap given the same calls return the same pointers, the same usable sizes and the
 * same failures, and end with memories of the same size. The differential fuzzer in fuzz/ holds
 * the wasm to it; it also serves as a plain-JavaScript baseline in the benchmarks.
 *
 * @module
 */
import { ALIGN, FIRST, HEADER, MAX_ALIGN, MAX_LIMIT } from "./_layout.ts";
import { checkAlignment, checkInteger, checkSize, describe, U32_MAX } from "./_validate.ts";
import { OutOfMemoryError } from "./errors.ts";
import type { HeapOptions, MoteExports } from "./heap.ts";
import { ModelAllocator } from "./_model_allocator.ts";
import { checkPicture, type HeapBlock, type HeapStats, statsOf } from "./_picture.ts";
import { rootOf } from "./_heap_reader.ts";

/**
 * mote's policy in plain TypeScript, usable as an allocator: a drop-in for {@linkcode Heap}
 * with the same constructor options, methods, results and errors.
 *
 * Only the bookkeeping differs: a model keeps its blocks and free lists in JavaScript objects
 * rather than in the memory, so the memory holds nothing but what users write, and the model
 * knows exactly which blocks are live (any other pointer, interior ones included, throws a
 * `RangeError`). With `checked: true` it lays blocks out as the checked build does, 4 bytes
 * longer each, but catches misuse only the way every model does, by that `RangeError`.
 * Its operations take time in the length of a free list where the wasm's take O(1).
 *
 * @example The model predicts the wasm heap
 * ```ts
 * import { Heap, ModelHeap } from "@mote/alloc";
 * import assert from "node:assert/strict";
 *
 * const heap = new Heap(), model = new ModelHeap();
 * for (const size of [100, 5000, 7, 64]) {
 *   assert.equal(model.malloc(size), heap.malloc(size));
 * }
 * assert.deepEqual(model.walk(), heap.walk());
 * assert.equal(model.memory.buffer.byteLength, heap.memory.buffer.byteLength);
 * ```
 */
export class ModelHeap {
  /** The memory the model allocates in. */
  readonly memory: WebAssembly.Memory;
  /** The first byte of the heap's region in {@linkcode ModelHeap.prototype.memory}. */
  readonly base: number;
  /** Whether the model lays blocks out as the checked build does. */
  readonly checked: boolean;
  /**
   * The unchecked C ABI in JavaScript, ready to pass as another wasm module's imports: it reads
   * its arguments as unsigned 32-bit values and returns 0 on failure.
   */
  readonly exports: MoteExports;
  readonly #model: ModelAllocator;
  #limit: number;
  #u8: Uint8Array<ArrayBuffer>;
  #view: DataView<ArrayBuffer>;

  /**
   * Makes an empty model heap, in a memory of its own or in a region of a given one.
   *
   * @param options Where the heap lives and how large it may grow, as for {@linkcode Heap}.
   * @throws {RangeError} When `base` or `limit` is out of range or the region is too small to
   * hold the heap's bookkeeping.
   * @throws {TypeError} When `memory` is given without `base`, or is not a memory.
   *
   * @example A model over the region above another module's data
   * ```ts
   * import { ModelHeap } from "@mote/alloc";
   *
   * const memory = new WebAssembly.Memory({ initial: 1 });
   * const heap = new ModelHeap({ memory, base: 1024, limit: 1 << 20 });
   * ```
   */
  constructor(options: HeapOptions = {}) {
    const { memory, base, limit, checked = false } = options;
    if (memory === undefined) {
      if (base !== undefined) {
        throw new TypeError(
          `A heap with its own memory starts at 0; base applies only with memory`,
        );
      }
      this.memory = new WebAssembly.Memory({ initial: 0, maximum: 65536 });
      this.base = 0;
    } else {
      if (!(memory instanceof WebAssembly.Memory)) {
        throw new TypeError(`Memory must be a WebAssembly.Memory, got ${describe(memory)}`);
      }
      if (base === undefined) {
        throw new TypeError(
          "A heap over a given memory needs base, the first byte of its region " +
            "(such as the module's __heap_base)",
        );
      }
      this.memory = memory;
      this.base = checkInteger(base, "Base", 0, MAX_LIMIT - FIRST - HEADER - ALIGN);
    }
    this.checked = checked;
    this.#model = new ModelAllocator(this.memory, checked);
    const model = this.#model;
    this.exports = {
      memory: this.memory,
      malloc: (size) => model.malloc(size >>> 0),
      free: (ptr) => model.free(ptr >>> 0),
      realloc: (ptr, size) => model.realloc(ptr >>> 0, size >>> 0),
      calloc: (count, size) => model.calloc(count >>> 0, size >>> 0),
      aligned_alloc: (alignment, size) => model.aligned_alloc(alignment >>> 0, size >>> 0),
      malloc_usable_size: (ptr) => model.malloc_usable_size(ptr >>> 0),
    };
    this.#limit = limit === undefined ? MAX_LIMIT - this.base : this.#checkLimit(limit, 0);
    try {
      // fails when the memory declares no maximum or the engine cannot: views are then refreshed
      (this.memory as { toResizableBuffer?: () => ArrayBuffer }).toResizableBuffer?.();
    } catch { /* refreshed views it is */ }
    this.#u8 = new Uint8Array(this.#buffer);
    this.#view = new DataView(this.#buffer);
    this.#init();
  }

  /**
   * The most bytes the heap may span from {@linkcode ModelHeap.prototype.base}, as
   * {@linkcode Heap.prototype.limit}: raise it at any time, lower it down to the span.
   *
   * @example
   * ```ts
   * import { ModelHeap, OutOfMemoryError } from "@mote/alloc";
   * import assert from "node:assert/strict";
   *
   * const heap = new ModelHeap({ limit: 64 * 1024 });
   * assert.throws(() => heap.malloc(100_000), OutOfMemoryError);
   * heap.limit = 1 << 20;
   * heap.malloc(100_000);
   * ```
   */
  get limit(): number {
    return this.#limit;
  }

  set limit(bytes: number) {
    this.#limit = this.#checkLimit(bytes, this.span);
    this.#model.limit = Math.floor(this.#limitEnd() / ALIGN) * ALIGN;
  }

  /**
   * The bytes the heap spans now, from its base to the end of the memory it has grown into (or
   * its limit).
   *
   * @example
   * ```ts
   * import { ModelHeap } from "@mote/alloc";
   * import assert from "node:assert/strict";
   *
   * const heap = new ModelHeap();
   * heap.malloc(100_000);
   * assert.ok(heap.span > 100_000);
   * ```
   */
  get span(): number {
    return Math.min(this.memory.buffer.byteLength, this.#limitEnd()) - this.base;
  }

  /**
   * Whether views from `u8`, `view` and `bytes()` stay valid when the memory grows, as for
   * {@linkcode Heap.prototype.viewsFollowGrowth}.
   *
   * @example
   * ```ts
   * import { ModelHeap } from "@mote/alloc";
   *
   * const heap = new ModelHeap();
   * if (!heap.viewsFollowGrowth) console.log("read heap.u8 again after allocating");
   * ```
   */
  get viewsFollowGrowth(): boolean {
    return (this.memory.buffer as { resizable?: boolean }).resizable === true;
  }

  /**
   * Allocates `size` bytes, 16-byte aligned, as {@linkcode Heap.prototype.malloc}.
   *
   * @param size How many bytes, an integer from 0 to 2^32 - 1.
   * @returns The address of the first byte.
   * @throws {OutOfMemoryError} When no free block fits and the heap cannot grow enough.
   *
   * @example
   * ```ts
   * import { ModelHeap } from "@mote/alloc";
   * import assert from "node:assert/strict";
   *
   * const heap = new ModelHeap();
   * assert.equal(heap.malloc(24) % 16, 0);
   * ```
   */
  malloc(size: number): number {
    checkSize(size);
    return this.#served("malloc", size, this.#model.malloc(size));
  }

  /**
   * Allocates `count * size` bytes, all zero, as {@linkcode Heap.prototype.calloc}.
   *
   * @param count How many elements.
   * @param size The bytes of each.
   * @returns The address of the first byte.
   * @throws {RangeError} When `count * size` does not fit in 32 bits.
   * @throws {OutOfMemoryError} When no free block fits and the heap cannot grow enough.
   *
   * @example
   * ```ts
   * import { ModelHeap } from "@mote/alloc";
   * import assert from "node:assert/strict";
   *
   * const heap = new ModelHeap();
   * const ptr = heap.calloc(4, 8);
   * assert.deepEqual([...heap.bytes(ptr, 32)], new Array(32).fill(0));
   * ```
   */
  calloc(count: number, size: number): number {
    checkSize(count, "Count");
    checkSize(size);
    if (count * size > U32_MAX) {
      throw new RangeError(
        `Count times size must fit in 32 bits, got ${count} * ${size} = ${count * size}`,
      );
    }
    return this.#served("calloc", count * size, this.#model.calloc(count, size));
  }

  /**
   * Resizes a block, keeping its contents up to the smaller size, in place when it can, as
   * {@linkcode Heap.prototype.realloc}.
   *
   * @param ptr A live block of this heap, or 0.
   * @param size The new size in bytes.
   * @returns The block's address, which may have changed; the old one is then freed.
   * @throws {RangeError} When `ptr` is not a live block of this heap.
   * @throws {OutOfMemoryError} When the block cannot grow; it is then unchanged and still live.
   *
   * @example
   * ```ts
   * import { ModelHeap } from "@mote/alloc";
   * import assert from "node:assert/strict";
   *
   * const heap = new ModelHeap();
   * let ptr = heap.malloc(2);
   * heap.bytes(ptr, 2).set([1, 2]);
   * ptr = heap.realloc(ptr, 1000);
   * assert.deepEqual([...heap.bytes(ptr, 2)], [1, 2]);
   * ```
   */
  realloc(ptr: number, size: number): number {
    checkInteger(ptr, "Pointer", 0, U32_MAX);
    if (ptr !== 0) this.#checkLive(ptr, "realloc");
    checkSize(size);
    return this.#served("realloc", size, this.#model.realloc(ptr, size));
  }

  /**
   * Allocates `size` bytes at a multiple of `alignment`, as
   * {@linkcode Heap.prototype.alignedAlloc}.
   *
   * @param alignment A power of two from 1 to 65536.
   * @param size How many bytes.
   * @returns The address of the first byte.
   * @throws {RangeError} When `alignment` is not a power of two from 1 to 65536.
   * @throws {OutOfMemoryError} When no free block fits and the heap cannot grow enough.
   *
   * @example
   * ```ts
   * import { ModelHeap } from "@mote/alloc";
   * import assert from "node:assert/strict";
   *
   * const heap = new ModelHeap();
   * assert.equal(heap.alignedAlloc(4096, 100) % 4096, 0);
   * ```
   */
  alignedAlloc(alignment: number, size: number): number {
    checkAlignment(alignment, MAX_ALIGN);
    checkSize(size);
    return this.#served("alignedAlloc", size, this.#model.aligned_alloc(alignment, size));
  }

  /**
   * Frees a block, as {@linkcode Heap.prototype.free}. `free(0)` does nothing.
   *
   * @param ptr A live block of this heap, or 0.
   * @throws {RangeError} When `ptr` is not a live block of this heap: freed already, misaligned,
   * inside a block, or outside the heap.
   *
   * @example
   * ```ts
   * import { ModelHeap } from "@mote/alloc";
   * import assert from "node:assert/strict";
   *
   * const heap = new ModelHeap();
   * const ptr = heap.malloc(10);
   * heap.free(ptr);
   * assert.throws(() => heap.free(ptr), RangeError);
   * ```
   */
  free(ptr: number): void {
    checkInteger(ptr, "Pointer", 0, U32_MAX);
    if (ptr === 0) return;
    this.#checkLive(ptr, "free");
    this.#model.free(ptr);
  }

  /**
   * The bytes usable at a block, as {@linkcode Heap.prototype.usableSize}.
   *
   * @param ptr A live block of this heap.
   * @returns The usable size in bytes.
   * @throws {RangeError} When `ptr` is not a live block of this heap.
   *
   * @example
   * ```ts
   * import { ModelHeap } from "@mote/alloc";
   * import assert from "node:assert/strict";
   *
   * const heap = new ModelHeap();
   * assert.equal(heap.usableSize(heap.malloc(1)), 12);
   * ```
   */
  usableSize(ptr: number): number {
    checkInteger(ptr, "Pointer", 0, U32_MAX);
    return this.#checkLive(ptr, "usableSize");
  }

  /**
   * Frees every block at once, keeping the memory, as {@linkcode Heap.prototype.reset}.
   *
   * @example
   * ```ts
   * import { ModelHeap } from "@mote/alloc";
   * import assert from "node:assert/strict";
   *
   * const heap = new ModelHeap();
   * const first = heap.malloc(100);
   * heap.malloc(200);
   * heap.reset();
   * assert.equal(heap.malloc(100), first);
   * ```
   */
  reset(): void {
    this.#init();
  }

  /**
   * Every block in address order, as {@linkcode Heap.prototype.walk} reads them from a wasm
   * heap.
   *
   * @returns The blocks, from the lowest address up.
   *
   * @example
   * ```ts
   * import { ModelHeap } from "@mote/alloc";
   * import assert from "node:assert/strict";
   *
   * const heap = new ModelHeap();
   * const ptr = heap.malloc(100);
   * heap.malloc(100);
   * heap.free(ptr);
   * assert.deepEqual(heap.walk().map((block) => block.free), [true, false]);
   * ```
   */
  walk(): HeapBlock[] {
    return [...this.#model.picture().blocks];
  }

  /**
   * What the heap holds, counted as {@linkcode Heap.prototype.stats} counts it.
   *
   * @returns The counts; see {@linkcode HeapStats}.
   *
   * @example
   * ```ts
   * import { ModelHeap } from "@mote/alloc";
   * import assert from "node:assert/strict";
   *
   * const heap = new ModelHeap();
   * heap.malloc(100);
   * assert.equal(heap.stats().usedBytes, 112);
   * ```
   */
  stats(): HeapStats {
    return statsOf(this.#model.picture(), this.base);
  }

  /**
   * Checks the model's own records against the rules every heap obeys (see
   * {@linkcode Heap.prototype.check}); a model has no bytes of bookkeeping to damage.
   *
   * @returns What is wrong, one sentence each; empty when nothing is.
   *
   * @example
   * ```ts
   * import { ModelHeap } from "@mote/alloc";
   * import assert from "node:assert/strict";
   *
   * const heap = new ModelHeap();
   * heap.free(heap.malloc(100));
   * assert.deepEqual(heap.check(), []);
   * ```
   */
  check(): string[] {
    return checkPicture(this.#model.picture());
  }

  /**
   * A byte view of the whole memory, valid now (see {@linkcode Heap.prototype.u8}).
   *
   * @example
   * ```ts
   * import { ModelHeap } from "@mote/alloc";
   *
   * const heap = new ModelHeap();
   * const ptr = heap.malloc(4);
   * heap.u8[ptr] = 42;
   * ```
   */
  get u8(): Uint8Array<ArrayBuffer> {
    if (this.#u8.buffer !== this.#buffer) this.#u8 = new Uint8Array(this.#buffer);
    return this.#u8;
  }

  /**
   * A `DataView` of the whole memory, valid now; little-endian like WebAssembly.
   *
   * @example
   * ```ts
   * import { ModelHeap } from "@mote/alloc";
   *
   * const heap = new ModelHeap();
   * heap.view.setFloat64(heap.malloc(8), Math.PI, true);
   * ```
   */
  get view(): DataView<ArrayBuffer> {
    if (this.#view.buffer !== this.#buffer) this.#view = new DataView(this.#buffer);
    return this.#view;
  }

  /**
   * A byte view of a live block: its first `length` bytes, or all its usable bytes.
   *
   * @param ptr A live block of this heap.
   * @param length How many bytes, at most the block's usable size.
   * @returns A view of the block's bytes.
   * @throws {RangeError} When `ptr` is not a live block or `length` exceeds its usable size.
   *
   * @example
   * ```ts
   * import { ModelHeap } from "@mote/alloc";
   *
   * const heap = new ModelHeap();
   * heap.bytes(heap.malloc(3), 3).set([1, 2, 3]);
   * ```
   */
  bytes(ptr: number, length?: number): Uint8Array<ArrayBuffer> {
    checkInteger(ptr, "Pointer", 0, U32_MAX);
    const usable = this.#checkLive(ptr, "bytes");
    const bytes = length === undefined ? usable : checkInteger(length, "Length", 0, usable);
    return new Uint8Array(this.#buffer, ptr, bytes);
  }

  get #buffer(): ArrayBuffer {
    return this.memory.buffer as ArrayBuffer;
  }

  #init(): void {
    if (!this.#model.init(this.base, this.#limitEnd())) {
      throw new RangeError(
        `The heap at ${this.base} with limit ${this.#limit} cannot hold its bookkeeping: ` +
          `raise the limit or give a memory that can grow`,
      );
    }
  }

  #limitEnd(): number {
    return Math.min(this.base + this.#limit, MAX_LIMIT);
  }

  #checkLimit(bytes: unknown, min: number): number {
    const least = Math.max(min, rootOf(this.base) - this.base + FIRST + HEADER);
    return checkInteger(bytes, "Limit", least, MAX_LIMIT - this.base);
  }

  #checkLive(ptr: number, operation: string): number {
    const usable = this.#model.malloc_usable_size(ptr);
    if (usable === 0) {
      throw new RangeError(
        `${operation} was given pointer ${ptr}, which is not a live block of this heap ` +
          `(freed already, misaligned, or outside the heap)`,
      );
    }
    return usable;
  }

  #served(operation: string, size: number, ptr: number): number {
    if (ptr === 0) throw new OutOfMemoryError(operation, size, this.#limit);
    return ptr;
  }
}
