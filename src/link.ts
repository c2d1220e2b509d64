/**
 * A heap made for a wasm module before it is instantiated, from the module's bytes: its memory
 * and `__heap_base` are read from the binary, so the module can import mote's functions
 * directly and call them wasm to wasm, from its start function on.
 *
 * @module
 */
import { Heap, type HeapOptions } from "./heap.ts";
import { type ModuleFacts, readModule } from "./_module_reader.ts";
import { C_NAMES } from "./_engine.ts";
import { checkOptions } from "./_validate.ts";

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
 */
export interface LinkOptions extends Omit<HeapOptions, "memory" | "base"> {
  /**
   * Where the heap starts, for a module that does not export `__heap_base` (such as one
   * whose data ends at a fixed address). Defaults to the module's `__heap_base`.
   */
  base?: number;
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
  /** The memory the module imports, made with at least the pages it asks for. */
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
 * reports still name the C function the module called (see {@linkcode HeapMisuseError}).
 *
 * @param wasm The module's bytes (a compiled `WebAssembly.Module` does not expose its data).
 * @param options The heap's options, the module's other imports, and the base if it exports none.
 * @returns The heap, the memory, and the imports to instantiate the module with.
 * @throws {TypeError} When `options` or its `imports` (or one of their modules) is not an
 * object, when the bytes are not wasm, when the module defines its own memory or
 * imports a shared or 64-bit one, when it imports none of mote's functions (so it has no use
 * for mote's heap, or an allocator of its own that would share the memory with it), or when it
 * exports no constant `__heap_base` and no `base` is given.
 * @throws {RangeError} As {@linkcode Heap}'s constructor does for `base` and `limit`.
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
 */
export function linkHeap(wasm: BufferSource, options: LinkOptions = {}): LinkedHeap {
  const { imports: given = {}, base: givenBase, ...heapOptions } = checkOptions<LinkOptions>(
    options,
    "Options",
  );
  checkOptions(given, "The imports option");
  for (const [module, values] of Object.entries(given)) checkOptions(values, `imports.${module}`);
  const { memory: want, functions, heapBase } = linkable(wasm, givenBase);
  const memory = new WebAssembly.Memory({
    initial: want.minimum,
    maximum: Math.min(want.maximum ?? MAX_PAGES, MAX_PAGES),
  });
  const heap = new Heap({ ...heapOptions, memory, base: heapBase });
  const imports: WebAssembly.Imports = {};
  for (const [module, values] of Object.entries(given)) imports[module] = { ...values };
  (imports[want.module] ??= {})[want.name] ??= memory;
  const c = heap.exports as unknown as Record<string, WebAssembly.ImportValue>;
  for (const { module, name } of functions) {
    if (C_FUNCTIONS.has(name)) (imports[module] ??= {})[name] ??= c[name];
  }
  return { heap, memory, imports };
}

/**
 * What mote needs of a module that imports its allocator: the memory it imports, the functions
 * it imports and its heap's base (`base`, or its `__heap_base`), each checked as
 * {@linkcode linkHeap} documents. Internal: scripts/merge.ts shares it.
 */
export function linkable(
  wasm: BufferSource,
  base?: number,
): Required<Pick<ModuleFacts, "memory" | "functions" | "heapBase">> {
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
  if (memory.shared || memory.memory64) {
    throw new TypeError(
      `The module imports a ${memory.shared ? "shared" : "64-bit"} memory ` +
        `(${memory.module}.${memory.name}): mote manages unshared 32-bit memories`,
    );
  }
  const heapBase = base ?? facts.heapBase;
  if (heapBase === undefined) {
    throw new TypeError(
      "The module exports no constant __heap_base, the end of its static data and stack: " +
        "link it with --export=__heap_base (clang: -Wl,--export=__heap_base), or give base",
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
  return { memory, functions: facts.functions, heapBase };
}
