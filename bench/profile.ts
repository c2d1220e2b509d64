/**
 * `deno task bench:profile`: where mote's time and memory go, for the report's explanations.
 *
 * 1. **Paths**: an instrumented copy of asm/mote.ts (counters added by text substitution,
 *    compiled to a temporary file; asm/mote.ts itself is never touched) replays each workload and
 *    counts which path every operation took: malloc from a quick list, its own class, a class
 *    above, or the top region; frees merging left, right or into the top; the quick lists' hits,
 *    frees over their bound and flushes (the copy has the fast build's quick lists, and takes the
 *    smallest build's paths to them); reallocs in place or moved; memory.grow calls.
 * 2. **Memory floor**: the most bytes live at once counted in mote's block sizes (request + 4-byte
 *    header, rounded up to 16) against what mote took: rounding and headers versus fragmentation
 *    and growth slack.
 * 3. **Variants**: the same source built -Oz (as shipped) and as the fast build (-O3 with
 *    `MOTE_FAST`), with its quick lists and without, beside Emscripten's dlmalloc: bytes, in-wasm
 *    speed and memory of each, side by side.
 *
 * 4. **Paths alone**: three micro-workloads that each take one path over and over (the top region,
 *    a block reused from its own class, a block split from a larger free one and merged back),
 *    mote against the other wasm allocators, to find which path costs what.
 *
 *     deno task bench:profile [--only sqlite,lua] [--rounds 5] [--paths-only]
 *
 * @module
 */
import { parseArgs } from "../scripts/_cli.ts";
import { layOut, loadReplayer, release, type Replayer, runWasm } from "./harness.ts";
import { BASELINE, loadPeers, type Peer, wasmPeer } from "./peers.ts";
import { measureWorkload, median, table } from "./report.ts";
import { compileAs, setup } from "./setup.ts";
import { FREE, measure, readTrace, synthetic, tracePaths, type Workload } from "./workloads.ts";

const SOURCE = new URL("../asm/mote.ts", import.meta.url);
const SHIPPED_FLAGS = ["--noAssert", "--runtime", "stub", "--maximumMemory", "65536"];

/** A counter: its name, the function it lives in, and the statement it counts (inserted before). */
const PROBES: [name: string, fn: string, before: string][] = [
  ["allocate: from a list", "allocate", "remove(block);"],
  [
    "malloc: class above",
    "allocate",
    "block = load<u32>(root + (((fl << SL_BITS) + ctz(slMap)) << 2), HEADS);",
  ],
  ["malloc: top region", "allocate", "block = top;"],
  ["grow: memory.grow", "room", "let old = memory.grow(want - pages);"],
  ["free: merge left", "release", "remove(block);"],
  ["free: into top", "release", "clean = max(clean, top);"],
  ["free: merge right", "release", "remove(right);"],
  ["free: listed", "release", "insert(block, size);"],
  ["split (allocate)", "allocate", "release(block + size, rest);"],
  ["realloc: into right", "realloc", "remove(right);"],
  ["realloc: into top", "realloc", "top = block + (merged = size);"],
  ["realloc: moved", "realloc", "let moved = malloc(bytes);"],
  ["list insert", "insert", "let index = classOf(size);"],
  ["list remove", "remove", "let prev = load<u32>(block, PREV);"],
  ["scan step", "allocate", "block = n < SCAN ? load<u32>(block, NEXT) : 0;"],
  ["split (trim)", "trim", "release(block + size, rest);"],
  [
    "quick: lookup",
    "allocate",
    "let slot = root + (size >> (ALIGN_BITS - 2)); // less QUICK_HEADS: the word size / ALIGN",
  ],
  ["quick: hit", "fromQuick", "store<u32>(slot, load<u32>(block, LINK), QUICK_HEADS);"],
  ["quick: pushed", "toQuick", "store<u32>(block, header | QUICK);"],
  ["quick: over its bound", "toQuick", "return false;"],
  ["quick: flush", "flush", "store<u32>(root, 0, QUICK_COUNT);"],
  ["quick: block flushed", "flush", "release(block, (load<u32>(block) & ~QUICK) | FREED_HERE);"],
];

/** The build's quick lists, which the counted copy takes on: the fast build's policy. */
const QUICK_LISTS = "isDefined(MOTE_FAST) || isDefined(MOTE_CHECKED)";

/**
 * The instrumented source, with the fast build's quick lists (and the smallest build's paths to
 * them), and the probes it could not place (the source moved on).
 */
