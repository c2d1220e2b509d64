// The C ABI of the shipped wasm, rule by rule, on raw instances (no Heap in between).
import assert from "node:assert/strict";
import { ALIGN, FIRST, HEADER, MAX_LIMIT, QUICK_BOUND } from "./_layout.ts";
import { ownRaw, type Raw, regionRaw } from "./_test_util.ts";

const PAGE = 65536;

function fresh(limit = MAX_LIMIT, fast = false): Raw {
  const raw = ownRaw(fast);
  assert.equal(raw.mote_init(0, limit), 1);
  return raw;
}

Deno.test("before mote_init every call fails cleanly", () => {
  for (const fast of [false, true]) {
    const raw = ownRaw(fast);
    assert.equal(raw.malloc(1), 0);
    assert.equal(raw.calloc(1, 1), 0);
    assert.equal(raw.aligned_alloc(64, 1), 0);
    assert.equal(raw.realloc(0, 1), 0);
    raw.free(FIRST + HEADER); // ignored, no trap
    assert.equal(raw.malloc_usable_size(FIRST + HEADER), 0);
    assert.equal(raw.memory.buffer.byteLength, 0, "nothing grew");
  }
});

Deno.test("mote_init refuses a region too small for the root and changes nothing", () => {
  const memory = new WebAssembly.Memory({ initial: 1 });
  const raw = regionRaw(memory);
  assert.equal(raw.mote_init(100, 100 + 200), 0);
  assert.equal(raw.mote_init(0xFFFF_FFF0, 0xFFFF_FFFF), 0);
  assert.equal(raw.malloc(1), 0);
  assert.ok(new Uint8Array(memory.buffer).every((b) => b === 0), "nothing written");
});

Deno.test("malloc", async (t) => {
  await t.step("returns 16-byte aligned pointers for every small size", () => {
    const raw = fresh();
    for (let size = 0; size < 600; size++) {
      assert.equal(raw.malloc(size) % ALIGN, 0, `size ${size}`);
    }
  });
  await t.step("malloc(0) returns a unique pointer that can be freed", () => {
    const raw = fresh();
    const a = raw.malloc(0), b = raw.malloc(0);
    assert.ok(a && b && a !== b);
    raw.free(a);
    assert.equal(raw.malloc_usable_size(a), 0, "freed");
    assert.equal(raw.malloc_usable_size(b), 12);
  });
  await t.step("reports the real usable size, at least the request, all writable", () => {
    const raw = fresh();
    const ptrs = [];
    for (let size = 0; size < 300; size += 7) {
      const p = raw.malloc(size);
      const usable = raw.malloc_usable_size(p);
      assert.ok(usable >= size && usable < size + ALIGN, `size ${size} usable ${usable}`);
      new Uint8Array(raw.memory.buffer).fill(0xAB, p, p + usable);
      ptrs.push([p, usable]);
    }
    const u8 = new Uint8Array(raw.memory.buffer);
    for (const [p, usable] of ptrs) {
      assert.ok(u8.subarray(p, p + usable).every((b) => b === 0xAB), `block ${p} intact`);
    }
  });
  await t.step("returns 0 for requests that cannot fit, without trapping", () => {
    const raw = fresh();
    for (const size of [0xFFFF_FFFF, 0xFFFF_FFF0, 0xFFFE_0000, MAX_LIMIT - FIRST]) {
      assert.equal(raw.malloc(size), 0, `size ${size}`);
    }
    assert.ok(raw.malloc(100), "still usable");
  });
  await t.step("reuses a freed block of the same class first", () => {
    const raw = fresh();
    const a = raw.malloc(100);
    raw.malloc(100); // keeps a from merging into the top region
    raw.free(a);
    assert.equal(raw.malloc(100), a);
  });
});

