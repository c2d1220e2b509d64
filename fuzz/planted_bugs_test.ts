// The fuzzer must catch bugs: two planted in copies of asm/mote.ts, one that only the model
// sees and one that both modes see, and the failure must replay from what the report prints.
import assert from "node:assert/strict";
import { fuzzAllocator, fuzzMote } from "./mod.ts";
import { compileMote, plant, PLANTED_BUGS } from "./planted_bugs.ts";

const source = await Deno.readTextFile(new URL("../asm/mote.ts", import.meta.url));
const planted = (name: string) =>
  compileMote(plant(source, PLANTED_BUGS.find((bug) => bug.name.startsWith(name))!));

Deno.test("every planted bug still applies to asm/mote.ts", () => {
  for (const bug of PLANTED_BUGS) plant(source, bug);
});

Deno.test("a missed coalesce is caught by the model, and replays from its report", async () => {
  const wasm = await planted("free misses the coalesce");
  const report = fuzzMote({ wasm, runs: 200, seed: 1 });
  const failure = report.failure!;
  assert.ok(failure, "caught");
  const { seed, path, replayPath } = failure;
  const replayed = fuzzMote({ wasm, seed, path, replayPath }).failure;
  assert.equal(replayed?.message, failure.message);
});

Deno.test("a realloc that moves without copying is caught with and without the model", async () => {
  const wasm = await planted("realloc moves without copying");
  for (
    const report of [
      fuzzMote({ wasm, runs: 200, seed: 1 }),
      fuzzAllocator(wasm, { runs: 200, seed: 1 }),
    ]
  ) {
    assert.match(report.failure?.message ?? "missed", /byte \d+ .* after realloc/);
  }
});

Deno.test("deno task fuzz prints a failure with the command that replays it", async () => {
  const file = await Deno.makeTempFile({ prefix: "mote-planted-", suffix: ".wasm" });
  try {
    await Deno.writeFile(file, await planted("free misses the coalesce"));
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