export function instrument(source: string): { text: string; missing: string[] } {
  let text = source.replace(QUICK_LISTS, "true");
  const missing: string[] = text === source ? ["quick lists"] : [];
  PROBES.forEach(([name, fn, before], i) => {
    const start = text.search(new RegExp(`\\n(export |@inline )?function ${fn}\\(`));
    const end = start < 0 ? -1 : text.indexOf("\n}\n", start);
    // the statement where it starts a line, or follows an `if (…)` without braces (braced then)
    const escaped = before.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const found = new RegExp(`(\\n[ \\t]*|\\) )(?=${escaped})`, "g");
    found.lastIndex = Math.max(start, 0);
    const match = start < 0 ? null : found.exec(text);
    const at = match ? match.index + match[0].length : -1;
    if (at < 0 || at > end) {
      missing.push(name);
      return;
    }
    const braced = match![0] === ") ", after = at + before.length;
    text = text.slice(0, at) + (braced ? `{ prof${i}++; ${before} }` : `prof${i}++; ${before}`) +
      text.slice(after);
  });
  text += "\n" + PROBES.map((_, i) => `export let prof${i}: u32 = 0;`).join("\n") + "\n";
  return { text, missing };
}

/** Compiles a variant of asm/mote.ts, its text `text`, with `flags`. */
async function build(text: string, flags: string[]): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await compileAs("asm/mote.ts", [...flags, ...SHIPPED_FLAGS], text));
}

/** The peak of live bytes counted in mote's block sizes: what no fragmentation would take. */
function blockFloor(workload: Workload): number {
  const sizes = new Float64Array(workload.maxId + 1), ops = workload.ops;
  let live = 0, peak = 0;
  for (let i = 0; i < workload.count; i++) {
    const op = ops[4 * i], id = ops[4 * i + 1], size = ops[4 * i + 2];
    const block = op === FREE ? 0 : Math.max(16, (size + 4 + 15) & ~15);
    live += block - sizes[id];
    sizes[id] = block;
    peak = Math.max(peak, live);
  }
  return peak;
}

/** A workload from a list of records [op, id, size] (align 8). */
function micro(name: string, description: string, records: number[][]): Workload {
  const ops = new Uint32Array(records.length * 4);
  records.forEach(([op, id, size], i) => ops.set([op, id, size, 8], 4 * i));
  return { name, description, source: "micro", ops, count: records.length, ...measure(ops) };
}

/**
 * One path of the allocators, over and over: the top region (malloc and free LIFO, what `lifo`
 * does), a block reused from its own class's list, and a small block split from a large free one
 * and merged back into it (what most of sqlite's mallocs do).
 */
export function paths(n = 500_000): Workload[] {
  const top: number[][] = [], own: number[][] = [], split: number[][] = [];
  for (let id = 1; id <= n; id++) top.push([1, id, 48], [2, id, 48]);
  own.push([1, 1, 48], [1, 2, 48]); // the second keeps the first out of the top region
  for (let id = 3, last = 1; id < n + 3; last = id++) own.push([2, last, 48], [1, id, 48]);
  split.push([1, 1, 4096], [1, 2, 16], [2, 1, 4096]); // a large free block, fenced off the top
  for (let id = 3; id < n + 3; id++) split.push([1, id, 48], [2, id, 48]);
  return [
    micro("path: top", "malloc(48) and free it at once: carved from and merged into the top", top),
    micro("path: own class", "free(48) then malloc(48): the block comes back from its list", own),
    micro("path: split", "malloc(48) split from a free 4 KiB block, freed and merged back", split),
  ];
}

const pct = (n: number, of: number) => `${((100 * n) / of).toFixed(1)}%`;

/** A speed cell: ns/op, and the time over mote's unless `peer` is mote. */
const cell = ({ ns, ratio }: { ns: number; ratio: number }, peer?: string) =>
  peer === BASELINE ? ns.toFixed(1) : `${ns.toFixed(1)} (${ratio.toFixed(2)}×)`;

/** Each peer's in-wasm ns/op (above the loop) and time over mote's, measured back to back. */
function speeds(workload: Workload, peers: Peer[], replayer: Replayer, rounds: number) {
  const cells = measureWorkload(workload, peers, replayer.noop, replayer, rounds, ["wasm"]);
  return new Map(peers.map(({ name }) => [name, {
    ns: (median(cells[name].wasmNet) * 1e6) / workload.count,
    ratio: name === BASELINE ? 1 : median(cells[name].wasmRatio),
    used: (cells[name].used ?? NaN) / workload.peakLive,
  }]));
}

