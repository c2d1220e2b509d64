// Every row of the README's bad-input table, against both builds: what Heap throws, what the raw
// C ABI returns, and that the heap is intact afterwards. The README table is checked against the
// rows' names, so it cannot promise a row that is not tested here.
import assert from "node:assert/strict";
import { Heap, HeapMisuseError, type MisuseKind, OutOfMemoryError } from "../mod.ts";

const PAGE = 65536;

/** What a call must do: throw this type (with this message), or (raw) return this value. */
type Outcome =
  | { throws: ErrorConstructor | typeof OutOfMemoryError; message?: RegExp }
  | { misuse: MisuseKind }
  | { returns: number }
  | { ignored: true }
  | { corrupts: true }
  | { undefined: true };

interface Row {
  /** The bad input, as the README's table names it. */
  input: string;
  /** Makes the situation on a fresh heap and returns the bad call. */
  arrange(heap: Heap): () => unknown;
  /** What the release Heap does. */
  release: Outcome;
  /** What the checked Heap does. */
  checked: Outcome;
  /**
   * What the release build's raw export does, where it is reached at all; `undefined` where it is
   * C's undefined behaviour, and the README's raw column must say so for exactly these rows.
   */
  raw?: Outcome;
}

/** A live block with a full block after it, so nothing merges into the top region by accident. */
function live(heap: Heap, size = 100): number {
  const ptr = heap.malloc(size);
  heap.malloc(16);
  return ptr;
}

function freed(heap: Heap): number {
  const ptr = live(heap);
  heap.free(ptr);
  return ptr;
}

