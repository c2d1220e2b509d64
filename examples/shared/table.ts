/**
 * Workers building one hash table in one shared mote heap: every entry is a block of the heap,
 * made, resized and freed by whichever worker touches its key, so a block one worker allocated
 * is often freed by another. It runs the same operations with 1 to 8 workers and prints the
 * operations per second of each, then checks the table and the heap; and it measures what the
 * shared build's lock costs when no other thread contends for it, and, side by side, the heap
 * calls per second of one thread, and of 1 and 2 workers on one shared heap or on heaps of their own.
 *
 *     deno task example:shared [--ops N] [--max-workers N] [--seed N] [--readme]
 *
 * With `--readme`, what it prints also goes into docs/shared-heap.md, between its `shared` markers.
 *
 * @module
 */
import { Heap } from "../../mod.ts";
import { seeded } from "../../src/_test_util.ts";
import { bucketOf, ENTRY, type TableJob, valueByte, type WorkerCounts } from "./_table.ts";
import { churnRate, type ChurnSetup } from "./_churn.ts";

/** The page whose `shared` markers `--readme` writes the figures between. */
const PAGE = new URL("../../docs/shared-heap.md", import.meta.url);

/** How a table run is set up. */
export interface TableOptions {
  /** Operations over all workers: half puts, 30% gets, 20% deletes. */
  readonly ops: number;
  readonly keys?: number;
  readonly buckets?: number;
  readonly seed?: number;
}

/** What a table run did and found. */
export interface TableRun {
  readonly workers: number;
  readonly ops: number;
  /** From the first worker's start to the last one's end. */
  readonly seconds: number;
  /** malloc, realloc and free calls over all workers. */
  readonly heapCalls: number;
  /** Entries in the table at the end, each checked: key in its bucket, value whole. */
  readonly entries: number;
  /** The heap's live blocks at the end: the entries and the bucket array. */
  readonly usedBlocks: number;
  /** What heap.check() and the table's own check found wrong; empty when all is well. */
  readonly problems: string[];
}

/** Runs the table's operations, split among `workers` workers, on a fresh shared heap. */
export async function runTable(workers: number, options: TableOptions): Promise<TableRun> {
  const { ops, keys = 20_000, buckets = 4096, seed = 7 } = options;
  const heap = new Heap({ shared: true });
  const table = heap.calloc(buckets, 8);
  const barrier = new SharedArrayBuffer(4);
  const url = new URL("./_worker.ts", import.meta.url).href;
  const pool = Array.from({ length: workers }, () => new Worker(url, { type: "module" }));
  let counts: (WorkerCounts & { start: number; end: number })[];
  try {
    counts = await Promise.all(
      pool.map((worker, i) =>
        new Promise<WorkerCounts & { start: number; end: number }>((resolve, reject) => {
          worker.onmessage = (event) => resolve(event.data);
          worker.onerror = (event) => {
            event.preventDefault();
            reject(new Error(`Worker ${i}: ${event.message}`));
          };
          const job: TableJob = {
            shared: heap.share(),
            table,
            buckets,
            keys,
            ops: Math.floor(ops / workers) + (i < ops % workers ? 1 : 0),
            seed: seed * 64 + i,
            workers,
            barrier,
          };
          worker.postMessage(job);
        })
      ),
    );
  } finally {
    for (const worker of pool) worker.terminate();
  }
  const problems = heap.check();
  const mismatches = counts.reduce((sum, c) => sum + c.mismatches, 0);
  if (mismatches) problems.push(`Gets found ${mismatches} value bytes changed`);
  const entries = checkTable(heap, table, buckets, problems);
  return {
    workers,
    ops,
    seconds: (Math.max(...counts.map((c) => c.end)) - Math.min(...counts.map((c) => c.start))) /
      1000,
    heapCalls: counts.reduce((sum, c) => sum + c.heapCalls, 0),
    entries,
    usedBlocks: heap.stats().usedBlocks,
    problems,
  };
}

