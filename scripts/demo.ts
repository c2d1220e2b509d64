/**
 * mote at work: a realistic allocation workload through the public Heap API, then what happened:
 * operations per second, the heap's span against the bytes live in it, and a map of the heap.
 *
 *     deno task demo [--ops N] [--seed N] [--svg path]
 *
 * With `--svg`, it also draws the heap at three moments with `heapMapSvg` into one picture: the
 * README's docs/heap-map.svg, which `deno task demo` redraws (a test fails when it is stale).
 *
 * The workload is a server handling requests: each request allocates a burst of small objects
 * (strings, nodes, buffers of mixed sizes) that die when it ends, a few of them grow through
 * realloc like string builders, some need cache-line or page alignment, and one in a few hundred
 * leaves something long-lived behind (a cache entry) that is evicted much later.
 *
 * @module
 */
import { Heap, heapMapSvg } from "../mod.ts";
import { parseArgs, seededFraction, writeArg } from "./_cli.ts";

const flags = parseArgs({
  usage: "deno task demo",
  summary:
    "A server-like workload through the Heap API, then its speed, its memory and a heap map.",
  flags: {
    ops: { kind: "integer", help: "heap operations to run", default: 400_000, min: 1 },
    seed: { kind: "integer", help: "seed of the workload", default: 7, min: 0 },
    svg: { kind: "string", help: "also draw the heap map into this SVG file" },
  },
});
const OPS = flags.ops;
const SEED = flags.seed;
const SVG = flags.svg;
const MAP_WIDTH = 640;

const random = seededFraction(SEED);
const pick = (n: number) => Math.floor(random() * n);

/** Object sizes: mostly small, a log-uniform tail up to 16 KiB, rarely a large buffer. */
function objectSize(): number {
  const r = random();
  if (r < 0.6) return 8 + pick(120);
  if (r < 0.97) return Math.floor(2 ** (7 + random() * 7));
  return 65536 + pick(200_000);
}

interface Live {
  ptr: number;
  size: number;
}

const heap = new Heap();
const cache: Live[] = [];
let liveBytes = 0;
let peakLive = 0;
let peakSpan = 0;
const counts = { malloc: 0, calloc: 0, realloc: 0, alignedAlloc: 0, free: 0 };
const samples: string[] = [];
const maps: string[] = [];
/** Draws the heap now; every map has rows of 256 KiB, so they line up, and the README's picture stays small. */
const draw = (title: string) =>
  maps.push(heapMapSvg(heap, { title, width: MAP_WIDTH, rowBytes: 1 << 18 }));

const start = performance.now();
let ops = 0;
while (ops < OPS) {
  // one request: a burst of objects that die with it
  const request: Live[] = [];
  const burst = 5 + pick(60);
  for (let i = 0; i < burst && ops < OPS; i++, ops++) {
    const r = random();
    let block: Live;
    if (r < 0.08 && request.length) {
      // a string builder growing
      const grown = request[pick(request.length)];
      const size = grown.size + 16 + pick(grown.size + 64);
      grown.ptr = heap.realloc(grown.ptr, size);
      liveBytes += size - grown.size;
      grown.size = size;
      counts.realloc++;
      continue;
    } else if (r < 0.1) {
      const size = objectSize();
      block = { ptr: heap.alignedAlloc(64 << pick(7), size), size };
      counts.alignedAlloc++;
    } else if (r < 0.2) {
      const size = objectSize();
      block = { ptr: heap.calloc(1, size), size };
      counts.calloc++;
    } else {
      const size = objectSize();
      block = { ptr: heap.malloc(size), size };
      counts.malloc++;
    }
    liveBytes += block.size;
    if (random() < 0.004) cache.push(block);
    else request.push(block);
  }
  peakLive = Math.max(peakLive, liveBytes);
  peakSpan = Math.max(peakSpan, heap.span);
  if (maps.length < 2 && ops >= OPS / (maps.length ? 2 : 8)) {
    draw(`mid-request, after ${ops} operations: its objects live, ${cache.length} cached entries`);
  }
  for (const block of request) {
    heap.free(block.ptr);
    liveBytes -= block.size;
    counts.free++;
    ops++;
  }
  // evict old cache entries once the cache holds a few hundred
  while (cache.length > 300) {
    const block = cache.splice(pick(cache.length), 1)[0];
    heap.free(block.ptr);
    liveBytes -= block.size;
    counts.free++;
    ops++;
  }
  if (samples.length < Math.floor(ops / (OPS / 8))) {
    const stats = heap.stats();
    samples.push(
      `${String(ops).padStart(9)} ops  live ${kib(liveBytes)}  span ${kib(stats.span)}  ` +
        `free ${kib(stats.freeBytes)} in ${String(stats.freeBlocks).padStart(4)} blocks  ` +
        `fragmentation ${(stats.fragmentation * 100).toFixed(0).padStart(3)}%`,
    );
  }
}
const seconds = (performance.now() - start) / 1000;
draw(`at the end, between requests: ${cache.length} long-lived entries pin memory between holes`);

