// The mutants of the mutation run (`deno run -A fuzz/mutants.ts`) must apply to today's sources,
// naming exactly the edits to re-anchor when a file changes; and the fuzzer must catch them: one
// that only the model sees, one that both modes see, the failure replaying from its report.
import assert from "node:assert/strict";
import { fuzzAllocator, fuzzMote } from "./mod.ts";
import { misfit, MUTANTS } from "./_mutants.ts";
import { releaseWith } from "./mutants.ts";

const read = (file: string) => Deno.readTextFileSync(new URL(`../${file}`, import.meta.url));
const released = (name: string) => releaseWith(MUTANTS.find((m) => m.name.startsWith(name))!);

Deno.test("every mutant's text occurs exactly once in its file", () => {
  assert.deepEqual(MUTANTS.map((m) => misfit(read(m.file), m)).filter(Boolean), []);
});

Deno.test("mutants are single edits with unique names, at least 40 of them", () => {
  assert.ok(MUTANTS.length >= 40);
  assert.equal(new Set(MUTANTS.map((m) => m.name)).size, MUTANTS.length);
  for (const mutant of MUTANTS) assert.notEqual(mutant.find, mutant.replace, mutant.name);
});

Deno.test("a missed coalesce is caught by the model, and replays from its report", async () => {
  const wasm = await released("free misses the coalesce");
  const report = fuzzMote({ wasm, runs: 200, seed: 1 });
  const failure = report.failure!;
  assert.ok(failure, "caught");
  const { seed, path, replayPath } = failure;
  const replayed = fuzzMote({ wasm, seed, path, replayPath }).failure;
  assert.equal(replayed?.message, failure.message);
});

Deno.test("a realloc that moves without copying is caught with and without the model", async () => {
  const wasm = await released("realloc moves without copying");
  const reports = [
    fuzzMote({ wasm, runs: 200, seed: 1 }),
    fuzzAllocator(wasm, { runs: 200, seed: 1 }),
  ];
  for (const { failure } of reports) {
    assert.match(failure?.message ?? "missed", /byte \d+ .* after realloc/);
  }
});

Deno.test("deno task fuzz prints a failure with the command that replays it", async () => {
  const file = await Deno.makeTempFile({ prefix: "mote-mutant-", suffix: ".wasm" });
  try {
    await Deno.writeFile(file, await released("free misses the coalesce"));
    const fuzz = async (args: string[]) => {
      const { code, stdout } = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-read", "fuzz/main.ts", ...args],
        cwd: new URL("..", import.meta.url),
      }).output();
      return { code, output: new TextDecoder().decode(stdout) };
    };
    const first = await fuzz(["--wasm", file, "--model", "--runs", "100", "--seed", "1"]);
    assert.equal(first.code, 1, first.output);
    const replay = first.output.match(/^Replay: deno task fuzz (.*)$/m)?.[1];
    assert.ok(replay, first.output);
    const args = replay.match(/'[^']*'|\S+/g)!.map((arg) => arg.replace(/^'(.*)'$/, "$1"));
    const again = await fuzz(args);
    assert.equal(again.code, 1, again.output);
    // the failing run replays itself at once and says so; the replay run prints the same failure
    const reproduced = /^Reproduced by its replay.*\n/m;
    assert.match(first.output, reproduced);
    const problem = (output: string) =>
      output.replace(reproduced, "").split("\n").slice(3).join("\n");
    assert.equal(problem(again.output), problem(first.output));
  } finally {
    await Deno.remove(file);
  }
});
