// linkHeap on small hand-written modules (their text beside each, assembled with binaryen's
// wasm-as), and the checked build called as another module calls it: with no JavaScript around
// it, its reports still name the C function that was called.
import assert from "node:assert/strict";
import { Heap, HeapMisuseError, linkHeap } from "../mod.ts";
import { readModule } from "./_module_reader.ts";

const wasm = (base64: string) => Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));

// (module (import "env" "memory" (memory 1))
//   (import "env" "malloc" (func $malloc (param i32) (result i32)))
//   (import "env" "free" (func $free (param i32)))
//   (global (export "__heap_base") i32 (i32.const 4096))
//   (func (export "free_twice") (local $p i32)
//     (local.set $p (call $malloc (i32.const 100))) (call $free (local.get $p))
//     (call $free (local.get $p))))
const FREE_TWICE = wasm(
  "AGFzbQEAAAABDQNgAX8Bf2ABfwBgAAACJwMDZW52Bm1hbGxvYwAAA2VudgRmcmVlAAEDZW52Bm1lbW9yeQIAAQMCAQIG" +
    "BwF/AEGAIAsHHAILX19oZWFwX2Jhc2UDAApmcmVlX3R3aWNlAAIKFQETAQF/QeQAEAAhACAAEAEgABABCw==",
);
// (module (memory 1) (import "env" "malloc" (func (param i32) (result i32)))
//   (global (export "__heap_base") i32 (i32.const 4096)))
const OWN_MEMORY = wasm(
  "AGFzbQEAAAABBgFgAX8BfwIOAQNlbnYGbWFsbG9jAAAFAwEAAQYHAX8AQYAgCwcPAQtfX2hlYXBfYmFzZQMA",
);
// (module (import "env" "memory" (memory 1)) (import "env" "malloc" (func (param i32) (result i32))))
const NO_HEAP_BASE = wasm(
  "AGFzbQEAAAABBgFgAX8BfwIcAgNlbnYGbWFsbG9jAAADZW52Bm1lbW9yeQIAAQ==",
);
// (module (import "env" "memory" (memory 1)) (import "env" "malloc" (func (param i32) (result i32)))
//   (global (export "__heap_base") (mut i32) (i32.const 4096)))
const MUTABLE_HEAP_BASE = wasm(
  "AGFzbQEAAAABBgFgAX8BfwIcAgNlbnYGbWVtb3J5AgABA2VudgZtYWxsb2MAAAYHAX8BQYAgCwcPAQtfX2hlYXBfYmFzZQMA",
);
// (module (import "env" "memory" (memory 2 10)) (global (export "__heap_base") i32 (i32.const 4096)))
const NO_ALLOCATOR = wasm(
  "AGFzbQEAAAACEAEDZW52Bm1lbW9yeQIBAgoGBwF/AEGAIAsHDwELX19oZWFwX2Jhc2UDAA==",
);

Deno.test("readModule finds the memory import, the function imports and __heap_base", () => {
  assert.deepEqual(readModule(FREE_TWICE), {
    functions: [{ module: "env", name: "malloc" }, { module: "env", name: "free" }],
    memory: {
      module: "env",
      name: "memory",
      minimum: 1,
      maximum: undefined,
      shared: false,
      memory64: false,
    },
    ownMemory: false,
    heapBase: 4096,
    features: [],
  });
  assert.deepEqual(readModule(NO_ALLOCATOR).memory?.maximum, 10);
  assert.equal(readModule(OWN_MEMORY).ownMemory, true);
  assert.equal(readModule(NO_HEAP_BASE).heapBase, undefined);
});

