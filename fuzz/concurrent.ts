/**
 * The concurrent fuzz, {@linkcode fuzzConcurrent}: its workers are fuzz/_concurrent_worker.ts,
 * its command line (`deno task fuzz:concurrent`) fuzz/concurrent_main.ts. Inside the lock every
 * operation takes a ticket and writes what it did to a log in the shared memory.
 *
 * @module
 */
import fc from "fast-check";
import { ALIGN, FIRST, HEADER, MAX_LIMIT, PAGE } from "../src/_layout.ts";
import { rootOf } from "../src/_heap_reader.ts";
import { Heap } from "../src/heap.ts";
import { aModule, checkFields, integerFrom } from "../src/_validate.ts";
import { FUZZ_OPTION_CHECKS } from "./_runner.ts";
import {
  LOG_ENTRY,
  type LogEntry,
  readLog,
  SHARED_HEADER,
  sharedEngine,
  type SharedHeap,
  sharedModule,
  spinOnly,
  startLog,
  ticketsOf,
} from "../src/_shared_engine.ts";
import { POWERS_OF_TWO, sizes, weighted } from "./_arbitraries.ts";
import { replayLog } from "./_replay.ts";

/** Where the log starts in the memory: above 0, which means no log. */
const LOG_AT = 64;
/** The most runs that shrinking a hang's schedule may take. */
const SHRINKS = 200;
/** The most workers a run has. */
export const MAX_WORKERS = 8;
/** The check of a number of workers: the API's and the command line's rule. */
export const WORKER_COUNT = integerFrom(2, MAX_WORKERS);

/**
 * Options of {@linkcode fuzzConcurrent}.
 *
 * @example Three to four workers, ten runs, reproducibly
 * ```ts
 * import type { ConcurrentFuzzOptions } from "@mote/alloc/fuzz";
 *
 * const options: ConcurrentFuzzOptions = { runs: 10, seed: 7, minWorkers: 3, maxWorkers: 4 };
 * ```
 */
export interface ConcurrentFuzzOptions {
  /** How many runs, each on a fresh shared heap. Defaults to 20. */
  readonly runs?: number;
  /** The seed the runs' commands are generated from. Random by default. */
  readonly seed?: number;
  /** The fewest workers in a run, from 2. Defaults to 2. */
  readonly minWorkers?: number;
  /** The most workers in a run, up to 8. Defaults to 8. */
  readonly maxWorkers?: number;
  /** The most commands one worker runs in a run. Defaults to 150. */
  readonly maxCommands?: number;
  /** A build of asm/shared.ts to fuzz instead of mote's shared build. */
  readonly wasm?: WebAssembly.Module;
}

/**
 * The outcome of a concurrent fuzz.
 *
 * @example One line of it for a log
 * ```ts
 * import type { ConcurrentFuzzReport } from "@mote/alloc/fuzz";
 *
 * const line = (r: ConcurrentFuzzReport) =>
 *   `${r.runs} runs, ${r.operations} operations: ${r.failure ?? "no failure"}`;
 * ```
 */
export interface ConcurrentFuzzReport {
  /** The seed the runs were generated from. */
  readonly seed: number;
  /** Runs done, the failing one included. */
  readonly runs: number;
  /** Calls into the heap over all runs: as many tickets as were taken. */
  readonly operations: number;
  /** How often the log passes from one worker to another: the interleaving that happened. */
  readonly switches: number;
  /** How many times the main thread raised the limit while workers ran. */
  readonly raises: number;
  /** The first failure: what went wrong, and the ticket-ordered log up to it. */
  readonly failure?: string;
}

/**
 * A worker's commands: mostly allocating and freeing, every call of the C ABI. An index picks a
 * live block modulo how many there are.
 */
