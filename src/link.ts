/**
 * A heap made for a wasm module before it is instantiated, from the module's bytes: its memory
 * and `__heap_base` are read from the binary, so the module can import mote's functions
 * directly and call them wasm to wasm, from its start function on.
 *
 * @module
 */
import { Heap, type HeapOptions, type SharedHeap } from "./heap.ts";
import { type MemoryImport, type ModuleFacts, readModule } from "./_module_reader.ts";
import { C_NAMES } from "./_engine.ts";
import { NOT_CHECKED } from "./_shared_engine.ts";
import { checkBoolean, checkOptions, describe } from "./_validate.ts";

/** mote's C functions, as a module imports them. */
const C_FUNCTIONS: ReadonlySet<string> = new Set(C_NAMES);

/** wasm32's most pages: 4 GiB. */
const MAX_PAGES = 65536;

/**
 * How {@linkcode linkHeap} makes the heap.
 *
 * @example A checked heap of at most 16 MiB, with the module's other imports
 * ```ts
 * import type { LinkOptions } from "@mote/alloc";
 *
 * const options: LinkOptions = { checked: true, limit: 16 << 20, imports: {} };
 * ```
 *
 * @example A module built with threads: a shared heap, and the same heap in a worker
 * ```ts
 * import type { LinkOptions, SharedHeap } from "@mote/alloc";
 *
 * const first: LinkOptions = { shared: true, limit: 16 << 20 };
 * // in a worker, posted heap.share() by the thread that linked with `first`:
 * const inWorker = (shared: SharedHeap): LinkOptions => ({ attach: shared });
 * ```
 */
export interface LinkOptions extends Omit<HeapOptions, "memory" | "base"> {
  /**
   * Where the heap starts, for a module that does not export `__heap_base` (such as one
   * whose data ends at a fixed address). Defaults to the module's `__heap_base`, and may not be
   * below it.
   */
  base?: number;
  /**
   * For a module built with threads, which imports a shared memory (and only for one): make that
   * memory shared and the heap a shared one, which {@linkcode Heap.prototype.share} hands to
   * workers (see {@linkcode HeapOptions.shared}). Not with `checked`.
   */
  shared?: boolean;
  /**
   * In a worker: link a module built with threads to the shared heap that another thread linked
   * it to, given what that heap's {@linkcode Heap.prototype.share} returned. The heap is then
   * {@linkcode Heap.attach}'s, the memory the shared one, and the imports this thread's instance
   * of mote's functions. That thread chose the base, the limit and the build: not with `base`,
   * `limit`, `checked: true` or `shared: false`.
   */
  attach?: SharedHeap;
  /**
   * The module's other imports (WASI's, say), into which the memory and mote's functions are
   * merged; an import given here is kept, not replaced.
   */
  imports?: WebAssembly.Imports;
}
/**
 * What {@linkcode linkHeap} returns: the heap and what to instantiate the module with.
 *
 * @example Its parts, taken apart
 * ```ts
 * import type { LinkedHeap } from "@mote/alloc";
 *
 * function describe({ heap, memory, imports }: LinkedHeap): string {
 *   return `${Object.keys(imports.env).length} imports; heap at ${heap.base} of ` +
 *     `${memory.buffer.byteLength} bytes`;
 * }
 * ```
 */
export interface LinkedHeap {
  /** The heap, from the module's `__heap_base` up, in {@linkcode LinkedHeap.memory}. */
  heap: Heap;
  /**
   * The memory the module imports: made with the pages it asks for, or with `attach`, the shared
   * heap's.
   */
  memory: WebAssembly.Memory;
  /** The imports to instantiate the module with: the given ones, its memory and mote's C ABI. */
  imports: WebAssembly.Imports;
}

