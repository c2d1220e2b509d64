/**
 * `deno task fuzz`: the fuzzer's command line, fit for CI; `--help` lists its flags (COMMAND),
 * docs/fuzzing.md shows them at work. Exits 0 when nothing failed, 1 on a failure (after
 * printing the rule it broke, the shrunk operations and the command that replays them), 2 with
 * one line on a usage error: an unknown flag, a bad value, a file that cannot be read or is no
 * allocator.
 *
 * @module
 */
import { fail, parseArgs, Progress, readArg, UsageError } from "../scripts/_cli.ts";
import { fuzzAllocator, fuzzMote, type FuzzProgress, type FuzzReport } from "./mod.ts";
import { FUZZ_OPTION_CHECKS as FUZZ, replayCommand, replayed, runFuzz } from "./_runner.ts";

// each flag that sets an option has the API's check of it: the flag refuses what the API would
const COMMAND = {
  usage: "deno task fuzz",
  summary: "Fuzzes mote's builds against the reference model, or with --wasm any allocator " +
    "module that exports C's malloc, free and realloc or Rust's alloc, dealloc and realloc. " +
    "Exits 1 on a failure, printing the command that replays it.",
  flags: {
    runs: { kind: "integer", help: "how many runs (100 without --seconds)", check: FUZZ.runs },
    seconds: { kind: "number", help: "go on starting runs for this long", check: FUZZ.seconds },
    seed: { kind: "integer", help: "the first batch's seed (random by default)", check: FUZZ.seed },
    path: { kind: "string", help: "with --seed and --replay-path: replays a failure" },
    "replay-path": { kind: "string", help: "which commands the failing run kept" },
    "max-commands": {
      kind: "integer",
      help: "operations per run (200; 60 with --heap)",
      check: FUZZ.maxCommands,
    },
    wasm: { kind: "string", help: "an allocator module to fuzz instead of mote's builds" },
    model: { kind: "boolean", help: "with --wasm: a build of mote, held to the model" },
    abi: {
      kind: "string",
      help: "with --wasm: the ABI to fuzz if the module exports both",
      check: FUZZ.abi,
    },
    align: {
      kind: "integer",
      help: "with --wasm: the alignment plain allocations must have (16)",
      check: FUZZ.alignment,
    },
    "timeout-ms": {
      kind: "integer",
      help: "with --wasm: how long one call may take before it is a hang (2000)",
      check: FUZZ.watchdogMs,
    },
    "soak-ops": {
      kind: "integer",
      help: "with --wasm: operations of the bounded-growth run, 0 to skip it (200000)",
      check: FUZZ.soakOperations,
    },
    "soak-live": {
      kind: "integer",
      help: "with --wasm: the most blocks live in the bounded-growth run (1000)",
      check: FUZZ.soakLive,
    },
    json: { kind: "boolean", help: "print the report as JSON" },
    heap: {
      kind: "boolean",
      help: "fuzz the Heap API against ModelHeap instead (both builds, regions with canaries, " +
        "resets, limits, stale and forged pointers, one-word corruptions)",
    },
  },
} as const;

type Flags = ReturnType<typeof parseArgs<typeof COMMAND.flags>>;

const MODULE_FLAGS = ["abi", "align", "timeout-ms", "soak-ops", "soak-live"] as const;

/**
 * Checks what the parser cannot: flags that need or exclude others. The defaults of flags left
 * out are the API's (`fuzzAllocator`'s, `runFuzz`'s), so a flag is given when it is set.
 */
