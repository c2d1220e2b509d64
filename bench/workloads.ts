/**
 * The benchmark's workloads: named, seeded operation lists that every allocator replays
 * identically, and the recorded traces of real programs in the same format.
 *
 * An operation is a 16-byte record of little-endian u32s `{op, id, size, align}` (the trace
 * format of bench/traces/README.md): op 1 alloc, 2 free, 3 realloc (the id keeps its slot,
 * `size` is the new size), 4 calloc; ids are dense from 1. `align` is the alignment the object
 * needs; 8 means whatever malloc gives.
 *
 * @module
 */

/** Allocate `size` bytes aligned to `align`. */
export const ALLOC = 1;
/** Free the object. */
export const FREE = 2;
/** Resize the object to `size` bytes. */
export const REALLOC = 3;
/** Allocate `size` zeroed bytes. */
export const CALLOC = 4;
/** The alignment every malloc gives: a request at or below it is a plain malloc. */
export const PLAIN_ALIGN = 8;

/** One workload: its operations and what they need at most. */
export interface Workload {
  /** A short name, used on the command line, in bench names and in the report. */
  name: string;
  /** What it exercises, one line. */
  description: string;
  /** Where it comes from: "synthetic" or the trace file's path. */
  source: string;
  /** The records, 4 u32s each. */
  ops: Uint32Array<ArrayBuffer>;
  /** The number of records. */
  count: number;
  /** The largest id used (the pointer table needs `maxId + 1` slots). */
  maxId: number;
  /** The most bytes requested and live at once. */
  peakLive: number;
  /** The most objects live at once. */
  peakObjects: number;
  /** Whether any record asks for more than {@linkcode PLAIN_ALIGN}. */
  aligned: boolean;
}

/** Computes what a list of records needs: the largest id, peak live bytes and objects. */
export function measure(
  ops: Uint32Array,
  count = ops.length >>> 2,
): Pick<Workload, "maxId" | "peakLive" | "peakObjects" | "aligned"> {
  let maxId = 0;
  for (let i = 0; i < count; i++) maxId = Math.max(maxId, ops[4 * i + 1]);
  const sizes = new Float64Array(maxId + 1);
  let live = 0, peakLive = 0, objects = 0, peakObjects = 0, aligned = false;
  for (let i = 0; i < count; i++) {
    const op = ops[4 * i], id = ops[4 * i + 1], size = ops[4 * i + 2];
    if (ops[4 * i + 3] > PLAIN_ALIGN) aligned = true;
    if (op === FREE) {
      live -= sizes[id];
      sizes[id] = 0;
      objects--;
    } else {
      if (op !== REALLOC) objects++;
      live += size - sizes[id];
      sizes[id] = size;
    }
    if (live > peakLive) peakLive = live;
    if (objects > peakObjects) peakObjects = objects;
  }
  return { maxId, peakLive, peakObjects, aligned };
}

/** A seeded source of random numbers (mulberry32): the same seed, the same workload. */
export class Random {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    let t = (this.#state = (this.#state + 0x6D2B79F5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** An integer in [lo, hi], log-uniformly: as many between 16 and 32 as between 1K and 2K. */
  logInt(lo: number, hi: number): number {
    return Math.min(hi, Math.floor(lo * Math.pow(hi / lo, this.next())));
  }
}

/** Collects records, handing out ids and remembering which objects are live. */
class Recorder {
  #ops = new Uint32Array(1 << 16);
  count = 0;
  #nextId = 1;

  #push(op: number, id: number, size: number, align: number): void {
    if (4 * this.count === this.#ops.length) {
      const grown = new Uint32Array(this.#ops.length * 2);
      grown.set(this.#ops);
      this.#ops = grown;
    }
    this.#ops.set([op, id, size, align], 4 * this.count++);
  }

  alloc(size: number, align = PLAIN_ALIGN, op = ALLOC): number {
    const id = this.#nextId++;
    this.#push(op, id, size, align);
    return id;
  }

  free(id: number, align = PLAIN_ALIGN): void {
    this.#push(FREE, id, 0, align);
  }

  realloc(id: number, size: number): void {
    this.#push(REALLOC, id, size, PLAIN_ALIGN);
  }

  finish(name: string, description: string): Workload {
    const ops = this.#ops.slice(0, 4 * this.count);
    return { name, description, source: "synthetic", ops, count: this.count, ...measure(ops) };
  }
}

/** A set of live objects (their ids, by default) from which a random one can be taken in O(1). */
class LiveSet<T = number> {
  ids: T[] = [];

