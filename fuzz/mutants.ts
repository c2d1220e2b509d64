/**
 * The mutation run: each mutant of fuzz/_mutants.ts (a single edit of asm/mote.ts, asm/shared.ts
 * or a TypeScript file of src/) is applied to a copy of the project, its five builds made there
 * as scripts/build.ts makes them, and fuzzed, first with exactly the bounded fuzz of
 * `deno task test` (fuzz/_bounded.ts: the C ABI of the release, checked and fast builds against
 * the model, the model-free checks, Heap against ModelHeap on the release and fast builds, the
 * shared build under workers), then, if it survives, for `--seconds` more from other seeds. Each
 * mutant runs in a process of its own, in its copy, so that one that makes the allocator loop
 * forever is caught by a timeout and one in TypeScript is what that process imports.
 * `deno run -A fuzz/mutants.ts` prints the table, `--write` puts it in docs/fuzzing.md (`--help`).
 *
 * @module
 */
import { fail, parseArgs } from "../scripts/_cli.ts";
import { buildAll, compile, VARIANTS } from "../scripts/build.ts";
import { Heap, runOn } from "../src/heap.ts";
import { wasmEngineFor } from "../src/_engine.ts";
import * as shipped from "../src/_wasm.ts";
import { type FuzzReport, moteBuild, runFuzz } from "./_runner.ts";
import { fuzzAllocator, fuzzMote } from "./mod.ts";
import { fuzzConcurrent } from "./concurrent.ts";
import { BOUNDED } from "./_bounded.ts";
import { misfit, type Mutant, MUTANTS, mutate } from "./_mutants.ts";

const ROOT = new URL("../", import.meta.url);
/** What a copy of the project needs to build and fuzz: node_modules is linked, not copied. */
const COPIED = ["asm", "src", "fuzz", "scripts", "mod.ts", "deno.json", "deno.lock"];
/** Where the table goes: the page on the fuzzing method, between its markers. */
const DOC = "docs/fuzzing.md";
const SOURCE = "asm/mote.ts";
const START = "<!-- mutants:start -->", END = "<!-- mutants:end -->";

/** What became of a mutant. */
export interface Outcome {
  readonly mutant: number;
  /** "bounded" or "long" when killed by that fuzz, "survived", or why it was not run. */
  readonly result: "bounded" | "long" | "survived" | "timeout" | "stillborn" | "unrun";
  /** Which fuzz killed it and how soon, or why it was not. */
  readonly detail: string;
}

/** The five builds of a mutant, by their names in src/_wasm.ts. */
type Builds = Record<keyof typeof shipped, Uint8Array<ArrayBuffer>>;

/** The first line of an error, shortened for a table. */
function firstLine(message: string): string {
  const lines = message.split("\n");
  const line = lines.find((l) => l.startsWith("Caused by: ")) ??
    lines.find((l) => l.trim() && !l.startsWith("Property failed")) ?? "";
  const next = line.endsWith(":") ? ` ${lines[lines.indexOf(line) + 1]?.trim() ?? ""}` : "";
  return (line + next).replace(/^Caused by: /, "").slice(0, 120);
}

/** What `fuzz` found in `report`, for the table; undefined when it found nothing. */
function killedBy(fuzz: string, { failure }: FuzzReport): string | undefined {
  return failure && `${fuzz}, run ${failure.runsToFailure}: ${firstLine(failure.message)}`;
}

/**
 * Fuzzes the builds of one mutant, bounded (as `deno task test`) or for `seconds` from other
 * seeds; what killed it, or undefined.
 */
