/**
 * Runs fast-check over a target in batches of runs, each batch with its own seed, until a
 * number of runs or a time is reached or a run fails; reports counts, seeds, and for a failure
 * the shrunk counterexample and what replays it.
 */
import fc from "fast-check";
import { MAX_LIMIT, PAGE } from "../src/_layout.ts";
import * as check from "../src/_validate.ts";
import { rootOf } from "../src/_heap_reader.ts";
import { ModelAllocator } from "../src/_model_allocator.ts";
import { anyCommands, type HeapSetup, heapSetups, moteCommands } from "./_arbitraries.ts";
import { FuzzFailure, Session } from "./_session.ts";
import { importsMemory, moteAllocator } from "./_subject.ts";
import { OracleFailure, ruleOf } from "./_oracles.ts";
import type { SoakParams } from "./_soak.ts";
import type { ThirdParty } from "./_third_party.ts";
import type { Heap } from "../src/heap.ts";
import {
  heapCommands,
  type HeapLayerSetup,
  heapLayerSetups,
  type HeapRun,
  startHeapRun,
} from "./_heap_fuzz.ts";

/** A mote build to hold to the model. */
export interface MoteBuild {
  readonly name: string;
  readonly module: WebAssembly.Module;
  /** Whether it is a checked build: 8 bytes of overhead a block, misuse reported. */
  readonly checked: boolean;
  readonly importsMemory: boolean;
}

/** `module` as a build to hold to the model, checked if it imports `mote_report`. */
export function moteBuild(name: string, module: WebAssembly.Module): MoteBuild {
  const checked = WebAssembly.Module.imports(module).some((entry) => entry.name === "mote_report");
  return { name, module, checked, importsMemory: importsMemory(module) };
}

/**
 * What to fuzz: mote builds against the model, any allocator module on its own, or `Heap`
 * against `ModelHeap` (`heap` and `fastHeap` the kinds of Heap to hold to it, if not Heap's).
 */
export type Target =
  | { readonly kind: "mote"; readonly builds: readonly MoteBuild[] }
  | { readonly kind: "heap"; readonly heap?: typeof Heap; readonly fastHeap?: typeof Heap }
  | {
    readonly kind: "any";
    readonly subject: ThirdParty;
    readonly alignment: number;
    /** The bounded-growth run after the runs, unless skipped. */
    readonly soak: Omit<SoakParams, "seed" | "alignment"> | undefined;
  };

/**
 * How long to fuzz and from where. Without `runs` or `seconds`, 100 runs; with both, whichever
 * ends first.
 *
 * @example Five short runs from a fixed seed
 * ```ts
 * import { type FuzzOptions, fuzzMote } from "@mote/alloc/fuzz";
 * import assert from "node:assert/strict";
 *
 * const options: FuzzOptions = { runs: 5, seed: 1, maxCommands: 20 };
 * assert.equal(fuzzMote(options).runs, 5);
 * ```
 */
export interface FuzzOptions {
  /** How many runs (sequences of operations on a fresh heap). */
  readonly runs?: number;
  /** How many seconds to go on starting batches of runs. */
  readonly seconds?: number;
  /** The first batch's seed, from which each further batch's follows. Random by default. */
  readonly seed?: number;
  /** With `seed` and `replayPath`, replays one failure as reported. */
  readonly path?: string;
  /** fast-check's record of which commands the failing run's shrunk sequence kept. */
  readonly replayPath?: string;
  /** The most operations in one run. Defaults to 200; 60 for the Heap layer. */
  readonly maxCommands?: number;
  /** Called about once a second, and at the end, with the counts so far. */
  readonly onProgress?: (progress: FuzzProgress) => void;
}

