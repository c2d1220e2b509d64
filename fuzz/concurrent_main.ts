/**
 * `deno task fuzz:concurrent`: the concurrent fuzz's command line (see fuzz/concurrent.ts), in
 * seeded batches for as many runs or seconds as asked.
 *
 * @module
 */
import { parseArgs } from "../scripts/_cli.ts";
import { fuzzConcurrent, MAX_WORKERS, WORKER_COUNT } from "./concurrent.ts";
import { FUZZ_OPTION_CHECKS as FUZZ } from "./_runner.ts";

// flags take the fuzz's checks (--batch: a call's runs; a larger --min-workers raises the most)
const workers = { kind: "integer", check: WORKER_COUNT } as const;
const flags = parseArgs({
  usage: "deno task fuzz:concurrent",
  summary: "Workers at once on one shared heap, the ticket log replayed through the model, in " +
    "batches of runs until the runs or the seconds are done.",
  flags: {
    runs: { kind: "integer", help: "runs in all (with --seconds, at most)", check: FUZZ.runs },
    seconds: { kind: "number", help: "go on starting batches for this long", check: FUZZ.seconds },
    seed: { kind: "integer", help: "the first batch's seed, +1 a batch", min: 0, check: FUZZ.seed },
    batch: { kind: "integer", help: "runs a batch", default: 50, check: FUZZ.runs },
    "min-workers": { ...workers, help: "fewest workers", default: 2 },
    "max-workers": { ...workers, help: "most workers", default: MAX_WORKERS },
    "max-commands": { kind: "integer", help: "commands a worker (150)", check: FUZZ.maxCommands },
  },
});
const runs = flags.runs ?? (flags.seconds === undefined ? 200 : Infinity);
const deadline = performance.now() + (flags.seconds ?? Infinity) * 1000;
let seed = flags.seed ?? (Math.random() * 2 ** 30) | 0;
const total = { runs: 0, operations: 0, switches: 0 };
while (total.runs < runs && performance.now() < deadline) {
  const report = await fuzzConcurrent({
    runs: Math.min(flags.batch, runs - total.runs),
    seed,
    minWorkers: flags["min-workers"],
    maxWorkers: Math.max(flags["min-workers"], flags["max-workers"]),
    maxCommands: flags["max-commands"],
  });
  for (const key of ["runs", "operations", "switches"] as const) total[key] += report[key];
  console.log(
    `seed ${seed}: ${total.runs} runs, ${total.operations} operations, ` +
      `${total.switches} passings of the log between workers`,
  );
  if (report.failure) {
    console.error(`\nFailed in the batch of seed ${seed}:\n${report.failure}`);
    Deno.exit(1);
  }
  seed++;
}