function workerCommands(maxCommands: number) {
  const size = sizes(false) as fc.Arbitrary<number>, index = fc.nat({ max: 1 << 16 });
  const op = <T extends string>(name: T) => fc.constant(name);
  const alignment = fc.constantFrom(...POWERS_OF_TWO), nat = (max: number) => fc.nat({ max });
  // the raw export at the span's end and a header or an alignment either side of it: a limit
  // below what the heap spans is refused, whoever asks (Heap's setter refuses it before)
  const fromSpanEnd = fc.constantFrom(-ALIGN, -HEADER, 0, ALIGN);
  const command = fc.oneof(
    weighted(9, fc.record({ op: op("malloc"), size })),
    // a stack overflow around a call: a thread that throws there must leave no lock behind
    weighted(1, fc.record({ op: op("malloc"), size, atStackEnd: fc.constant(true) })),
    weighted(2, fc.record({ op: op("calloc"), count: nat(64), size: nat(1024) })),
    weighted(2, fc.record({ op: op("aligned_alloc"), alignment, size })),
    weighted(6, fc.record({ op: op("realloc"), index, size: fc.oneof(size, nat(600)) })),
    weighted(9, fc.record({ op: op("free"), index })),
    weighted(2, fc.record({ op: op("malloc_usable_size"), index })),
    weighted(1, fc.record({ op: op("set_limit"), fromSpanEnd })),
    weighted(1, fc.record({ op: op("verify") })),
  );
  return fc.array(command, { maxLength: maxCommands, size: "max" });
}

/** One command of a worker, as generated. */
export type WorkerCommand = ReturnType<typeof workerCommands> extends fc.Arbitrary<(infer C)[]> ? C
  : never;

/** An operation as the log names it. */
export type Operation = LogEntry["operation"];

/** What the main thread sends for one run. */
export interface WorkerRun extends SharedHeap {
  /** This worker's number, 0 to 7: part of every pattern it writes. */
  readonly worker: number;
  /** How many workers take part: the barrier waits for them all. */
  readonly workers: number;
  /** Int32 0 of it counts the workers at the barrier; 1 + `worker` takes this one's owner id. */
  readonly barrier: SharedArrayBuffer;
  readonly commands: readonly WorkerCommand[];
}

/** A call into the heap as this worker saw it: operation, arguments, result. */
export type Call = readonly [operation: Operation, a: number, b: number, result: number];

/** What a worker answers. */
export interface WorkerResult {
  /** The owner id its instance had: the log's entries of this worker carry it. */
  readonly owner: number;
  /** Every call it made, in order. */
  readonly calls: readonly Call[];
  /** The first thing it found wrong, with the index of the call it found it at. */
  readonly problem?: string;
}

function plans(options: Required<Omit<ConcurrentFuzzOptions, "seed" | "wasm">>) {
  const everyWorker = { minLength: options.maxWorkers, maxLength: options.maxWorkers };
  return fc.record({
    workers: fc.integer({ min: options.minWorkers, max: options.maxWorkers }),
    // how far above the log the heap's region starts
    offset: fc.oneof(fc.constantFrom(0, 1, 15, 4100), fc.nat({ max: 70_000 })),
    limit: fc.oneof(
      weighted(1, fc.integer({ min: 4096, max: 256 << 10 })),
      weighted(2, fc.integer({ min: 256 << 10, max: 32 << 20 })),
      weighted(1, fc.constant(MAX_LIMIT)),
    ),
    // the shared memory's maximum pages above what the heap starts with, if it is bounded
    growable: fc.option(fc.nat({ max: 300 }), { nil: undefined, freq: 3 }),
    // bytes the main thread raises the limit by while the workers run, one timer each
    raises: fc.array(fc.integer({ min: 1, max: 1 << 20 }), { maxLength: 3 }),
    commands: fc.array(workerCommands(options.maxCommands), everyWorker),
  });
}

/** One run, as generated. */
type RunPlan = ReturnType<typeof plans> extends fc.Arbitrary<infer P> ? P : never;

/** Sends `worker` a message, if any; its answer, or an error saying `who` threw or failed. */
function ask<T>(worker: Worker, message: unknown, who: string): Promise<T> {
  return new Promise((resolve, reject) => {
    worker.onmessage = ({ data }) =>
      typeof data === "object" && "error" in data
        ? reject(new Error(`${who} threw: ${data.error}`))
        : resolve(data);
    worker.onerror = (event) => {
      event.preventDefault();
      reject(new Error(`${who} failed: ${event.message}`));
    };
    if (message !== undefined) worker.postMessage(message);
  });
}

/**
 * Starts the workers that runs share, for the whole fuzz: one first, then the others, which
 * under `deno test` find its module type-checked already rather than all checking it at once.
 */
