/**
 * `deno task fuzz`: the fuzzer's command line.
 *
 *     deno task fuzz                      100 runs of mote's builds against the model
 *     deno task fuzz --seconds 1800       as many runs as fit in half an hour
 *     deno task fuzz --runs 5000 --seed 7
 *     deno task fuzz --wasm alloc.wasm    any allocator module, without a model
 *     deno task fuzz --wasm mote.wasm --model   a build of mote, against the model
 *     deno task fuzz ... --seed S --path P --replay-path R   replays a failure as printed
 *
 * Other flags: `--max-commands N` (operations per run, 200), `--align N` (the alignment malloc
 * must give a module without a model, 16). Exits 1 on a failure, after printing the shrunk
 * operations and the command that replays them.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { fuzzAllocator, fuzzMote, type FuzzProgress, type FuzzReport } from "./mod.ts";

const USAGE = "usage: deno task fuzz [--runs N] [--seconds S] [--seed N] [--max-commands N]\n" +
  "                      [--wasm FILE [--model | --align N]] [--path P --replay-path R]";

function integer(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isInteger(number)) {
    console.error(`--${flag} must be an integer, got ${JSON.stringify(value)}\n${USAGE}`);
    Deno.exit(2);
  }
  return number;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function progressLine({ runs, operations, elapsedMs, seed }: FuzzProgress): string {
  return `${seconds(elapsedMs)}: ${runs} runs, ${operations} operations (batch seed ${seed})`;
}

/** The flags of this invocation that choose what is fuzzed, for the replay command. */
function targetFlags(values: Record<string, unknown>): string[] {
  const flags = [];
  if (values.wasm !== undefined) flags.push("--wasm", String(values.wasm));
  if (values.model) flags.push("--model");
  if (values.align !== undefined) flags.push("--align", String(values.align));
  if (values["max-commands"] !== undefined) {
    flags.push("--max-commands", String(values["max-commands"]));
  }
  return flags;
}

function main(): number {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      runs: { type: "string" },
      seconds: { type: "string" },
      seed: { type: "string" },
      path: { type: "string" },
      "replay-path": { type: "string" },
      "max-commands": { type: "string" },
      wasm: { type: "string" },
      model: { type: "boolean" },
      align: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const interactive = Deno.stderr.isTerminal();
  let lastLine = 0;
  const options = {
    runs: integer(values.runs, "runs"),
    seconds: integer(values.seconds, "seconds"),
    seed: integer(values.seed, "seed"),
    path: values.path,
    replayPath: values["replay-path"],
    maxCommands: integer(values["max-commands"], "max-commands"),
    onProgress: (progress: FuzzProgress) => {
      if (interactive) {
        Deno.stderr.writeSync(new TextEncoder().encode(`\r${progressLine(progress)}   `));
      } else if (progress.elapsedMs - lastLine >= 10_000) {
        lastLine = progress.elapsedMs;
        console.error(progressLine(progress));
      }
    },
  };
  let report: FuzzReport;
  let what: string;
  if (values.wasm === undefined) {
    what = "mote's builds against the model";
    report = fuzzMote(options);
  } else {
    const wasm = Deno.readFileSync(values.wasm);
    if (values.model) {
      what = `${values.wasm} against the model`;
      report = fuzzMote({ ...options, wasm });
    } else {
      what = `${values.wasm} without a model`;
      report = fuzzAllocator(wasm, { ...options, alignment: integer(values.align, "align") });
    }
  }
  if (interactive) console.error();
  const { runs, operations, elapsedMs, seeds, failure } = report;
  const seedList = seeds.length <= 4 ? seeds.join(", ") : `${seeds[0]}, … (${seeds.length})`;
  if (!failure) {
    console.log(
      `Fuzzed ${what}: ${runs} runs, ${operations} operations in ${seconds(elapsedMs)}, ` +
        `no failure (batch seeds ${seedList}).`,
    );
    return 0;
  }
  const replay = [
    "deno task fuzz",
    ...targetFlags(values),
    `--seed ${failure.seed}`,
    `--path ${failure.path}`,
    ...(failure.replayPath === undefined ? [] : [`--replay-path '${failure.replayPath}'`]),
  ].join(" ");
  console.log(
    [
      `FAILED fuzzing ${what}, in run ${failure.runsToFailure} after ` +
      `${failure.operationsToFailure} operations (${seconds(elapsedMs)}).`,
      `Heap: ${failure.setup}`,
      `Shrunk commands (#i is the live block i modulo their number): ${failure.commands}`,
      failure.message,
      `Replay: ${replay}`,
    ].join("\n"),
  );
  return 1;
}

if (import.meta.main) Deno.exit(main());
