/**
 * The `Heap`: mote's wasm allocator behind a checked JavaScript API.
 *
 * @module
 */
import { ALIGN, FIRST, HEADER, MAX_ALIGN, MAX_LIMIT, MIN_BLOCK } from "./_layout.ts";
import {
  aModule,
  checkAlignment,
  checkBoolean,
  checkInteger,
  checkOptions,
  checkSize,
  describe,
  isSize,
  U32_MAX,
} from "./_validate.ts";
import { HeapMisuseError, OutOfMemoryError } from "./errors.ts";
import { type Engine, type EngineFactory, wasmEngine } from "./_engine.ts";
import { type HeapBlock, type HeapStats, statsOf } from "./_picture.ts";
import type { MoteExports } from "./c_abi.ts";
import { FREED, LIVE, NOT_A_BLOCK, type Verdict } from "./_verdict.ts";
import {
  isShared,
  NOT_CHECKED,
  sharedEngine,
  type SharedHeap,
  type Sharing,
  type StoppedWorker,
  unproven,
} from "./_shared_engine.ts";

export type { SharedHeap, StoppedWorker } from "./_shared_engine.ts";

export type { MoteExports } from "./c_abi.ts";

/**
 * How to make a {@linkcode Heap}.
 *
 * @example A heap of at most 1 MiB in its own memory
 * ```ts
 * import { Heap, type HeapOptions } from "@mote/alloc";
 *
 * const options: HeapOptions = { limit: 1 << 20 };
 * const heap = new Heap(options);
 * ```
 */
export interface HeapOptions {
  /**
   * Manage a region of this memory instead of a memory of the heap's own: the memory of another
   * wasm module, say, whose static data lies below `base`.
   */
  memory?: WebAssembly.Memory;
  /**
   * Where the heap's region starts in `memory`: its first byte, such as the other module's
   * `__heap_base`. Required with `memory`; a heap with its own memory starts at 0.
   */
  base?: number;
  /**
   * The most bytes the heap may span, from `base`, bookkeeping included. Allocations that would
   * need more fail with {@linkcode OutOfMemoryError}. Defaults to all that wasm32 allows.
   */
  limit?: number;
  /**
   * Use the checked build: it catches double frees, pointers it never returned (interior,
   * misaligned, outside, into freed memory), writes of even one byte past the size asked for (a
   * guard word after each block, and the bytes between the size and the guard filled with a known
   * value: a byte-exact red zone; the usable size is then the size asked for) and writes to freed
   * memory (poison, verified when the memory is reused), and throws
   * {@linkcode HeapMisuseError} at the call that finds them, leaving the heap as it was. Each block
   * costs 4 bytes more and each operation more time (see docs/bad-input.md).
   */
  checked?: boolean;
  /**
   * Make a heap that several threads use at once: its memory is shared (a new one, or the given
   * `memory`, which must then be shared), each call runs under a lock in that memory, and
   * {@linkcode Heap.prototype.share} gives what a worker passes to {@linkcode Heap.attach}.
   * The release build only: not with `checked`. Bad pointers are refused as in an unshared heap,
   * through `exports` too: a record of live blocks in the shared memory, kept under the lock,
   * says which pointers are blocks. See docs/shared-heap.md.
   */
  shared?: boolean;
}

/** Set by {@linkcode Heap.attach} while it makes a heap over one that exists already. */
let attaching: SharedHeap | undefined;

/** The engine each kind of heap runs on: mote's wasm, unless a subclass says otherwise. */
const engines = new WeakMap<abstract new (options?: HeapOptions) => Heap, EngineFactory>();

/** Makes `kind` (a subclass of Heap, such as ModelHeap) run on engines from `factory`. */
export function runOn(
  kind: abstract new (options?: HeapOptions) => Heap,
  factory: EngineFactory,
): void {
  engines.set(kind, factory);
}

