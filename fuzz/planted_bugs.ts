/**
 * Plants bugs in copies of asm/mote.ts and measures how soon the fuzzer catches each: with the
 * model, and without it as for any allocator. The copies are compiled in memory; asm/mote.ts is
 * only read.
 *
 *     deno run --allow-read --allow-write --allow-env fuzz/planted_bugs.ts [--seconds S] [--seed N]
 *
 * Prints, per bug and mode, the runs and operations until the first failing run, and the
 * operations left after shrinking.
 *
 * @module
 */
import asc from "assemblyscript/asc";
import { parseArgs } from "../scripts/_cli.ts";
import { fuzzAllocator, fuzzMote, type FuzzReport } from "./mod.ts";
import { MUTANTS } from "./_mutants.ts";

/** A bug: a change to one place of asm/mote.ts. */
export interface PlantedBug {
  readonly name: string;
  /** Text that occurs once in asm/mote.ts, and what it becomes. */
  readonly find: string;
  readonly replace: string;
}

/** The bugs, each a classic allocator mistake: mutants of the mutation run (fuzz/_mutants.ts). */
export const PLANTED_BUGS: readonly PlantedBug[] = [
  "split off by one: a 16-byte rest is not split off",
  "block size forgets the header",
  "free misses the coalesce with a free left neighbour",
  "aligned_alloc aligns the header, not the payload",
  "calloc forgets that memory freed back to the top region is dirty",
  "realloc moves without copying",
  "realloc grows into its right neighbour without unlisting it",
].map((name) => MUTANTS.find((mutant) => mutant.name === name)!);

/**
 * Compiles mote's source text: as the release build with its own memory, or with `flags` as
 * another of the builds scripts/build.ts makes.
 */
export async function compileMote(
  source: string,
  flags: readonly string[] = [],
): Promise<Uint8Array<ArrayBuffer>> {
  const dir = await Deno.makeTempDir({ prefix: "mote-planted-" });
  try {
    await Deno.writeTextFile(`${dir}/mote.ts`, source);
    let wasm: Uint8Array<ArrayBuffer> | undefined;
    const stderr: string[] = [];
    const { error } = await asc.main(
      [
        `${dir}/mote.ts`,
        "--outFile",
        `${dir}/mote.wasm`,
        "-Oz",
        "--noAssert",
        "--runtime",
        "stub",
        ...flags,
      ],
      {
        writeFile(name: string, contents: Uint8Array | string) {
          if (name.endsWith(".wasm") && typeof contents !== "string") {
            wasm = new Uint8Array(contents);
          }
        },
        stderr: { write: (s: string | Uint8Array) => stderr.push(String(s)) } as never,
        stdout: { write: () => {} } as never,
      },
    );
    if (error || !wasm) throw new Error(`Compiling failed: ${error?.message}\n${stderr.join("")}`);
    return wasm;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Plants `bug` in `source`; throws when its text is not found exactly once. */
export function plant(source: string, bug: PlantedBug): string {
  const parts = source.split(bug.find);
  if (parts.length !== 2) {
    throw new Error(
      `Bug "${bug.name}" no longer applies: its text occurs ${parts.length - 1} times in ` +
        `asm/mote.ts, not once`,
    );
  }
  return parts.join(bug.replace);
}

function row(bug: string, mode: string, report: FuzzReport): string {
  const { failure } = report;
  if (!failure) return `${bug}\t${mode}\tmissed\t${report.runs} runs, ${report.operations} ops`;
  const shrunk = failure.message.match(/after (\d+) operations/)?.[1] ?? "?";
  const problem = failure.message.split("\n")[0].slice(0, 90);
  return `${bug}\t${mode}\tcaught\trun ${failure.runsToFailure}, ` +
    `${failure.operationsToFailure} ops; shrunk to ${shrunk} ops\t${problem}`;
}

if (import.meta.main) {
  const { seconds, seed } = parseArgs({
    usage: "deno run --allow-read --allow-write --allow-env fuzz/planted_bugs.ts",
    summary: "Plants each classic bug in a copy of asm/mote.ts and fuzzes it, with the model " +
      "and without, until caught or the time is up.",
    flags: {
      seconds: { kind: "number", help: "how long to fuzz each bug in each mode", default: 60 },
      seed: { kind: "integer", help: "the first batch's seed", default: 1 },
    },
  });
  const source = await Deno.readTextFile(new URL("../asm/mote.ts", import.meta.url));
  console.log("bug\tmode\toutcome\tuntil caught\tfirst problem");
  for (const bug of PLANTED_BUGS) {
    const wasm = await compileMote(plant(source, bug));
    console.log(row(bug.name, "model", fuzzMote({ wasm, seconds, seed })));
    console.log(row(bug.name, "no model", fuzzAllocator(wasm, { seconds, seed })));
  }
}
