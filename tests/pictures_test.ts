// The committed pictures, read as a reader's browser lays them out: no text runs past the edge or
// into another on its line, and no two series of a chart share a colour. A monospace character is
// taken as 0.6 em wide (the heap map's font), a proportional one (the bench charts' sans-serif) as
// 0.52 em, the average advance of DejaVu Sans and Arial over English text.
import assert from "node:assert/strict";
import { Heap, heapMapSvg } from "../mod.ts";

interface Text {
  x: number;
  y: number;
  size: number;
  anchor: string;
  text: string;
}

function texts(svg: string, defaultSize: number, em = 0.6): Text[] {
  return [...svg.matchAll(/<text x="([\d.]+)" y="([\d.]+)"([^>]*)>([^<]*)<\/text>/g)].map((m) => ({
    x: Number(m[1]),
    y: Number(m[2]),
    size: Number(/font-size="(\d+)"/.exec(m[3])?.[1] ?? defaultSize) * em / 0.6,
    anchor: /text-anchor="(\w+)"/.exec(m[3])?.[1] ?? "start",
    text: m[4].replace(/&\w+;/g, "_"),
  }));
}

/** Where a text starts and ends on its line, for its anchor. */
function extent(t: Text): [number, number] {
  const width = t.text.length * 0.6 * t.size;
  if (t.anchor === "end") return [t.x - width, t.x];
  if (t.anchor === "middle") return [t.x - width / 2, t.x + width / 2];
  return [t.x, t.x + width];
}

/** The texts of one picture (one `<svg>` of a stack) that leave it or run into each other. */
function collisions(svg: string, defaultSize: number): string[] {
  const width = Number(/<svg[^>]* width="(\d+)"/.exec(svg)![1]);
  const found: string[] = [];
  const all = texts(svg, defaultSize);
  for (const t of all) {
    const [from, to] = extent(t);
    if (from < 0 || to > width) found.push(`"${t.text}" spans ${from}–${to} of ${width}`);
  }
  for (const [i, a] of all.entries()) {
    for (const b of all.slice(i + 1)) {
      if (Math.abs(a.y - b.y) >= Math.max(a.size, b.size)) continue;
      const [a0, a1] = extent(a), [b0, b1] = extent(b);
      if (a0 < b1 && b0 < a1) found.push(`"${a.text}" and "${b.text}" overlap at y=${a.y}`);
    }
  }
  return found;
}

Deno.test("docs/heap-map.svg: every text inside its map, none over another", async () => {
  const stack = await Deno.readTextFile(new URL("../docs/heap-map.svg", import.meta.url));
  const maps = stack.split(/(?=<svg y=)/).slice(1);
  assert.equal(maps.length, 3);
  for (const map of maps) assert.deepEqual(collisions(map, 12), []);
});

Deno.test("heapMapSvg wraps a long title and its legend inside the narrowest width", () => {
  const heap = new Heap();
  heap.free(heap.malloc(100));
  const title = "a title much longer than the picture is wide, ".repeat(4) + "x".repeat(80);
  for (const width of [320, 480, 640]) {
    const svg = heapMapSvg(heap, { width, title, rowBytes: 1 << 24 });
    assert.deepEqual(collisions(svg, 12), [], `width ${width}`);
  }
});

Deno.test("bench charts: each series its own colour, every text inside the picture", async () => {
  for (const name of ["memory.svg", "speed-wasm.svg"]) {
    const svg = await Deno.readTextFile(new URL(`../bench/${name}`, import.meta.url));
    const legend = [
      ...svg.matchAll(
        /<rect [^>]*width="12" height="10" fill="([^"]+)"[^>]*\/>\s*<text[^>]*>([^<]+)</g,
      ),
    ].map(([, colour, series]) => ({ colour, series }));
    assert.ok(legend.length >= 8, `${name}: ${legend.length} series`);
    const colours = new Set(legend.map((entry) => entry.colour));
    assert.equal(colours.size, legend.length, `${name}: ${JSON.stringify(legend)}`);
    const width = Number(/<svg[^>]* width="(\d+)"/.exec(svg)![1]);
    for (const t of texts(svg, 10, 0.52)) {
      const [from, to] = extent(t);
      assert.ok(from >= 0 && to <= width, `${name}: "${t.text}" spans ${from}–${to} of ${width}`);
    }
  }
});
