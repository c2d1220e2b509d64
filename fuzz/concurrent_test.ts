// The concurrent fuzz of `deno task test`: workers at once on one shared heap, the ticket log
// replayed through the model. MOTE_CONCURRENT_RUNS and MOTE_FUZZ_SEED change how many runs and
// from where. A second test shows the fuzz has teeth: a shared build whose lock does nothing
// must fail it.
import assert from "node:assert/strict";
import asc from "assemblyscript/asc";
import { VARIANTS } from "../scripts/build.ts";
import { fuzzConcurrent } from "./concurrent.ts";
import { BOUNDED } from "./_bounded.ts";

const RUNS = Number(Deno.env.get("MOTE_CONCURRENT_RUNS") ?? BOUNDED.concurrentRuns);
const SEED = Number(Deno.env.get("MOTE_FUZZ_SEED") ?? BOUNDED.seed);

Deno.test(`2 to 8 workers at once on one shared heap do what the model says (${RUNS} runs)`, async () => {
  const report = await fuzzConcurrent({ runs: RUNS, seed: SEED });
  console.log(
    `${report.runs} runs, ${report.operations} operations, the log passing between workers ` +
      `${report.switches} times, the main thread raising the limit ${report.raises} times meanwhile`,
  );
  assert.equal(report.failure, undefined, report.failure ?? "");
  assert.equal(report.runs, RUNS);
});

/** asm/shared.ts with its lock taken at once, whoever holds it. */
async function unlockedBuild(): Promise<WebAssembly.Module> {
  const read = (name: string) => Deno.readTextFile(new URL(`../asm/${name}`, import.meta.url));
  const source = await read("shared.ts");
  const taking = "if (atomic.cmpxchg<i32>(lock, 0, me) == 0) return;";
  assert.ok(source.includes(taking), "asm/shared.ts no longer takes its lock this way");
  const flags = VARIANTS.find((variant) => variant.name === "sharedWasm")!.flags;
  const { binary, error, stderr } = await asc.compileString(
    { "shared.ts": source.replace(taking, "return;"), "mote.ts": await read("mote.ts") },
    {
      optimizeLevel: 3,
      shrinkLevel: 2,
      noAssert: true,
      runtime: "stub",
      enable: ["threads"],
      importMemory: true,
      sharedMemory: true,
      maximumMemory: Number(flags[flags.indexOf("--maximumMemory") + 1]),
    },
  );
  if (error || !binary) throw new Error(`Compiling the unlocked build failed: ${stderr}`);
  return new WebAssembly.Module(new Uint8Array(binary));
}

Deno.test("the concurrent fuzz catches a shared heap whose lock does nothing", async () => {
  // it stops at the first failure, which comes within a few runs: the bound is for safety
  const report = await fuzzConcurrent({ runs: 200, seed: SEED, wasm: await unlockedBuild() });
  assert.notEqual(report.failure, undefined, `${report.runs} runs passed without a lock`);
  console.log(`failed after ${report.runs} runs: ${report.failure!.split("\n")[0]}`);
});
