/**
 * The mutation run: each mutant of fuzz/_mutants.ts (a single edit of asm/mote.ts) is compiled
 * into mote's three builds and fuzzed, first with exactly the bounded fuzz of `deno task test`
 * (fuzz/_bounded.ts: the C ABI against the model, the model-free checks, Heap against
 * ModelHeap), then, if it survives, for a minute more from other seeds. Each mutant runs in a
 * process of its own, so that one that makes the allocator loop forever is caught by a timeout.
 *
 *     deno run -A fuzz/mutants.ts                  every mutant; prints the table
 *     deno run -A fuzz/mutants.ts --readme         and writes it into docs/fuzzing.md
 *     deno run -A fuzz/mutants.ts --only 3,17      some mutants, by number
 *
 * @module
 */
import { parseArgs } from "../scripts/_cli.ts";
import { Heap, runOn } from "../src/heap.ts";
import { wasmEngineFor, type WasmModules } from "../src/_engine.ts";
import { fuzzHeapLayer } from "./_heap_fuzz.ts";
import { type MoteBuild, runFuzz } from "./_runner.ts";
import { importsMemory } from "./_subject.ts";
import { fuzzAllocator } from "./mod.ts";
import { BOUNDED } from "./_bounded.ts";
import { type Mutant, MUTANTS, mutate } from "./_mutants.ts";
import { compileMote } from "./planted_bugs.ts";

const SOURCE = new URL("../asm/mote.ts", import.meta.url);
const README = new URL("../docs/fuzzing.md", import.meta.url);

/** What became of a mutant. */
export interface Outcome {
  readonly mutant: number;
  /** "bounded" or "long" when killed by that fuzz, "survived", or why it was not run. */
  readonly result: "bounded" | "long" | "survived" | "timeout" | "equivalent" | "stillborn";
  /** Which fuzz killed it and how soon, or why it was not. */
  readonly detail: string;
}

/** Compiles a source into the three builds, with the flags scripts/build.ts gives each. */
async function build(source: string): Promise<WasmModules> {
  const [own, region, checked] = await Promise.all([
    compileMote(source, ["--maximumMemory", "65536"]),
    compileMote(source, ["--importMemory"]),
    compileMote(source, ["--importMemory", "--use", "MOTE_CHECKED=1"]),
  ]);
  return { own, region, checked };
}

function moteBuilds(modules: WasmModules): MoteBuild[] {
  return (["own", "region", "checked"] as const).map((name) => {
    const module = new WebAssembly.Module(modules[name]);
    return { name, module, checked: name === "checked", importsMemory: importsMemory(module) };
  });
}

/** The first line of an error, shortened for a table. */
function firstLine(message: string): string {
  const lines = message.split("\n");
  const line = lines.find((l) => l.startsWith("Caused by: ")) ??
    lines.find((l) => l.trim() && !l.startsWith("Property failed")) ?? "";
  const next = line.endsWith(":") ? ` ${lines[lines.indexOf(line) + 1]?.trim() ?? ""}` : "";
  return (line + next).replace(/^Caused by: /, "").slice(0, 120);
}

/**
 * Fuzzes one mutant's builds, bounded (as `deno task test`) or for `seconds` from other seeds;
 * what killed it, or undefined.
 */
function fuzzMutant(modules: WasmModules, seconds?: number): string | undefined {
  const builds = moteBuilds(modules);
  const kind = class MutantHeap extends Heap {};
  runOn(kind, wasmEngineFor(modules));
  const started = performance.now();
  const seed = seconds === undefined ? BOUNDED.seed : 1;
  const mote = runFuzz({ kind: "mote", builds }, {
    ...(seconds === undefined ? { runs: BOUNDED.runs } : { seconds: seconds / 2 }),
    seed,
  });
  if (mote.failure) {
    return `C ABI vs model, run ${mote.failure.runsToFailure}: ${firstLine(mote.failure.message)}`;
  }
  const any = fuzzAllocator(modules.own, { runs: BOUNDED.anyRuns, seed });
  if (any.failure) {
    return `model-free, run ${any.failure.runsToFailure}: ${firstLine(any.failure.message)}`;
  }
  for (let batch = 0;; batch++) {
    try {
      fuzzHeapLayer({ runs: BOUNDED.heapRuns, seed: seed + batch, kind });
    } catch (error) {
      const cause = error instanceof Error ? error.cause ?? error : error;
      const message = cause instanceof Error ? cause.message : String(cause);
      return `Heap vs ModelHeap: ${firstLine(message)}`;
    }
    if (seconds === undefined || performance.now() - started > seconds * 1000) return undefined;
  }
}

/** Runs one mutant in this process: bounded, then for a minute if it survives. */
async function runMutant(index: number, seconds: number): Promise<Outcome> {
  const mutant = MUTANTS[index];
  const source = await Deno.readTextFile(SOURCE);
  const mutated = mutate(source, mutant);
  if (mutated === undefined) {
    return { mutant: index, result: "stillborn", detail: "its text no longer occurs once" };
  }
  let modules: WasmModules;
  try {
    modules = await build(mutated);
  } catch (error) {
    return { mutant: index, result: "stillborn", detail: `does not compile: ${error}` };
  }
  const bounded = fuzzMutant(modules);
  if (bounded) return { mutant: index, result: "bounded", detail: bounded };
  const long = fuzzMutant(modules, seconds);
  if (long) return { mutant: index, result: "long", detail: long };
  return { mutant: index, result: "survived", detail: mutant.equivalent ?? "" };
}