async function fuzzMutant(wasm: Builds, file: string, seconds?: number) {
  const started = performance.now();
  const seed = seconds === undefined ? BOUNDED.seed : 1;
  // only the fuzzes that run the mutated file: the others cannot tell it from the original
  if (file === SOURCE) {
    const builds = (["own", "region", "checked", "fast"] as const).map((name) =>
      moteBuild(name, new WebAssembly.Module(wasm[`${name}Wasm`]))
    );
    const bound = seconds === undefined ? { runs: BOUNDED.runs } : { seconds: seconds / 2 };
    const killed =
      killedBy("C ABI vs model", runFuzz({ kind: "mote", builds }, { ...bound, seed })) ??
        killedBy("model-free", fuzzAllocator(wasm.ownWasm, { runs: BOUNDED.anyRuns, seed }));
    if (killed) return killed;
  }
  const heap = file === SOURCE || file.startsWith("src/");
  const kind = class MutantHeap extends Heap {}, fastKind = class FastMutantHeap extends Heap {};
  const { ownWasm: own, regionWasm: region, checkedWasm: checked } = wasm;
  runOn(kind, wasmEngineFor({ own, region, checked }));
  runOn(fastKind, wasmEngineFor({ own: wasm.fastWasm, region, checked }));
  const layer = { kind: "heap", heap: kind, fastHeap: fastKind } as const;
  for (let batch = 0;; batch++) {
    const runs = { runs: BOUNDED.heapRuns, seed: seed + batch };
    const killed = heap ? killedBy("Heap vs ModelHeap", runFuzz(layer, runs)) : undefined;
    if (killed) return killed;
    const shared = await fuzzConcurrent({
      runs: BOUNDED.concurrentRuns,
      seed: seed + batch,
      wasm: new WebAssembly.Module(wasm.sharedWasm),
    });
    if (shared.failure) return `shared build under workers: ${firstLine(shared.failure)}`;
    if (seconds === undefined || performance.now() - started > seconds * 1000) return undefined;
  }
}

/** Runs one mutant in this process, whose copy of the project carries it. */
async function runMutant(index: number, seconds: number): Promise<Outcome> {
  const { file, equivalent } = MUTANTS[index];
  let wasm: Builds = shipped; // a mutant of TypeScript: this process imports the mutated file
  try {
    if (file.startsWith("asm/")) {
      const { builds } = await buildAll();
      wasm = Object.fromEntries(builds.map((built) => [built.variant.name, built.wasm])) as Builds;
    }
  } catch (error) {
    return { mutant: index, result: "stillborn", detail: `does not compile: ${error}` };
  }
  const bounded = await fuzzMutant(wasm, file);
  if (bounded) return { mutant: index, result: "bounded", detail: bounded };
  const long = seconds > 0 ? await fuzzMutant(wasm, file, seconds) : undefined;
  if (long) return { mutant: index, result: "long", detail: long };
  return { mutant: index, result: "survived", detail: equivalent ?? "" };
}

/** Runs a mutant in a copy of the project and a process of its own, for `timeout` seconds. */
async function spawn(index: number, seconds: number, timeout: number): Promise<Outcome> {
  const mutant = MUTANTS[index];
  const source = await Deno.readTextFile(new URL(mutant.file, ROOT));
  const why = misfit(source, mutant);
  if (why) return { mutant: index, result: "stillborn", detail: why };
  const dir = await Deno.makeTempDir({ prefix: "mote-mutant-" });
  const copied = COPIED.map((name) => new URL(name, ROOT).pathname);
  await new Deno.Command("cp", { args: ["-r", ...copied, dir] }).output();
  await Deno.symlink(new URL("node_modules", ROOT).pathname, `${dir}/node_modules`);
  await Deno.writeTextFile(`${dir}/${mutant.file}`, mutate(source, mutant));
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "fuzz/mutants.ts", "--worker", String(index), "--seconds", String(seconds)],
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), timeout * 1000);
  const { stdout, stderr, success } = await child.output();
  clearTimeout(timer);
  await Deno.remove(dir, { recursive: true });
  const text = new TextDecoder().decode(stdout).trim().split("\n").at(-1) ?? "";
  if (success || text.startsWith("{")) return JSON.parse(text);
  const err = new TextDecoder().decode(stderr);
  const detail = /RuntimeError|unreachable|out of bounds/.test(err) || err === ""
    ? `no answer in ${timeout} s: ${err.slice(0, 80)}`
    : firstLine(err);
  return { mutant: index, result: "timeout", detail };
}