Deno.test("free", async (t) => {
  await t.step("free(0) does nothing", () => {
    const raw = fresh();
    const a = raw.malloc(10);
    raw.free(0);
    assert.equal(raw.malloc_usable_size(a), 12);
  });
  // blocks of SMALL bytes and more: in the fast build smaller ones wait in quick lists (below)
  await t.step("coalesces with both neighbours, in any order", () => {
    for (const order of [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]]) {
      const raw = fresh();
      const blocks = [raw.malloc(300), raw.malloc(300), raw.malloc(300)];
      raw.malloc(300); // a used block above, so the three do not go back to the top region
      for (const i of order) raw.free(blocks[i]);
      // one free block of 3 * 304 bytes now: a request for all of it lands at the first
      assert.equal(raw.malloc(3 * 304 - HEADER), blocks[0], `order ${order}`);
    }
  });
  await t.step("merges a freed top block, and a free block below it, into the top region", () => {
    const raw = fresh();
    const a = raw.malloc(300), b = raw.malloc(300);
    const topBefore = raw.top();
    raw.free(a);
    raw.free(b);
    assert.equal(raw.top(), a - HEADER);
    assert.ok(raw.top() < topBefore);
  });
  await t.step(
    "fast: keeps QUICK_BOUND small blocks of a size unmerged for requests of that size",
    () => {
      const raw = fresh(MAX_LIMIT, true);
      const blocks = Array.from({ length: QUICK_BOUND + 2 }, () => raw.malloc(100));
      raw.malloc(100); // a used block above, so none goes back to the top region
      for (const ptr of blocks) raw.free(ptr);
      // the first QUICK_BOUND wait, and come back last freed first; the two past the bound merged
      for (const ptr of blocks.slice(0, QUICK_BOUND).reverse()) assert.equal(raw.malloc(100), ptr);
      assert.equal(raw.malloc(2 * 112 - HEADER), blocks[QUICK_BOUND]);
    },
  );
  await t.step("fast: merges what waits in the quick lists when the top cannot serve", () => {
    for (const fast of [false, true]) {
      const raw = fresh(FIRST + HEADER + 4 * 112, fast); // room for four blocks of 112 bytes
      const [a, b, c] = [raw.malloc(100), raw.malloc(100), raw.malloc(100), raw.malloc(100)];
      for (const ptr of [a, b, c]) raw.free(ptr);
      assert.equal(raw.malloc(3 * 112 - HEADER), a, "the three merged into one block");
    }
  });
  await t.step("fast: the largest size below SMALL waits in a quick list, SMALL merges", () => {
    const raw = fresh(MAX_LIMIT, true);
    const [a, b, c, d] = [raw.malloc(236), raw.malloc(236), raw.malloc(252), raw.malloc(252)];
    raw.malloc(10); // a used block above, so none goes back to the top region
    for (const ptr of [a, b, c, d]) raw.free(ptr);
    assert.equal(raw.malloc(236), b, "240-byte blocks wait: the last freed comes back");
    assert.equal(raw.malloc(252), c, "256-byte blocks merged: split from the start");
  });
  await t.step("merges a block ending at the top region, and its free left one, into it", () => {
    for (const fast of [false, true]) {
      const raw = fresh(MAX_LIMIT, fast);
      const a = raw.malloc(300), b = raw.malloc(100);
      raw.free(a); // listed: its right neighbour is used
      raw.free(b); // small, but it ends at the top region: no quick list
      assert.equal(raw.top(), a - HEADER, fast ? "fast" : "release");
    }
  });
  await t.step("release: merges every free at once: no quick lists", () => {
    const raw = fresh();
    const blocks = [raw.malloc(100), raw.malloc(100), raw.malloc(100)];
    for (const ptr of blocks.slice(0, 2)) raw.free(ptr);
    assert.equal(raw.malloc(2 * 112 - HEADER), blocks[0]);
  });
  await t.step(
    "ignores pointers it cannot have returned: misaligned, inside a block, outside, already free",
    () => {
      for (const fast of [false, true]) { // fast: `a` waits in a quick list
        const raw = fresh(MAX_LIMIT, fast);
        const a = raw.malloc(100), b = raw.malloc(100);
        raw.free(a);
        const before = new Uint8Array(raw.memory.buffer).slice();
        const top = raw.top();
        for (
          const p of [a, a + 1, b + 8, b + 16, 4, 0xFFFF_FFF0, top + HEADER, top + 64 + HEADER]
        ) {
          raw.free(p);
        }
        assert.deepEqual(new Uint8Array(raw.memory.buffer), before, "nothing changed");
      }
    },
  );
});

