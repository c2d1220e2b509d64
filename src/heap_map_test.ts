import assert from "node:assert/strict";
import { Heap, heapMapSvg, MAX_MAP_ROWS, ModelHeap } from "../mod.ts";
import { FIRST, HEADER } from "./_layout.ts";
import type { HeapBlock, HeapStats } from "./_picture.ts";

interface Rect {
  kind: string;
  x: number;
  y: number;
  width: number;
  title: string;
}

/** The map's rectangles that stand for the heap (not the legend's), in document order. */
function rects(svg: string): Rect[] {
  const pattern =
    /<rect class="(\w+)" x="([\d.]+)" y="(\d+)" width="([\d.]+)" height="16" fill="#\w+"><title>([^<]*)<\/title><\/rect>/g;
  return [...svg.matchAll(pattern)].map(([, kind, x, y, width, title]) => ({
    kind,
    x: +x,
    y: +y,
    width: +width,
    title,
  }));
}

/** A heap made by hand: everything about its layout is known. */
function handmade(blocks: HeapBlock[], span: number, topBytes: number) {
  const stats: HeapStats = {
    span,
    overheadBytes: FIRST + HEADER,
    usedBlocks: blocks.filter((b) => !b.free).length,
    usedBytes: blocks.filter((b) => !b.free).reduce((sum, b) => sum + b.size, 0),
    freeBlocks: blocks.filter((b) => b.free).length,
    freeBytes: blocks.filter((b) => b.free).reduce((sum, b) => sum + b.size, 0),
    largestFree: Math.max(0, ...blocks.filter((b) => b.free).map((b) => b.size)),
    topBytes,
    fragmentation: 0.5,
  };
  return { base: 0, walk: () => blocks, stats: () => stats };
}

Deno.test("heapMapSvg draws each block where it lies, one pixel a byte", () => {
  const block = (address: number, size: number, free: boolean) => ({
    address,
    ptr: address + HEADER,
    size,
    free,
  });
  // a hand-made heap: the map draws what walk() says, its first block here at 284; the top
  // region runs to the span less one header
  const heap = handmade(
    [block(284, 112, false), block(396, 208, true), block(604, 960, false)],
    2048,
    480,
  );
  // 84 pixels of addresses and a 12-pixel margin leave 1024 pixels for 1024 bytes a row
  const svg = heapMapSvg(heap, { width: 1120, rowBytes: 1024 });
  assert.deepEqual(rects(svg).map(({ kind, x, y, width }) => [kind, x, y, width]), [
    ["bookkeeping", 84, 52, 283], // each less a pixel of gap to the next
    ["used", 368, 52, 111],
    ["free", 480, 52, 207],
    ["used", 688, 52, 420], // 1024 - 604 bytes in the first row, no gap: it goes on
    ["used", 84, 71, 539], // the other 540 in the second
    ["top", 624, 71, 479],
    ["bookkeeping", 1104, 71, 3], // the word a block at the end would need for its header
  ]);
  assert.match(svg, /<title>free block at 0x18c, 208 bytes<\/title>/);
  assert.match(svg, />0x00000400<\/text>/, "the second row's address");
  assert.match(svg, /2 KiB spanned · 2 used \(1 KiB\) · 1 free \(208 B\) · top 480 B/);
});

Deno.test("heapMapSvg shows every block of a real heap, used or free, in address order", () => {
  const heap = new Heap();
  const ptrs = Array.from({ length: 60 }, (_, i) => heap.malloc(100 + 40 * (i % 7)));
  ptrs.filter((_, i) => i % 4 === 1).forEach((ptr) => heap.free(ptr));
  const drawn = rects(heapMapSvg(heap))
    .filter((rect) => rect.kind === "used" || rect.kind === "free")
    .map((rect) => rect.title);
  const expected = heap.walk().map((block) =>
    `${block.free ? "free" : "used"} block at 0x${block.address.toString(16)}, ${block.size} bytes`
  );
  // a block that crosses a row's end is drawn in both rows
  assert.deepEqual([...new Set(drawn)], expected);
});