/**
 * The release build (src/_wasm.ts's `ownWasm`) with a mutant of asm/mote.ts, compiled in memory
 * as scripts/build.ts compiles it; the project's root must be the working directory.
 */
export async function releaseWith(mutant: Mutant): Promise<Uint8Array<ArrayBuffer>> {
  const mutated = mutate(await Deno.readTextFile(mutant.file), mutant);
  return (await compile(VARIANTS[0], (text, file) => file === mutant.file ? mutated : text)).wasm;
}

/** A row of `--modes`: how soon `mode`'s fuzz caught `bug`, and to how few operations it shrank. */
function row(bug: string, mode: string, report: FuzzReport): string {
  const { failure } = report;
  if (!failure) return `${bug}\t${mode}\tmissed\t${report.runs} runs, ${report.operations} ops`;
  const shrunk = failure.message.match(/after (\d+) operations/)?.[1] ?? "?";
  const problem = failure.message.split("\n")[0].slice(0, 90);
  return `${bug}\t${mode}\tcaught\trun ${failure.runsToFailure}, ` +
    `${failure.operationsToFailure} ops; shrunk to ${shrunk} ops\t${problem}`;
}

/** `text` with Markdown's table bar, emphasis and underscore escaped. */
const escape = (text: string) => text.replace(/[|*_]/g, "\\$&");

/** docs/fuzzing.md's section: the kill rates, then a row per mutant. */
export function table(outcomes: readonly Outcome[], seconds: number): string {
  const judged = outcomes.filter((o) =>
    !MUTANTS[o.mutant].equivalent && o.result !== "stillborn" && o.result !== "unrun"
  );
  const unrun = outcomes.filter((o) => o.result === "unrun").length;
  const bounded = judged.filter((o) => o.result === "bounded" || o.result === "timeout").length;
  const long = judged.filter((o) => o.result === "long").length;
  const equivalent = outcomes.filter((o) => MUTANTS[o.mutant].equivalent).length;
  const percent = (n: number) => `${(100 * n / judged.length).toFixed(1)}%`;
  const said = {
    bounded: "killed by the bounded fuzz",
    long: `killed by the ${seconds} s fuzz`,
    timeout: "killed (hung or crashed the fuzzer)",
    stillborn: "not run",
    unrun: "not run",
  };
  const verdict = ({ mutant, result, detail }: Outcome) => {
    const { equivalent } = MUTANTS[mutant];
    if (!equivalent) return result === "survived" ? "SURVIVED" : `${said[result]}: ${detail}`;
    const killed = result === "unrun" ? " (not run)" : ` (yet killed: ${detail})`;
    return `equivalent: ${equivalent}${result === "survived" ? "" : killed}`;
  };
  return [
    `${outcomes.length} mutants, ${equivalent} of them equivalent; of the other ${judged.length}, ` +
    `the bounded fuzz of \`deno task test\` kills ${bounded} (${percent(bounded)}), ` +
    (seconds > 0 ? `a ${seconds} s fuzz ${long} more (${percent(bounded + long)} in all), ` : "") +
    `${judged.length - bounded - long} survive` + (unrun ? `; ${unrun} not run yet.` : "."),
    "",
    "| # | mutant | in | outcome |",
    "| -: | --- | --- | --- |",
    ...outcomes.map((o) =>
      `| ${o.mutant} | ${escape(MUTANTS[o.mutant].name)} | \`${MUTANTS[o.mutant].where}\` ` +
      `(${MUTANTS[o.mutant].file.replace(/^.*\//, "")}) | ` +
      `${escape(verdict(o)).replace(/^SURVIVED/, "**survived**")} |`
    ),
  ].join("\n");
}

