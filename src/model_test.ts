// ModelHeap as an allocator in its own right, and as a stand-in for Heap: same results, same
// errors, same memory growth. The differential fuzzer in fuzz/ compares the two at length.
import assert from "node:assert/strict";
import fc from "fast-check";
import { Heap, type HeapOptions, ModelHeap, OutOfMemoryError } from "../mod.ts";

const PAGE = 65536;

/** A Heap and a ModelHeap made alike; `memory` gives each a fresh memory of that shape. */
function pair(options: HeapOptions & { pages?: number; maximum?: number } = {}) {
  const { pages, maximum, ...rest } = options;
  const memory = () =>
    pages === undefined ? undefined : new WebAssembly.Memory({ initial: pages, maximum });
  return {
    heap: new Heap({ ...rest, memory: memory() }),
    model: new ModelHeap({ ...rest, memory: memory() }),
  };
}

Deno.test("ModelHeap returns what Heap returns, and grows memory alike", async (t) => {
  const cases: [string, Parameters<typeof pair>[0]][] = [
    ["own memory", {}],
    ["region at an odd base", { pages: 1, base: 4099 }],
    ["region whose memory refuses to grow", { pages: 2, maximum: 3, base: 70_000 }],
    ["small limit", { limit: 300_000 }],
  ];
  for (const [name, options] of cases) {
    await t.step(name, () => {
      const { heap, model } = pair(options);
      const results = (target: Heap | ModelHeap) => {
        const out: (number | string)[] = [];
        const attempt = (call: () => number) => {
          try {
            out.push(call());
          } catch (error) {
            out.push((error as Error).name);
          }
        };
        const ptrs = [10, 100, 1000, 10_000, 100_000].map((size) => target.malloc(size));
        target.free(ptrs[1]);
        target.free(ptrs[3]);
        attempt(() => target.alignedAlloc(4096, 50));
        attempt(() => target.realloc(ptrs[0], 90));
        attempt(() => target.realloc(ptrs[2], 5000));
        attempt(() => target.calloc(1000, 70));
        attempt(() => target.malloc(150_000));
        attempt(() => target.realloc(ptrs[4], 0));
        out.push(...ptrs, target.memory.buffer.byteLength);
        return out;
      };
      assert.deepEqual(results(model), results(heap));
      assert.deepEqual(model.walk(), heap.walk());
      assert.deepEqual(model.stats(), heap.stats());
      assert.deepEqual(model.check(), []);
    });
  }
});

Deno.test("ModelHeap throws what Heap throws, with the same messages", () => {
  const { heap, model } = pair({ limit: 1 << 20 });
  const calls: [string, (target: Heap | ModelHeap, live: number) => unknown][] = [
    ["negative size", (target) => target.malloc(-1)],
    ["string size", (target) => target.malloc("8" as never)],
    ["calloc overflow", (target) => target.calloc(65536, 65536)],
    ["alignment 48", (target) => target.alignedAlloc(48, 8)],
    ["free of a foreign pointer", (target) => target.free(12345)],
    ["realloc after free", (target, live) => (target.free(live), target.realloc(live, 8))],
    ["usableSize(0)", (target) => target.usableSize(0)],
    ["bytes past the block", (target, live) => target.bytes(live, 13)],
    ["out of memory", (target) => target.malloc(2 << 20)],
    ["limit below the span", (target) => (target.limit = 100)],
    ["base without memory", () => new ModelHeap({ base: 16 })],
  ];
  for (const [name, call] of calls) {
    const thrown = (target: Heap | ModelHeap) => {
      try {
        call(target, target.malloc(10));
      } catch (error) {
        return `${(error as Error).constructor.name}: ${(error as Error).message}`;
      }
      return "nothing thrown";
    };
    const expected = thrown(heap);
    assert.notEqual(expected, "nothing thrown", name);
    assert.equal(thrown(model), expected, name);
  }
  assert.throws(() => model.malloc(4 << 20), OutOfMemoryError);
});

Deno.test("ModelHeap keeps contents: realloc copies when it moves, calloc zeroes reused memory", () => {
  const heap = new ModelHeap();
  const ptr = heap.malloc(100);
  heap.malloc(10); // keeps ptr from growing in place
  heap.bytes(ptr).set(Array.from({ length: 108 }, (_, i) => i));
  const moved = heap.realloc(ptr, 5000);
  assert.notEqual(moved, ptr);
  assert.deepEqual([...heap.bytes(moved, 108)], Array.from({ length: 108 }, (_, i) => i));
  heap.bytes(moved).fill(0xEE);
  heap.free(moved);
  const zeroed = heap.calloc(1, 5000);
  assert.equal(zeroed, moved, "the dirty block is reused");
  assert.ok(heap.bytes(zeroed, 5000).every((byte) => byte === 0));
});

