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

Deno.test("the fuzz entry points refuse bad options, naming the value and what was expected", async () => {
  const { fuzzConcurrent } = await import("./concurrent.ts");
  const refusals: [() => unknown, ErrorConstructor, RegExp][] = [
    [() => fuzzMote(null as never), TypeError, /Options must be an object, got null/],
    [() => fuzzMote({ runs: 0 }), RangeError, /runs must be an integer of at least 1, got 0/],
    [() => fuzzMote({ runs: "5" as never }), TypeError, /runs must be a number, got "5"/],
    [() => fuzzMote({ seconds: -1 }), RangeError, /seconds must be a number of at least 0.001/],
    [() => fuzzMote({ seconds: 0.0005 }), RangeError, /seconds must be .* got 0.0005/],
    [() => fuzzMote({ seconds: Infinity }), RangeError, /seconds must be .* got Infinity/],
    [() => fuzzMote({ seed: 1.5 }), RangeError, /seed must be an integer .* got 1.5/],
    [() => fuzzMote({ maxCommands: NaN }), RangeError, /maxCommands must be an integer .* NaN/],
    [() => fuzzMote({ onProgress: 1 as never }), TypeError, /onProgress must be a function/],
    [() => fuzzMote({ path: 3 as never }), TypeError, /path must be a string, got 3/],
    [
      () => fuzzAllocator(ownWasm, { alignment: 3 }),
      RangeError,
      /alignment must be a power of two .* got 3/,
    ],
    [() => fuzzAllocator(ownWasm, { abi: "go" as never }), TypeError, /abi must be "c" or "rust"/],
    [() => fuzzAllocator(ownWasm, { watchdogMs: 0 }), RangeError, /watchdogMs must be an integer/],
    [() => fuzzAllocator(ownWasm, { soakOperations: -1 }), RangeError, /soakOperations .* got -1/],
    [() => fuzzAllocator(ownWasm, { soakLive: 0 }), RangeError, /soakLive .* of at least 1, got 0/],
  ];
  for (const [call, kind, message] of refusals) assert.throws(call, { name: kind.name, message });
  const concurrent: [Record<string, unknown>, ErrorConstructor, RegExp][] = [
    [{ minWorkers: 1 }, RangeError, /minWorkers must be an integer from 2 to 8, got 1/],
    [{ minWorkers: 4, maxWorkers: 3 }, RangeError, /maxWorkers must be an integer from 4 to 8/],
    [{ maxWorkers: 9 }, RangeError, /maxWorkers must be an integer from 2 to 8, got 9/],
    [{ wasm: new Uint8Array(8) }, TypeError, /wasm must be a WebAssembly.Module, got object/],
    [{ runs: -1 }, RangeError, /runs must be an integer of at least 1, got -1/],
  ];
  for (const [options, kind, message] of concurrent) {
    await assert.rejects(() => fuzzConcurrent(options), { name: kind.name, message });
  }
});
