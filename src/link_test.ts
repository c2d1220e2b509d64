// linkHeap on small hand-written modules (their text beside each, assembled with binaryen's
// wasm-as), and the checked build called as another module calls it: with no JavaScript around
// it, its reports still name the C function that was called. Run as a worker, this file links a
// threaded module to the shared heap it is sent (see the end).
import assert from "node:assert/strict";
import { Heap, HeapMisuseError, linkHeap, type SharedHeap } from "../mod.ts";
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

// (module (import "env" "memory" (memory i64 1)) (import "env" "malloc" (func (param i32) (result i32)))
//   (global (export "__heap_base") i32 (i32.const 4096)))
const MEMORY_64 = wasm(
  "AGFzbQEAAAABBgFgAX8BfwIcAgNlbnYGbWFsbG9jAAADZW52Bm1lbW9yeQIEAQYHAX8AQYAgCwcPAQtfX2hlYXBfYmFzZQMA",
);
// A module built with threads (wasm-as --enable-threads): allocate(out, count, tag) mallocs count
// blocks of 4 to 64 bytes, writes tag + i in the first word of the i-th and its address at out[i],
// and frees each odd one at once (writing 0 there instead).
// (module (import "env" "memory" (memory 2 100 shared))
//   (import "env" "malloc" (func $malloc (param i32) (result i32)))
//   (import "env" "free" (func $free (param i32)))
//   (global (export "__heap_base") i32 (i32.const 4096))
//   (func (export "allocate") (param $out i32) (param $count i32) (param $tag i32)
//     (local $i i32) (local $p i32)
//     (loop $next
//       (local.set $p (call $malloc (i32.add (i32.const 4) (i32.rem_u (local.get $i) (i32.const 61)))))
//       (i32.store (local.get $p) (i32.add (local.get $tag) (local.get $i)))
//       (if (i32.and (local.get $i) (i32.const 1))
//         (then (call $free (local.get $p)) (local.set $p (i32.const 0))))
//       (i32.store (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 2))) (local.get $p))
//       (br_if $next (i32.lt_u (local.tee $i (i32.add (local.get $i) (i32.const 1)))
//         (local.get $count))))))
const THREADED = wasm(
  "AGFzbQEAAAABEANgAX8Bf2ABfwBgA39/fwACKAMDZW52Bm1hbGxvYwAAA2VudgRmcmVlAAEDZW52Bm1lbW9yeQIDAmQD" +
    "AgECBgcBfwBBgCALBxoCC19faGVhcF9iYXNlAwAIYWxsb2NhdGUAAgpIAUYBAn8DQEEEIANBPXBqEAAhBCAEIAIgA2o2" +
    "AgAgA0EBcQRAIAQQAUEAIQQLIAAgA0ECdGogBDYCACADQQFqIgMgAUkNAAsL",
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

Deno.test("linkHeap refuses a heap that does not fit the module, before it makes one", async (t) => {
  await t.step("a module built with threads, without shared: true", () => {
    for (const options of [{}, { shared: false }, { checked: true }]) {
      assert.throws(
        () => linkHeap(THREADED, options),
        new TypeError(
          "The module imports a shared memory (env.memory), as one built with threads does: " +
            "pass shared: true, for a shared heap in it (and attach, in the module's workers)",
        ),
      );
    }
  });
  await t.step("a module with an unshared memory, with shared: true or attach", () => {
    const first = new Heap({ shared: true });
    const owners = Heap.attach(first.share()).owner;
    for (const options of [{ shared: true }, { attach: first.share() }]) {
      assert.throws(
        () => linkHeap(FREE_TWICE, options),
        new TypeError(
          "The module imports an unshared memory (env.memory): a shared heap (shared: true, " +
            "attach) needs a module built with threads, whose memory is shared (wasm-ld " +
            "--shared-memory, which clang's -pthread passes)",
        ),
      );
    }
    // refused before attaching: no thread took an owner id meanwhile
    assert.equal(Heap.attach(first.share()).owner, owners + 1);
  });
  await t.step("a checked shared heap, refused in Heap's words", () => {
    const heapSays = new TypeError("A shared heap runs the release build: checked must be false");
    assert.throws(() => new Heap({ shared: true, checked: true }), heapSays);
    const attach = new Heap({ shared: true }).share();
    for (const options of [{ shared: true, checked: true }, { attach, checked: true }]) {
      assert.throws(() => linkHeap(THREADED, options), heapSays);
    }
  });
  await t.step("with attach, what the heap's maker chose", () => {
    const { heap } = linkHeap(THREADED, { shared: true });
    const attach = heap.share();
    for (
      const [options, message] of [
        [
          { base: 8192 },
          "Base must not be given with attach: its heap's maker chose it, got 8192",
        ],
        [
          { limit: 1 << 20 },
          "Limit must not be given with attach: its heap's maker set it (heap.limit " +
          "sets it anew), got 1048576",
        ],
        [
          { shared: false },
          "Shared must be true with attach, which links to a shared heap, got false",
        ],
        [{ checked: "yes" }, 'Checked must be true or false, got "yes"'],
      ] as const
    ) {
      assert.throws(
        () => linkHeap(THREADED, { attach, ...options } as never),
        new TypeError(message),
      );
    }
    assert.equal(linkHeap(THREADED, { attach, shared: true, checked: false }).heap.base, 4096);
  });
  await t.step("an attach that is not what heap.share() returned, refused by Heap.attach", () => {
    for (
      const [attach, message] of [
        [5, "Shared must be what heap.share() returned, got 5"],
        [
          { base: 4096 },
          "Shared must be what heap.share() returned: its memory must be a shared " +
          "WebAssembly.Memory, got undefined",
        ],
      ] as const
    ) {
      assert.throws(() => linkHeap(THREADED, { attach: attach as never }), new TypeError(message));
    }
    const { memory } = linkHeap(THREADED, { shared: true });
    assert.throws(
      () => linkHeap(THREADED, { attach: { memory, base: 8192 } }),
      new RangeError(
        "No shared heap at base 8192: attach takes the memory and base that heap.share() gave",
      ),
    );
  });
  await t.step("a heap below the module's __heap_base, over its data and stack", () => {
    const below = (base: number) =>
      new RangeError(
        `The heap would start at ${base}, below the module's __heap_base 4096: over its ` +
          "static data and stack",
      );
    assert.throws(() => linkHeap(FREE_TWICE, { base: 1024 }), below(1024));
    // a shared heap made with its own memory starts at 0
    assert.throws(
      () => linkHeap(THREADED, { attach: new Heap({ shared: true }).share() }),
      below(0),
    );
    assert.equal(linkHeap(FREE_TWICE, { base: 8192 }).heap.base, 8192);
  });
  await t.step("a 64-bit memory, shared or not", () => {
    for (const shared of [false, true]) {
      assert.throws(
        () => linkHeap(MEMORY_64, { shared }),
        new TypeError("The module imports a 64-bit memory (env.memory): mote manages 32-bit ones"),
      );
    }
  });
});

Deno.test("linkHeap makes a threaded module a shared heap in a shared memory of its pages", () => {
  const { heap, memory, imports } = linkHeap(THREADED, { shared: true, limit: 1 << 20 });
  assert.ok(heap.shared);
  assert.equal(heap.memory, memory);
  assert.equal(memory.buffer.constructor, SharedArrayBuffer);
  assert.equal(memory.buffer.byteLength, 2 * 65536, "the pages the module asks for");
  assert.equal(heap.base, 4096);
  assert.equal(heap.limit, 1 << 20);
  assert.equal(imports.env.memory, memory);
  assert.equal(imports.env.malloc, heap.exports.malloc);
  assert.equal(imports.env.free, heap.exports.free);
  assert.match(String(imports.env.malloc), /^function \d+\(\) \{ \[native code\] \}$/);
  // the module calls the heap wasm to wasm, and grows the memory to the most it declares
  const instance = new WebAssembly.Instance(new WebAssembly.Module(THREADED), imports);
  const allocate = instance.exports.allocate as (out: number, count: number, tag: number) => void;
  const count = 8000;
  const out = heap.malloc(count * 4);
  allocate(out, count, 0);
  assert.ok(memory.buffer.byteLength > 2 * 65536);
  const kept = pointers(heap, out, count, 0);
  assert.equal(kept.length, count / 2);
  assert.deepEqual(heap.check(), []);
  memory.grow(100 - memory.buffer.byteLength / 65536);
  assert.throws(() => memory.grow(1), RangeError, "the module's maximum: 100 pages");
});

/**
 * The blocks `allocate(out, count, tag)` kept, read from `out`: every other one, each a live
 * block of the heap whose first word is `tag` plus its index; the others 0 (freed at once).
 */
function pointers(heap: Heap, out: number, count: number, tag: number): number[] {
  const view = new DataView(heap.memory.buffer);
  const kept = [];
  for (let i = 0; i < count; i++) {
    const ptr = view.getUint32(out + i * 4, true);
    if (i % 2) {
      assert.equal(ptr, 0);
      continue;
    }
    assert.ok(heap.usableSize(ptr) >= 4 + (i % 61), `block ${i} of tag ${tag}`);
    assert.equal(view.getUint32(ptr, true), tag + i);
    kept.push(ptr);
  }
  return kept;
}

Deno.test("a worker links the threaded module to the same heap with attach; both allocate at once", async () => {
  const { heap, imports } = linkHeap(THREADED, { shared: true });
  const instance = new WebAssembly.Instance(new WebAssembly.Module(THREADED), imports);
  const allocate = instance.exports.allocate as (out: number, count: number, tag: number) => void;
  const count = 20000, mine = 0x1000_0000, theirs = 0x2000_0000;
  const [myOut, theirOut] = [heap.malloc(count * 4), heap.malloc(count * 4)];
  // the worker waits on go[0] once linked, and starts when this thread does: no clock involved
  const go = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(import.meta.url, { type: "module" });
  try {
    const answers = new Promise<WorkerAnswer>((resolve, reject) => {
      worker.onmessage = (event) => {
        if (event.data === "linked") {
          Atomics.store(go, 0, 1);
          Atomics.notify(go, 0);
          allocate(myOut, count, mine);
        } else resolve(event.data);
      };
      worker.onerror = (event) => {
        event.preventDefault();
        reject(new Error(event.message));
      };
    });
    worker.postMessage(
      { shared: heap.share(), out: theirOut, count, tag: theirs, go } satisfies WorkerTask,
    );
    const answer = await answers;
    assert.deepEqual(answer, {
      wasmToWasm: true,
      sameMemory: true,
      base: 4096,
      owner: heap.owner + 1,
    });
  } finally {
    worker.terminate();
  }
  const blocks = [
    ...pointers(heap, myOut, count, mine),
    ...pointers(heap, theirOut, count, theirs),
  ];
  assert.equal(new Set(blocks).size, count, "distinct blocks");
  const used = heap.walk().filter((block) => !block.free).map((block) => block.ptr);
  // and the two arrays of pointers, and the record of live blocks
  assert.equal(used.length, count + 3);
  assert.deepEqual(new Set(used).intersection(new Set(blocks)).size, count);
  assert.deepEqual(heap.check(), []);
});

/** What the test sends this file as a worker. */
interface WorkerTask {
  shared: SharedHeap;
  out: number;
  count: number;
  tag: number;
  go: Int32Array<SharedArrayBuffer>;
}

/** What the worker answers once it has allocated. */
interface WorkerAnswer {
  wasmToWasm: boolean;
  sameMemory: boolean;
  base: number;
  owner: number;
}

if ("WorkerGlobalScope" in globalThis) {
  // this file, run as a worker (Deno.test does nothing there): link THREADED to the heap it is
  // sent, say so, wait for the go, and allocate into it as the test's thread does
  const scope = globalThis as unknown as {
    onmessage: (event: MessageEvent<WorkerTask>) => void;
    postMessage(message: unknown): void;
  };
  scope.onmessage = ({ data: { shared, out, count, tag, go } }) => {
    const { heap, memory, imports } = linkHeap(THREADED, { attach: shared });
    const instance = new WebAssembly.Instance(new WebAssembly.Module(THREADED), imports);
    const allocate = instance.exports.allocate as (out: number, count: number, tag: number) => void;
    scope.postMessage("linked");
    Atomics.wait(go, 0, 0);
    allocate(out, count, tag);
    scope.postMessage(
      {
        wasmToWasm: imports.env.malloc === heap.exports.malloc &&
          imports.env.free === heap.exports.free,
        sameMemory: memory === shared.memory && imports.env.memory === memory,
        base: heap.base,
        owner: heap.owner,
      } satisfies WorkerAnswer,
    );
  };
}

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