/**
 * A heap: mote's O(1) allocator over a WebAssembly memory, with every argument checked.
 *
 * Sizes, pointers and alignments must be integers in range and pointers must be live blocks of
 * this heap, or the call throws a `TypeError` or `RangeError` naming the bad value, and nothing
 * changes. An allocation that cannot be served throws {@linkcode OutOfMemoryError} and changes
 * nothing either: after a failed `realloc` the old block is still live and intact.
 *
 * Growing a WebAssembly memory detaches its old `ArrayBuffer`. A heap that owns its memory makes
 * it a resizable buffer where the engine has `WebAssembly.Memory.prototype.toResizableBuffer`
 * (Deno, Chromium): the views it hands out (`u8`, `view`, `bytes()`) then stay valid however the
 * memory grows, and {@linkcode Heap.prototype.viewsFollowGrowth} is true. A heap over a given
 * memory leaves that memory as it is, since switching it would detach its owner's views; there,
 * and on engines without resizable wasm buffers (Node 20), `u8` and `view` are made again after
 * growth, and a view kept across a call that allocates may be detached: read them again after
 * such calls. Browsers' `TextDecoder`, `crypto.getRandomValues` and `Blob` refuse views of a
 * resizable buffer: give them a copy, `heap.bytes(ptr, n).slice()`.
 *
 * @example Allocate, write, read, free
 * ```ts
 * import { Heap } from "@mote/alloc";
 * import assert from "node:assert/strict";
 *
 * const heap = new Heap();
 * const ptr = heap.malloc(5);
 * heap.bytes(ptr, 5).set([104, 101, 108, 108, 111]);
 * assert.equal(new TextDecoder().decode(heap.bytes(ptr, 5).slice()), "hello");
 * heap.free(ptr);
 * ```
 */
export class Heap {
  /** The memory the heap lives in. */
  readonly memory: WebAssembly.Memory;
  /** The first byte of the heap's region in {@linkcode Heap.prototype.memory}. */
  readonly base: number;
  /**
   * The raw C ABI, ready to pass as another module's imports. In the release build it checks no
   * argument and reports failure by returning 0 (a shared heap's also refuses every pointer that
   * is not a live block, by returning 0 or, for `free`, doing nothing); in a checked heap its
   * functions also throw {@linkcode HeapMisuseError} when they find misuse (see
   * {@linkcode MoteExports}).
   */
  readonly exports: MoteExports;
  /** Whether this heap runs the checked build. */
  readonly checked: boolean;
  /** Whether this heap is shared by threads (see {@linkcode HeapOptions.shared}). */
  readonly shared: boolean;
  readonly #engine: Engine;
  readonly #sharing: (Engine & { sharing: Sharing; module: WebAssembly.Module }) | undefined;
  #limit: number;
  /** The call in progress, for the checked build's reports. */
  #operation = "";
  #u8: Uint8Array<ArrayBuffer>;
  #view: DataView<ArrayBuffer>;