async function startPool(size: number): Promise<Worker[]> {
  const url = new URL("./_concurrent_worker.ts", import.meta.url).href;
  const pool: Worker[] = [];
  const add = () =>
    ask(pool[pool.push(new Worker(url, { type: "module" })) - 1], undefined, "A worker");
  try {
    await add();
    await Promise.all(Array.from({ length: size - 1 }, add));
  } catch (error) {
    for (const worker of pool) worker.terminate();
    throw error;
  }
  return pool;
}

class RunFailure extends Error {}
/** A run that could not end by itself: the lock left held, or a wake-up lost. */
class Hang extends RunFailure {}

/**
 * Watches a shared heap's lock while the workers answer, and says what hung, from what the
 * threads did, never from how long a call takes: a lock held by a worker that has answered or
 * thrown, which nothing can free, or every worker still running asleep on the lock while it is
 * free, which nothing will wake. It frees and wakes them until all have answered, so that the
 * failure shows. `owners` holds each worker's owner id, which it writes on attaching.
 */
async function hangOf(heap: Heap, answers: Promise<WorkerResult>[], owners: Int32Array) {
  const word = new Int32Array(heap.memory.buffer, rootOf(heap.base), 1);
  const done = answers.map(() => false);
  let hang: string | undefined;
  answers.forEach((answer, i) => answer.finally(() => done[i] = true).catch(() => {}));
  while (done.includes(false)) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    const tickets = ticketsOf(heap.memory, heap.base), holder = heap.lockHolder;
    const worker = done.findIndex((over, i) => over && Atomics.load(owners, i) === holder);
    if (holder !== 0 && worker >= 0) {
      hang ??= `worker ${worker} was done, holding the lock`;
      Atomics.store(word, 0, 0);
      Atomics.notify(word, 0);
    } else if (Atomics.load(word, 0) === 0) {
      // A release frees the lock an instant before it wakes the waiters, and a busy machine may
      // stop the releasing thread there a while: a sleeper on a free lock is no hang while any
      // worker runs, which may be that one. Every worker not done asleep on it, the lock free
      // throughout and no operation done, is one: none is left to wake them.
      const running = done.filter((over) => !over).length;
      const woken = Atomics.notify(word, 0);
      if (
        woken > 0 && woken === running && Atomics.load(word, 0) === 0 &&
        ticketsOf(heap.memory, heap.base) === tickets
      ) hang ??= "every running thread slept on the lock while it was free: a wake-up was lost";
    }
  }
  return hang;
}

const ONE_ARGUMENT = new Set(["malloc", "free", "malloc_usable_size", "set_limit"]);

/** A log entry as a line of the trace. */
function line(entry: LogEntry, workerOf: Map<number, number>): string {
  const who = workerOf.has(entry.owner) ? `worker ${workerOf.get(entry.owner)}` : "main";
  const args = ONE_ARGUMENT.has(entry.operation) ? entry.a : `${entry.a}, ${entry.b}`;
  const usable = entry.usable ? ` (usable ${entry.usable})` : "";
  return `#${entry.ticket} ${who}: ${entry.operation}(${args}) -> ${entry.result}${usable}`;
}

