// The bounded fuzz of `deno task test`: mote's builds against the model, and the model-free
// mode on mote's release build. MOTE_FUZZ_RUNS and MOTE_FUZZ_SEED change how many runs and from
// where; a failure prints the command that replays it.
import assert from "node:assert/strict";
import { ownWasm } from "../src/_wasm.ts";
import { fuzzAllocator, fuzzMote, type FuzzReport } from "./mod.ts";
import { BOUNDED } from "./_bounded.ts";

const RUNS = Number(Deno.env.get("MOTE_FUZZ_RUNS") ?? BOUNDED.runs);
const SEED = Number(Deno.env.get("MOTE_FUZZ_SEED") ?? BOUNDED.seed);

function assertPassed(report: FuzzReport, flags: string): void {
  const { failure } = report;
  assert.equal(report.runs, RUNS);
  if (failure) {
    assert.fail(
      `${failure.message}\nHeap: ${failure.setup}\nReplay: deno task fuzz ${flags} ` +
        `--seed ${failure.seed} --path ${failure.path} --replay-path '${failure.replayPath}'`,
    );
  }
}

Deno.test(`mote's builds do what the model says, op for op (${RUNS} runs, seed ${SEED})`, () => {
  assertPassed(fuzzMote({ runs: RUNS, seed: SEED }), "");
});

Deno.test(`mote's release build passes the model-free checks (${RUNS * BOUNDED.anyRuns / BOUNDED.runs} runs)`, () => {
  const runs = RUNS * BOUNDED.anyRuns / BOUNDED.runs;
  const report = fuzzAllocator(ownWasm, { runs, seed: SEED });
  assert.equal(report.failure?.message, undefined);
  assert.equal(report.runs, runs);
});
