/**
 * A soak: millions of random operations with a bounded live set, for a bounded time. The heap's
 * span must stop growing: a run passes when the span grew at most once in its second half. A leak,
 * or fragmentation that keeps growing, grows it again and again; the peak of a random live set
 * creeps up as a run goes on, which may take one more step.
 * Contents are verified on every free and realloc, the heap's integrity every few hundred
 * thousand operations.
 *
 *     deno task soak [--seconds 60] [--live 20000] [--seed 1] [--checked]   (--help for more)
 *
 * @module
 */
import { Heap } from "../mod.ts";
import { parseArgs, Progress, seededFraction } from "./_cli.ts";

const flags = parseArgs({
  usage: "deno task soak",
  summary: "Millions of random operations with a bounded live set; passes when the heap's span " +
    "grew at most once in the run's second half.",
  flags: {
    seconds: { kind: "number", help: "how long to run", default: 60, min: 0.1 },
    ops: { kind: "integer", help: "run this many operations instead (no clock)", min: 100_000 },
    live: { kind: "integer", help: "the most blocks live at once", default: 20_000, min: 1 },
    seed: { kind: "integer", help: "seed of the operations", default: 1, min: 0 },
    checked: { kind: "boolean", help: "run the checked build" },
  },
});
const SECONDS = flags.seconds;
const LIVE = flags.live;
const SEED = flags.seed;
const CHECKED = flags.checked;
const progress = new Progress();

const random = seededFraction(SEED);
const pick = (n: number) => Math.floor(random() * n);

/** Sizes: mostly small, some up to 16 KiB, rarely up to 256 KiB. */
function size(): number {
  const r = random();
  if (r < 0.7) return pick(128);
  if (r < 0.995) return Math.floor(2 ** (7 + random() * 7));
  return 65536 + pick(196_608);
}

const heap = new Heap({ checked: CHECKED });
const { malloc, free, realloc, calloc, aligned_alloc } = heap.exports;
const ptrs = new Int32Array(LIVE);
const sizes = new Int32Array(LIVE);
const tags = new Uint8Array(LIVE);
let liveBytes = 0, peakLive = 0, ops = 0;
const spans: { ops: number; span: number; peakLive: number }[] = [];

function fill(slot: number) {
  heap.u8.fill(tags[slot], ptrs[slot] >>> 0, (ptrs[slot] >>> 0) + Math.min(sizes[slot], 64));
}
function verify(slot: number) {
  const ptr = ptrs[slot] >>> 0, n = Math.min(sizes[slot], 64), u8 = heap.u8;
  for (let i = 0; i < n; i++) {
    if (u8[ptr + i] !== tags[slot]) {
      throw new Error(`block ${ptr} lost its contents (seed ${SEED})`);
    }
  }
}
function place(slot: number, ptr: number, bytes: number) {
  if (!ptr) throw new Error(`out of memory after ${ops} operations (seed ${SEED})`);
  ptrs[slot] = ptr;
  sizes[slot] = bytes;
  tags[slot] = 1 + pick(255);
  liveBytes += bytes;
  fill(slot);
}

const deadline = performance.now() + SECONDS * 1000;
const started = performance.now();
while (flags.ops === undefined ? performance.now() < deadline : ops < flags.ops) {
  for (let i = 0; i < 100_000; i++, ops++) {
    const slot = pick(LIVE);
    if (ptrs[slot]) {
      verify(slot);
      liveBytes -= sizes[slot];
      if (random() < 0.2) {
        const bytes = size();
        const kept = Math.min(bytes, sizes[slot], 64), tag = tags[slot];
        const moved = realloc(ptrs[slot], bytes);
        if (!moved) throw new Error(`realloc failed after ${ops} operations (seed ${SEED})`);
        for (let k = 0; k < kept; k++) {
          if (heap.u8[(moved >>> 0) + k] !== tag) {
            throw new Error(`realloc lost data (seed ${SEED})`);
          }
        }
        place(slot, moved, bytes);
      } else {
        free(ptrs[slot]);
        ptrs[slot] = 0;
      }
    } else {
      const r = random(), bytes = size();
      place(
        slot,
        r < 0.1 ? calloc(1, bytes) : r < 0.15 ? aligned_alloc(32 << pick(8), bytes) : malloc(bytes),
        bytes,
      );
    }
    if (liveBytes > peakLive) peakLive = liveBytes;
  }
  spans.push({ ops, span: heap.span, peakLive });
  if (spans.length % 5 === 0) {
    const problems = heap.check();
    if (problems.length) throw new Error(`integrity after ${ops} operations: ${problems[0]}`);
  }
  const last = spans[spans.length - 1];
  progress.update(
    `${(ops / 1e6).toFixed(1).padStart(6)} M ops  span ${(last.span / 2 ** 20).toFixed(2)} MiB  ` +
      `live ${(liveBytes / 2 ** 20).toFixed(2)} MiB`,
  );
}
progress.done();
const seconds = (performance.now() - started) / 1000;
const half = spans[Math.floor(spans.length / 2)];
const final = spans[spans.length - 1];
const lastGrowth = spans.findLast((s, i) => i > 0 && s.span > spans[i - 1].span);
console.log(
  `\n${CHECKED ? "checked" : "release"} build, seed ${SEED}: ${
    ops.toLocaleString("en")
  } operations ` +
    `in ${seconds.toFixed(0)} s, live set up to ${LIVE} blocks`,
);
console.log(
  `span ${(final.span / 2 ** 20).toFixed(2)} MiB, peak live ${
    (peakLive / 2 ** 20).toFixed(2)
  } MiB ` +
    `(${(final.span / peakLive).toFixed(2)}x); last growth after ` +
    `${((lastGrowth?.ops ?? 0) / 1e6).toFixed(1)} M operations`,
);
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(2)} MiB`;
const lateGrowths = spans.filter((s, i) => i > spans.indexOf(half) && s.span > spans[i - 1].span);
console.log(
  `span at half time ${mib(half.span)}, at the end ${mib(final.span)}: ` +
    `grew ${lateGrowths.length} times in the second half`,
);
if (lateGrowths.length > 1) {
  console.error("FAIL: the span kept growing in the second half");
  Deno.exit(1);
}
console.log("PASS: the span stopped growing");