export const ROWS: Row[] = [
  {
    input: "size not an integer from 0 to 2^32 - 1",
    arrange: (heap) => () => heap.malloc(-1),
    release: {
      throws: RangeError,
      message: /Size must be an integer from 0 to 4294967295, got -1/,
    },
    checked: { throws: RangeError },
  },
  {
    input: "size not a number",
    arrange: (heap) => () => heap.malloc("12" as never),
    release: { throws: TypeError, message: /Size must be a number, got "12"/ },
    checked: { throws: TypeError },
  },
  {
    input: "size near 2^32",
    arrange: (heap) => () => heap.malloc(2 ** 32 - 1),
    release: { throws: OutOfMemoryError },
    checked: { throws: OutOfMemoryError },
    raw: { returns: 0 },
  },
  {
    input: "size past the limit",
    arrange: (heap) => () => heap.malloc(3 * PAGE),
    release: { throws: OutOfMemoryError, message: /cannot allocate 196608 bytes/ },
    checked: { throws: OutOfMemoryError },
    raw: { returns: 0 },
  },
  {
    input: "calloc count * size overflows 32 bits",
    arrange: (heap) => () => heap.calloc(65536, 65537),
    release: { throws: RangeError, message: /65536 \* 65537 = 4295032832/ },
    checked: { throws: RangeError },
    raw: { returns: 0 },
  },
  {
    input: "alignment not a power of two",
    arrange: (heap) => () => heap.alignedAlloc(24, 8),
    release: { throws: RangeError, message: /power of two from 1 to 65536, got 24/ },
    checked: { throws: RangeError },
    raw: { returns: 0 },
  },
  {
    input: "alignment 0 or above 64 KiB",
    arrange: (heap) => () => heap.alignedAlloc(131072, 8),
    release: { throws: RangeError, message: /got 131072/ },
    checked: { throws: RangeError },
    raw: { returns: 0 },
  },
  {
    input: "realloc that cannot grow",
    arrange: (heap) => {
      const ptr = live(heap);
      return () => heap.realloc(ptr, 3 * PAGE);
    },
    release: { throws: OutOfMemoryError },
    checked: { throws: OutOfMemoryError },
    raw: { returns: 0 },
  },
  {
    input: "free(0)",
    arrange: (heap) => () => heap.free(0),
    release: { ignored: true },
    checked: { ignored: true },
    raw: { ignored: true },
  },
  {
    input: "pointer outside the heap",
    arrange: (heap) => () => heap.free(8 * PAGE),
    release: {
      throws: RangeError,
      message: /free was given pointer 524288, which is not a live block/,
    },
    checked: { misuse: "invalid-pointer" },
    raw: { ignored: true },
  },
  {
    input: "misaligned pointer",
    arrange: (heap) => {
      const ptr = live(heap);
      return () => heap.free(ptr + 4);
    },
    release: { throws: RangeError, message: /not a live block/ },
    checked: { misuse: "invalid-pointer" },
    raw: { ignored: true },
  },
  {
    input: "double free",
    arrange: (heap) => {
      const ptr = freed(heap);
      return () => heap.free(ptr);
    },
    release: { throws: RangeError, message: /not a live block of this heap \(freed already/ },
    checked: { misuse: "double-free" },
    raw: { ignored: true },
  },
  {
    input: "double free after the block merged",
    arrange: (heap) => {
      const a = heap.malloc(100), b = heap.malloc(100);
      heap.malloc(16);
      heap.free(a);
      heap.free(b); // b merges into a's free block
      return () => heap.free(b);
    },
    release: { throws: RangeError },
    checked: { misuse: "double-free" },
    raw: { ignored: true },
  },
  {
    input: "realloc of a freed pointer",
    arrange: (heap) => {
      const ptr = freed(heap);
      return () => heap.realloc(ptr, 10);
    },
    release: { throws: RangeError, message: /realloc was given pointer/ },
    checked: { misuse: "double-free" },
    raw: { returns: 0 },
  },
  {
    input: "pointer into the middle of a live block",
    arrange: (heap) => {
      const ptr = live(heap, 200);
      heap.view.setUint32(ptr + 60, 32, true); // reads as the header of a used 32-byte block
      return () => heap.free(ptr + 64);
    },
    release: { throws: RangeError, message: /not a live block/ },
    checked: { misuse: "invalid-pointer" },
    raw: { undefined: true },
  },
  {
    input: "pointer into a free block, on bytes that read as a header",
    arrange: (heap) => {
      const ptr = live(heap);
      heap.view.setUint32(ptr + 12, 32, true);
      heap.free(ptr);
      return () => heap.free(ptr + 16);
    },
    release: { throws: RangeError, message: /not a live block/ },
    checked: { misuse: "invalid-pointer" },
    raw: { undefined: true },
  },
  {
    input: "pointer from before reset()",
    arrange: (heap) => {
      heap.malloc(8);
      const stale = heap.malloc(8);
      heap.reset();
      heap.free(live(heap)); // a free block whose bytes hold the old headers
      return () => heap.free(stale);
    },
    release: { throws: RangeError, message: /not a live block/ },
    checked: { misuse: "invalid-pointer" },
    raw: { undefined: true },
  },
  {
    input: "write past the end of a block",
    arrange: (heap) => {
      const ptr = live(heap);
      heap.u8[ptr + heap.usableSize(ptr)] ^= 0xFF;
      return () => heap.free(ptr);
    },
    release: { corrupts: true }, // the next header is damaged: check() sees it, free is undefined
    checked: { misuse: "overflow" },
    raw: { undefined: true },
  },
  {
    input: "write to freed memory",
    arrange: (heap) => {
      const ptr = freed(heap);
      heap.u8[ptr + 40] = 1;
      return () => heap.malloc(100);
    },
    release: { ignored: true }, // not detected: the write lands in a free block's unused bytes
    checked: { misuse: "use-after-free" },
    raw: { undefined: true }, // here harmless; on a free block's links, anything can follow
  },
];

function heapFor(checked: boolean): Heap {
  return new Heap({ limit: 2 * PAGE, checked });
}

function expect(outcome: Outcome, call: () => unknown, label: string): void {
  if ("throws" in outcome) {
    assert.throws(call, (e: Error) => {
      assert.ok(e instanceof outcome.throws, `${label}: ${e}`);
      if (outcome.message) assert.match(e.message, outcome.message, label);
      return true;
    });
  } else if ("misuse" in outcome) {
    assert.throws(call, (e: Error) => {
      assert.ok(e instanceof HeapMisuseError, `${label}: ${e}`);
      assert.equal(e.kind, outcome.misuse, label);
      return true;
    });
  } else if ("returns" in outcome) {
    assert.equal(call(), outcome.returns, label);
  } else if ("corrupts" in outcome || "undefined" in outcome) {
    // undefined behaviour in this build: the call is not made, the damage is visible to check()
  } else {
    call(); // must not throw
  }
}

Deno.test("bad input: every row against the release and the checked Heap", async (t) => {
  for (const row of ROWS) {
    for (const checked of [false, true]) {
      await t.step(`${row.input} (${checked ? "checked" : "release"})`, () => {
        const heap = heapFor(checked);
        const call = row.arrange(heap);
        const outcome = checked ? row.checked : row.release;
        const before = heap.walk();
        expect(outcome, call, row.input);
        if ("corrupts" in outcome) {
          assert.notDeepEqual(heap.check(), [], `${row.input}: check() must see the damage`);
        } else if (!("ignored" in outcome)) {
          // a refused call changed nothing
          assert.deepEqual(heap.walk(), before, `${row.input}: the heap changed`);
          if (!row.input.startsWith("write")) assert.deepEqual(heap.check(), [], row.input);
        }
      });
    }
  }
});

Deno.test("bad input: the release build's raw C ABI returns 0 or ignores", async (t) => {
  const calls: Record<string, (heap: Heap) => () => unknown> = {
    "size near 2^32": (heap) => () => heap.exports.malloc(2 ** 32 - 1) >>> 0,
    "size past the limit": (heap) => () => heap.exports.malloc(3 * PAGE),
    "calloc count * size overflows 32 bits": (heap) => () => heap.exports.calloc(65536, 65537),
    "alignment not a power of two": (heap) => () => heap.exports.aligned_alloc(24, 8),
    "alignment 0 or above 64 KiB": (heap) => () => heap.exports.aligned_alloc(131072, 8),
    "realloc that cannot grow": (heap) => {
      const ptr = live(heap);
      return () => heap.exports.realloc(ptr, 3 * PAGE);
    },
    "free(0)": (heap) => () => heap.exports.free(0),
    "pointer outside the heap": (heap) => () => heap.exports.free(8 * PAGE),
    "misaligned pointer": (heap) => {
      const ptr = live(heap);
      return () => heap.exports.free(ptr + 4);
    },
    "double free": (heap) => {
      const ptr = freed(heap);
      return () => heap.exports.free(ptr);
    },
    "double free after the block merged": (heap) => {
      const a = heap.malloc(100), b = heap.malloc(100);
      heap.malloc(16);
      heap.free(a);
      heap.free(b);
      return () => heap.exports.free(b);
    },
    "realloc of a freed pointer": (heap) => {
      const ptr = freed(heap);
      return () => heap.exports.realloc(ptr, 10);
    },
  };
  for (const row of ROWS.filter((row) => row.raw && !("undefined" in row.raw))) {
    await t.step(row.input, () => {
      const heap = heapFor(false);
      const call = calls[row.input];
      assert.ok(call, `no raw call for ${row.input}`);
      const bad = call(heap);
      const before = heap.walk();
      expect(row.raw!, bad, row.input);
      assert.deepEqual(heap.walk(), before, `${row.input}: the heap changed`);
      assert.deepEqual(heap.check(), [], row.input);
    });
  }
});

Deno.test("the README's bad-input table lists exactly the tested rows", async () => {
  const readme = await Deno.readTextFile(new URL("../docs/bad-input.md", import.meta.url));
  const table = readme.slice(
    readme.indexOf("<!-- misuse:start -->"),
    readme.indexOf("<!-- misuse:end -->"),
  );
  const rows = [...table.matchAll(/^\|(.*)\|$/gm)].map((m) => m[1].split("|").map((c) => c.trim()))
    .slice(2);
  assert.deepEqual(
    rows.map((cells) => cells[0]),
    ROWS.map((row) => row.input.replaceAll("*", "\\*")),
  );
  // the raw C ABI's undefined behaviour is said exactly where it is
  const undefinedRaw = ROWS.filter((row) => row.raw && "undefined" in row.raw).map((r) => r.input);
  assert.deepEqual(
    rows.filter((cells) => cells[2] === "undefined").map((cells) => cells[0]),
    undefinedRaw,
  );
});

Deno.test("after a reported misuse the checked heap goes on working", () => {
  const heap = heapFor(true);
  const ptrs = [heap.malloc(100), heap.malloc(200), heap.malloc(300)];
  heap.free(ptrs[1]);
  assert.throws(() => heap.free(ptrs[1]), HeapMisuseError);
  assert.throws(() => heap.free(ptrs[0] + 32), HeapMisuseError);
  const again = heap.malloc(200);
  assert.equal(again, ptrs[1]);
  for (const ptr of [ptrs[0], again, ptrs[2]]) heap.free(ptr);
  assert.deepEqual(heap.check(), []);
});

Deno.test("a checked heap reports misuse by another wasm module through its exports", () => {
  const heap = heapFor(true);
  const ptr = heap.exports.malloc(10);
  heap.exports.free(ptr);
  assert.throws(() => heap.exports.free(ptr), /free: double free/);
  assert.throws(() => heap.exports.realloc(ptr, 5), /realloc: double free/);
});
