// The four bugs of issue 9, each as its user found it. Each test failed before its fix.
import assert from "node:assert/strict";
import { Heap, type HeapMisuseError, ModelHeap, OutOfMemoryError } from "../mod.ts";

const PAGE = 65536;

Deno.test("a pointer from before reset() is refused, and no block is handed out twice", () => {
  for (const checked of [false, true]) {
    const h = new Heap({ checked });
    h.malloc(8);
    const stale = h.malloc(8);
    h.reset();
    const big = h.malloc(100);
    h.malloc(8);
    h.free(big);
    const before = h.walk();
    assert.throws(() => h.usableSize(stale), RangeError);
    assert.throws(() => h.free(stale), RangeError);
    assert.throws(() => h.realloc(stale, 4), RangeError);
    assert.deepEqual(h.walk(), before);
    assert.deepEqual(h.check(), []);
    const ptrs = Array.from({ length: 8 }, () => h.malloc(8));
    assert.equal(new Set(ptrs).size, 8);
  }
});

Deno.test("a 16-aligned pointer into a free block is refused, whatever its bytes read", () => {
  for (const checked of [false, true]) {
    const h = new Heap({ checked });
    const a = h.malloc(100);
    h.malloc(8);
    h.view.setUint32(a + 12, 32, true); // reads as the header of a used 32-byte block at a + 12
    h.free(a);
    const before = h.walk();
    assert.throws(() => h.free(a + 16), RangeError);
    assert.throws(() => h.usableSize(a + 16), RangeError);
    assert.deepEqual(h.walk(), before);
    assert.deepEqual(h.check(), []);
  }
});

Deno.test("a checked heap over a given memory writes nothing outside [base, base + limit)", () => {
  const memory = new WebAssembly.Memory({ initial: 4 });
  const owner = new Uint8Array(memory.buffer);
  owner.fill(0xA5);
  const base = 4096, limit = 16384;
  const h = new Heap({ memory, base, limit, checked: true });
  const outside = () =>
    owner.subarray(0, base).some((b) => b !== 0xA5) ||
    owner.subarray(base + limit).some((b) => b !== 0xA5);
  assert.ok(!outside(), "the constructor wrote outside the region");
  h.malloc(100);
  h.reset();
  assert.ok(!outside(), "reset() wrote outside the region");
  // the owner's bytes just above the limit are no freed memory: near the limit, out of memory
  assert.throws(() => h.malloc(limit - 1024), OutOfMemoryError);
  assert.throws(() => h.malloc(limit), OutOfMemoryError);
  h.malloc(64);
  assert.ok(!outside());
});

Deno.test("raising a checked heap's limit over the owner's bytes is no use after free", () => {
  const memory = new WebAssembly.Memory({ initial: 2 });
  new Uint8Array(memory.buffer).fill(0xA5);
  const h = new Heap({ memory, base: 1024, limit: 8192, checked: true });
  h.malloc(4000);
  h.limit = 65536;
  const ptr = h.malloc(20_000); // the top region now spans bytes the heap never poisoned
  assert.ok(ptr > 0);
  assert.deepEqual(h.check(), []);
});

Deno.test("ModelHeap serves allocations when its limit ends at or above 2^31", () => {
  for (const kind of [Heap, ModelHeap]) {
    const m = new kind();
    m.limit = m.limit + 0; // sets the limit it has: its end, 2^32 - 128 KiB
    assert.ok(m.malloc(1) > 0, kind.name);
    m.limit = 2 ** 31 + PAGE; // its end at 2^31 + 64 KiB
    assert.ok(m.malloc(PAGE) > 0, kind.name);
  }
});

Deno.test("blocks another module allocates or frees through exports are known to the Heap", () => {
  for (const checked of [false, true]) {
    const h = new Heap({ checked });
    const mine = h.malloc(40);
    const theirs = h.exports.malloc(40) >>> 0; // as another module calling wasm to wasm
    assert.equal(h.usableSize(theirs), h.usableSize(mine));
    h.free(theirs);
    h.exports.free(mine);
    assert.throws(() => h.free(mine), RangeError); // freed behind the record's back
    const again = h.exports.malloc(40) >>> 0; // the same block, live again
    assert.equal(again, mine);
    h.free(again);
    assert.deepEqual(h.walk(), []);
  }
});

Deno.test("a checked heap reports a free block's overwritten link rather than follow it", () => {
  const h = new Heap({ checked: true });
  // two free blocks of one class (512 and 528 bytes), the smaller at the head of its list
  const a = h.malloc(528 - 8);
  h.malloc(0);
  const b = h.malloc(512 - 8);
  h.malloc(0);
  h.free(a);
  h.free(b);
  for (const link of [0x7BAD_0001, 0x100]) { // out of the memory; in it, but not a block
    h.view.setUint32(b + 4, link, true); // b's next
    const before = h.walk();
    assert.throws(
      () => h.malloc(528 - 8), // the scan passes b, which is too small, to its next
      (e: HeapMisuseError) => e.kind === "use-after-free" && e.address === b + 4,
    );
    assert.deepEqual(h.walk(), before);
  }
});
