// Heap.walk, Heap.stats and Heap.check: the reader against heaps built by hand, and each kind
// of damage to the bookkeeping it must report.
import assert from "node:assert/strict";
import { Heap } from "../mod.ts";
import { ALIGN, FIRST, HEADER, HEADS, QUICK_HEADS } from "./_layout.ts";
import { rootOf } from "./_heap_reader.ts";
import { classOf } from "./_size_class.ts";

/**
 * A heap with blocks used, free, used, free, used (sizes 112, 416, 112, 32, 112): the 416-byte
 * one in its class's free list; the 32-byte one in its class's too, or in a checked heap (whose
 * module has quick lists) in its quick list.
 */
function holes(heap = new Heap()) {
  const ptrs = [100, 400, 100, 20, 100].map((size) => heap.malloc(size));
  heap.free(ptrs[1]);
  heap.free(ptrs[3]);
  return { heap, ptrs };
}

Deno.test("walk lists every block in address order", () => {
  const { heap, ptrs } = holes();
  assert.deepEqual(heap.walk(), [
    { address: ptrs[0] - HEADER, ptr: ptrs[0], size: 112, free: false },
    { address: ptrs[1] - HEADER, ptr: ptrs[1], size: 416, free: true },
    { address: ptrs[2] - HEADER, ptr: ptrs[2], size: 112, free: false },
    { address: ptrs[3] - HEADER, ptr: ptrs[3], size: 32, free: true },
    { address: ptrs[4] - HEADER, ptr: ptrs[4], size: 112, free: false },
  ]);
  assert.equal(ptrs[0], FIRST + HEADER, "a heap with its own memory starts at 0");
  heap.reset();
  assert.deepEqual(heap.walk(), []);
});

Deno.test("stats count blocks and bytes, and the parts add up to the span", async (t) => {
  for (const base of [undefined, 4100]) {
    await t.step(base === undefined ? "own memory" : `region at ${base}`, () => {
      const memory = base === undefined ? undefined : new WebAssembly.Memory({ initial: 1 });
      const { heap } = holes(new Heap({ memory, base }));
      const stats = heap.stats();
      assert.equal(stats.span, heap.span);
      assert.equal(stats.overheadBytes, rootOf(heap.base) - heap.base + FIRST + HEADER);
      assert.equal(stats.usedBlocks, 3);
      assert.equal(stats.usedBytes, 3 * 112);
      assert.equal(stats.freeBlocks, 2);
      assert.equal(stats.freeBytes, 416 + 32);
      assert.equal(stats.largestFree, 416);
      assert.equal(
        stats.span,
        stats.overheadBytes + stats.usedBytes + stats.freeBytes + stats.topBytes,
      );
      const free = stats.freeBytes + stats.topBytes;
      assert.equal(stats.fragmentation, 1 - stats.topBytes / free, "the top region is largest");
    });
  }
});

Deno.test("walk and stats read blocks of 2 GiB and more as unsigned sizes", () => {
  const heap = new Heap();
  const big = heap.malloc(2 ** 31 + 100);
  heap.free(heap.malloc(16));
  const [block] = heap.walk();
  assert.equal(block.ptr, big);
  assert.equal(block.size, 2 ** 31 + 112);
  assert.equal(heap.stats().usedBytes, 2 ** 31 + 112);
  assert.deepEqual(heap.check(), []);
});

Deno.test("fragmentation is 0 with nothing free, and the share outside the largest piece", () => {
  const heap = new Heap({ limit: FIRST + HEADER + 3 * 112 });
  const ptrs = [100, 100, 100].map((size) => heap.malloc(size));
  assert.equal(heap.stats().topBytes, 0);
  assert.equal(heap.stats().fragmentation, 0);
  heap.free(ptrs[0]);
  assert.equal(heap.stats().fragmentation, 0, "one free block is all of the free memory");
  heap.free(ptrs[2]); // merges into the top region: two free pieces of 112 bytes
  assert.equal(heap.stats().fragmentation, 0.5);
});

Deno.test("check finds nothing wrong in heaps the allocator built", () => {
  const { heap } = holes();
  assert.deepEqual(heap.check(), []);
  const memory = new WebAssembly.Memory({ initial: 2 });
  assert.deepEqual(holes(new Heap({ memory, base: 65_539 })).heap.check(), []);
});

