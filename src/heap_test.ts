import assert from "node:assert/strict";
import { Heap, OutOfMemoryError } from "../mod.ts";
import { FIRST, HEADER, MIN_BLOCK } from "./_layout.ts";

const PAGE = 65536;

Deno.test("Heap rejects bad arguments with a message naming the value", async (t) => {
  const heap = new Heap();
  const live = heap.malloc(10);
  const cases: [string, () => unknown, ErrorConstructor, RegExp][] = [
    [
      "negative size",
      () => heap.malloc(-1),
      RangeError,
      /Size must be an integer from 0 to 4294967295, got -1/,
    ],
    ["fractional size", () => heap.malloc(1.5), RangeError, /got 1\.5/],
    ["NaN size", () => heap.malloc(NaN), RangeError, /got NaN/],
    ["size of 2^32", () => heap.malloc(2 ** 32), RangeError, /got 4294967296/],
    ["string size", () => heap.malloc("8" as never), TypeError, /Size must be a number, got "8"/],
    ["bigint size", () => heap.malloc(16n as never), TypeError, /Size must be a number, got 16n$/],
    ["calloc overflow", () => heap.calloc(65536, 65536), RangeError, /65536 \* 65536 = 4294967296/],
    ["calloc count", () => heap.calloc(-2, 1), RangeError, /Count must be/],
    [
      "alignment 0",
      () => heap.alignedAlloc(0, 8),
      RangeError,
      /Alignment must be a power of two from 1 to 65536, got 0/,
    ],
    [
      "alignment 2^32",
      () => heap.alignedAlloc(2 ** 32, 8),
      RangeError,
      /^Alignment must be a power of two from 1 to 65536, got 4294967296$/,
    ],
    ["alignment 1.5", () => heap.alignedAlloc(1.5, 8), RangeError, /power of two .* got 1\.5/],
    ["string alignment", () => heap.alignedAlloc("16" as never, 8), TypeError, /got "16"/],
    [
      "alignment 48",
      () => heap.alignedAlloc(48, 8),
      RangeError,
      /power of two from 1 to 65536, got 48/,
    ],
    ["alignment 2^17", () => heap.alignedAlloc(131072, 8), RangeError, /got 131072/],
    [
      "free of a foreign pointer",
      () => heap.free(12345),
      RangeError,
      /free was given pointer 12345/,
    ],
    ["free of an interior pointer", () => heap.free(live + 4), RangeError, /not a live block/],
    ["free of a negative pointer", () => heap.free(-16), RangeError, /Pointer must be an integer/],
    [
      "realloc of a foreign pointer",
      () => heap.realloc(64, 8),
      RangeError,
      /realloc was given pointer 64/,
    ],
    ["usableSize(0)", () => heap.usableSize(0), RangeError, /usableSize was given pointer 0/],
    [
      "bytes past the block",
      () => heap.bytes(live, 13),
      RangeError,
      /Length must be an integer from 0 to 12, got 13/,
    ],
    [
      "limit below the blocks",
      () => (heap.limit = 100),
      RangeError,
      new RegExp(`Limit must be an integer from ${FIRST + MIN_BLOCK + HEADER} `),
    ],
  ];
  for (const [name, call, type, message] of cases) {
    await t.step(
      name,
      () => assert.throws(call, (e: Error) => e instanceof type && message.test(e.message)),
    );
  }
  await t.step("and nothing changed", () => assert.equal(heap.usableSize(live), 12));
});

Deno.test("Heap constructor checks its options", () => {
  assert.throws(() => new Heap({ memory: new WebAssembly.Memory({ initial: 1 }) }), TypeError);
  assert.throws(() => new Heap({ base: 16 }), TypeError);
  assert.throws(
    () => new Heap({ memory: {} as never, base: 0 }),
    /Memory must be a WebAssembly.Memory/,
  );
  const shared = new WebAssembly.Memory({ initial: 1, maximum: 2, shared: true });
  assert.throws(() => new Heap({ memory: shared, base: 0 }), /Memory is shared: pass shared: true/);
  assert.throws(
    () => new Heap({ limit: 100 }),
    new RegExp(`Limit must be an integer from ${FIRST + MIN_BLOCK + HEADER} `),
  );
  assert.throws(
    () => new Heap({ memory: new WebAssembly.Memory({ initial: 1 }), base: -1 }),
    RangeError,
  );
});

Deno.test("double free and use of a freed pointer are refused", () => {
  const heap = new Heap();
  const p = heap.malloc(100);
  heap.malloc(1);
  heap.free(p);
  assert.throws(() => heap.free(p), /free was given pointer/);
  assert.throws(() => heap.realloc(p, 10), /realloc was given pointer/);
  assert.throws(() => heap.bytes(p), /bytes was given pointer/);
});