Deno.test("linkHeap refuses, naming why, what it cannot link", async (t) => {
  await t.step("bytes that are not wasm", () => {
    assert.throws(
      () => linkHeap(new Uint8Array([1, 2, 3])),
      new TypeError("The bytes are not a WebAssembly module (version 1): they start with 01 02 03"),
    );
    assert.throws(() => linkHeap(FREE_TWICE.subarray(0, 40)), /ends early/);
    assert.throws(() => linkHeap("wasm" as never), TypeError);
  });
  await t.step("a module with a memory of its own", () => {
    assert.throws(
      () => linkHeap(OWN_MEMORY),
      /defines its own memory: link it with --import-memory/,
    );
  });
  await t.step("no __heap_base and no base", () => {
    assert.throws(() => linkHeap(NO_HEAP_BASE), /--export=__heap_base/);
    // a mutable global's value may change before it is read: not a base to trust
    assert.throws(() => linkHeap(MUTABLE_HEAP_BASE), /--export=__heap_base/);
    assert.equal(linkHeap(NO_HEAP_BASE, { base: 2048 }).heap.base, 2048);
  });
  await t.step("a module that imports no allocation function", () => {
    assert.throws(() => linkHeap(NO_ALLOCATOR), /imports none of mote's functions/);
  });
  await t.step("options, imports and their modules that are not objects, as new Heap does", () => {
    for (
      const [options, message] of [
        [null, "Options must be an object, got null"],
        [5, "Options must be an object, got 5"],
        [{ imports: null }, "The imports option must be an object, got null"],
        [{ imports: [] }, "The imports option must be an object, got an array"],
        [{ imports: { wasi: "x" } }, 'imports.wasi must be an object, got "x"'],
      ] as const
    ) {
      assert.throws(() => linkHeap(FREE_TWICE, options as never), new TypeError(message));
    }
  });
});

Deno.test("linkHeap gives the module mote's own wasm functions, the given imports kept", () => {
  const mine = () => 0;
  const other = { wasi: { fd_write: mine }, env: { free: mine } };
  for (const checked of [false, true]) {
    const { heap, memory, imports } = linkHeap(FREE_TWICE, { checked, imports: other });
    assert.equal(heap.memory, memory);
    assert.equal(memory.buffer.byteLength, 65536, "the pages the module asks for");
    assert.equal(heap.base, 4096);
    assert.equal(imports.env.memory, memory);
    assert.equal(imports.env.malloc, heap.exports.malloc);
    // an exported wasm function, not a JavaScript wrapper: called wasm to wasm
    assert.match(String(imports.env.malloc), /^function \d+\(\) \{ \[native code\] \}$/);
    assert.equal(imports.env.free, mine, "a given import is kept");
    assert.equal(imports.wasi.fd_write, mine);
    assert.equal(other.env.free, mine, "the given object is not changed");
    assert.equal(Object.keys(other.env).length, 1);
  }
});

Deno.test("a module calling the checked build wasm to wasm learns which call it misused", () => {
  const { heap, imports } = linkHeap(FREE_TWICE, { checked: true });
  const instance = new WebAssembly.Instance(new WebAssembly.Module(FREE_TWICE), imports);
  const freeTwice = instance.exports.free_twice as () => void;
  assert.throws(freeTwice, (e: Error) => {
    assert.ok(e instanceof HeapMisuseError, String(e));
    assert.equal(e.kind, "double-free");
    assert.equal(e.operation, "free");
    assert.match(e.message, /^free: double free: the block at \d+ was freed already$/);
    return true;
  });
  assert.deepEqual(heap.check(), []);
});

/** A checked heap with a freed 100-byte block written to after it was freed, and a small live one. */
function damaged(): { heap: Heap; blocker: number } {
  const heap = new Heap({ checked: true });
  const ptr = heap.malloc(100);
  const blocker = heap.malloc(16);
  heap.malloc(16); // so that the blocker cannot grow in place
  heap.free(ptr);
  heap.u8[ptr + 40] = 1;
  return { heap, blocker };
}

Deno.test("the checked build names the C function called, not the one it calls inside", async (t) => {
  const calls: [string, (heap: Heap, blocker: number) => unknown][] = [
    ["malloc", (heap) => heap.exports.malloc(100)],
    ["calloc", (heap) => heap.exports.calloc(1, 100)], // calloc calls malloc
    ["realloc", (heap) => heap.exports.realloc(0, 100)], // realloc(0, n) calls malloc
    ["realloc", (heap, blocker) => heap.exports.realloc(blocker, 100)], // moves through malloc
    ["aligned_alloc", (heap) => heap.exports.aligned_alloc(8, 100)], // a small alignment: malloc
  ];
  for (const [operation, call] of calls) {
    await t.step(`${operation}: ${call}`, () => {
      const { heap, blocker } = damaged();
      assert.throws(() => call(heap, blocker), (e: Error) => {
        assert.ok(e instanceof HeapMisuseError, String(e));
        assert.deepEqual([e.kind, e.operation], ["use-after-free", operation]);
        return true;
      });
      // the name lasts for that call only: the next reports name their own
      assert.throws(() => heap.exports.malloc(100), { operation: "malloc" });
      assert.throws(() => heap.exports.malloc_usable_size(8), { operation: "malloc_usable_size" });
      assert.throws(() => heap.alignedAlloc(8, 100), { operation: "alignedAlloc" });
      assert.throws(() => heap.exports.free(blocker + 4), { operation: "free" });
    });
  }
});