Deno.test("check reports damage to the bookkeeping", async (t) => {
  const damage = (
    name: string,
    harm: (view: DataView, ptrs: number[], heap: Heap) => void,
    expected: RegExp,
    checked = false,
  ) =>
    t.step(name, () => {
      const { heap, ptrs } = holes(new Heap({ checked }));
      harm(heap.view, ptrs, heap);
      const problems = heap.check();
      assert.ok(problems.some((problem) => expected.test(problem)), problems.join("\n"));
    });
  const header = (ptr: number) => ptr - HEADER;
  const slot = (size: number) => rootOf(0) + HEADS + 4 * classOf(size);
  const quickSlot = (size: number) => rootOf(0) + QUICK_HEADS + 4 * (size / ALIGN);
  await damage(
    "a header overwritten with zero",
    (view, ptrs) => view.setUint32(header(ptrs[2]), 0, true),
    /Block at \d+ has size 0, which does not fit below top/,
  );
  await damage(
    "a size that runs past top",
    (view, ptrs) => view.setUint32(header(ptrs[4]), 4096, true),
    /has size 4096, which does not fit/,
  );
  await damage(
    "a LEFT_FREE tag lost",
    (view, ptrs) => view.setUint32(header(ptrs[2]), 112, true),
    /has LEFT_FREE clear but the block below it is free/,
  );
  await damage(
    "a LEFT_FREE tag where the block below is used",
    (view, ptrs) => view.setUint32(header(ptrs[1]), 416 | 1 | 2, true),
    /has LEFT_FREE set but the block below it is used/,
  );
  await damage(
    "unknown tag bits",
    (view, ptrs) => view.setUint32(header(ptrs[0]), 112 | 8, true),
    /unknown tag bits in header 120/,
  );
  await damage(
    "a free block's back word",
    (view, ptrs) => view.setUint32(header(ptrs[1]) + 416 - HEADER, 7, true),
    /Free block at \d+ has back word 7/,
  );
  await damage(
    "a used block marked free",
    (view, ptrs) => view.setUint32(header(ptrs[0]), 112 | 1, true),
    /is in no list/,
  );
  await damage(
    "a list head cleared",
    (view) => view.setUint32(slot(416), 0, true),
    /Free block at \d+ is in no list/,
  );
  await damage(
    "a list head naming a used block",
    (view, ptrs) => view.setUint32(slot(416), header(ptrs[0]), true),
    new RegExp(`List ${classOf(416)} links to \\d+, which is not a free block`),
  );
  await damage(
    "a list that loops",
    (view, ptrs) => view.setUint32(header(ptrs[1]) + 8, header(ptrs[1]), true),
    new RegExp(`List ${classOf(416)} links to \\d+, which is not a free block, or loops`),
  );
  await damage(
    "a prev link",
    (view, ptrs) => view.setUint32(header(ptrs[1]) + 4, 64, true),
    new RegExp(`in list ${classOf(416)} has prev 64`),
  );
  await damage(
    "a free block in the wrong list",
    (view, ptrs) => {
      view.setUint32(slot(416), 0, true);
      view.setUint32(slot(32), header(ptrs[1]), true);
      view.setUint32(header(ptrs[1]) + 4, slot(32) - 8, true);
    },
    new RegExp(`Free block at \\d+ of size 416 is in list ${classOf(32)}, not ${classOf(416)}`),
  );
  await damage(
    "a quick list head cleared",
    (view) => view.setUint32(quickSlot(32), 0, true),
    /Free block at \d+ is in no list/,
    true,
  );
  await damage(
    "a quick list that loops",
    (view, ptrs) => view.setUint32(header(ptrs[3]) + 4, header(ptrs[3]), true),
    /Quick list 2 links to \d+, which is not a quick-listed block, or loops/,
    true,
  );
  await damage(
    "a quick list's length, in its head's low bits",
    (view, ptrs) => view.setUint32(quickSlot(32), (header(ptrs[3]) & ~15) | 5, true),
    /in quick list 2 is linked as 5 long, not 1/,
    true,
  );
  await damage(
    "a free block in a quick list",
    (view, ptrs) => view.setUint32(quickSlot(416 % 256), header(ptrs[1]), true),
    /Quick list 10 links to \d+, which is not a quick-listed block/,
    true,
  );
  await damage(
    "a free block next to the top region",
    (view, ptrs) => view.setUint32(header(ptrs[4]), 112 | 1, true),
    /The free block below top \d+ was not merged into it/,
  );
});