/** The checks of the fuzz options' values: the one place of their rules, the API's and flags'. */
export const FUZZ_OPTION_CHECKS = {
  runs: check.integerFrom(1),
  seconds: check.numberFrom(0.001), // the millisecond `deno task fuzz --seconds` always asked for
  seed: check.integerFrom(-(2 ** 31), 2 ** 32 - 1), // fast-check's seeds: 32 bits, either sign
  path: check.ofType("string"),
  replayPath: check.ofType("string"),
  maxCommands: check.integerFrom(1, 100_000),
  onProgress: check.ofType("function"),
  alignment: (value, name) => check.checkAlignment(value, 1 << 16, name),
  abi: check.oneOf("c", "rust"),
  watchdogMs: check.integerFrom(1),
  soakOperations: check.integerFrom(0),
  soakLive: check.integerFrom(1),
} satisfies Record<string, check.OptionCheck>;

/**
 * The counts of a fuzz session so far.
 *
 * @example Watching a session go
 * ```ts
 * import { fuzzMote, type FuzzProgress } from "@mote/alloc/fuzz";
 *
 * const show = (p: FuzzProgress) => console.log(`${p.runs} runs, ${p.operations} operations`);
 * fuzzMote({ runs: 5, maxCommands: 20, onProgress: show });
 * ```
 */
export interface FuzzProgress {
  /** Runs generated, not counting the reruns of shrinking. */
  readonly runs: number;
  /** Calls into the allocator in those runs. */
  readonly operations: number;
  /** Milliseconds since the session started. */
  readonly elapsedMs: number;
  /** The seed of the batch in progress. */
  readonly seed: number;
}

/**
 * What a failure looked like and how to see it again.
 *
 * @example Replaying a failure from its report
 * ```ts
 * import { type FuzzFailureReport, fuzzMote } from "@mote/alloc/fuzz";
 *
 * function replay(failure: FuzzFailureReport) {
 *   const { seed, path, replayPath } = failure;
 *   return fuzzMote({ seed, path, replayPath });
 * }
 * const { failure } = fuzzMote({ runs: 5, maxCommands: 20 });
 * if (failure) console.log(failure.message, replay(failure).failure?.message);
 * ```
 */
export interface FuzzFailureReport {
  /** The seed of the batch it failed in. */
  readonly seed: number;
  /** fast-check's path to the shrunk run, from that seed. */
  readonly path: string;
  /** Which of the run's commands the shrunk run kept; with `seed` and `path`, replays it. */
  readonly replayPath: string | undefined;
  /** Runs until the first failing one, that one included. */
  readonly runsToFailure: number;
  /** Operations until the first failing run failed, before any shrinking. */
  readonly operationsToFailure: number;
  /** The heap the shrunk run started from. */
  readonly setup: string;
  /** The shrunk run's commands, as fast-check prints them. */
  readonly commands: string;
  /** What went wrong, then the shrunk run's operations with their results. */
  readonly message: string;
  /**
   * The shrunk run replayed at once, in the same setting (the same worker and shared memory for
   * a module given as bytes): whether it failed again alike, and if not, what differed. Absent
   * for a replay itself and for the bounded-growth run.
   */
  readonly replay?: { readonly reproduced: boolean; readonly differed?: string };
  /**
   * The rule broken: "hang", "liveness", "bounded growth", "alignment", "overlap", "bounds",
   * "contents", "calloc zeroed", "calloc overflow", "usable size", "reuse", "no trap",
   * "model" or "other".
   */
  readonly rule: string;
}

/**
 * How the bounded-growth run of a module without a model went.
 *
 * @example How much the memory grew over the run, against the bytes live at its peak
 * ```ts
 * import type { FuzzSoakReport } from "@mote/alloc/fuzz";
 *
 * function growth({ memoryStart, memoryEnd, peakLive }: FuzzSoakReport): string {
 *   return `memory ${memoryStart} -> ${memoryEnd} bytes for ${peakLive} bytes live at most`;
 * }
 * ```
 */
export interface FuzzSoakReport {
  /** Operations done: all of them, or those before a failure. */
  readonly operations: number;
  /** The most blocks live at once. */
  readonly live: number;
  /** The memory's size in bytes at the start. */
  readonly memoryStart: number;
  /** The memory's size in bytes at the end. */
  readonly memoryEnd: number;
  /** The largest sum of requested bytes live at once. */
  readonly peakLive: number;
  /** How long it took, in milliseconds. */
  readonly elapsedMs: number;
}

