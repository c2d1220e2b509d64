// A bounded random run of every operation against a shadow map of live blocks: alignment,
// non-overlap, usable size, contents kept across realloc and untouched by other operations,
// calloc zeroing. Both placements. The differential fuzzer in fuzz/ goes further.
import assert from "node:assert/strict";
import { Heap } from "../mod.ts";
import { seeded } from "./_test_util.ts";

interface Live {
  usable: number;
  fill: number;
}

function run(heap: Heap, seed: number, steps: number): void {
  const random = seeded(seed);
  const live = new Map<number, Live>();
  const sizes = [0, 1, 12, 13, 100, 112, 127, 128, 500, 4000, 65535, 65536, 70_000];
  const size = () => random(4) ? random(300) : sizes[random(sizes.length)];
  const check = (ptr: number, block: Live, what: string) => {
    const bytes = heap.bytes(ptr, block.usable);
    assert.ok(
      bytes.every((b) => b === block.fill),
      `${what}: block ${ptr} disturbed (seed ${seed})`,
    );
  };
  const place = (
    ptr: number,
    requested: number,
    alignment: number,
    fill: number,
    zero: boolean,
  ) => {
    assert.equal(ptr % alignment, 0, `alignment ${alignment} (seed ${seed})`);
    const usable = heap.usableSize(ptr);
    assert.ok(usable >= requested, `usable ${usable} < ${requested} (seed ${seed})`);
    for (const [other, block] of live) {
      assert.ok(
        ptr + usable <= other || other + block.usable <= ptr,
        `${ptr} overlaps ${other} (seed ${seed})`,
      );
    }
    if (zero) {
      assert.ok(heap.bytes(ptr, requested).every((b) => b === 0), `calloc not zero (seed ${seed})`);
    }
    heap.bytes(ptr).fill(fill);
    live.set(ptr, { usable, fill });
  };
  for (let step = 0; step < steps; step++) {
    const op = random(10);
    const fill = 1 + random(255);
    if (op < 4 || live.size === 0) {
      const n = size();
      place(heap.malloc(n), n, 16, fill, false);
    } else if (op === 4) {
      const n = size();
      place(heap.calloc(1, n), n, 16, fill, true);
    } else if (op === 5) {
      const alignment = 2 ** random(17), n = size();
      place(heap.alignedAlloc(alignment, n), n, Math.max(alignment, 16), fill, false);
    } else {
      const ptrs = [...live.keys()];
      const ptr = ptrs[random(ptrs.length)];
      const block = live.get(ptr)!;
      check(ptr, block, "before free/realloc");
      live.delete(ptr);
      if (op < 8) {
        heap.free(ptr);
      } else {
        const n = size();
        const moved = heap.realloc(ptr, n);
        const kept = Math.min(n, block.usable);
        assert.ok(
          heap.bytes(moved, kept).every((b) => b === block.fill),
          `realloc lost data (seed ${seed})`,
        );
        place(moved, n, 16, fill, false);
      }
    }
  }
  for (const [ptr, block] of live) check(ptr, block, "at the end");
}

Deno.test("random operations keep every block aligned, apart and intact", async (t) => {
  for (const seed of [1, 2, 3]) {
    await t.step(`own memory, seed ${seed}`, () => run(new Heap(), seed, 3000));
    await t.step(`region at base 4100, seed ${seed}`, () => {
      const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536 });
      run(new Heap({ memory, base: 4100 }), seed, 3000);
    });
  }
});