/**
 * Makes the heap for a wasm module that imports its memory and its allocator (`malloc`, `free`,
 * ... from mote's C ABI) before the module is instantiated, from the module's bytes.
 *
 * The heap's region starts at the value of the global the module exports as `__heap_base`
 * (clang and Zig: link with `--export=__heap_base`), or at `options.base`. The memory is made
 * with the pages the module's memory import asks for, and may grow to the maximum it declares
 * (else to all of wasm32's 4 GiB). The module gets mote's functions themselves, not JavaScript
 * around them, so every call goes wasm to wasm, and the heap is ready for a module that
 * allocates in its start function or constructors. With `checked: true` the checked build's
 * reports still name the C function the module called (see {@linkcode HeapMisuseError}), and
 * `free` and `realloc` pass through JavaScript, which records the blocks they free, so that the
 * Heap names a later use of one a double free.
 *
 * A module built with threads imports a shared memory: link it with `shared: true`, which makes
 * that memory shared and the heap a shared one (see {@linkcode HeapOptions.shared}), and in each
 * worker with `attach` set to what that heap's {@linkcode Heap.prototype.share} returned, which
 * gives the module the same memory and, through {@linkcode Heap.attach}, the same heap.
 *
 * @param wasm The module's bytes (a compiled `WebAssembly.Module` does not expose its data).
 * @param options The heap's options, the module's other imports, and the base if it exports none.
 * @returns The heap, the memory, and the imports to instantiate the module with.
 * @throws {TypeError} When `options` or its `imports` (or one of their modules) is not an
 * object, when the bytes are not wasm, when the module defines its own memory or imports a
 * 64-bit one, when it imports a shared memory without `shared: true` or `attach`, or an unshared
 * one with either, when `checked: true` is given with either, or `attach` with `base`, `limit`
 * or `shared: false`, when it imports none of mote's functions (so it has no use for mote's heap,
 * or an allocator of its own that would share the memory with it), or when it exports no
 * constant `__heap_base` and no `base` is given; and as {@linkcode Heap.attach} does for
 * `attach`.
 * @throws {RangeError} When the heap would start below the module's `__heap_base` (a `base`, or
 * the attached heap's), over its static data and stack; as {@linkcode Heap}'s constructor does
 * for `base` and `limit`, and as {@linkcode Heap.attach} does for `attach`.
 *
 * @example A module that allocates from mote in its start function
 * ```ts
 * import { linkHeap } from "@mote/alloc";
 * import assert from "node:assert/strict";
 *
 * // (module (import "env" "memory" (memory 1)) (import "env" "malloc" (func $malloc (param i32) (result i32)))
 * //   (global (export "__heap_base") i32 (i32.const 1024)) (global $first (mut i32) (i32.const 0))
 * //   (func $start (global.set $first (call $malloc (i32.const 100))))
 * //   (func (export "first") (result i32) (global.get $first)) (start $start))
 * const wasm = Uint8Array.from(atob(
 *   "AGFzbQEAAAABDQNgAX8Bf2AAAGAAAX8CHAIDZW52Bm1hbGxvYwAAA2VudgZtZW1vcnkCAAEDAwIBAgYMAn8AQYAIC38B" +
 *     "QQALBxcCC19faGVhcF9iYXNlAwAFZmlyc3QAAggBAQoQAgkAQeQAEAAkAQsEACMBCw==",
 * ), (c) => c.charCodeAt(0));
 * const { heap, imports } = linkHeap(wasm);
 * const { instance } = await WebAssembly.instantiate(wasm, imports);
 * const first = (instance.exports.first as () => number)(); // malloc(100), called by the start
 * assert.equal(heap.base, 1024);
 * assert.deepEqual(heap.walk().map((block) => [block.ptr, block.free]), [[first, false]]);
 * ```
 *
 * @example A module built with threads: linked here with `shared: true`, and with `attach` as a
 * worker would
 * ```ts
 * import { linkHeap } from "@mote/alloc";
 * import assert from "node:assert/strict";
 *
 * // (module (import "env" "memory" (memory 1 16 shared))
 * //   (import "env" "malloc" (func $malloc (param i32) (result i32)))
 * //   (global (export "__heap_base") i32 (i32.const 1024))
 * //   (func (export "allocate") (param i32) (result i32) (call $malloc (local.get 0))))
 * const bytes = Uint8Array.from(atob(
 *   "AGFzbQEAAAABBgFgAX8BfwIdAgNlbnYGbWFsbG9jAAADZW52Bm1lbW9yeQIDARADAgEABgcBfwBBgAgLBxoCC19faGVh" +
 *     "cF9iYXNlAwAIYWxsb2NhdGUAAQoIAQYAIAAQAAs=",
 * ), (c) => c.charCodeAt(0));
 * const wasm = new WebAssembly.Module(bytes);
 * const { heap, imports } = linkHeap(bytes, { shared: true });
 * const here = new WebAssembly.Instance(wasm, imports);
 * // a worker, posted heap.share() and the module, links it to the same heap:
 * const worker = linkHeap(bytes, { attach: heap.share() });
 * const there = new WebAssembly.Instance(wasm, worker.imports);
 * assert.equal(worker.memory, heap.memory);
 * const a = (here.exports.allocate as (size: number) => number)(100);
 * const b = (there.exports.allocate as (size: number) => number)(100);
 * worker.heap.free(a); // one heap: any thread frees any block
 * heap.free(b);
 * assert.deepEqual(heap.check(), []);
 * ```
 */