/** Walks every bucket, checking each entry; how many there are. */
function checkTable(heap: Heap, table: number, buckets: number, problems: string[]): number {
  const view = heap.view, u8 = heap.u8, decoder = new TextDecoder();
  let entries = 0;
  for (let bucket = 0; bucket < buckets; bucket++) {
    for (let node = view.getUint32(table + bucket * 8 + 4, true); node;) {
      entries++;
      const keyLength = view.getUint32(node + 4, true), length = view.getUint32(node + 8, true);
      const name = decoder.decode(u8.slice(node + ENTRY, node + ENTRY + keyLength));
      const key = Number(name.slice(4));
      if (!/^key-\d+$/.test(name) || bucketOf(key, buckets) !== bucket) {
        problems.push(`Bucket ${bucket} holds an entry named ${JSON.stringify(name)}`);
      } else if (heap.usableSize(node) < ENTRY + keyLength + length) {
        problems.push(`The entry of ${name} outgrew its block`);
      } else if (
        !u8.subarray(node + ENTRY + keyLength, node + ENTRY + keyLength + length)
          .every((byte, i) => byte === valueByte(key, length, i))
      ) problems.push(`The value of ${name} is not the one written`);
      node = view.getUint32(node, true);
    }
  }
  return entries;
}

/** What the shared build's lock and its record of live blocks cost when no thread contends. */
export interface LockCost {
  /** Nanoseconds per call, the median of the rounds, through the raw exports. */
  readonly unshared: number;
  /** The shared build without its record of live blocks (`--use MOTE_UNRECORDED=1`). */
  readonly unrecorded: number;
  readonly shared: number;
  /** shared / unshared: the median of the rounds' ratios, each round timing every build in turn. */
  readonly ratio: number;
  /** shared / unrecorded, the same way: what the record adds to a call. */
  readonly recordRatio: number;
  /** shared / unrecorded through the Heap API (`heap.malloc`, `heap.free`), the same way. */
  readonly apiRecordRatio: number;
}

/** The shared build compiled without its record of live blocks, to measure what it costs. */
export async function unrecordedModule(): Promise<WebAssembly.Module> {
  const { compile, VARIANTS } = await import("../../scripts/build.ts");
  const variant = VARIANTS.find((variant) => variant.name === "sharedWasm")!;
  const flags = [...variant.flags, "--use", "MOTE_UNRECORDED=1"];
  return new WebAssembly.Module((await compile({ ...variant, flags })).wasm);
}

/**
 * Runs one seeded sequence of malloc and free calls (sizes 1 to 512 bytes, up to 1000 blocks
 * live) on an unshared heap, a shared one without the record (`unrecorded`, from
 * {@linkcode unrecordedModule}) and mote's shared one, in alternating rounds: through the raw
 * exports, then through the Heap API.
 */
