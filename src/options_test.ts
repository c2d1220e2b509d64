// Options are checked like arguments, a checked heap's misuse is a RangeError too, and a limit
// is what a user would expect of one: enough for one block at least, and lowerable to what the
// heap uses.
import assert from "node:assert/strict";
import { Heap, HeapMisuseError, ModelHeap, OutOfMemoryError } from "../mod.ts";
import { FIRST, HEADER, MIN_BLOCK } from "./_layout.ts";

Deno.test("Heap's options are checked like its arguments, naming the value", () => {
  const cases: [unknown, ErrorConstructor, RegExp][] = [
    [null, TypeError, /^Options must be an object, got null$/],
    [16, TypeError, /^Options must be an object, got 16$/],
    [[], TypeError, /^Options must be an object, got an array$/],
    [{ checked: "yes" }, TypeError, /^Checked must be true or false, got "yes"$/],
    [{ checked: 1 }, TypeError, /^Checked must be true or false, got 1$/],
    [{ limit: 16n }, TypeError, /^Limit must be a number, got 16n$/],
    [{ limit: "1MB" }, TypeError, /^Limit must be a number, got "1MB"$/],
  ];
  for (const [options, type, message] of cases) {
    assert.throws(() => new Heap(options as never), (e: Error) => {
      assert.ok(e instanceof type, `${e}`);
      assert.match(e.message, message);
      return true;
    });
  }
  assert.equal(new Heap(undefined).checked, false);
  assert.equal(new Heap({ checked: true }).checked, true);
});

Deno.test("the same misuse is a RangeError in either build", () => {
  for (const checked of [false, true]) {
    const heap = new Heap({ checked });
    const ptr = heap.malloc(10);
    heap.free(ptr);
    assert.throws(() => heap.free(ptr), RangeError, `checked: ${checked}`);
    if (checked) assert.throws(() => heap.free(ptr), HeapMisuseError);
  }
});

Deno.test("a limit that could not serve a single block is refused", () => {
  for (const checked of [false, true]) {
    for (const base of [0, 1, 1000]) {
      const memory = base ? new WebAssembly.Memory({ initial: 1 }) : undefined;
      const at = base ? { memory, base } : {};
      const least = Math.ceil(base / 16) * 16 - base + FIRST + MIN_BLOCK + HEADER;
      assert.throws(
        () => new Heap({ ...at, limit: least - 1, checked }),
        new RangeError(
          `Limit must be an integer from ${least} to ${0xFFFE_0000 - base}, got ${least - 1}`,
        ),
      );
      const heap = new Heap({ ...at, limit: least, checked });
      heap.free(heap.malloc(0));
      assert.throws(() => heap.malloc(100), OutOfMemoryError);
    }
  }
  assert.throws(() => new Heap({ limit: 1796 }), /from 1808/);
});

Deno.test("the limit can be lowered to what the heap uses, below the memory's size", () => {
  const served: number[][] = [];
  for (const Kind of [Heap, ModelHeap]) {
    const memory = new WebAssembly.Memory({ initial: 256 }); // 16 MiB, grown already
    const heap = new Kind({ memory, base: 1024, limit: 16 << 20 });
    const kept = heap.malloc(1000);
    heap.limit = 1 << 20;
    assert.equal(heap.limit, 1 << 20);
    assert.equal(heap.span, 1 << 20);
    assert.throws(() => heap.malloc(1 << 20), OutOfMemoryError, Kind.name);
    const ptrs = [];
    for (;;) {
      try {
        ptrs.push(heap.malloc(4000));
      } catch (e) {
        assert.ok(e instanceof OutOfMemoryError);
        break;
      }
    }
    served.push(ptrs);
    const end = Math.max(...heap.walk().map((block) => block.address + block.size));
    assert.ok(end + HEADER <= 1024 + (1 << 20), `${Kind.name}: blocks end at ${end}`);
    assert.ok(end + HEADER > 1024 + (1 << 20) - 4096 - 16, `${Kind.name}: the limit is used`);
    assert.throws(
      () => (heap.limit = end + HEADER - 1024 - 16),
      new RegExp(`Limit must be an integer from ${end + HEADER - 1024} `),
    );
    ptrs.forEach((ptr) => heap.free(ptr));
    heap.limit = heap.walk().at(-1)!.address + heap.walk().at(-1)!.size + HEADER - 1024;
    assert.equal(heap.usableSize(kept), 1004 + (heap.checked ? -4 : 0));
    assert.deepEqual(heap.check(), []);
  }
  assert.deepEqual(
    served[1],
    served[0],
    "the model serves the same pointers under the lowered limit",
  );
});

Deno.test("check() on a checked heap reads guards and poison", async (t) => {
  const setup = () => {
    const heap = new Heap({ checked: true });
    const ptrs = [100, 200, 300, 400].map((size) => heap.malloc(size));
    heap.free(ptrs[1]);
    heap.free(ptrs[3]); // back into the top region
    assert.deepEqual(heap.check(), []);
    return { heap, ptrs };
  };
  await t.step("a guard overwritten", () => {
    const { heap, ptrs } = setup();
    const block = heap.walk().find((block) => block.ptr === ptrs[0])!;
    heap.u8[block.address + block.size - 4] ^= 1; // the guard's first byte
    assert.match(heap.check().join("\n"), /guard overwritten/);
  });
  await t.step("a red zone overwritten", () => {
    const { heap, ptrs } = setup();
    heap.u8[ptrs[0] + heap.usableSize(ptrs[0])] ^= 1; // one byte past the size asked for
    assert.match(heap.check().join("\n"), /red zone overwritten/);
  });
  await t.step("a freed block written", () => {
    const { heap, ptrs } = setup();
    heap.u8[ptrs[1] + 50] = 7;
    assert.match(heap.check().join("\n"), /Freed memory at \d+ was written/);
  });
  await t.step("freed memory in the top region written", () => {
    const { heap, ptrs } = setup();
    heap.u8[ptrs[3] + 50] = 7;
    assert.match(heap.check().join("\n"), /Freed memory at \d+ was written/);
  });
  await t.step("and the release build's check still passes its own heap", () => {
    const heap = new Heap();
    heap.free(heap.malloc(100));
    assert.deepEqual(heap.check(), []);
  });
});