/** Runs one plan; throws a RunFailure saying what went wrong. */
async function runOnce(
  pool: Worker[],
  plan: RunPlan,
  maxCommands: number,
  module: WebAssembly.Module,
): Promise<{ operations: number; switches: number; raises: number }> {
  // the log lies below the heap (address 0 means none): two calls a command at most, such as
  // an allocation and its usable size, or a limit set and set back
  let entries = 1;
  while (entries < plan.workers * maxCommands * 2 + 1) entries *= 2;
  const base = LOG_AT + entries * LOG_ENTRY + plan.offset;
  const pages = Math.ceil((rootOf(base) + SHARED_HEADER + FIRST + HEADER) / PAGE); // to its root
  const maximum = plan.growable === undefined ? 65536 : pages + plan.growable;
  const memory = new WebAssembly.Memory({ initial: pages, maximum, shared: true });
  const limit = Math.min(plan.limit, MAX_LIMIT - base);
  const limitEnd = Math.min(base + limit, MAX_LIMIT);
  // what new Heap({ memory, base, limit, shared: true }) does, with the build under test
  const maker = sharedEngine(memory, base, false, module);
  if (!maker.init(base, limitEnd)) throw new Error(`A heap at ${base} could not start`);
  startLog(maker, LOG_AT, entries);
  // the main thread spins, never sleeps, on a lock a worker holds: this thread watches for lost
  // wake-ups, and a build whose release wakes nobody would leave it asleep for good
  let heap!: Heap;
  spinOnly(() => heap = Heap.attach({ memory, base, module }));
  const first = ticketsOf(memory, base);
  const barrier = new SharedArrayBuffer(4 * (1 + MAX_WORKERS));
  // the main thread raises the limit meanwhile, whenever its timers fire: the log says when
  const raising = plan.raises.map((bytes, i) =>
    new Promise((resolve) => setTimeout(resolve, i)).then(() => {
      // not into a lock held for good, which would stop the watch on this thread too
      if (heap.lockHolder === 0 && heap.limit + bytes <= MAX_LIMIT - base) heap.limit += bytes;
    }).catch((error: unknown) => error)
  );
  const schedules = plan.commands.slice(0, plan.workers);
  const answers = schedules.map((commands, worker) => {
    // what a worker needs to attach (the memory, base and module), and its part of the run
    const run: WorkerRun = { ...heap.share(), worker, workers: plan.workers, barrier, commands };
    return ask<WorkerResult>(pool[worker], run, `Worker ${worker}`);
  });
  const hang = await hangOf(heap, answers, new Int32Array(barrier, 4));
  const results = await Promise.all(answers);
  const raised = (await Promise.all(raising)).find((error) => error !== undefined);
  const log = readLog(memory, LOG_AT, entries, first, ticketsOf(memory, base));
  const workerOf = new Map(results.map((result, worker) => [result.owner, worker]));
  const trace = (upTo: number) => {
    const shown = log.slice(0, upTo + 1).map((entry) => line(entry, workerOf));
    return (shown.length > 60 ? ["…", ...shown.slice(-60)] : shown).join("\n    ");
  };
  const fail = (what: string, at = log.length - 1, Failure = RunFailure): never => {
    throw new Failure(
      `${what}\n  ${plan.workers} workers, heap at ${base} in a memory of ${pages} pages ` +
        `(at most ${maximum}), limit ${limit}; the log in ticket order:\n    ${trace(at)}`,
    );
  };

  if (hang) {
    const schedule = schedules.map((each) => JSON.stringify(each));
    fail(`${hang}; the workers' commands:\n    ${schedule.join("\n    ")}`, undefined, Hang);
  }
  if (raised) fail(`raising the limit from the main thread threw ${raised}`);
  // no lock outlives its call, and a lock nobody holds cannot be taken from anyone
  if (heap.lockHolder !== 0) fail(`owner ${heap.lockHolder} holds the lock after every call`);
  let recovered: string | undefined;
  try {
    recovered = `returned ${heap.recover(results[0].owner)}`;
  } catch (error) {
    if (!(error instanceof RangeError)) recovered = `threw ${error}`;
  }
  if (recovered) fail(`recover(${results[0].owner}) of a lock nobody holds ${recovered}`);
  for (const [worker, result] of results.entries()) {
    if (result.problem) fail(result.problem);
    const own = log.filter((entry) => entry.owner === result.owner);
    const length = Math.max(own.length, result.calls.length);
    for (let i = 0; i < length; i++) {
      const [operation, a, b, seen] = result.calls[i] ?? [];
      const entry = own[i];
      if (`${[entry?.operation, entry?.a, entry?.b, entry?.result]}` !== `${result.calls[i]}`) {
        fail(
          `worker ${worker}'s call ${i}, ${operation}(${a}, ${b}) -> ${seen}, is not the log's ` +
            (entry ? `#${entry.ticket}` : "(missing)"),
          entry ? log.indexOf(entry) : log.length - 1,
        );
      }
    }
  }
  // every entry in ticket order, by a thread of the run: a worker or this one (raising the limit)
  log.forEach((entry, i) => {
    if (entry.ticket !== first + i) fail(`the log's entry ${first + i} has ticket ${entry.ticket}`);
    if (entry.owner !== heap.owner && !workerOf.has(entry.owner)) {
      fail(`the log's entry #${entry.ticket} names owner ${entry.owner}, no thread's`, i);
    }
  });

  // the model, replaying the log from the heap as it was made
  const { model, disagreement } = replayLog(log, { base, limitEnd, pages, maximum });
  if (disagreement) fail(disagreement.what, disagreement.at < 0 ? undefined : disagreement.at);
  const problems = heap.check();
  if (problems.length) fail(`heap.check() after the run: ${problems.join("; ")}`);
  if (JSON.stringify(model.picture().blocks) !== JSON.stringify(heap.walk())) {
    fail("the heap's blocks after the run are not the model's");
  }
  const [bytes, modelBytes] = [memory, model.memory].map((each) => each.buffer.byteLength);
  if (bytes !== modelBytes) fail(`the memory is ${bytes} bytes, the model's ${modelBytes}`);
  const switches = log.filter((entry, i) => i > 0 && entry.owner !== log[i - 1].owner).length;
  const raises = log.filter((e) => e.operation === "set_limit" && e.owner === heap.owner).length;
  return { operations: log.length, switches, raises };
}