  add(id: T): void {
    this.ids.push(id);
  }

  /** Removes and returns a random member (the last takes its place). */
  take(random: Random): T {
    const i = Math.floor(random.next() * this.ids.length), id = this.ids[i];
    this.ids[i] = this.ids.at(-1)!;
    this.ids.pop();
    return id;
  }

  get size(): number {
    return this.ids.length;
  }
}

/** The seed of every synthetic workload ("mote"). */
export const SEED = 0x6D6F7465;

/** Small short-lived objects freed in reverse order: a call stack's temporaries. */
function lifo(scale: number): Workload {
  const random = new Random(SEED ^ 1), rec = new Recorder(), stack: number[] = [];
  while (rec.count < 2_000_000 * scale) {
    const depth = random.int(1, 32);
    for (let i = 0; i < depth; i++) stack.push(rec.alloc(random.int(4, 128)));
    while (stack.length) rec.free(stack.pop()!);
  }
  return rec.finish("lifo", "small short-lived objects (4–128 B), freed in reverse order");
}

/**
 * Random sizes with random lifetimes: the live set swings between 1,000 and 4,000 objects of
 * 16 B–16 KiB (log-uniform), each free taking a random live object, so holes of every size open
 * and must be reused.
 */
function fragment(scale: number): Workload {
  const random = new Random(SEED ^ 2), rec = new Recorder(), live = new LiveSet();
  let target = 4000;
  while (rec.count < 400_000 * scale) {
    if (live.size >= 4000) target = 1000;
    else if (live.size <= 1000) target = 4000;
    const grow = target > live.size ? 0.75 : 0.25;
    if (random.next() < grow) live.add(rec.alloc(random.logInt(16, 16384)));
    else rec.free(live.take(random));
  }
  return rec.finish(
    "fragment",
    "random sizes (16 B–16 KiB) and random lifetimes, 1,000–4,000 live",
  );
}

/**
 * Growing buffers through realloc: 16 vectors, each growing by half its capacity from 16 B to a
 * random final size up to 1 MiB, then freed, amid 256 small live objects that churn between
 * pushes and stand in the way of growing in place.
 */
function vector(scale: number): Workload {
  const random = new Random(SEED ^ 3), rec = new Recorder(), small = new LiveSet();
  const vectors = Array.from({ length: 16 }, () => ({
    id: rec.alloc(16),
    cap: 16,
    final: random.logInt(1024, 1 << 20),
  }));
  while (rec.count < 300_000 * scale) {
    const v = vectors[random.int(0, vectors.length - 1)];
    if (v.cap < v.final) {
      v.cap = Math.min(v.final, Math.ceil(v.cap * 1.5 / 8) * 8);
      rec.realloc(v.id, v.cap);
    } else {
      rec.free(v.id);
      v.id = rec.alloc(v.cap = 16);
      v.final = random.logInt(1024, 1 << 20);
    }
    if (small.size >= 256) rec.free(small.take(random));
    small.add(rec.alloc(random.int(16, 64)));
  }
  return rec.finish("vector", "16 buffers growing ×1.5 by realloc to ≤ 1 MiB amid small churn");
}

/** Large blocks, 64 KiB to 1 MiB, up to 32 live, random lifetimes. */
function large(scale: number): Workload {
  const random = new Random(SEED ^ 4), rec = new Recorder(), live = new LiveSet();
  while (rec.count < 40_000 * scale) {
    if (live.size < 32 && (live.size < 8 || random.next() < 0.5)) {
      live.add(rec.alloc(random.logInt(65536 + 1, 1 << 20)));
    } else rec.free(live.take(random));
  }
  return rec.finish("large", "blocks of 64 KiB–1 MiB, 8–32 live, random lifetimes");
}

/** A few long-lived allocations first, then steady churn of short-lived small objects. */
function steady(scale: number): Workload {
  const random = new Random(SEED ^ 5), rec = new Recorder(), live = new LiveSet();
  for (let i = 0; i < 64; i++) rec.alloc(random.logInt(1024, 256 * 1024));
  while (rec.count < 400_000 * scale) {
    if (live.size >= 512) rec.free(live.take(random));
    live.add(rec.alloc(random.logInt(16, 1024)));
  }
  return rec.finish(
    "steady",
    "64 long-lived blocks (1–256 KiB), then churn of 512 live 16 B–1 KiB",
  );
}

/** Aligned allocations: alignments 32 to 4096, sizes 16 B–8 KiB, 1,000 live. */
function aligned(scale: number): Workload {
  const random = new Random(SEED ^ 6), rec = new Recorder();
  const live = new LiveSet<{ id: number; align: number }>();
  while (rec.count < 200_000 * scale) {
    if (live.size >= 1000 || (live.size > 0 && random.next() < 0.3)) {
      const { id, align } = live.take(random);
      rec.free(id, align);
    } else {
      const align = 1 << random.int(5, 12);
      live.add({ id: rec.alloc(random.logInt(16, 8192), align), align });
    }
  }
  return rec.finish("aligned", "aligned_alloc, alignment 32–4096, 16 B–8 KiB, ≤ 1,000 live");
}

/** The synthetic workloads by name, in report order. */
const GENERATORS = { lifo, fragment, vector, large, steady, aligned };

/**
 * Makes the synthetic workloads. `scale` multiplies their lengths (1 for the benchmark, small
 * for a smoke test); the same scale always gives the same records.
 */
export function synthetic(scale = 1): Workload[] {
  return Object.values(GENERATORS).map((generate) => generate(scale));
}

/** Where the recorded traces live, with their provenance (traces/README.md). */
export const TRACE_DIR = new URL("./traces/", import.meta.url);

/** Reads a trace file (`.trc`, or `.trc.gz` gunzipped on the fly) into a workload. */
export async function readTrace(path: string | URL): Promise<Workload> {
  const file = await Deno.open(path);
  const stream = String(path).endsWith(".gz")
    ? file.readable.pipeThrough(new DecompressionStream("gzip"))
    : file.readable;
  const buffer = await new Response(stream).arrayBuffer();
  if (buffer.byteLength % 16) throw new Error(`${path}: not a whole number of 16-byte records`);
  const ops = new Uint32Array(buffer);
  const name = String(path).split("/").pop()!.replace(/\.trc(\.gz)?$/, "");
  const summary = String(path).replace(/\.trc(\.gz)?$/, ".json"); // its description, if there
  const description = await Deno.readTextFile(summary).then((text) => JSON.parse(text).description)
    .catch(() => undefined) ?? `trace ${name}`;
  return { name, description, source: String(path), ops, count: ops.length >>> 2, ...measure(ops) };
}

/**
 * The trace files to replay: every `*.trc.gz` in bench/traces and the paths in `extra`. A trace
 * whose summary (`*.json`) is there but whose records are not, or a missing folder, is said in
 * `notes`, with why (printed when no `notes` are given).
 */
export function tracePaths(extra: string[] = [], notes?: string[]): string[] {
  const said: string[] = notes ?? [];
  const paths: string[] = [], summaries: string[] = [];
  try {
    for (const { name } of Deno.readDirSync(TRACE_DIR)) {
      if (name.endsWith(".trc.gz")) paths.push(new URL(name, TRACE_DIR).pathname);
      if (name.endsWith(".json")) summaries.push(name.replace(/\.json$/, ""));
    }
  } catch (e) {
    said.push(`the recorded traces: cannot read ${TRACE_DIR.pathname} (${(e as Error).name})`);
  }
  for (const name of summaries.filter((n) => !paths.some((p) => p.endsWith(`/${n}.trc.gz`)))) {
    said.push(`trace ${name}: ${name}.trc.gz is missing from ${TRACE_DIR.pathname}`);
  }
  if (!notes) { for (const note of said) console.error(`skipped: ${note}`); }
  return [...paths.sort(), ...extra];
}
