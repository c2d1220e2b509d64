import assert from "node:assert/strict";
import { stack, workloadMaps } from "./heap_map.ts";

Deno.test("docs/heap-map.svg is what the workload draws today", async () => {
  const { heap, maps } = workloadMaps();
  assert.deepEqual(heap.check(), []);
  assert.equal(maps.length, 3);
  const committed = await Deno.readTextFile(new URL("../docs/heap-map.svg", import.meta.url));
  assert.ok(
    committed === stack(maps),
    "docs/heap-map.svg is stale (the allocator or the map changed): run `deno task docs:heap-map`",
  );
});

Deno.test("stack places each map below the one before", () => {
  const map = (height: number) =>
    `<svg xmlns="http://www.w3.org/2000/svg" width="800" height="${height}">`;
  const svg = stack([map(100), map(250)]);
  assert.match(svg, /^<svg [^>]*height="350" viewBox="0 0 800 350">/);
  assert.match(svg, /<svg y="0" xmlns[^>]*height="100">\n<svg y="100" xmlns[^>]*height="250">/);
});