/**
 * Fuzzes mote's shared build under real concurrency: each run starts 2 to 8 workers at once on
 * a fresh shared heap, then replays the ticket-ordered log of what the heap did through the
 * model, which must predict every pointer and usable size the workers got; the log must hold,
 * worker by worker, exactly the calls each made, and the heap must end intact and block for
 * block the model's. A failure reports the log up to it, the sequential history that the model
 * disagrees with.
 *
 * @param options How many runs, from which seed, with how many workers.
 * @returns The runs, operations and interleavings, and the first failure if there was one.
 *
 * @example
 * ```ts
 * import { fuzzConcurrent } from "@mote/alloc/fuzz";
 * import assert from "node:assert/strict";
 *
 * const report = await fuzzConcurrent({ runs: 2, maxWorkers: 3, maxCommands: 40, seed: 1 });
 * assert.equal(report.failure, undefined);
 * ```
 */
export async function fuzzConcurrent(
  options: ConcurrentFuzzOptions = {},
): Promise<ConcurrentFuzzReport> {
  const { runs, seed: givenSeed, maxCommands } = FUZZ_OPTION_CHECKS;
  const fewest = typeof options?.minWorkers === "number" ? options.minWorkers : 2;
  const checks = { runs, seed: givenSeed, maxCommands, minWorkers: WORKER_COUNT };
  checkFields(options, { ...checks, maxWorkers: integerFrom(fewest, MAX_WORKERS), wasm: aModule });
  const settings = {
    runs: options.runs ?? 20,
    minWorkers: options.minWorkers ?? 2,
    maxWorkers: options.maxWorkers ?? MAX_WORKERS,
    maxCommands: options.maxCommands ?? 150,
  };
  const seed = options.seed ?? (Math.random() * 2 ** 31) | 0;
  const pool = await startPool(settings.maxWorkers);
  const counts = { runs: 0, operations: 0, switches: 0, raises: 0 };
  let failure: string | undefined;
  let hangsOnly = false, shrinks = 0;
  const property = fc.asyncProperty(plans(settings), async (plan) => {
    if (hangsOnly && ++shrinks > SHRINKS) return; // what it has shrunk to so far stands
    counts.runs++;
    try {
      const done = await runOnce(pool, plan, settings.maxCommands, options.wasm ?? sharedModule());
      for (const key of ["operations", "switches", "raises"] as const) counts[key] += done[key];
    } catch (error) {
      if (!hangsOnly || error instanceof Hang) throw error;
    }
  });
  try {
    // a concurrent run does not repeat itself: shrinking would chase another interleaving,
    // and the failing run's log is already a sequential history to read
    let details = await fc.check(property, { seed, numRuns: settings.runs, endOnFailure: true });
    if (details.failed && details.errorInstance instanceof Hang) {
      // a hang comes of what the threads do more than of when: its schedule shrinks, to hangs
      hangsOnly = true;
      const path = details.counterexamplePath ?? undefined;
      const shrunk = await fc.check(property, { seed, numRuns: settings.runs, path });
      if (shrunk.failed) details = shrunk;
    }
    if (details.failed) {
      const error = details.errorInstance;
      failure = error instanceof RunFailure
        ? error.message
        : String(error instanceof Error ? error.stack : error);
    }
  } finally {
    for (const worker of pool) worker.terminate();
  }
  return { seed, ...counts, failure };
}