/**
 * The outcome of a fuzz session.
 *
 * @example
 * ```ts
 * import { fuzzMote, type FuzzReport } from "@mote/alloc/fuzz";
 * import assert from "node:assert/strict";
 *
 * const report: FuzzReport = fuzzMote({ runs: 5, maxCommands: 20 });
 * assert.equal(report.failure, undefined);
 * assert.equal(report.seeds.length, 1); // runs go in batches of 25, one seed each
 * ```
 */
export interface FuzzReport extends FuzzProgress {
  /** One seed per batch of runs, in order. */
  readonly seeds: readonly number[];
  /** The first failure, shrunk; absent when every run passed. */
  readonly failure?: FuzzFailureReport;
  /** For a module without a model: its ABI, the imports stubbed, the watchdog's bound. */
  readonly subject?: {
    readonly abi: "c" | "rust";
    readonly stubbed: readonly string[];
    readonly lacking: readonly string[];
    readonly watchdogMs: number | undefined;
  };
  /** For a module without a model: the bounded-growth run, if it ran. */
  readonly soak?: FuzzSoakReport;
}

const BATCH = 25;

/** Fuzzes `target` as `options` say. */
export function runFuzz(target: Target, options: FuzzOptions = {}): FuzzReport {
  const { seconds, seed: givenSeed, path, onProgress } = options;
  const started = performance.now();
  const limitRuns = options.runs ?? (seconds === undefined ? 100 : Infinity);
  const deadline = started + (seconds ?? Infinity) * 1000;
  const firstSeed = givenSeed ?? (Math.random() * 2 ** 31) | 0;
  const counts = { runs: 0, operations: 0 };
  let planned = 0; // runs handed to fast-check: the Heap layer's may not happen, refused alike
  let failedAt: { runs: number; operations: number } | undefined;
  let lastProgress = started;
  const seeds: number[] = [];
  const progress = (): FuzzProgress => ({
    ...counts,
    elapsedMs: performance.now() - started,
    seed: seeds.at(-1) ?? firstSeed,
  });
  const any = target.kind === "any" ? target.subject : undefined;
  const subject = any && { ...any, abi: any.abi.name }; // its public fields, the ABI by name
  const replaying = path !== undefined;
  let failure: FuzzFailureReport | undefined;
  while (!failure && planned < limitRuns && performance.now() < deadline) {
    seeds.push(seeds.length === 0 ? firstSeed : nextSeed(seeds.at(-1)!));
    const [setups, command] = arbitrariesOf(target);
    const property = fc.property(
      setups,
      fc.commands([command], {
        maxCommands: options.maxCommands ?? (target.kind === "heap" ? 60 : 200),
        size: "max",
        replayPath: options.replayPath,
      }),
      (setup, commands) => {
        const session = start(target, setup);
        if (!session) return; // a setup both heaps refuse alike: a run with nothing to do
        const shrinking = failedAt !== undefined;
        try {
          fc.modelRun(() => ({ model: session, real: session }), commands);
          session.finish();
        } catch (error) {
          if (!shrinking) failedAt ??= { runs: counts.runs + 1, operations: 0 };
          throw error;
        } finally {
          if (!shrinking) {
            counts.runs++;
            counts.operations += session.operations;
            if (failedAt && failedAt.operations === 0) failedAt.operations = counts.operations;
          }
        }
        if (onProgress && performance.now() - lastProgress > 1000) {
          lastProgress = performance.now();
          onProgress(progress());
        }
      },
    );
    // a number of Heap-layer runs comes from one seed: the runs they always were, which the
    // bounded test and the mutation run measure
    const batch = target.kind === "heap" && seconds === undefined ? Infinity : BATCH;
    const numRuns = replaying ? 1 : Math.min(batch, limitRuns - planned);
    planned += numRuns;
    const details = fc.check(property, { seed: seeds.at(-1), numRuns, path });
    if (details.failed) {
      failure = describe(details, target, failedAt ?? { runs: counts.runs, operations: 0 });
    }
    if (replaying) break;
  }
  // after the runs, if they passed, the bounded-growth run: its failure, if any, is the session's
  const soaked = target.kind === "any" && target.soak && !replaying && !failure
    ? soakRun(target, firstSeed)
    : undefined;
  counts.operations += soaked?.soak.operations ?? 0;
  const report = { ...progress(), seeds, subject, ...soaked };
  onProgress?.(report);
  if (!failure) return report;
  const replayed = replaying ? {} : { replay: replay(target, options, failure) };
  return { ...report, failure: { ...failure, ...replayed } };
}