Deno.test("realloc", async (t) => {
  await t.step("realloc(0, n) is malloc(n)", () => {
    const raw = fresh();
    const p = raw.realloc(0, 40);
    assert.ok(p && raw.malloc_usable_size(p) >= 40);
  });
  await t.step("shrinks in place and gives the tail back", () => {
    const raw = fresh();
    const p = raw.malloc(1000);
    raw.malloc(10); // pin the top
    assert.equal(raw.realloc(p, 100), p);
    assert.equal(raw.malloc_usable_size(p), 108);
    assert.equal(raw.malloc(800), p + 112, "the tail is a free block");
  });
  await t.step("realloc(p, 0) shrinks to the smallest block and returns p", () => {
    const raw = fresh();
    const p = raw.malloc(100);
    assert.equal(raw.realloc(p, 0), p);
    assert.equal(raw.malloc_usable_size(p), 12);
  });
  await t.step("grows in place into a free right neighbour", () => {
    const raw = fresh();
    const p = raw.malloc(100), q = raw.malloc(500);
    raw.malloc(10);
    raw.free(q);
    assert.equal(raw.realloc(p, 400), p);
    assert.equal(raw.malloc_usable_size(p), 412);
    assert.equal(raw.malloc(180), p + 416, "the rest of the neighbour is still free");
  });
  await t.step("grows in place at the top of the heap, growing memory", () => {
    const raw = fresh();
    const p = raw.malloc(100);
    new Uint8Array(raw.memory.buffer).fill(9, p, p + 100);
    for (const size of [1000, 100_000, 1_000_000, 5_000_000]) {
      assert.equal(raw.realloc(p, size), p, `to ${size}`);
    }
    assert.ok(new Uint8Array(raw.memory.buffer, p, 100).every((b) => b === 9));
  });
  await t.step("moves when it must, keeping the contents and freeing the old block", () => {
    const raw = fresh();
    const p = raw.malloc(100);
    raw.malloc(10);
    const u8 = new Uint8Array(raw.memory.buffer);
    for (let i = 0; i < 108; i++) u8[p + i] = i;
    const q = raw.realloc(p, 5000);
    assert.notEqual(q, p);
    const v = new Uint8Array(raw.memory.buffer);
    for (let i = 0; i < 108; i++) assert.equal(v[q + i], i);
    assert.equal(raw.malloc_usable_size(p), 0, "old block freed");
  });
  await t.step("moving into the free left neighbour leaves both blocks right", () => {
    // realloc's malloc takes the free block just below, whole: the moved-from block's header
    // loses LEFT_FREE, and freeing it must not merge with the block just handed out
    const raw = fresh();
    const left = raw.malloc(1000), p = raw.malloc(100);
    raw.malloc(10);
    raw.free(left);
    const q = raw.realloc(p, 1000);
    assert.equal(q, left);
    assert.equal(raw.malloc_usable_size(q), 1004, "still live");
    assert.notEqual(raw.malloc(1000), q, "not handed out twice");
  });
  await t.step("on failure returns 0 and leaves the old block live and intact", () => {
    const raw = fresh(4 * PAGE);
    const p = raw.malloc(100);
    new Uint8Array(raw.memory.buffer).fill(5, p, p + 100);
    raw.malloc(10);
    assert.equal(raw.realloc(p, 10 * PAGE), 0);
    assert.equal(raw.realloc(p, 0xFFFF_FFFF), 0);
    assert.equal(raw.malloc_usable_size(p), 108);
    assert.ok(new Uint8Array(raw.memory.buffer, p, 100).every((b) => b === 5));
  });
  await t.step("refuses a pointer it cannot have returned", () => {
    const raw = fresh();
    const p = raw.malloc(100);
    raw.free(p);
    assert.equal(raw.realloc(p, 10), 0);
    assert.equal(raw.realloc(p + 16, 10), 0);
  });
});

Deno.test("calloc", async (t) => {
  await t.step("returns 0 when count * size overflows 32 bits", () => {
    const raw = fresh();
    assert.equal(raw.calloc(0x10000, 0x10000), 0);
    assert.equal(raw.calloc(0xFFFF_FFFF, 2), 0);
    assert.equal(raw.calloc(3, 0x5555_5556), 0);
    assert.ok(raw.calloc(0, 0xFFFF_FFFF), "0 * anything is 0 bytes");
  });
  await t.step("zeroes reused memory", () => {
    const raw = fresh();
    const p = raw.malloc(1000);
    raw.malloc(10);
    new Uint8Array(raw.memory.buffer).fill(0xFF, p, p + 1000);
    raw.free(p);
    const q = raw.calloc(10, 100);
    assert.equal(q, p);
    assert.ok(new Uint8Array(raw.memory.buffer, q, 1000).every((b) => b === 0));
  });
  await t.step("zeroes memory that went back to the top region", () => {
    const raw = fresh();
    const p = raw.malloc(1000);
    new Uint8Array(raw.memory.buffer).fill(0xFF, p, p + 1000);
    raw.free(p); // back into the top region
    const q = raw.calloc(1, 1000);
    assert.equal(q, p);
    assert.ok(new Uint8Array(raw.memory.buffer, q, 1000).every((b) => b === 0));
  });
  await t.step("does not clear memory fresh from memory.grow", () => {
    // Write where no block has ever been: calloc must hand it out unwritten, which shows it
    // skipped the clearing (a real program cannot write there; this test reaches behind it).
    const raw = fresh();
    const p = raw.malloc(10);
    const next = p + 16; // the next block's payload: 16 bytes on
    new Uint8Array(raw.memory.buffer)[next + 40] = 0x77;
    const q = raw.calloc(1, 100);
    assert.equal(q, next);
    assert.equal(new Uint8Array(raw.memory.buffer)[q + 40], 0x77, "fresh memory not cleared");
  });
});

