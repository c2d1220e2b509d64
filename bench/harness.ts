/**
 * Replays a workload against a peer, timed, in either of two ways:
 *
 * - **JS calls**: a JavaScript loop calls the allocator once per operation, what a JS program
 *   using a wasm allocator pays (the JS-to-wasm call costs every wasm peer alike);
 * - **in wasm**: bench/asm/replay.ts loops inside wasm and calls the allocator's exports
 *   directly; the same loop against the no-op allocator is the loop's own cost, subtracted to
 *   get the allocator's.
 *
 * @module
 */
import { type Calls, type Instance, type Peer, wasmPeer } from "./peers.ts";
import { PEERS_DIR } from "./setup.ts";
import { FREE, REALLOC, type Workload } from "./workloads.ts";

/** The outcome of one replay. */
export interface Run {
  /** Wall time of the replay alone, in milliseconds. */
  ms: number;
  /** Requests that returned 0. */
  failures: number;
  /** Memory the allocator took (see `Instance.used`). */
  used: number;
  /** Operations replayed: fewer than the workload's when the time budget ran out. */
  done: number;
  /** Why the replay stopped early: a trap or an exception, or the time budget. */
  error?: string;
}

/** What went wrong in a replay (a trap, failed requests), or undefined when all went well. */
export function verdict(run: Run): string | undefined {
  if (run.error) return `it trapped or threw (${run.error})`;
  if (run.failures) return `${run.failures} requests failed`;
}

/** Marks the timed part of a replay, for `deno bench` (its BenchContext). */
export interface Timer {
  start(): void;
  end(): void;
}

/** How long one JS replay may take before it is abandoned, in milliseconds. */
export const BUDGET_MS = 30_000;

function failed(e: unknown, ms = NaN): Run {
  const message = e instanceof Error ? e.message : String(e);
  return { ms, failures: 0, used: NaN, done: 0, error: message.split("\n")[0] };
}

// The loop, compiled afresh for every peer (new Function) so that each call site in it sees one
// allocator only and V8 optimises it for that one, as it would in a program using one allocator.
// V8 caches what new Function compiles by its text, type feedback included: each loop ends with
// a comment numbering it, or every peer's calls would meet at the same call sites.
// It replays a range of operations a call: the warm-up (see WARM_MS) replays a prefix.
const LOOP = `
  for (let i = from * 4, end = to * 4; i < end; i += 4) {
    const op = ops[i], id = ops[i + 1], align = ops[i + 3];
    let size = ops[i + 2], ptr;
    if (op === ${FREE}) {
      ptr = table[id];
      if (ptr !== 0) h.free(ptr);
    } else {
      if (align > natural && emulate) size += align - natural;
      if (op === ${REALLOC}) {
        ptr = table[id];
        if (ptr === 0) continue;
        ptr = h.realloc(ptr, size) >>> 0;
      } else if (op === 1) {
        ptr = align > natural && !emulate ? h.aligned_alloc(align, size) >>> 0 : h.malloc(size) >>> 0;
      } else ptr = h.calloc(1, size) >>> 0;
      if (ptr === 0) state.failures++;
      table[id] = ptr;
    }
    TRACK
  }
`;

/** Operations per call of the loop, and the warm-up's prefix; the budget is checked between. */
const CHUNK = 1 << 14;

// Optimised code holds the instance it was optimised for (its wasm functions, a Heap's objects)
// weakly: the report's gc() before each sample frees the last instance and that code with it, so
// each sample was partly re-optimisation (for the Heap, of a dozen methods). A program runs its
// allocator optimised: untimed, on the sample's fresh instance, the first CHUNK operations are
// replayed and what they left live freed, over and over for WARM_MS (30 ms left some of the
// Heap's compiles running into the timed replay on 2 busy cores), for every peer alike.
const WARM_MS = 100;

type Tally = { failures: number; high: number }; // what the loop counts, across its calls
const PARAMETERS = ["h", "ops", "from", "to", "table", "natural", "emulate", "used", "state"];
type Loop = (
  ...args: [Calls, Uint32Array, number, number, Uint32Array, number, boolean, () => number, Tally]
) => void; // as PARAMETERS name them

let compiled = 0;

function compileLoop(track: boolean): Loop {
  const body = LOOP.replace("TRACK", track ? "state.high = Math.max(state.high, used());" : "");
  return new Function(...PARAMETERS, `${body}// loop ${++compiled}\n`) as Loop;
}

const loops = new WeakMap<Peer, Loop>();

/**
 * Replays untimed, reading `used()` after every operation: the high-water mark of a peer whose
 * extent shrinks.
 */
export const runTracked = (peer: Peer, workload: Workload): Run => runJs(peer, workload, true);