Deno.test("ModelHeap.exports read their arguments as unsigned, as wasm callers pass them", () => {
  const { exports } = new ModelHeap();
  assert.equal(exports.malloc(-1), 0, "-1 is 2^32 - 1 bytes");
  assert.equal(exports.aligned_alloc(-(2 ** 31), 8), 0, "2^31 is too large an alignment");
  const ptr = exports.malloc(100);
  assert.equal(exports.malloc_usable_size(ptr), 108);
  exports.free(ptr | 0);
  assert.equal(exports.malloc_usable_size(ptr), 0);
});

Deno.test("ModelHeap models the checked build's longer blocks", () => {
  const heap = new Heap({ checked: true }), model = new ModelHeap({ checked: true });
  for (const size of [0, 1, 8, 9, 100, 5000]) {
    assert.equal(model.malloc(size), heap.malloc(size));
  }
  assert.equal(model.usableSize(model.malloc(1)), 1); // exactly what was asked for
  assert.equal(heap.usableSize(heap.malloc(1)), 1);
  assert.deepEqual(model.walk(), heap.walk());
});

Deno.test("a region past the memory's end grows by what it needs, not to its limit", () => {
  // the growth step once subtracted the root from the memory's end in 32 bits, which wrapped
  // when the end lay below the root and grew the memory as far as the limit allowed
  const { heap, model } = pair({ pages: 1, base: 100_000, limit: 64 * PAGE });
  assert.ok(heap.memory.buffer.byteLength <= 3 * PAGE, `${heap.memory.buffer.byteLength} bytes`);
  assert.equal(model.memory.buffer.byteLength, heap.memory.buffer.byteLength);
});

Deno.test("ModelHeap and Heap agree on any sequence of calls, bad arguments included", () => {
  type Target = Heap | ModelHeap;
  type Call = (target: Target, live: number[]) => unknown;
  const op = (name: string, call: Call): [string, Call] => [name, call];
  const bad = fc.constantFrom<unknown>(-1, 1.5, NaN, 2 ** 32, "8", 10n, null, undefined);
  const size = fc.oneof(fc.nat({ max: 5000 }), fc.constantFrom(0, 65536, 2 ** 32 - 1), bad);
  const alignment = fc.oneof(fc.constantFrom(0, 1, 3, 16, 64, 4096, 65536, 131072), bad);
  // live pointers, pointers just past one, and values no heap hands out
  const pointer: fc.Arbitrary<(live: number[]) => unknown> = fc.oneof(
    fc.nat().map((i) => (live: number[]) => live.length ? live[i % live.length] : 0),
    fc.tuple(fc.nat(), fc.integer({ min: 1, max: 15 })).map(([i, offset]) => (live: number[]) =>
      (live.length ? live[i % live.length] : 288) + offset
    ),
    fc.oneof(fc.constantFrom(0, 16, 2 ** 32 - 16), bad).map((value) => () => value),
  );
  const call = fc.oneof(
    size.map((n) => op(`malloc(${n})`, (t) => t.malloc(n as number))),
    fc.tuple(size, size).map(([n, m]) =>
      op(`calloc(${n}, ${m})`, (t) => t.calloc(n as number, m as number))
    ),
    fc.tuple(alignment, size).map(([a, n]) =>
      op(`alignedAlloc(${a}, ${n})`, (t) => t.alignedAlloc(a as number, n as number))
    ),
    fc.tuple(pointer, size).map(([p, n]) =>
      op(`realloc(p, ${n})`, (t, live) => t.realloc(p(live) as number, n as number))
    ),
    pointer.map((p) =>
      op("free(p), twice", (t, live) => {
        const ptr = p(live) as number;
        t.free(ptr);
        t.free(ptr);
      })
    ),
    pointer.map((p) => op("usableSize(p)", (t, live) => t.usableSize(p(live) as number))),
    fc.oneof(fc.nat({ max: 1 << 22 }), bad).map((limit) =>
      op(`limit = ${limit}`, (t) => (t.limit = limit as number))
    ),
    fc.constant(op("reset()", (t) => t.reset())),
  );
  fc.assert(
    fc.property(fc.array(call, { maxLength: 40 }), (calls) => {
      const heap = new Heap({ limit: 1 << 20 }), model = new ModelHeap({ limit: 1 << 20 });
      const live = { heap: [] as number[], model: [] as number[] };
      const outcome = (target: Target, ptrs: number[], [name, call]: [string, Call]) => {
        try {
          const result = call(target, ptrs);
          if (name === "reset()") ptrs.length = 0;
          else if (typeof result === "number" && result !== 0 && !name.startsWith("usable")) {
            ptrs.push(result);
          }
          return `returned ${result}`;
        } catch (error) {
          return `${(error as Error).constructor.name}: ${(error as Error).message}`;
        }
      };
      for (const call of calls) {
        assert.equal(outcome(model, live.model, call), outcome(heap, live.heap, call), call[0]);
      }
      assert.deepEqual(model.walk(), heap.walk());
    }),
    { numRuns: 200 },
  );
});