/** Replays a failure as its report says to: it must fail again, with the same message. */
function replay(target: Target, options: FuzzOptions, failure: FuzzFailureReport) {
  const { seed, path, replayPath } = failure;
  const again = runFuzz(target, { maxCommands: options.maxCommands, seed, path, replayPath });
  const message = again.failure?.message;
  if (message === failure.message) return { reproduced: true };
  const first = (text: string) => text.split("\n")[0];
  return {
    reproduced: false,
    differed: message === undefined
      ? "the replay passed"
      : `the replay failed otherwise: ${first(message)}, not ${first(failure.message)}`,
  };
}

/** The bounded-growth run, seeded with the session's first seed. */
function soakRun(target: Target & { kind: "any" }, seed: number) {
  const params = { ...target.soak!, seed, alignment: target.alignment };
  const started = performance.now();
  let result;
  try {
    result = target.subject.soak(params);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    result = { operations: 0, samples: [], peakLive: 0, failure: message };
  }
  const soak: FuzzSoakReport = {
    operations: result.operations,
    live: params.live,
    memoryStart: result.samples[0] ?? 0,
    memoryEnd: result.samples.at(-1) ?? 0,
    peakLive: result.peakLive,
    elapsedMs: performance.now() - started,
  };
  if (result.failure === undefined) return { soak };
  return {
    soak,
    failure: {
      seed,
      path: "",
      replayPath: undefined,
      runsToFailure: 0,
      operationsToFailure: result.operations,
      setup: `a fresh instance, ${params.operations} random operations over at most ` +
        `${params.live} live blocks (seed ${seed})`,
      commands: "",
      message: result.failure,
      rule: ruleOf(result.failure),
    },
  };
}

/** The seed of the batch after one with `seed`: a step of a 32-bit mixing function. */
function nextSeed(seed: number): number {
  let mixed = Math.imul(seed ^ (seed >>> 16), 0x45D9F3B);
  mixed = Math.imul(mixed ^ (mixed >>> 16), 0x45D9F3B);
  return (mixed ^ (mixed >>> 16)) + 1 | 0;
}

/** The heaps a target's runs start from, and the commands they run. */
function arbitrariesOf(target: Target): [fc.Arbitrary<Setup>, fc.Arbitrary<fc.Command<Run, Run>>] {
  if (target.kind === "heap") return [heapLayerSetups(), heapCommands()];
  if (target.kind === "mote") return [heapSetups(target.builds), moteCommands()];
  return [fc.constant(undefined), anyCommands(target.subject.abi)];
}

/** Where a run starts: a C-ABI heap, a Heap-layer one, or a fresh instance of a module. */
type Setup = HeapSetup | HeapLayerSetup | undefined;
/** A run of any target: its commands' model and real alike. */
type Run = Session | HeapRun;

/**
 * A fresh run: the heap the setup describes, and the model beside it; undefined for a Heap-layer
 * setup both heaps refuse alike.
 */