/** Replays `workload` through JS calls on a fresh instance of `peer`; `track`: see runTracked. */
export function runJs(peer: Peer, workload: Workload, track = false, timer?: Timer): Run {
  let loop = track ? undefined : loops.get(peer);
  if (!loop) loop = compileLoop(track);
  if (!track) loops.set(peer, loop);
  let instance: Instance;
  try {
    instance = peer.create(workload.peakLive);
  } catch (e) {
    return failed(e);
  }
  const table = new Uint32Array(workload.maxId + 1); // id -> pointer
  let start = NaN; // a warm-up that throws took no timed time
  try {
    const { ops, count } = workload, { calls, used } = instance, emulate = !peer.hasAligned;
    const tally: Tally = { failures: 0, high: 0 };
    if (!track && peer.reuses) {
      // see WARM_MS
      const prefix = Math.min(count, CHUNK), warmed = performance.now() + WARM_MS;
      let ids = 0; // the prefix's largest id: the part of the table it fills
      for (let i = 0; i < prefix * 4; i += 4) ids = Math.max(ids, ops[i + 1]);
      do {
        loop(calls, ops, 0, prefix, table, peer.natural, emulate, used, tally);
        // what the prefix left live is freed: the ids it freed are cleared first
        for (let i = 0; i < prefix * 4; i += 4) if (ops[i] === FREE) table[ops[i + 1]] = 0;
        for (let id = 1; id <= ids; id++) if (table[id]) calls.free(table[id]), table[id] = 0;
      } while (performance.now() < warmed);
      tally.failures = 0;
    }
    timer?.start();
    start = performance.now();
    let done = 0;
    while (done < count && performance.now() < start + BUDGET_MS) {
      const to = Math.min(count, done + CHUNK);
      loop(calls, ops, done, to, table, peer.natural, emulate, used, tally);
      done = to;
    }
    const ms = performance.now() - start;
    timer?.end();
    const error = done < count ? `over the ${BUDGET_MS / 1000} s budget` : undefined;
    const { failures, high } = tally;
    return { ms, failures, used: track ? high : used(), done, error };
  } catch (e) {
    return failed(e, performance.now() - start);
  }
}

/** The in-wasm replayer's modules: the loop and the no-op allocator. */
export interface Replayer {
  replay: WebAssembly.Module;
  noop: Peer;
}

/** Where the records start in a replay memory: page 0 is left to the replayer's own data. */
const OPS_AT = 65536;

/** A workload laid out in a memory the replayer imports: records, then the pointer table. */
export interface Laid {
  memory: WebAssembly.Memory;
  tableAt: number;
}

const laidOut = new WeakMap<Workload, Laid>();

/** Copies a workload into a memory for the replayer, once per workload. */
export function layOut(workload: Workload): Laid {
  let laid = laidOut.get(workload);
  if (laid) return laid;
  const tableAt = OPS_AT + workload.count * 16;
  const bytes = tableAt + (workload.maxId + 1) * 4;
  const memory = new WebAssembly.Memory({ initial: Math.ceil(bytes / 65536) });
  new Uint32Array(memory.buffer, OPS_AT, workload.count * 4).set(
    workload.ops.subarray(0, workload.count * 4),
  );
  laidOut.set(workload, laid = { memory, tableAt });
  return laid;
}

/** Forgets a workload's replay memory (they are large: let the collector have them). */
export function release(workload: Workload): void {
  laidOut.delete(workload);
}

/** bench/asm/replay.ts's export: (ops, count, table, natural, emulate) to the requests failed. */
type Replay = (...args: number[]) => number;

/** Replays `workload` inside wasm on a fresh instance of `peer` (a wasm peer). */
export function runWasm(replayer: Replayer, peer: Peer, workload: Workload, timer?: Timer): Run {
  let instance: Instance;
  try {
    instance = peer.create(workload.peakLive);
  } catch (e) {
    return failed(e);
  }
  const { memory, tableAt } = layOut(workload);
  const alloc = instance.calls as unknown as WebAssembly.ModuleImports;
  const imports = { env: { memory }, alloc };
  const replay = new WebAssembly.Instance(replayer.replay, imports).exports.replay as Replay;
  timer?.start();
  const start = performance.now();
  try {
    const failures = replay(OPS_AT, workload.count, tableAt, peer.natural, peer.hasAligned ? 0 : 1);
    const ms = performance.now() - start;
    timer?.end();
    return { ms, failures, used: instance.used(), done: workload.count };
  } catch (e) {
    return failed(e, performance.now() - start);
  }
}

/** The replayer from the modules' bytes. */
export function makeReplayer(
  replay: Uint8Array<ArrayBuffer>,
  noop: Uint8Array<ArrayBuffer>,
): Replayer {
  return {
    replay: new WebAssembly.Module(replay),
    noop: wasmPeer("no-op", "returns at once: the loop's own cost", noop),
  };
}

/** Loads the replayer and the no-op allocator built by bench/setup.ts. */
export async function loadReplayer(dir: URL = PEERS_DIR): Promise<Replayer> {
  const read = (file: string) => Deno.readFile(new URL(file, dir));
  return makeReplayer(await read("replay.wasm"), await read("noop.wasm"));
}

/** The gzip-compressed size of some bytes. */
export async function gzipSize(bytes: Uint8Array<ArrayBuffer>): Promise<number> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"));
  return (await new Response(stream).arrayBuffer()).byteLength;
}