Deno.test("heapMapSvg fills each row edge to edge, gaps only between blocks", () => {
  const heap = new Heap({ memory: new WebAssembly.Memory({ initial: 4 }), base: 5000 });
  for (let i = 0; i < 300; i++) {
    const ptr = heap.malloc(16 + (i * 37) % 900);
    if (i % 3 === 0) heap.free(ptr);
  }
  const all = rects(heapMapSvg(heap, { width: 600 }));
  const rows = Map.groupBy(all, (rect) => rect.y);
  const right = 600 - 12;
  for (const [y, row] of rows) {
    for (let i = 1; i < row.length; i++) {
      const gap = row[i].x - (row[i - 1].x + row[i - 1].width);
      assert.ok(Math.abs(gap) < 0.02 || Math.abs(gap - 1) < 0.02, `row ${y}: gap ${gap}`);
    }
    assert.ok(Math.abs(row[0].x - 84) < 0.01, `row ${y} starts at the gutter`);
    if (y !== Math.max(...rows.keys())) {
      const end = row.at(-1)!.x + row.at(-1)!.width;
      assert.ok(right - end < 1.02, `row ${y} ends at ${end}, not ${right}`);
    }
  }
  assert.match(heapMapSvg(heap), />0x00001388<\/text>/, "the first row starts at the base, 5000");
});

Deno.test("heapMapSvg draws blocks too narrow to tell apart as one run, and counts them", () => {
  const heap = new Heap();
  const ptrs = Array.from({ length: 3000 }, () => heap.malloc(8));
  heap.malloc(20_000);
  heap.free(ptrs[1500]);
  const drawn = rects(heapMapSvg(heap, { rowBytes: 65536 }));
  assert.ok(drawn.length < 50, `${drawn.length} rectangles for 3000 blocks`);
  let used = 0;
  // a run that crosses a row's end is drawn in both rows, under the same title
  for (const title of new Set(drawn.filter((rect) => rect.kind === "used").map((r) => r.title))) {
    used += Number(title.match(/^(\d+) used blocks/)?.[1] ?? 1);
  }
  assert.equal(used, heap.stats().usedBlocks);
  assert.ok(drawn.some((rect) => rect.kind === "free"), "the lone free block still shows");
});

Deno.test("heapMapSvg checks its options and escapes its title", async (t) => {
  const heap = new Heap();
  await t.step("the heap and the options object, as new Heap does", () => {
    for (const bad of [null, undefined, 5, {}]) {
      assert.throws(
        () => heapMapSvg(bad as never),
        /^TypeError: The heap must be a Heap or ModelHeap, got /,
      );
    }
    assert.throws(
      () => heapMapSvg(heap, null as never),
      new TypeError("Options must be an object, got null"),
    );
    assert.throws(
      () => heapMapSvg(heap, [] as never),
      new TypeError("Options must be an object, got an array"),
    );
  });
  await t.step("width", () => {
    assert.throws(
      () => heapMapSvg(heap, { width: 100 }),
      new RangeError("Width must be an integer from 320 to 4096, got 100"),
    );
    assert.throws(() => heapMapSvg(heap, { width: "800" as never }), TypeError);
  });
  await t.step("rowBytes", () => {
    assert.throws(
      () => heapMapSvg(heap, { rowBytes: 1000 }),
      new RangeError("Row bytes must be a multiple of 16, got 1000"),
    );
    assert.throws(() => heapMapSvg(heap, { rowBytes: 128 }), /from 256 to 4294967296, got 128/);
  });
  await t.step("title", () => {
    assert.throws(
      () => heapMapSvg(heap, { title: 5 as never }),
      new TypeError("Title must be a string, got 5"),
    );
    const svg = heapMapSvg(heap, { title: `<script> & "quotes"` });
    assert.ok(!svg.includes("<script>"));
    assert.match(svg, /&lt;script&gt; &amp; &quot;quotes&quot;/);
  });
});

Deno.test("heapMapSvg draws the reference model's heap as it draws the wasm heap", () => {
  const heap = new Heap();
  const model = new ModelHeap();
  for (const target of [heap, model]) {
    const ptrs = Array.from({ length: 200 }, (_, i) => target.malloc(16 + (i * 53) % 700));
    ptrs.filter((_, i) => i % 3 !== 0).forEach((ptr) => target.free(ptr));
    target.realloc(ptrs[0], 5000);
  }
  assert.equal(heapMapSvg(model), heapMapSvg(heap));
});

Deno.test("heapMapSvg draws at most MAX_MAP_ROWS rows, doubling rowBytes to fit", () => {
  const heap = new Heap();
  heap.malloc(64 << 20);
  const svg = heapMapSvg(heap, { rowBytes: 256 }); // 262,144 rows asked for
  const rows = svg.match(/text-anchor="end" fill="#666">0x/g)!.length;
  assert.ok(rows <= MAX_MAP_ROWS && rows > MAX_MAP_ROWS / 2, `${rows} rows`);
  assert.match(svg, /rows of 512 KiB/, "256 bytes doubled until the heap fits");
  assert.ok(svg.length < 64 * 1024, `${svg.length} bytes`);
});

Deno.test("the README states the map's row cap as the code has it", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  assert.match(readme, new RegExp(`\`MAX_MAP_ROWS\` \\(${MAX_MAP_ROWS}\\) rows`));
});