if (import.meta.main) {
  const args = parseArgs({
    usage: "deno task bench:profile",
    summary: "Where the time goes: each path of malloc, free and realloc timed in mote and its " +
      "peers, then the workloads' operations counted by path.",
    flags: {
      only: { kind: "string", help: "only these workloads, comma-separated" },
      rounds: { kind: "integer", help: "rounds per measurement", default: 5, min: 1 },
      "paths-only": { kind: "boolean", help: "time the paths and stop" },
    },
  });
  const only = args.only?.split(",");
  const rounds = Number(args.rounds);
  await setup({ quiet: true });
  const replayer = await loadReplayer();

  // 1. the paths alone, mote against its peers
  const { peers: all } = await loadPeers();
  const wasmPeers = all.filter((p) => p.kind === "wasm");
  const pathRows = paths().map((workload) => {
    const s = speeds(workload, wasmPeers, replayer, rounds);
    release(workload);
    return [workload.description, ...wasmPeers.map((p) => cell(s.get(p.name)!, p.name))];
  });
  console.log(table(["path", ...wasmPeers.map((p) => p.name)], pathRows));
  console.log("\ncells: in-wasm ns/op above the loop (time over mote's, measured back to back)\n");
  if (args["paths-only"]) Deno.exit(0);

  // 2. which paths each workload takes, and 3. the build variants
  const source = await Deno.readTextFile(SOURCE);
  const { text, missing } = instrument(source);
  if (missing.length) console.error(`probes not placed (asm/mote.ts changed): ${missing}`);
  const counted = wasmPeer("counted", "instrumented", await build(text, ["-Oz"]));
  const fast = ["-O3", "--use", "MOTE_FAST=1"];
  const variants = {
    [BASELINE]: ["-Oz"],
    fast,
    "fast, no quick lists": [...fast, "--use", "MOTE_NO_QUICK=1"],
  };
  const peers: Peer[] = [];
  for (const [name, flags] of Object.entries(variants)) {
    peers.push(wasmPeer(name, name, await build(source, flags)));
  }
  peers.push(...all.filter((p) => p.name === "emscripten dlmalloc")); // the fastest peer
  console.log(table(["variant", "bytes"], peers.map((p) => [p.name, `${p.wasm!.length}`])));

  const workloads = [
    ...synthetic(),
    ...await Promise.all(tracePaths().map((p) => readTrace(p))),
  ].filter((w) => !only || only.includes(w.name));
  const rows: string[][] = [], speed: string[][] = [];
  for (const workload of workloads) {
    layOut(workload);
    const instance = counted.create(workload.peakLive);
    const run = runWasm(replayer, { ...counted, create: () => instance }, workload);
    const x = instance.exports as Record<string, WebAssembly.Global>;
    const counts = PROBES.map((_, i) => x[`prof${i}`]?.value as number ?? NaN);
    const ops = [0, 0, 0, 0, 0];
    for (let i = 0; i < workload.count; i++) ops[workload.ops[4 * i]]++;
    // allocate() serves malloc, calloc, aligned_alloc and a moving realloc; release() serves
    // free and a moving realloc (less what waits in a quick list), every block flushed from one,
    // and the remainder of every split
    const [lookups, hits, pushed, overBound, flushes, flushed] = counts.slice(16);
    const mallocs = counts[0] + counts[2] + hits;
    const splits = counts[8] + counts[15];
    const releases = ops[2] + counts[11] - pushed + flushed + splits;
    rows.push([
      workload.name,
      `${ops[1] + ops[4]} / ${ops[2]} / ${ops[3]}`,
      `${pct(hits, mallocs)} / ${pct(counts[0] - counts[1], mallocs)} / ` +
      `${pct(counts[1], mallocs)} / ${pct(counts[2], mallocs)}`,
      pct(hits, lookups),
      pct(overBound, pushed + overBound),
      `${flushes} (${flushed})`,
      `${pct(counts[4], releases)} / ${pct(counts[6], releases)} / ${pct(counts[5], releases)}`,
      pct(splits, mallocs + ops[3]),
      ops[3]
        ? `${pct(counts[9], ops[3])} / ${pct(counts[10], ops[3])} / ${pct(counts[11], ops[3])}`
        : "—",
      ((counts[12] + counts[13]) / workload.count).toFixed(2),
      (counts[14] / mallocs).toFixed(2),
      `${counts[3]}`,
      (run.used / workload.peakLive).toFixed(3),
      (blockFloor(workload) / workload.peakLive).toFixed(3),
    ]);
    const s = speeds(workload, peers, replayer, rounds);
    speed.push([
      workload.name,
      ...peers.map((p) => `${cell(s.get(p.name)!)}, ${s.get(p.name)!.used.toFixed(3)}×`),
    ]);
    release(workload);
  }
  const columns = ("workload | malloc / free / realloc | malloc from a quick list / own class / " +
    "class above / top | quick hits ÷ lookups (below SMALL) | small frees over the bound | " +
    "flushes (blocks flushed) | release (free, split rest) merging left / right / into top | " +
    "splits per alloc | realloc into right / into top / moved | list inserts + removes per op | " +
    "list steps scanned per malloc | memory.grow | memory ÷ peak live | block floor ÷ peak live")
    .split(" | ");
  console.log(`\n${table(columns, rows)}\n`);
  const names = peers.map((p) => p.name === BASELINE ? "-Oz (shipped)" : p.name);
  console.log(table(["workload", ...names], speed));
  console.log(
    "\ncells: in-wasm ns/op above the loop (time over -Oz's, back to back), memory ÷ peak live",
  );
}