  /**
   * Makes an empty heap, in a memory of its own or in a region of a given one.
   *
   * @param options Where the heap lives and how large it may grow.
   * @throws {RangeError} When `base` or `limit` is out of range, or the limit leaves no room for
   * the heap's bookkeeping and a single block.
   * @throws {TypeError} When `options` is not an object, `memory` is not a memory or is given
   * without `base`, `checked` is not a boolean, or `base` or `limit` is not a number.
   *
   * @example A heap over the region above another module's data
   * ```ts
   * import { Heap } from "@mote/alloc";
   *
   * const memory = new WebAssembly.Memory({ initial: 1 });
   * const heap = new Heap({ memory, base: 1024, limit: 1 << 20 });
   * ```
   */
  constructor(options: HeapOptions = {}) {
    const { memory, base, limit, checked = false, shared = false } = checkOptions<HeapOptions>(
      options,
      "Options",
    );
    this.checked = checkBoolean(checked, "Checked");
    this.shared = checkBoolean(shared, "Shared");
    if (shared && checked) {
      throw new TypeError(NOT_CHECKED);
    }
    if (shared && engines.has(new.target)) {
      throw new TypeError(`A ${new.target.name} cannot be shared: only a Heap can`);
    }
    if (memory === undefined) {
      if (base !== undefined) {
        throw new TypeError(
          `A heap with its own memory starts at 0; base applies only with memory`,
        );
      }
      this.base = 0;
    } else {
      if (!(memory instanceof WebAssembly.Memory)) {
        throw new TypeError(`Memory must be a WebAssembly.Memory, got ${describe(memory)}`);
      }
      if (isShared(memory) !== shared) {
        throw new TypeError(
          shared
            ? "Memory must be shared (made with shared: true) for a shared heap"
            : "Memory is shared: pass shared: true for a heap that threads use at once",
        );
      }
      if (base === undefined) {
        throw new TypeError(
          "A heap over a given memory needs base, the first byte of its region " +
            "(such as the module's __heap_base)",
        );
      }
      this.base = checkInteger(base, "Base", 0, MAX_LIMIT - FIRST - HEADER - ALIGN);
    }
    const factory = engines.get(new.target) ?? wasmEngine;
    this.#sharing = shared
      ? sharedEngine(
        memory,
        this.base,
        attaching !== undefined,
        attaching?.module,
        attaching?.threads,
      )
      : undefined;
    this.#engine = this.#sharing ?? factory(memory, checked, {
      enter: (operation) => this.#operation = operation,
      report: (code, address) => {
        throw new HeapMisuseError(code, address >>> 0, this.#operation);
      },
    });
    this.memory = this.#engine.memory;
    this.exports = this.#engine.exports;
    this.#limit = limit === undefined ? MAX_LIMIT - this.base : this.#checkLimit(limit, 0);
    if (attaching !== undefined) this.#limit = this.#sharing!.sharing.limitEnd() - this.base;
    if (memory === undefined && !shared) {
      // its own memory declares a maximum, which toResizableBuffer requires; an engine without
      // it refreshes the views instead
      (this.memory as { toResizableBuffer?: () => ArrayBuffer }).toResizableBuffer?.();
    }
    this.#u8 = new Uint8Array(this.#buffer);
    this.#view = new DataView(this.#buffer);
    if (attaching === undefined) this.#init();
  }

  /**
   * The most bytes the heap may span from {@linkcode Heap.prototype.base}, at least enough for
   * its bookkeeping and one block. It can be raised at any time, and lowered down to the end of
   * its highest block (with the header after it), even below the size its memory has grown to:
   * the heap then carves no memory above the new limit. Memory above the limit (and below the
   * memory's end) is the owner's to write, whichever way it got there: a limit set anew takes it
   * back as memory not known to be zero, which calloc clears.
   *
   * @throws {TypeError} When set to something other than a number.
   * @throws {RangeError} When set below what the heap needs or above what wasm32 allows.
   *
   * @example Raising the limit when a heap fills up
   * ```ts
   * import { Heap, OutOfMemoryError } from "@mote/alloc";
   * import assert from "node:assert/strict";
   *
   * const heap = new Heap({ limit: 64 * 1024 });
   * assert.throws(() => heap.malloc(100_000), OutOfMemoryError);
   * heap.limit = 1 << 20;
   * heap.malloc(100_000);
   * ```
   */
  get limit(): number {
    // a shared heap's limit is the one any thread set last: this one's, unless another's since
    const limitEnd = this.#sharing?.sharing.limitEnd();
    if (limitEnd !== undefined && limitEnd !== (this.#limitEnd() & ~(ALIGN - 1))) {
      return limitEnd - this.base;
    }
    return this.#limit;
  }

  set limit(bytes: number) {
    // down to the top of its blocks and the header after them, whatever the memory's size; a
    // shared heap's top moves under other threads, so its least limit is what it spans now, and
    // its engine may refuse even that (another thread grew the heap): then nothing changes
    const least = this.shared
      ? this.span
      : this.#engine.read(this.base, 0).picture.top + HEADER - this.base;
    const limit = this.#checkLimit(bytes, least);
    // unsigned: a limit's end reaches 2^32
    this.#engine.setLimit((Math.min(this.base + limit, MAX_LIMIT) & ~(ALIGN - 1)) >>> 0);
    this.#limit = limit;
  }

  /**
   * The bytes the heap spans now, from {@linkcode Heap.prototype.base} to the end of the memory
   * it has grown into (or its limit): free, used and bookkeeping alike.
   *
   * @example
   * ```ts
   * import { Heap } from "@mote/alloc";
   * import assert from "node:assert/strict";
   *
   * const heap = new Heap();
   * heap.malloc(100_000);
   * assert.ok(heap.span > 100_000);
   * ```
   */
  get span(): number {
    return Math.min(this.memory.buffer.byteLength, this.#limitEnd()) - this.base;
  }

  /**
   * Whether views from `u8`, `view` and `bytes()` stay valid when the memory grows (see the
   * class's description); when false, read them again after any call that may allocate.
   *
   * @example
   * ```ts
   * import { Heap } from "@mote/alloc";
   *
   * const heap = new Heap();
   * const bytes = heap.u8;
   * heap.malloc(1 << 20); // grows the memory
   * if (!heap.viewsFollowGrowth) console.log("read heap.u8 again");
   * ```
   */
  get viewsFollowGrowth(): boolean {
    return (this.memory.buffer as { resizable?: boolean }).resizable === true;
  }

  /**
   * Allocates `size` bytes, 16-byte aligned. `malloc(0)` returns a unique pointer that can be
   * freed. The bytes hold whatever was there before; see {@linkcode Heap.prototype.calloc}.
   *
   * @param size How many bytes, an integer from 0 to 2^32 - 1.
   * @returns The address of the first byte.
   * @throws {TypeError} When an argument is not a number.
   * @throws {RangeError} When `size` is not an integer from 0 to 2^32 - 1.
   * @throws {OutOfMemoryError} When no free block fits and the heap cannot grow enough.
   * @throws {HeapMisuseError} In a checked heap, when the call finds earlier misuse (see
   * {@linkcode HeapOptions.checked}).
   *
   * @example
   * ```ts
   * import { Heap } from "@mote/alloc";
   * import assert from "node:assert/strict";
   *
   * const heap = new Heap();
   * const ptr = heap.malloc(24);
   * assert.equal(ptr % 16, 0);
   * ```
   */
  malloc(size: number): number {
    checkSize(size);
    this.#operation = "malloc";
    return this.#served("malloc", size, this.#engine.malloc(size));
  }

  /**
   * Allocates `count * size` bytes, all zero. Memory that came fresh from the engine is known to
   * be zero and is not cleared again.
   *
   * @param count How many elements.
   * @param size The bytes of each.
   * @returns The address of the first byte.
   * @throws {TypeError} When an argument is not a number.
   * @throws {RangeError} When `count` or `size` is not an integer from 0 to 2^32 - 1, or
   * `count * size` does not fit in 32 bits.
   * @throws {OutOfMemoryError} When no free block fits and the heap cannot grow enough.
   * @throws {HeapMisuseError} In a checked heap, when the call finds earlier misuse (see
   * {@linkcode HeapOptions.checked}).
   *
   * @example
   * ```ts
   * import { Heap } from "@mote/alloc";
   * import assert from "node:assert/strict";
   *
   * const heap = new Heap();
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
    this.#operation = "calloc";
    return this.#served("calloc", count * size, this.#engine.calloc(count, size));
  }

  /**
   * Resizes a block to `size` bytes, keeping its contents up to the smaller of the two sizes.
   * It stays in place when it can: shrinking, growing into a free neighbour, or growing at the
   * top of the heap. `realloc(0, size)` is `malloc(size)`; `realloc(ptr, 0)` shrinks the block
   * to the smallest there is and returns it.
   *
   * @param ptr A live block of this heap, or 0.
   * @param size The new size in bytes.
   * @returns The block's address, which may have changed; the old one is then freed.
   * @throws {TypeError} When an argument is not a number.
   * @throws {RangeError} When `ptr` is not a live block of this heap, or `size` is out of range.
   * @throws {OutOfMemoryError} When the block cannot grow; it is then unchanged and still live.
   * @throws {HeapMisuseError} In a checked heap, when the call finds earlier misuse (see
   * {@linkcode HeapOptions.checked}).
   *
   * @example
   * ```ts
   * import { Heap } from "@mote/alloc";
   * import assert from "node:assert/strict";
   *
   * const heap = new Heap();
   * let ptr = heap.malloc(2);
   * heap.bytes(ptr, 2).set([1, 2]);
   * ptr = heap.realloc(ptr, 1000);
   * assert.deepEqual([...heap.bytes(ptr, 2)], [1, 2]);
   * ```
   */
  realloc(ptr: number, size: number): number {
    checkSize(ptr, "Pointer");
    if (!isSize(size)) {
      if (ptr !== 0) this.#checkLive(ptr, "realloc"); // a bad pointer is named before a size
      checkSize(size);
    }
    this.#operation = "realloc";
    const moved = this.#engine.realloc(ptr, size);
    if (moved === FREED || moved === NOT_A_BLOCK) this.#refuse(ptr, "realloc", moved);
    return this.#served("realloc", size, moved);
  }

  /**
   * Allocates `size` bytes at an address that is a multiple of `alignment`. The padding in front
   * is freed for other allocations to use, not wasted.
   *
   * @param alignment A power of two from 1 to 65536.
   * @param size How many bytes.
   * @returns The address of the first byte.
   * @throws {TypeError} When an argument is not a number.
   * @throws {RangeError} When `alignment` is not a power of two from 1 to 65536, or `size` is
   * out of range.
   * @throws {OutOfMemoryError} When no free block fits and the heap cannot grow enough.
   * @throws {HeapMisuseError} In a checked heap, when the call finds earlier misuse (see
   * {@linkcode HeapOptions.checked}).
   *
   * @example
   * ```ts
   * import { Heap } from "@mote/alloc";
   * import assert from "node:assert/strict";
   *
   * const heap = new Heap();
   * assert.equal(heap.alignedAlloc(4096, 100) % 4096, 0);
   * ```
   */
  alignedAlloc(alignment: number, size: number): number {
    checkAlignment(alignment, MAX_ALIGN);
    checkSize(size);
    this.#operation = "alignedAlloc";
    return this.#served("alignedAlloc", size, this.#engine.alignedAlloc(alignment, size));
  }

  /**
   * Frees a block. `free(0)` does nothing.
   *
   * @param ptr A live block of this heap, or 0.
   * @throws {TypeError} When an argument is not a number.
   * @throws {RangeError} When `ptr` is not a live block of this heap, whatever the bytes in
   * memory say: freed already, from before a `reset()`, misaligned, inside a block or outside
   * the heap.
   * @throws {HeapMisuseError} In a checked heap, for the same pointers (a `RangeError` naming the
   * kind), and when the call finds earlier misuse (see {@linkcode HeapOptions.checked}).
   *
   * @example
   * ```ts
   * import { Heap } from "@mote/alloc";
   * import assert from "node:assert/strict";
   *
   * const heap = new Heap();
   * const ptr = heap.malloc(10);
   * heap.free(ptr);
   * assert.throws(() => heap.free(ptr), RangeError); // a double free is refused
   * ```
   */
  free(ptr: number): void {
    checkSize(ptr, "Pointer");
    if (ptr === 0) return;
    this.#operation = "free";
    const verdict = this.#engine.free(ptr);
    if (verdict !== LIVE) this.#refuse(ptr, "free", verdict);
  }

  /**
   * The bytes usable at a block: at least what was asked for, and all of them may be written.
   *
   * @param ptr A live block of this heap.
   * @returns The usable size in bytes.
   * @throws {TypeError} When an argument is not a number.
   * @throws {RangeError} When `ptr` is not a live block of this heap.
   * @throws {HeapMisuseError} In a checked heap, when the call finds earlier misuse (see
   * {@linkcode HeapOptions.checked}).
   *
   * @example
   * ```ts
   * import { Heap } from "@mote/alloc";
   * import assert from "node:assert/strict";
   *
   * const heap = new Heap();
   * assert.equal(heap.usableSize(heap.malloc(1)), 12);
   * ```
   */
  usableSize(ptr: number): number {
    checkSize(ptr, "Pointer");
    return this.#usable(ptr, "usableSize");
  }

  /**
   * Frees every block at once, leaving the heap as it was when made but keeping the memory it
   * has grown into: the arena pattern, for per-frame or per-request scratch memory.
   * Every pointer handed out before is invalid afterwards.
   *
   * @example
   * ```ts
   * import { Heap } from "@mote/alloc";
   * import assert from "node:assert/strict";
   *
   * const heap = new Heap();
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
   * Every block of the heap in address order, read from its memory: where each starts, its
   * size and whether it is free. The top region above the last block is not a block; see
   * {@linkcode Heap.prototype.stats}.
   *
   * @returns The blocks, from the lowest address up.
   *
   * @example
   * ```ts
   * import { Heap } from "@mote/alloc";
   * import assert from "node:assert/strict";
   *
   * const heap = new Heap();
   * const ptr = heap.malloc(100);
   * heap.malloc(100);
   * heap.free(ptr);
   * assert.deepEqual(heap.walk().map((block) => block.free), [true, false]);
   * ```
   */
  walk(): HeapBlock[] {
    return [...this.#engine.read(this.base, 0).picture.blocks];
  }

  /**
   * What the heap holds: bytes and blocks in use and free, the top region, the largest free
   * block and how fragmented the free memory is. It walks the blocks: O(n) in their number.
   *
   * @returns The counts; see {@linkcode HeapStats}.
   *
   * @example
   * ```ts
   * import { Heap } from "@mote/alloc";
   * import assert from "node:assert/strict";
   *
   * const heap = new Heap();
   * heap.malloc(100);
   * const stats = heap.stats();
   * assert.equal(stats.usedBlocks, 1);
   * assert.equal(stats.usedBytes, 112);
   * ```
   */
  stats(): HeapStats {
    return statsOf(this.#engine.read(this.base, 0).picture, this.base);
  }

  /**
   * Checks the heap's bookkeeping in memory: headers and their tags, the back words of free
   * blocks, no two free blocks side by side, every free block in the list of its size class
   * and the lists' links. A wild write into the heap shows up here. A checked heap also reads
   * every used block's guard (a write past its end) and the poison of all freed memory (a write
   * after free), so this is O(n) in the bytes of free memory too.
   *
   * @returns What is wrong, one sentence each; empty when the heap is intact.
   *
   * @example
   * ```ts
   * import { Heap } from "@mote/alloc";
   * import assert from "node:assert/strict";
   *
   * const heap = new Heap();
   * const ptr = heap.malloc(100);
   * heap.malloc(100);
   * assert.deepEqual(heap.check(), []);
   * heap.view.setUint32(ptr + 108, 0, true); // past the end: the next block's header
   * assert.notDeepEqual(heap.check(), []);
   * ```
   */
  check(): string[] {
    return this.#engine.read(this.base).problems;
  }

  /**
   * A byte view of the whole memory, valid now (see the class's description on growth).
   *
   * @example
   * ```ts
   * import { Heap } from "@mote/alloc";
   *
   * const heap = new Heap();
   * const ptr = heap.malloc(4);
   * heap.u8[ptr] = 42;
   * ```
   */
  get u8(): Uint8Array<ArrayBuffer> {
    if (this.#u8.buffer !== this.#buffer) this.#u8 = new Uint8Array(this.#buffer);
    return this.#u8;
  }

  /**
   * A `DataView` of the whole memory, valid now (see the class's description on growth).
   * WebAssembly is little-endian: pass `true` as the last argument of its getters and setters.
   *
   * @example
   * ```ts
   * import { Heap } from "@mote/alloc";
   *
   * const heap = new Heap();
   * const ptr = heap.malloc(8);
   * heap.view.setFloat64(ptr, Math.PI, true);
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
   * @throws {TypeError} When an argument is not a number.
   * @throws {RangeError} When `ptr` is not a live block or `length` exceeds its usable size.
   * @throws {HeapMisuseError} In a checked heap, when the call finds earlier misuse (see
   * {@linkcode HeapOptions.checked}).
   *
   * @example
   * ```ts
   * import { Heap } from "@mote/alloc";
   *
   * const heap = new Heap();
   * const ptr = heap.malloc(3);
   * heap.bytes(ptr, 3).set([1, 2, 3]);
   * ```
   */
  bytes(ptr: number, length?: number): Uint8Array<ArrayBuffer> {
    checkSize(ptr, "Pointer");
    const usable = this.#usable(ptr, "bytes");
    const bytes = length === undefined ? usable : checkInteger(length, "Length", 0, usable);
    return new Uint8Array(this.#buffer, ptr, bytes);
  }

  /**
   * What a worker needs to attach to this shared heap: post it to the worker, which passes it
   * to {@linkcode Heap.attach}.
   *
   * @returns The shared memory, the heap's base and the compiled module, for `postMessage`.
   * @throws {TypeError} When the heap is not shared.
   *
   * @example Sharing a heap with a worker
   * ```ts ignore
   * import { Heap } from "@mote/alloc";
   *
   * const heap = new Heap({ shared: true });
   * const worker = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
   * worker.postMessage(heap.share());
   * ```
   */
  share(): SharedHeap {
    this.#sharingOrThrow("share");
    const { module, sharing } = this.#sharing!;
    return { memory: this.memory, base: this.base, module, threads: sharing.threads };
  }

  /**
   * A heap over a shared heap that another thread made: the same heap, with the same API, its
   * calls taking the same lock. Its `exports` serve as the imports of a wasm module built with
   * threads, in this thread.
   *
   * @param shared What {@linkcode Heap.prototype.share} returned, posted to this thread.
   * @returns This thread's heap over it.
   * @throws {TypeError} When `shared` does not hold a shared memory and a base.
   * @throws {RangeError} When no shared heap was made at that base of that memory.
   *
   * @example In the worker
   * ```ts ignore
   * import { Heap } from "@mote/alloc";
   *
   * self.onmessage = (event) => {
   *   const heap = Heap.attach(event.data);
   *   const ptr = heap.malloc(100);
   *   heap.free(ptr);
   * };
   * ```
   */
  static attach(shared: SharedHeap): Heap {
    if (typeof shared !== "object" || shared === null) {
      throw new TypeError(`Shared must be what heap.share() returned, got ${describe(shared)}`);
    }
    if (!(shared.memory instanceof WebAssembly.Memory)) {
      throw new TypeError(
        `Shared must be what heap.share() returned: its memory must be a shared ` +
          `WebAssembly.Memory, got ${describe(shared.memory)}`,
      );
    }
    if (shared.module !== undefined) aModule(shared.module, "Module");
    attaching = shared;
    try {
      return new Heap({ memory: shared.memory, base: shared.base, shared: true });
    } finally {
      attaching = undefined;
    }
  }

  /**
   * The id the lock of a shared heap records while this heap's thread holds it: keep it with
   * the worker, to give {@linkcode Heap.prototype.recover} if that worker dies. 0 when the heap
   * is not shared.
   *
   * @example
   * ```ts
   * import { Heap } from "@mote/alloc";
   * import assert from "node:assert/strict";
   *
   * const heap = new Heap({ shared: true });
   * assert.ok(heap.owner > 0);
   * assert.equal(Heap.attach(heap.share()).owner, heap.owner + 1);
   * ```
   */
  get owner(): number {
    return this.#sharing?.sharing.owner ?? 0;
  }

  /**
   * Who holds the lock of a shared heap now: the holder's {@linkcode Heap.prototype.owner}, or
   * 0 when the lock is free (and always for a heap that is not shared).
   *
   * @example
   * ```ts
   * import { Heap } from "@mote/alloc";
   * import assert from "node:assert/strict";
   *
   * assert.equal(new Heap({ shared: true }).lockHolder, 0);
   * ```
   */
  get lockHolder(): number {
    return this.#sharing?.sharing.holder() ?? 0;
  }

  /**
   * Frees the lock of a shared heap that a thread which has stopped was holding, such as a
   * worker terminated in the middle of a call, so that the others go on; then checks the heap,
   * which that call may have left half done. It frees the lock only when the runtime proves that
   * the holder's thread has stopped, since freeing the lock of a thread that runs on lets two
   * threads into the heap: only Node does, with the worker_threads Worker once it has exited,
   * and `recover` checks that the owner attached from that worker's thread (each thread records
   * its thread id when it attaches; this thread notes each worker's id when it starts it).
   * Deno's `terminate()` lets a worker busy in synchronous code run on, and a browser's stops it
   * up to seconds later with no event: there `recover` refuses, and a program stops its workers
   * by asking them (a message, a flag they read), never with `terminate()` while they may be in
   * a call, and makes a new heap if a worker dies holding the lock.
   *
   * @param owner The stopped thread's {@linkcode Heap.prototype.owner}.
   * @param worker The proof that it stopped: the Node `worker_threads` Worker it ran in, after
   * its `exit` event (or once `await worker.terminate()` has returned).
   * @returns What is wrong with the heap, as {@linkcode Heap.prototype.check} says, led by a
   * line saying so when the thread stopped inside a call (between its start and storing what it
   * did, which the checks alone may not see): empty when it is intact and can be used on;
   * otherwise {@linkcode Heap.prototype.reset} it.
   * @throws {TypeError} When the heap is not shared, or the runtime cannot prove that the
   * worker stopped (Deno, browsers), or `worker` is not a Node Worker that this thread saw start
   * (made after mote was loaded), or nothing records the thread `owner` attached from.
   * @throws {RangeError} When `owner` does not hold the lock, or the worker has not exited, or
   * `owner` attached from another thread than the worker's.
   *
   * @example On Node, after a worker died holding the lock
   * ```ts ignore
   * import { Heap } from "@mote/alloc";
   * import { Worker } from "node:worker_threads";
   *
   * const heap = new Heap({ shared: true });
   * const worker = new Worker("./worker.js", { workerData: heap.share() });
   * const owner = await new Promise<number>((resolve) => worker.once("message", resolve));
   * await worker.terminate(); // resolves once the thread has exited
   * if (heap.lockHolder === owner && heap.recover(owner, worker).length) heap.reset();
   * ```
   *
   * @example Anywhere else it refuses, saying why
   * ```ts
   * import { Heap } from "@mote/alloc";
   * import assert from "node:assert/strict";
   *
   * const heap = new Heap({ shared: true });
   * assert.throws(() => heap.recover(heap.owner + 1), RangeError); // nobody holds the lock
   * ```
   */
  recover(owner: number, worker?: StoppedWorker): string[] {
    const sharing = this.#sharingOrThrow("recover");
    checkInteger(owner, "Owner", 1, 0x7FFF_FFFF);
    if (sharing.holder() !== owner) {
      throw new RangeError(
        `Owner ${owner} does not hold the lock; ${sharing.holder() || "nobody"} does`,
      );
    }
    const refusal = unproven(worker, owner, sharing.threads);
    if (refusal !== undefined) throw refusal;
    const stopped = sharing.recover(owner);
    if (stopped === undefined) {
      throw new RangeError(`Owner ${owner} let go of the lock itself: it was still running`);
    }
    const problems = this.check();
    // a call stopped before it stored what it did may have changed blocks the checks take as whole
    return stopped === "inside"
      ? [
        `Owner ${owner} stopped inside a call, which may be half done: reset the heap`,
        ...problems,
      ]
      : problems;
  }

  #sharingOrThrow(operation: string): Sharing {
    if (!this.#sharing) {
      throw new TypeError(`${operation} needs a shared heap: make it with shared: true`);
    }
    return this.#sharing.sharing;
  }

  /**
   * The memory's buffer: a SharedArrayBuffer for a shared heap (typed as an ArrayBuffer, which
   * it behaves as), otherwise never shared.
   */
  get #buffer(): ArrayBuffer {
    return this.memory.buffer as ArrayBuffer;
  }

  #init(): void {
    if (!this.#engine.init(this.base, this.#limitEnd())) {
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
    const root = Math.ceil(this.base / ALIGN) * ALIGN;
    const least = Math.max(min, root - this.base + FIRST + MIN_BLOCK + HEADER); // one block
    return checkInteger(bytes, "Limit", least, MAX_LIMIT - this.base);
  }

  /**
   * Throws unless `ptr` is a live block, before the allocator reads any byte at it: the engine
   * decides, from its own records (see {@linkcode Engine.verdict}).
   */
  #checkLive(ptr: number, operation: string): void {
    this.#operation = operation; // the checked build reports what is wrong with ptr itself
    // a shared heap's engine answers from the wasm's own record, in the shared memory, kept under
    // the lock (asm/shared.ts): other threads allocate and free at any time
    const verdict = this.#engine.verdict(ptr);
    if (verdict !== LIVE) this.#refuse(ptr, operation, verdict);
  }

  /** The usable size of `ptr`, a live block; throws for any other pointer. */
  #usable(ptr: number, operation: string): number {
    if (!this.shared) this.#checkLive(ptr, operation); // a shared heap's answer is the check
    this.#operation = operation;
    const usable = this.#engine.usableSize(ptr) >>> 0;
    // its header was overwritten: refused too (the checked build reports that itself, and a
    // block of malloc(0) has 0 usable bytes there: exactly the bytes asked for)
    if (usable === 0 && !this.checked) this.#refuse(ptr, operation, NOT_A_BLOCK);
    return usable;
  }

  #refuse(ptr: number, operation: string, verdict: Exclude<Verdict, typeof LIVE>): never {
    if (this.checked) throw new HeapMisuseError(verdict, ptr, operation);
    throw new RangeError(
      `${operation} was given pointer ${ptr}, which is not a live block of this heap ` +
        `(freed already, from before a reset(), misaligned, inside a block, or outside the heap)`,
    );
  }

  #served(operation: string, size: number, ptr: number): number {
    if (ptr === 0) throw new OutOfMemoryError(operation, size, this.#limit);
    return ptr >>> 0;
  }
}