/** Runs a mutant in a process of its own, giving up after `timeout` seconds. */
async function spawn(index: number, seconds: number, timeout: number): Promise<Outcome> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL(import.meta.url).pathname,
      "--worker",
      String(index),
      "--seconds",
      String(seconds),
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), timeout * 1000);
  const { stdout, stderr, success } = await child.output();
  clearTimeout(timer);
  const text = new TextDecoder().decode(stdout).trim().split("\n").at(-1) ?? "";
  if (success && text.startsWith("{")) return JSON.parse(text);
  if (!success && !text.startsWith("{")) {
    const err = new TextDecoder().decode(stderr);
    if (/RuntimeError|unreachable|out of bounds/.test(err) || err === "") {
      return {
        mutant: index,
        result: "timeout",
        detail: `no answer in ${timeout} s: ${err.slice(0, 80)}`,
      };
    }
    return { mutant: index, result: "timeout", detail: firstLine(err) };
  }
  return JSON.parse(text);
}

function escape(text: string): string {
  return text.replaceAll("|", "\\|").replaceAll("*", "\\*").replaceAll("_", "\\_");
}

/** docs/fuzzing.md's section: the kill rates, then a row per mutant. */
export function table(outcomes: readonly Outcome[], seconds: number): string {
  const judged = outcomes.filter((o) => !MUTANTS[o.mutant].equivalent && o.result !== "stillborn");
  const bounded = judged.filter((o) => o.result === "bounded" || o.result === "timeout").length;
  const long = judged.filter((o) => o.result === "long").length;
  const equivalent = outcomes.filter((o) => MUTANTS[o.mutant].equivalent).length;
  const percent = (n: number) => `${(100 * n / judged.length).toFixed(1)}%`;
  const verdict = (o: Outcome) =>
    MUTANTS[o.mutant].equivalent
      ? `equivalent: ${MUTANTS[o.mutant].equivalent}${
        o.result === "survived" ? "" : ` (yet killed: ${o.detail})`
      }`
      : o.result === "bounded"
      ? `killed by the bounded fuzz: ${o.detail}`
      : o.result === "long"
      ? `killed by the ${seconds} s fuzz: ${o.detail}`
      : o.result === "timeout"
      ? `killed (hung or crashed the fuzzer): ${o.detail}`
      : o.result === "survived"
      ? `**survived** ${SURVIVORS[MUTANTS[o.mutant].name] ?? ""}`
      : `not run: ${o.detail}`;
  return [
    `${outcomes.length} mutants, ${equivalent} of them equivalent; of the other ${judged.length}, ` +
    `the bounded fuzz of \`deno task test\` kills ${bounded} (${
      percent(bounded)
    }), a ${seconds} s ` +
    `fuzz ${long} more (${percent(bounded + long)} in all), ` +
    `${judged.length - bounded - long} survive.`,
    "",
    "| # | mutant | in | outcome |",
    "| -: | --- | --- | --- |",
    ...outcomes.map((o) =>
      `| ${o.mutant} | ${escape(MUTANTS[o.mutant].name)} | \`${MUTANTS[o.mutant].where}\` | ` +
      `${escape(verdict(o))} |`
    ),
  ].join("\n");
}

/** Why a survivor survives, for the table: filled in from the run's own findings. */
const SURVIVORS: Record<string, string> = {};

if (import.meta.main) {
  const flags = parseArgs({
    usage: "deno run -A fuzz/mutants.ts",
    summary: "The mutation run: each single-edit mutant of asm/mote.ts against the bounded fuzz " +
      "of deno task test, and the survivors against a longer one.",
    flags: {
      seconds: {
        kind: "number",
        help: "how long to fuzz a survivor of the bounded fuzz",
        default: 60,
      },
      only: { kind: "string", help: "mutants to run, by number, comma-separated" },
      readme: { kind: "boolean", help: "write the table into docs/fuzzing.md" },
      worker: { kind: "integer", help: "(internal) run one mutant in this process", min: 0 },
    },
  });
  if (flags.worker !== undefined) {
    console.log(JSON.stringify(await runMutant(flags.worker, flags.seconds)));
    Deno.exit(0);
  }
  const indices = flags.only?.split(",").map(Number) ?? MUTANTS.map((_, i) => i);
  const outcomes: Outcome[] = [];
  for (const index of indices) {
    const mutant: Mutant = MUTANTS[index];
    const outcome = await spawn(index, flags.seconds, 180 + 2 * flags.seconds);
    outcomes.push(outcome);
    console.error(`${index}\t${outcome.result}\t${mutant.name}\t${outcome.detail}`);
  }
  const text = table(outcomes, flags.seconds);
  console.log(text);
  if (flags.readme) {
    const readme = await Deno.readTextFile(README);
    const start = "<!-- mutants:start -->", end = "<!-- mutants:end -->";
    const at = readme.indexOf(start), to = readme.indexOf(end);
    if (at < 0 || to < 0) throw new Error(`docs/fuzzing.md lacks ${start} and ${end}`);
    await Deno.writeTextFile(
      README,
      `${readme.slice(0, at + start.length)}\n\n${text}\n\n${readme.slice(to)}`,
    );
    // the project's formatter lays the table out, as deno task check expects
    await new Deno.Command(Deno.execPath(), { args: ["fmt", "--quiet", README.pathname] }).output();
  }
}