if (import.meta.main) {
  const flags = parseArgs({
    usage: "deno run -A fuzz/mutants.ts",
    summary: "The mutation run: each single-edit mutant of asm/ or src/ against the bounded " +
      "fuzz of deno task test, and the survivors against a longer one.",
    flags: {
      seconds: {
        kind: "number",
        help:
          "how long to fuzz a survivor of the bounded fuzz, or with --modes each mutant in each mode",
        default: 60,
      },
      only: { kind: "string", help: "mutants to run, by number, comma-separated" },
      timeout: {
        kind: "number",
        help: "seconds a mutant may take before it counts as hung, on top of --seconds",
        default: 900,
      },
      write: { kind: "boolean", help: `write the table between its markers in ${DOC}` },
      outcomes: { kind: "string", help: "a file to add each outcome to, a JSON line each" },
      from: {
        kind: "string",
        help: "make the table from the outcomes in these files (comma-separated), running none",
      },
      modes: {
        kind: "boolean",
        help: "instead: fuzz the release build of each mutant of asm/mote.ts from seed 1, with " +
          "the model and without it, and print how soon each catches it and how far it shrinks",
      },
      worker: { kind: "integer", help: "(internal) run one mutant in this process", min: 0 },
    },
  });
  if (flags.worker !== undefined) {
    console.log(JSON.stringify(await runMutant(flags.worker, flags.seconds)));
    Deno.exit(0);
  }
  const indices = flags.only?.split(",").map(Number) ?? MUTANTS.map((_, i) => i);
  if (!indices.every((i) => i in MUTANTS)) {
    fail(`--only: mutants are 0 to ${MUTANTS.length - 1}, got ${flags.only}`);
  }
  if (flags.modes) {
    const chosen = indices.map((i) => MUTANTS[i]).filter((m) => flags.only || m.file === SOURCE);
    const other = chosen.find((mutant) => mutant.file !== SOURCE);
    if (other) fail(`--modes: "${other.name}" is a mutant of ${other.file}, not ${SOURCE}`);
    const { seconds } = flags, seed = 1;
    console.log("bug\tmode\toutcome\tuntil caught\tfirst problem");
    for (const mutant of chosen) {
      const wasm = await releaseWith(mutant);
      console.log(row(mutant.name, "model", fuzzMote({ wasm, seconds, seed })));
      console.log(row(mutant.name, "no model", fuzzAllocator(wasm, { seconds, seed })));
    }
    Deno.exit(0);
  }
  // --from: each mutant's last outcome in the files, by name (numbers move as mutants are added)
  const byName = new Map<string, Outcome & { name?: string }>();
  for (const file of flags.from ? flags.from.split(",") : []) {
    for (const line of (await Deno.readTextFile(file)).split("\n").filter(Boolean)) {
      const outcome = JSON.parse(line);
      byName.set(outcome.name ?? MUTANTS[outcome.mutant].name, outcome);
    }
  }
  const unrun = { result: "unrun", detail: "no outcome in the files" } as const;
  const outcomes: Outcome[] = !flags.from
    ? []
    : MUTANTS.map(({ name }, mutant) => ({ ...(byName.get(name) ?? unrun), mutant }));
  for (const index of flags.from ? [] : indices) {
    const { name } = MUTANTS[index];
    const outcome = await spawn(index, flags.seconds, flags.timeout + 2 * flags.seconds);
    outcomes.push(outcome);
    console.error(`${index}\t${outcome.result}\t${name}\t${outcome.detail}`);
    const line = `${JSON.stringify({ ...outcome, name })}\n`;
    if (flags.outcomes) await Deno.writeTextFile(flags.outcomes, line, { append: true });
  }
  const text = table(outcomes, flags.seconds);
  console.log(text);
  if (flags.write) {
    const url = new URL(DOC, ROOT);
    const doc = await Deno.readTextFile(url);
    const at = doc.indexOf(START), to = doc.indexOf(END);
    if (at < 0 || to < 0) throw new Error(`${DOC} does not hold ${START} and ${END}`);
    const head = doc.slice(0, at + START.length);
    await Deno.writeTextFile(url, `${head}\n\n${text}\n\n${doc.slice(to)}`);
    // the project's formatter lays the table out, as deno task check expects
    await new Deno.Command(Deno.execPath(), { args: ["fmt", "--quiet", url.pathname] }).output();
  }
}