function start(target: Target, setup: Setup): Run | undefined {
  if (target.kind === "heap") {
    return startHeapRun(setup as HeapLayerSetup, target.heap, target.fastHeap);
  }
  if (target.kind === "any") {
    const { subject, alignment } = target;
    // a Rust allocator checks each result against the alignment it asked for: 1 for the session
    const plain = subject.abi.name === "rust" ? 1 : alignment;
    return new Session(subject.allocator(alignment), undefined, plain);
  }
  const build = target.builds[(setup as HeapSetup).build];
  const { region, base, pages, maximum, limit } = setup!;
  const shape = region ? { initial: pages, maximum } : { initial: 0, maximum: 65536 };
  const memory = build.importsMemory ? new WebAssembly.Memory(shape) : undefined;
  const real = moteAllocator(build.module, memory);
  const modelMemory = new WebAssembly.Memory({
    initial: real.memory.buffer.byteLength / PAGE,
    maximum: region ? maximum : 65536,
  });
  const model = new ModelAllocator(modelMemory, build.checked, real.quickBound);
  const limitEnd = Math.min(base + limit, MAX_LIMIT);
  return new Session(real, { model, base, limitEnd }, 16);
}

/** A failure as fast-check reports it, shrunk, in the report's words. */
function describe(
  details: fc.RunDetails<[Setup, Iterable<fc.Command<Run, Run>>]> & { failed: true },
  target: Target,
  failedAt: { runs: number; operations: number },
): FuzzFailureReport {
  const [setup, commands] = details.counterexample ?? [undefined, []];
  const printed = String(commands);
  const error = details.errorInstance;
  const message = error instanceof FuzzFailure || error instanceof OracleFailure
    ? error.message
    : String(error instanceof Error ? error.stack ?? error.message : error);
  const build = target.kind === "mote"
    ? target.builds[setup?.build as number]?.name
    : `${setup?.build} Heap`;
  const where = setup?.region
    ? `a region at ${setup.base} (root ${rootOf(setup.base)}) of a memory of ${setup.pages} ` +
      `pages${setup.maximum === undefined ? "" : `, at most ${setup.maximum}`}`
    : "its own memory";
  return {
    seed: details.seed,
    path: details.counterexamplePath ?? "",
    replayPath: /replayPath="([^"]*)"/.exec(printed)?.[1],
    runsToFailure: failedAt.runs,
    operationsToFailure: failedAt.operations,
    setup: setup === undefined
      ? "a fresh instance"
      : `${build} in ${where}, limit ${setup.limit} bytes`,
    commands: printed.replace(/\s*\/\*replayPath=.*\*\//, ""),
    message,
    rule: ruleOf(message),
  };
}

/** Options of {@linkcode fuzzHeapLayer}; `kind`, a Heap subclass to hold to the model instead. */
export type HeapFuzzOptions = FuzzOptions & { readonly kind?: typeof Heap };

/**
 * Runs the Heap-layer fuzz through `runFuzz`; throws its failure, shrunk, with what replays it
 * and whether its replay, run at once, reproduced it.
 */
export function fuzzHeapLayer(options: HeapFuzzOptions = {}): FuzzReport {
  const { kind, ...rest } = options;
  const report = runFuzz({ kind: "heap", heap: kind }, rest);
  const { failure } = report;
  if (!failure) return report;
  const flags = ["--heap", ...(rest.maxCommands ? [`--max-commands ${rest.maxCommands}`] : [])];
  throw new Error(
    `${failure.message}\nHeap: ${failure.setup}\nShrunk commands: ${failure.commands}\n` +
      `Replay: ${replayCommand(flags, failure)}` +
      replayed(failure).map((line) => `\n${line}`).join(""),
  );
}

/** The command that replays `failure`, after the flags that chose what was fuzzed and how. */
export function replayCommand(flags: readonly string[], failure: FuzzFailureReport): string {
  const { seed, path, replayPath } = failure;
  const how = path === "" ? ["--runs 1"] : [`--path ${path}`, `--replay-path '${replayPath}'`];
  return ["deno task fuzz", ...flags, `--seed ${seed}`, ...how].join(" ");
}

/** The report's line on a failure's replay, run at once in the same setting: none or one. */
export function replayed({ replay }: FuzzFailureReport): string[] {
  const how = "by its replay, run at once in the same setting";
  if (replay === undefined) return [];
  return [replay.reproduced ? `Reproduced ${how}.` : `NOT REPRODUCED ${how}: ${replay.differed}`];
}