export function linkHeap(wasm: BufferSource, options: LinkOptions = {}): LinkedHeap {
  const { imports: given = {}, base, attach, ...heapOptions } = checkOptions<LinkOptions>(
    options,
    "Options",
  );
  checkOptions(given, "The imports option");
  for (const [module, values] of Object.entries(given)) checkOptions(values, `imports.${module}`);
  const shared = isSharedLink(options);
  const facts = linkableModule(wasm, shared);
  let heap: Heap;
  if (attach === undefined) {
    const heapBase = heapBaseOf(facts, base);
    const memory = new WebAssembly.Memory({
      initial: facts.memory.minimum,
      // a shared memory import always declares its maximum
      maximum: Math.min(facts.memory.maximum ?? MAX_PAGES, MAX_PAGES),
      shared,
    });
    heap = new Heap({ ...heapOptions, memory, base: heapBase });
  } else {
    heap = Heap.attach(attach);
    heapBaseOf(facts, heap.base);
  }
  const { memory } = heap;
  const imports: WebAssembly.Imports = {};
  for (const [module, values] of Object.entries(given)) imports[module] = { ...values };
  (imports[facts.memory.module] ??= {})[facts.memory.name] ??= memory;
  const c = heap.exports as unknown as Record<string, WebAssembly.ImportValue>;
  for (const { module, name } of facts.functions) {
    if (C_FUNCTIONS.has(name)) (imports[module] ??= {})[name] ??= c[name];
  }
  return { heap, memory, imports };
}

/**
 * Whether {@linkcode linkHeap} makes or attaches a shared heap, having refused, before anything
 * is made, what cannot be: `attach` with what the heap's maker chose (its base, its limit, its
 * build, that it is shared), and a checked shared heap.
 */
function isSharedLink(
  { attach, base, limit, checked = false, shared = attach !== undefined }: LinkOptions,
): boolean {
  checkBoolean(checked, "Checked");
  checkBoolean(shared, "Shared");
  if (attach !== undefined) {
    if (!shared) {
      throw new TypeError(
        "Shared must be true with attach, which links to a shared heap, got false",
      );
    }
    if (base !== undefined) {
      throw new TypeError(
        "Base must not be given with attach: its heap's maker chose it, " +
          `got ${describe(base)}`,
      );
    }
    if (limit !== undefined) {
      throw new TypeError(
        "Limit must not be given with attach: its heap's maker set it (heap.limit " +
          `sets it anew), got ${describe(limit)}`,
      );
    }
  }
  if (shared && checked) throw new TypeError(NOT_CHECKED);
  return shared;
}