export function lockCost(unrecorded: WebAssembly.Module, calls = 400_000, rounds = 11): LockCost {
  const random = seeded(42);
  const slots = new Array<number>(1000).fill(0);
  const sequence = Array.from({ length: calls }, () => {
    const slot = random(slots.length);
    return slot * 1024 + 1 + random(512); // the slot, and the size should it be empty
  });
  const run = (heap: Heap, api: boolean) => {
    const { malloc, free } = api
      ? { malloc: (size: number) => heap.malloc(size), free: (ptr: number) => heap.free(ptr) }
      : heap.exports;
    slots.fill(0);
    heap.reset();
    const start = performance.now();
    for (const step of sequence) {
      const slot = step >> 10;
      if (slots[slot]) {
        free(slots[slot]);
        slots[slot] = 0;
      } else slots[slot] = malloc(step & 1023);
    }
    return ((performance.now() - start) * 1e6) / calls;
  };
  const heaps = {
    unshared: new Heap({ limit: 64 << 20 }),
    unrecorded: Heap.attach({ ...new Heap({ shared: true }).share(), module: unrecorded }),
    shared: new Heap({ shared: true }),
  };
  type Name = keyof typeof heaps;
  const names = Object.keys(heaps) as Name[];
  const none = (): Record<Name, number[]> => ({ unshared: [], unrecorded: [], shared: [] });
  const times = { raw: none(), api: none() };
  for (let round = 0; round < rounds; round++) {
    for (const way of ["raw", "api"] as const) {
      for (const name of names) {
        times[way][name].push(run(heaps[name], way === "api"));
      }
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const ratio = (way: "raw" | "api", of: Name, to: Name) =>
    median(times[way][of].map((time, i) => time / times[way][to][i]));
  return {
    unshared: median(times.raw.unshared),
    unrecorded: median(times.raw.unrecorded),
    shared: median(times.raw.shared),
    ratio: ratio("raw", "shared", "unshared"),
    recordRatio: ratio("raw", "shared", "unrecorded"),
    apiRecordRatio: ratio("api", "shared", "unrecorded"),
  };
}

if (import.meta.main) {
  const { parseArgs } = await import("../../scripts/_cli.ts");
  const flags = parseArgs({
    usage: "deno task example:shared",
    summary: "Workers building one hash table in a shared heap: operations per second for " +
      "1 to 8 workers, the table checked; then the lock's uncontended cost.",
    flags: {
      ops: { kind: "integer", help: "table operations per run", default: 200_000, min: 1 },
      "max-workers": { kind: "integer", help: "the most workers", default: 8, min: 1, max: 8 },
      seed: { kind: "integer", help: "seed of the operations", default: 7, min: 0 },
      calls: {
        kind: "integer",
        help: "heap calls per side-by-side run",
        default: 1_000_000,
        min: 1,
      },
      readme: { kind: "boolean", help: "also write the figures into docs/shared-heap.md" },
    },
  });
  const lines: string[] = [];
  const print = (line: string) => {
    console.log(line);
    lines.push(line);
  };
  const cores = navigator.hardwareConcurrency;
  print(
    `One hash table in one shared heap, ${flags.ops.toLocaleString("en")} operations ` +
      `(50% put, 30% get, 20% delete) over 20,000 keys, on ${cores} cores, best of 3:\n`,
  );
  print("workers    table ops/s   heap calls/s   vs 1 worker   entries   heap");
  let single = 0;
  let failed = false;
  for (let workers = 1; workers <= flags["max-workers"]; workers++) {
    // the best of three runs: the one least disturbed by whatever else the machine runs
    let run = await runTable(workers, { ops: flags.ops, seed: flags.seed });
    for (let again = 0; again < 2; again++) {
      const next = await runTable(workers, { ops: flags.ops, seed: flags.seed });
      if (next.seconds < run.seconds || next.problems.length) run = next;
    }
    const perSecond = run.ops / run.seconds;
    single ||= perSecond;
    failed ||= run.problems.length > 0;
    print(
      `${String(workers).padStart(7)}  ${Math.round(perSecond).toLocaleString("en").padStart(13)}` +
        `  ${Math.round(run.heapCalls / run.seconds).toLocaleString("en").padStart(13)}` +
        `  ${(perSecond / single).toFixed(2).padStart(12)}  ${String(run.entries).padStart(8)}` +
        `   ${run.problems.length ? run.problems.join("; ") : "intact"}`,
    );
  }
  const cost = lockCost(await unrecordedModule());
  print(
    `\nThe lock, uncontended (one thread, raw malloc/free): ${cost.shared.toFixed(1)} ns a call ` +
      `shared, ${cost.unshared.toFixed(1)} ns unshared: ×${cost.ratio.toFixed(2)}.`,
  );
  print(
    `The record of live blocks (the same calls, shared build with it and without): ` +
      `${cost.shared.toFixed(1)} ns a call with, ${cost.unrecorded.toFixed(1)} ns without: ` +
      `×${cost.recordRatio.toFixed(2)} raw, ×${
        cost.apiRecordRatio.toFixed(2)
      } through the Heap API.`,
  );
  const setups: (ChurnSetup & { name: string })[] = [
    { workers: 0, shared: false, name: "one thread, its own heap" },
    { workers: 1, shared: true, name: "1 worker, a shared heap" },
    { workers: 1, shared: false, name: "1 worker, its own heap" },
    { workers: 2, shared: true, name: "2 workers, one shared heap" },
    { workers: 2, shared: false, name: "2 workers, a heap each" },
  ];
  const rates: number[][] = setups.map(() => []);
  for (let round = 0; round < 5; round++) { // in turn, so that the machine's load falls on all
    for (const [i, setup] of setups.entries()) rates[i].push(await churnRate(setup, flags.calls));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  print(
    `\nSide by side: ${flags.calls.toLocaleString("en")} seeded malloc/free calls (raw exports) ` +
      `split among the threads, median of 5 rounds taken in turn:\n`,
  );
  print("threads and heaps               heap calls/s   vs one thread");
  for (const [i, setup] of setups.entries()) {
    const rate = median(rates[i]);
    print(
      `${setup.name.padEnd(28)}  ${Math.round(rate).toLocaleString("en").padStart(13)}` +
        `  ${(rate / median(rates[0])).toFixed(2).padStart(14)}`,
    );
  }
  if (flags.readme) {
    const readme = await Deno.readTextFile(PAGE);
    const start = "<!-- shared:start -->", end = "<!-- shared:end -->";
    const from = readme.indexOf(start), to = readme.indexOf(end);
    if (from < 0 || to < from) throw new Error(`${PAGE.pathname}: no ${start} ${end}`);
    const block = "```\n$ deno task example:shared\n" + lines.join("\n") + "\n```";
    await Deno.writeTextFile(
      PAGE,
      `${readme.slice(0, from)}${start}\n\n${block}\n\n${readme.slice(to)}`,
    );
  }
  if (failed) Deno.exit(1);
}