function validate(flags: Flags): void {
  if (flags.model && flags.wasm === undefined) throw new UsageError("--model needs --wasm FILE");
  if (flags.heap && flags.wasm !== undefined) {
    throw new UsageError("--heap fuzzes mote's Heap: it takes no --wasm");
  }
  for (const name of MODULE_FLAGS) {
    if (flags[name] !== undefined && (flags.wasm === undefined || flags.model)) {
      throw new UsageError(`--${name} applies to --wasm FILE without --model`);
    }
  }
  const replaying = flags.path !== undefined || flags["replay-path"] !== undefined;
  if (replaying && flags.seed === undefined) {
    throw new UsageError("--path and --replay-path replay a failure: they need its --seed");
  }
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function progressLine({ runs, operations, elapsedMs, seed }: FuzzProgress): string {
  return `${seconds(elapsedMs)}: ${runs} runs, ${operations} operations (batch seed ${seed})`;
}

/** The flags of this invocation that choose what is fuzzed and how, for the replay command. */
function targetFlags(flags: Flags): string[] {
  const out = flags.heap ? ["--heap"] : [];
  if (flags.wasm !== undefined) out.push("--wasm", flags.wasm);
  if (flags.model) out.push("--model");
  for (const name of ["max-commands", ...MODULE_FLAGS] as const) {
    if (flags[name] !== undefined) out.push(`--${name}`, String(flags[name]));
  }
  return out;
}

/** Fuzzes as `flags` say; throws `UsageError` for a file that cannot be fuzzed. */
function fuzz(flags: Flags, onProgress: (p: FuzzProgress) => void): [string, FuzzReport] {
  const { runs, seed, path, "replay-path": replayPath, "max-commands": maxCommands } = flags;
  const options = { runs, seconds: flags.seconds, seed, path, replayPath, maxCommands, onProgress };
  if (flags.heap) return ["the Heap API against ModelHeap", runFuzz({ kind: "heap" }, options)];
  if (flags.wasm === undefined) return ["mote's builds against the model", fuzzMote(options)];
  const wasm = readArg(flags.wasm, "--wasm");
  try {
    if (flags.model) return [`${flags.wasm} against the model`, fuzzMote({ ...options, wasm })];
    const { align: alignment, "timeout-ms": watchdogMs, "soak-ops": soakOperations } = flags;
    const abi = flags.abi as "c" | "rust" | undefined, soakLive = flags["soak-live"];
    const more = { alignment, abi, watchdogMs, soakOperations, soakLive };
    return [`${flags.wasm} without a model`, fuzzAllocator(wasm, { ...options, ...more })];
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    throw new UsageError(`Cannot fuzz ${flags.wasm}: ${error.message}`);
  }
}

function main(args: readonly string[]): number {
  const flags = parseArgs(COMMAND, args);
  const progress = new Progress();
  let what: string, report: FuzzReport;
  try {
    validate(flags);
    [what, report] = fuzz(flags, (p) => progress.update(progressLine(p)));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    progress.done();
    fail(error.message, COMMAND.usage);
  }
  progress.done();
  const { runs, operations, elapsedMs, seeds, failure, subject, soak } = report;
  const replay = failure && replayCommand(targetFlags(flags), failure);
  if (flags.json) {
    console.log(JSON.stringify({ target: what, ...report, replay }, null, 2));
    return failure ? 1 : 0;
  }
  if (subject) {
    const { abi, stubbed, lacking, watchdogMs } = subject;
    const missing = lacking.length ? `; missing (they fail if called): ${lacking}` : "";
    console.log(
      `${flags.wasm}: ${abi === "c" ? "C" : "Rust GlobalAlloc"} ABI; imports stubbed: ` +
        `${stubbed.length === 0 ? "none" : stubbed.join(", ")}${missing}; ` +
        `watchdog ${watchdogMs} ms a call.`,
    );
  }
  const seedList = seeds.length <= 4 ? seeds.join(", ") : `${seeds[0]}, … (${seeds.length})`;
  const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(2)} MiB`;
  const soakLine = soak &&
    `Bounded growth: ${soak.operations} operations over at most ${soak.live} blocks in ` +
      `${seconds(soak.elapsedMs)}, memory ${mib(soak.memoryStart)} to ${mib(soak.memoryEnd)}, ` +
      `peak live ${mib(soak.peakLive)}.`;
  if (!failure) {
    console.log(
      `Fuzzed ${what}: ${runs} runs, ${operations} operations in ${seconds(elapsedMs)}, ` +
        `no failure (batch seeds ${seedList}).`,
    );
    if (soakLine) console.log(soakLine);
    return 0;
  }
  // where it failed, and the heap: the bounded-growth run's has no path and nothing shrunk
  const [where, ...shrunk] = failure.path === ""
    ? [`the bounded-growth run after ${runs} runs`, `In: ${failure.setup}`]
    : [
      `run ${failure.runsToFailure} after ${failure.operationsToFailure} operations`,
      `Heap: ${failure.setup}`,
      `Shrunk commands (#i is the live block i modulo their number): ${failure.commands}`,
    ];
  const head = `FAILED (${failure.rule}) fuzzing ${what}, in ${where} (${seconds(elapsedMs)}).`;
  const lines = [head, ...shrunk, failure.message, `Replay: ${replay}`, ...replayed(failure)];
  console.log(lines.join("\n"));
  return 1;
}

if (import.meta.main) Deno.exit(main(Deno.args));