/**
 * What mote needs of a module that imports its allocator: the memory it imports, the functions
 * it imports and its heap's base (`base`, or its `__heap_base`), each checked as
 * {@linkcode linkHeap} documents for a heap that is not shared. Internal: scripts/merge.ts
 * shares it.
 */
export function linkable(
  wasm: BufferSource,
  base?: number,
): Required<Pick<ModuleFacts, "memory" | "functions" | "heapBase">> {
  const module = linkableModule(
    wasm,
    false,
    "merging gives it mote's unshared heap; link it at run time instead, with " +
      "linkHeap(wasm, { shared: true })",
  );
  return { memory: module.memory, functions: module.functions, heapBase: heapBaseOf(module, base) };
}

/**
 * The module's facts, once they show it linkable to a heap that is `shared` or not: it imports a
 * 32-bit memory, shared as the heap is, and some of mote's functions.
 */
function linkableModule(
  wasm: BufferSource,
  shared: boolean,
  sharedAdvice = "pass shared: true, for a shared heap in it (and attach, in the module's workers)",
): ModuleFacts & { memory: MemoryImport } {
  const bytes = ArrayBuffer.isView(wasm)
    ? new Uint8Array(wasm.buffer, wasm.byteOffset, wasm.byteLength)
    : wasm instanceof ArrayBuffer
    ? new Uint8Array(wasm)
    : undefined;
  if (!bytes) {
    throw new TypeError(
      `The module must be given as its bytes (a Uint8Array or ArrayBuffer), got ${typeof wasm}`,
    );
  }
  const facts = readModule(bytes);
  const memory = facts.memory;
  if (!memory) {
    throw new TypeError(
      facts.ownMemory
        ? "The module defines its own memory: link it with --import-memory so that its memory " +
          "can be made, and mote's heap in it, before it runs"
        : "The module has no memory, so it has no use for a heap",
    );
  }
  const named = `(${memory.module}.${memory.name})`;
  if (memory.memory64) {
    throw new TypeError(`The module imports a 64-bit memory ${named}: mote manages 32-bit ones`);
  }
  if (memory.shared && !shared) {
    throw new TypeError(
      `The module imports a shared memory ${named}, as one built with threads does: ` +
        sharedAdvice,
    );
  }
  if (shared && !memory.shared) {
    throw new TypeError(
      `The module imports an unshared memory ${named}: a shared heap (shared: true, attach) ` +
        "needs a module built with threads, whose memory is shared (wasm-ld --shared-memory, " +
        "which clang's -pthread passes)",
    );
  }
  if (!facts.functions.some(({ name }) => C_FUNCTIONS.has(name))) {
    throw new TypeError(
      `The module imports none of mote's functions (${[...C_FUNCTIONS].join(", ")}): ` +
        "it would not allocate from the heap, and if it has an allocator of its own, that " +
        "allocator would share the memory with mote's. Link an allocator-less build (for C, " +
        "mote's c/mote_shim.c)",
    );
  }
  return { ...facts, memory };
}

/** Where the module's heap starts: `base`, if given, else its `__heap_base`, never below that. */
function heapBaseOf({ heapBase }: ModuleFacts, base: number | undefined): number {
  if (base === undefined) {
    if (heapBase !== undefined) return heapBase;
    throw new TypeError(
      "The module exports no constant __heap_base, the end of its static data and stack: " +
        "link it with --export=__heap_base (clang: -Wl,--export=__heap_base), or give base",
    );
  }
  if (heapBase !== undefined && base < heapBase) {
    throw new RangeError(
      `The heap would start at ${base}, below the module's __heap_base ${heapBase}: over its ` +
        "static data and stack",
    );
  }
  return base;
}
