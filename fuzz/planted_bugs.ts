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
import { parseArgs } from "node:util";
import { fuzzAllocator, fuzzMote, type FuzzReport } from "./mod.ts";

/** A bug: a change to one place of asm/mote.ts. */
export interface PlantedBug {
  readonly name: string;
  /** Text that occurs once in asm/mote.ts, and what it becomes. */
  readonly find: string;
  readonly replace: string;
}

/** The bugs, each a classic allocator mistake. */
export const PLANTED_BUGS: readonly PlantedBug[] = [
  {
    name: "split off by one: a 16-byte rest is not split off",
    find: "if (rest >= MIN_BLOCK) {\n    // the rest is freed",
    replace: "if (rest > MIN_BLOCK) {\n    // the rest is freed",
  },
  {
    name: "block size forgets the header",
    find: "return (bytes + OVERHEAD + ALIGN_MASK) & ~ALIGN_MASK;",
    replace: "return (bytes + ALIGN_MASK) & ~ALIGN_MASK;",
  },
  {
    name: "free misses the coalesce with a free left neighbour",
    find: "if (header & LEFT_FREE) {\n    block = load<u32>(block - HEADER);",
    replace: "if (false) {\n    block = load<u32>(block - HEADER);",
  },
  {
    name: "aligned_alloc aligns the header, not the payload",
    find: "let gap = (0 - block - HEADER) & (alignment - 1);",
    replace: "let gap = (0 - block) & (alignment - 1);",
  },
  {
    name: "calloc forgets that memory freed back to the top region is dirty",
    find: "let zeroFrom = max(clean, top);",
    replace: "let zeroFrom = top;",
  },
  {
    name: "realloc moves without copying",
    find: "memory.copy(moved, ptr, current - OVERHEAD);",
    replace: "",
  },
  {
    name: "realloc grows into its right neighbour without unlisting it",
    find: "      }\n      remove(right);\n      store<u32>(block + merged",
    replace: "      }\n      store<u32>(block + merged",
  },
];

/** Compiles mote's source text, as the release build with its own memory. */
export async function compileMote(source: string): Promise<Uint8Array<ArrayBuffer>> {
  const dir = await Deno.makeTempDir({ prefix: "mote-planted-" });
  try {
    await Deno.writeTextFile(`${dir}/mote.ts`, source);
    let wasm: Uint8Array<ArrayBuffer> | undefined;
    const stderr: string[] = [];
    const { error } = await asc.main(
      [`${dir}/mote.ts`, "--outFile", `${dir}/mote.wasm`, "-Oz", "--noAssert", "--runtime", "stub"],
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
  const { values } = parseArgs({
    args: Deno.args,
    options: { seconds: { type: "string" }, seed: { type: "string" } },
  });
  const seconds = Number(values.seconds ?? 60);
  const seed = Number(values.seed ?? 1);
  const source = await Deno.readTextFile(new URL("../asm/mote.ts", import.meta.url));
  console.log("bug\tmode\toutcome\tuntil caught\tfirst problem");
  for (const bug of PLANTED_BUGS) {
    const wasm = await compileMote(plant(source, bug));
    console.log(row(bug.name, "model", fuzzMote({ wasm, seconds, seed })));
    console.log(row(bug.name, "no model", fuzzAllocator(wasm, { seconds, seed })));
  }
}
