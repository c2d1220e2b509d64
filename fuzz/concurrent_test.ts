// The concurrent fuzz of `deno task test`: workers at once on one shared heap, the ticket log
// replayed through the model. MOTE_CONCURRENT_RUNS and MOTE_FUZZ_SEED change how many runs and
// from where. A second test shows the fuzz has teeth: a shared build whose lock does nothing
// must fail it.
import assert from "node:assert/strict";
import { compile, VARIANTS } from "../scripts/build.ts";
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

/** asm/shared.ts built as scripts/build.ts builds it, with `from` made `to`. */
async function mutant(from: string, to: string): Promise<WebAssembly.Module> {
  const variant = VARIANTS.find((variant) => variant.name === "sharedWasm")!;
  const edit = (text: string, file: string) => {
    if (!file.endsWith("shared.ts")) return text;
    assert.ok(text.includes(from), `asm/shared.ts no longer says ${from}`);
    return text.replace(from, to);
  };
  return new WebAssembly.Module((await compile(variant, edit)).wasm);
}

Deno.test("the concurrent fuzz catches a shared heap whose lock does nothing", async () => {
  // it stops at the first failure, which comes within a few runs: the bound is for safety
  const taking = "if (atomic.cmpxchg<i32>(lock, 0, me) == 0) return;"; // taken at once, by all
  const report = await fuzzConcurrent({
    runs: 200,
    seed: SEED,
    wasm: await mutant(taking, "return;"),
  });
  assert.notEqual(report.failure, undefined, `${report.runs} runs passed without a lock`);
  console.log(`failed after ${report.runs} runs: ${report.failure!.split("\n")[0]}`);
});

Deno.test("the concurrent fuzz reports a hang itself, with its schedule shrunk", async () => {
  // a release that wakes nobody: waiters sleep on with the lock free
  const waking = "atomic.notify(at + LOCK, -1);\n}";
  const wasm = await mutant(waking, "atomic.notify(at + LOCK, 0);\n}");
  const report = await fuzzConcurrent({
    runs: 200, // it stops at the first hang, which contention brings within a few dozen
    seed: SEED,
    wasm,
    maxWorkers: 4,
    maxCommands: 30,
  });
  assert.match(report.failure ?? "", /a wake-up was lost; the workers' commands/);
  console.log(`after ${report.runs} runs, shrinking included: ${report.failure!.split("\n")[0]}`);
});