Deno.test("running out of memory throws OutOfMemoryError and loses nothing", () => {
  const heap = new Heap({ limit: 4 * PAGE });
  const p = heap.malloc(1000);
  heap.bytes(p).fill(42);
  assert.throws(() => heap.malloc(10 * PAGE), (e: OutOfMemoryError) => {
    return e instanceof OutOfMemoryError && e.requested === 10 * PAGE && e.limit === 4 * PAGE &&
      /malloc cannot allocate 655360 bytes/.test(e.message);
  });
  assert.throws(() => heap.realloc(p, 10 * PAGE), OutOfMemoryError);
  assert.throws(() => heap.calloc(10, PAGE), OutOfMemoryError);
  assert.throws(() => heap.alignedAlloc(4096, 10 * PAGE), OutOfMemoryError);
  assert.ok(heap.bytes(p).every((b) => b === 42), "the block survived the failed realloc");
  heap.free(p);
});

Deno.test("the limit can be raised at run time and is honoured", () => {
  const heap = new Heap({ limit: 2 * PAGE });
  assert.throws(() => heap.malloc(3 * PAGE), OutOfMemoryError);
  heap.limit = 8 * PAGE;
  const p = heap.malloc(3 * PAGE);
  assert.ok(p + heap.usableSize(p) <= 8 * PAGE);
  assert.ok(heap.span <= 8 * PAGE);
  assert.equal(heap.limit, 8 * PAGE);
});

Deno.test("views stay valid across memory growth", () => {
  const heap = new Heap();
  assert.equal(heap.viewsFollowGrowth, true, "Deno has resizable wasm buffers");
  const u8 = heap.u8;
  const p = heap.malloc(16);
  const block = heap.bytes(p);
  heap.malloc(10 * PAGE); // grows the memory
  u8[p] = 1;
  block[1] = 2;
  assert.deepEqual([...heap.bytes(p, 2)], [1, 2]);
  heap.view.setUint32(p, 0xDEADBEEF, true);
  assert.equal(heap.view.getUint32(p, true), 0xDEADBEEF);
});

Deno.test("views are refreshed when a memory cannot be resizable", () => {
  const memory = new WebAssembly.Memory({ initial: 1 }); // no maximum: no resizable buffer
  const heap = new Heap({ memory, base: 0 });
  assert.equal(heap.viewsFollowGrowth, false);
  const before = heap.u8;
  const p = heap.malloc(10 * PAGE);
  assert.equal(before.byteLength, 0, "the old view was detached by the growth");
  heap.u8[p] = 7; // a fresh view
  assert.equal(heap.bytes(p, 1)[0], 7);
});

Deno.test("a heap leaves a given memory's buffer as it is", () => {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 100 });
  const before = new Uint8Array(memory.buffer);
  const heap = new Heap({ memory, base: 0 });
  assert.equal(before.byteLength, 65536, "the owner's view was not detached");
  assert.equal((memory.buffer as ArrayBuffer).resizable, false);
  assert.equal(heap.viewsFollowGrowth, false);
});

Deno.test("reset frees everything and keeps the memory", () => {
  const heap = new Heap();
  const first = heap.malloc(64);
  for (let i = 0; i < 100; i++) heap.malloc(5000);
  const span = heap.span;
  heap.reset();
  assert.throws(() => heap.usableSize(first + 5008), RangeError);
  assert.equal(heap.malloc(64), first);
  assert.equal(heap.span, span);
});

Deno.test("a heap over a region of a given memory leaves the rest alone", () => {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 100 });
  new Uint8Array(memory.buffer, 0, 1000).fill(0x5A);
  const heap = new Heap({ memory, base: 1000, limit: 20 * PAGE });
  const ptrs = Array.from({ length: 50 }, (_, i) => heap.calloc(i + 1, 100));
  for (const p of ptrs) assert.ok(p >= 1000 && p < 1000 + 20 * PAGE);
  assert.ok(heap.u8.subarray(0, 1000).every((b) => b === 0x5A));
  assert.equal(heap.exports.memory, memory);
});

Deno.test("exports are the raw C ABI: they return 0 instead of throwing", () => {
  const heap = new Heap({ limit: 2 * PAGE });
  const { malloc, free, calloc, aligned_alloc, malloc_usable_size, realloc } = heap.exports;
  assert.equal(malloc(3 * PAGE), 0);
  assert.equal(aligned_alloc(3, 8), 0);
  assert.equal(calloc(65536, 65536), 0);
  const p = malloc(8);
  assert.equal(malloc_usable_size(p), 12);
  assert.equal(realloc(p, 3 * PAGE), 0);
  free(p);
  assert.equal(heap.exports.memory, heap.memory);
});

Deno.test("every operation works through Heap", () => {
  const heap = new Heap();
  const a = heap.malloc(0);
  const b = heap.calloc(3, 7);
  const c = heap.alignedAlloc(1024, 10);
  assert.equal(c % 1024, 0);
  assert.ok(heap.bytes(b).every((x) => x === 0));
  const d = heap.realloc(a, 500);
  assert.ok(heap.usableSize(d) >= 500);
  assert.equal(heap.realloc(0, 5) % 16, 0);
  for (const p of [b, c, d]) heap.free(p);
  heap.free(0);
});