Deno.test("aligned_alloc", async (t) => {
  await t.step("honours every power of two up to 64 KiB", () => {
    const raw = fresh();
    for (let alignment = 1; alignment <= 65536; alignment *= 2) {
      for (const size of [0, 1, 100, 5000]) {
        const p = raw.aligned_alloc(alignment, size);
        assert.ok(p, `alignment ${alignment}`);
        assert.equal(p % Math.max(alignment, ALIGN), 0, `alignment ${alignment} size ${size}`);
        assert.ok(raw.malloc_usable_size(p) >= size);
      }
    }
  });
  await t.step("returns 0 for 0, non-powers of two and alignments above 64 KiB", () => {
    const raw = fresh();
    for (const alignment of [0, 3, 24, 48, 100, 65535, 131072, 0x8000_0000, 0xFFFF_FFFF]) {
      assert.equal(raw.aligned_alloc(alignment, 16), 0, `alignment ${alignment}`);
    }
  });
  await t.step("gives the padding in front back to the free lists", () => {
    const raw = fresh();
    raw.malloc(10);
    const p = raw.aligned_alloc(4096, 100);
    const small = raw.malloc(100);
    assert.ok(small < p, "a later block fits in the padding below the aligned one");
  });
});

Deno.test("out of memory", async (t) => {
  await t.step("the limit is honoured exactly and the heap stays usable", () => {
    const limit = 3 * PAGE + 4096;
    const raw = fresh(limit);
    const ptrs = [];
    for (let p; (p = raw.malloc(1000));) ptrs.push(p);
    for (const p of ptrs) assert.ok(p + raw.malloc_usable_size(p) <= limit);
    assert.ok(ptrs.length > 190, `${ptrs.length} blocks of 1000 in ~200 KB`);
    for (const p of ptrs) raw.free(p);
    assert.equal(raw.malloc(150_000), ptrs[0], "all of it merged back");
  });
  await t.step("growth refused by the engine returns 0 and leaves the heap intact", () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 3 });
    const raw = regionRaw(memory);
    assert.equal(raw.mote_init(1024, MAX_LIMIT), 1);
    const a = raw.malloc(100_000);
    assert.ok(a);
    new Uint8Array(memory.buffer).fill(3, a, a + 100_000);
    assert.equal(raw.malloc(200_000), 0);
    assert.ok(memory.buffer.byteLength <= 3 * PAGE);
    assert.ok(raw.malloc(50_000), "what is left is still served");
    assert.ok(new Uint8Array(memory.buffer, a, 100_000).every((b) => b === 3));
  });
  await t.step("a large growth step that the engine refuses falls back to what is needed", () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 40 });
    const raw = regionRaw(memory);
    assert.equal(raw.mote_init(0, MAX_LIMIT), 1);
    // the heap spans ~38 pages; the step would ask for more than the maximum allows
    assert.ok(raw.malloc(38 * PAGE));
    assert.ok(raw.malloc(PAGE - 4096), "the last page is still handed out");
  });
});

Deno.test("growth stays close to what is used", () => {
  const raw = fresh();
  let used = 0;
  for (let i = 0; i < 20_000; i++) used += raw.malloc_usable_size(raw.malloc(500)) + HEADER;
  const heap = raw.memory.buffer.byteLength;
  assert.ok(heap < used * (1 + 1 / 16) + PAGE + FIRST, `${heap} bytes of memory for ${used} used`);
});

Deno.test("a region heap stays inside [base, limit)", () => {
  const memory = new WebAssembly.Memory({ initial: 2 });
  const below = new Uint8Array(memory.buffer, 0, 5000);
  below.fill(0xEE);
  const raw = regionRaw(memory);
  const base = 5000, limitEnd = 6 * PAGE + 777;
  assert.equal(raw.mote_init(base, limitEnd), 1);
  const ptrs: number[] = [];
  for (let i = 0; i < 5000; i++) {
    const p = raw.malloc((i * 37) % 900);
    if (!p) break;
    ptrs.push(p);
    if (i % 3 === 0) raw.free(ptrs.splice((i * 7) % ptrs.length, 1)[0]);
  }
  assert.ok(new Uint8Array(memory.buffer, 0, 5000).every((b) => b === 0xEE), "below base intact");
  for (const p of ptrs) {
    assert.ok(p >= base && p + raw.malloc_usable_size(p) <= limitEnd, `block ${p} inside`);
  }
});

Deno.test("mote_init again resets the heap to its first state, keeping the memory", () => {
  const raw = fresh();
  const first = [raw.malloc(10), raw.malloc(300), raw.aligned_alloc(256, 5)];
  for (let i = 0; i < 1000; i++) raw.malloc(i);
  const grown = raw.memory.buffer.byteLength;
  assert.equal(raw.mote_init(0, MAX_LIMIT), 1);
  assert.deepEqual([raw.malloc(10), raw.malloc(300), raw.aligned_alloc(256, 5)], first);
  assert.equal(raw.memory.buffer.byteLength, grown);
});