/** Stacks the maps into one SVG picture, top to bottom. */
function stack(parts: string[]): string {
  let y = 0;
  const placed = parts.map((svg) => {
    const height = Number(svg.match(/height="(\d+)"/)![1]);
    const moved = svg.replace("<svg ", `<svg y="${y}" `);
    y += height;
    return moved;
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${MAP_WIDTH}" height="${y}" ` +
    `viewBox="0 0 ${MAP_WIDTH} ${y}">`,
    ...placed,
    "</svg>",
    "",
  ].join("\n");
}

function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(0).padStart(6)} KiB`;
}

/** One character per slice of the heap: '#' in use, '+' partly used, '.' free, ' ' top region. */
function asciiMap(width: number, rows: number): string[] {
  const from = heap.base, to = heap.base + heap.stats().span;
  const slice = (to - from) / (width * rows);
  const used = new Float64Array(width * rows), free = new Float64Array(width * rows);
  const add = (target: Float64Array, start: number, end: number) => {
    for (let a = start; a < end;) {
      const cell = Math.min(width * rows - 1, Math.floor((a - from) / slice));
      const cellEnd = Math.min(end, from + (cell + 1) * slice);
      target[cell] += cellEnd - a;
      a = cellEnd > a ? cellEnd : end;
    }
  };
  for (const block of heap.walk()) {
    add(block.free ? free : used, block.address, block.address + block.size);
  }
  const lines = [];
  for (let row = 0; row < rows; row++) {
    let line = "";
    for (let col = 0; col < width; col++) {
      const cell = row * width + col;
      const u = used[cell] / slice, f = free[cell] / slice;
      line += u > 0.9 ? "#" : u > 0.1 ? "+" : f > 0.5 ? "." : u + f > 0 ? "+" : " ";
    }
    lines.push(`  |${line}|`);
  }
  return lines;
}

const total = Object.values(counts).reduce((a, b) => a + b, 0);
const end = heap.stats();
console.log(`mote demo: ${total} heap operations (seed ${SEED}) in ${seconds.toFixed(2)} s`);
console.log(
  `  ${Math.round(total / seconds).toLocaleString("en")} operations per second through the ` +
    "argument-checked Heap API (release build)",
);
console.log(
  `  ${counts.malloc} malloc, ${counts.calloc} calloc, ${counts.realloc} realloc, ` +
    `${counts.alignedAlloc} alignedAlloc, ${counts.free} free`,
);
console.log("\nAs it ran:");
for (const line of samples) console.log(" " + line);
console.log(
  `\nPeak live bytes ${kib(peakLive)}, peak heap span ${kib(peakSpan)}: ` +
    `${(peakSpan / peakLive).toFixed(2)} bytes of heap per live byte at the peak.`,
);
console.log(
  `Now: ${end.usedBlocks} blocks in use (${kib(end.usedBytes)}), ${end.freeBlocks} free ` +
    `(${kib(end.freeBytes)}, largest ${kib(end.largestFree)}), top region ${kib(end.topBytes)}.`,
);
console.log(
  `Integrity: ${heap.check().length === 0 ? "every check passes" : heap.check().join("; ")}`,
);
console.log(
  `\nThe heap now, ${kib(end.span)} ('#' in use, '+' partly, '.' free, ' ' top region):`,
);
for (const line of asciiMap(64, 8)) console.log(line);
if (SVG) {
  await writeArg(SVG, stack(maps));
  console.log(`\nWrote ${maps.length} maps of the heap to ${SVG}.`);
}
