/**
 * The README's heap map: a heap at three moments of a server-like workload, drawn by
 * `heapMapSvg` and stacked into one picture, docs/heap-map.svg.
 *
 *     deno task docs:heap-map   write docs/heap-map.svg
 *
 * Each request parses a document into a tree of small nodes, builds a few strings that grow by
 * realloc, and fills a table that doubles; when it ends, its temporaries are freed and one thing
 * in a few is cached for later requests. The cached survivors pin memory between the holes the
 * temporaries leave, which is the fragmentation the maps show.
 *
 * @module
 */
import { Heap, heapMapSvg } from "@mote/alloc";
import { seeded } from "../src/_test_util.ts";

const OUTPUT = new URL("../docs/heap-map.svg", import.meta.url);
const WIDTH = 800;

/** Runs the workload, drawing the heap at three moments. */
export function workloadMaps(): { heap: Heap; maps: string[] } {
  const random = seeded(2026);
  const heap = new Heap();
  const cache: number[] = [];
  const maps: string[] = [];
  // rows of 4 KiB: the same scale in every map, so they line up
  const draw = (title: string) =>
    maps.push(heapMapSvg(heap, { title, width: WIDTH, rowBytes: 4096 }));

  const request = (drawMidway: boolean) => {
    const temporaries: number[] = [];
    const nodes = 100 + random(400);
    for (let i = 0; i < nodes; i++) temporaries.push(heap.malloc(24 + random(8) * 16));
    let builder = heap.malloc(16);
    for (let grow = 64; grow < 200 + random(3000); grow *= 2) builder = heap.realloc(builder, grow);
    temporaries.push(builder);
    let table = heap.calloc(8, 8);
    for (let size = 16; size <= 8 << random(4); size *= 2) table = heap.realloc(table, size * 8);
    temporaries.push(table);
    if (drawMidway) draw("mid-request: the parse tree, string builders and table are live");
    for (const ptr of temporaries) {
      if (random(12) === 0) cache.push(ptr);
      else heap.free(ptr);
    }
    while (cache.length > 500) heap.free(cache.splice(random(cache.length), 1)[0]);
  };

  request(true);
  for (let i = 0; i < 300; i++) request(false);
  draw("after 300 requests: cached survivors pin memory between the holes");
  for (let i = 0; i < 400; i++) heap.free(cache.splice(random(cache.length), 1)[0]);
  draw("after evicting 400 cached entries: their neighbours merged, a few survivors hold the span");
  return { heap, maps };
}

/** Stacks the maps into one SVG picture, top to bottom. */
export function stack(maps: string[]): string {
  let y = 0;
  const parts = maps.map((svg) => {
    const height = Number(svg.match(/height="(\d+)"/)![1]);
    const placed = svg.replace("<svg ", `<svg y="${y}" `);
    y += height;
    return placed;
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${y}" ` +
    `viewBox="0 0 ${WIDTH} ${y}">`,
    ...parts,
    "</svg>",
    "",
  ].join("\n");
}

if (import.meta.main) {
  const { maps } = workloadMaps();
  await Deno.mkdir(new URL(".", OUTPUT), { recursive: true });
  await Deno.writeTextFile(OUTPUT, stack(maps));
  console.log(`wrote ${OUTPUT.pathname}`);
}
