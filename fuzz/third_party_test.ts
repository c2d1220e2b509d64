// Fuzzing modules that are not mote: both ABIs, the watchdog, each rule of _oracles.ts caught
// in an allocator broken for it (fuzz/testdata/, built here with asc), and the command line.
import assert from "node:assert/strict";
import { brokenAllocator, type Bug } from "./_broken_test_util.ts";
import { shareMemory } from "./_binary.ts";
import { detectAbi } from "./_abi.ts";
import { fuzzAllocator, type FuzzAllocatorOptions, type FuzzReport } from "./mod.ts";
import { ownWasm } from "../src/_wasm.ts";

const SEED = 20_261_201;
// the watchdog's bound is a minute, stretched further when the machine slows down: no call of a
// correct allocator takes that long however busy the machine, so a slow call never decides a test
// (a calloc slower than 1 s once failed "contents: STRAY" as a hang on a loaded 2-core machine);
// only the hang case, whose call never returns, is watched with a short bound
const OPTIONS: FuzzAllocatorOptions = {
  runs: 40,
  seed: SEED,
  watchdogMs: 60_000,
  soakOperations: 100_000,
};
const HANG_BOUND = 1000;

/** `deno task fuzz` with `args`, in a process of its own: its exit code and output. */
function fuzz(...args: string[]) {
  return run("./main.ts", args);
}

/** A command line of fuzz/ with `args`, in a process of its own: its exit code and output. */
async function run(main: string, args: string[]) {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(main, import.meta.url).pathname, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code, out: text(stdout), err: text(stderr) };
}

/**
 * `fuzzAllocator(wasm, options)` in a process of its own, through the command line: a hung
 * call's worker spins on after Deno's terminate() until its process exits, and in this one it
 * would take both cores from every test after it.
 */
async function fuzzApart(wasm: Uint8Array, options: FuzzAllocatorOptions) {
  const file = await Deno.makeTempFile({ suffix: ".wasm" });
  try {
    await Deno.writeFile(file, wasm);
    const flags = [
      ["--runs", options.runs],
      ["--seed", options.seed],
      ["--path", options.path],
      ["--replay-path", options.replayPath],
      ["--timeout-ms", options.watchdogMs],
      ["--soak-ops", options.soakOperations],
    ].flatMap(([flag, value]) => value === undefined ? [] : [`${flag}`, `${value}`]);
    const { out, err } = await fuzz("--wasm", file, ...flags, "--json");
    return JSON.parse(out || err) as FuzzReport;
  } finally {
    await Deno.remove(file);
  }
}

Deno.test("a correct allocator passes in either ABI", async (t) => {
  for (const abi of ["c", "rust"] as const) {
    await t.step(abi, async () => {
      const report = fuzzAllocator(await brokenAllocator(abi, "NONE"), { ...OPTIONS, runs: 25 });
      assert.equal(report.failure?.message, undefined);
      assert.equal(report.subject?.abi, abi);
      assert.equal(report.soak?.operations, 100_000);
      assert.equal(report.subject?.watchdogMs, 60_000);
    });
  }
  await t.step("compiled, in this thread, unwatched", async () => {
    const module = new WebAssembly.Module(await brokenAllocator("c", "NONE"));
    const report = fuzzAllocator(module, { ...OPTIONS, runs: 10, soakOperations: 20_000 });
    assert.equal(report.failure?.message, undefined);
    assert.equal(report.subject?.watchdogMs, undefined);
    const never = new WebAssembly.Module(await brokenAllocator("c", "NEVER"));
    assert.equal(fuzzAllocator(never, OPTIONS).failure?.rule, "liveness");
  });
});

Deno.test("each rule catches the allocator broken for it, naming the rule", async (t) => {
  // a leak passes the short runs: the bounded-growth run after them catches it
  const cases: [string, "c" | "rust", Bug, RegExp, number][] = [
    ["liveness", "c", "NEVER", /^Liveness: (malloc|realloc)\([^)]*\) returned 0: the first/, 40],
    [
      "hang",
      "c",
      "HANG",
      /^Hang: (malloc|realloc)\([^)]*\) did not return within 1000 ms at the machine's speed/,
      40,
    ],
    ["bounded growth", "c", "LEAK", /^Bounded growth: with at most 1000 blocks/, 5],
    ["alignment", "rust", "MISALIGN", /is not aligned to 16, from alloc\(/, 40],
    ["overlap", "c", "OVERLAP", /overlaps b\d+/, 40],
    ["contents", "c", "STRAY", /'s byte \d+ \(of \d+\) is 0, not \d+/, 40],
  ];
  for (const [rule, abi, bug, message, runs] of cases) {
    await t.step(`${rule}: ${bug} (${abi})`, async () => {
      const wasm = await brokenAllocator(abi, bug);
      const hang = rule === "hang", watchdogMs = hang ? HANG_BOUND : OPTIONS.watchdogMs;
      const run = (options: FuzzAllocatorOptions) =>
        hang ? fuzzApart(wasm, options) : fuzzAllocator(wasm, options);
      const report = await run({ ...OPTIONS, runs, watchdogMs });
      const { failure } = report;
      assert.equal(failure?.rule, rule, failure?.message ?? "no failure");
      assert.match(failure.message, message);
      if (rule === "bounded growth") return;
      const shrunk = failure.commands.split("),").length;
      assert.ok(shrunk <= 6, `shrunk to ${shrunk} commands: ${failure.commands}`);
      if (rule !== "hang") return;
      // the run that hung replays, hanging again: each run is a fresh instance
      const { seed, path, replayPath } = failure;
      const replay = (await run({ ...OPTIONS, watchdogMs, seed, path, replayPath })).failure;
      assert.equal(replay?.commands, failure.commands);
      assert.equal(replay?.message, failure.message);
    });
  }
});

Deno.test("a module that is no allocator gets one line saying why", () => {
  assert.throws(
    () => detectAbi(["memory_grow", "main"]),
    new TypeError(
      "The module exports neither C's malloc, free and realloc nor Rust's alloc, dealloc and " +
        "realloc: it exports memory_grow, main",
    ),
  );
  assert.throws(() => detectAbi(["malloc", "free"], "c"), /not C's realloc/);
  assert.throws(() => fuzzAllocator(new Uint8Array([1, 2, 3])), TypeError);
});

Deno.test("shareMemory turns a defined memory into a shared import, keeping the rest", async () => {
  const wasm = await brokenAllocator("c", "NONE");
  const { bytes, limits } = shareMemory(wasm);
  const module = new WebAssembly.Module(bytes);
  const memories = WebAssembly.Module.imports(module).filter((i) => i.kind === "memory");
  assert.deepEqual(memories, [{ module: "env", name: "memory", kind: "memory" }]);
  const exports = WebAssembly.Module.exports(new WebAssembly.Module(wasm));
  assert.deepEqual(WebAssembly.Module.exports(module), exports);
  const memory = new WebAssembly.Memory({ ...limits, shared: true });
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  const malloc = instance.exports.malloc as (size: number) => number;
  const ptr = malloc(100);
  assert.ok(ptr > 0 && ptr % 16 === 0);
  assert.equal(instance.exports.memory, memory);
  assert.ok(memory.buffer instanceof SharedArrayBuffer);
});

Deno.test("deno task fuzz --wasm: exit 2 for usage, 1 for a bug with a replay, 0 otherwise", async (t) => {
  const dir = await Deno.makeTempDir();
  const never = `${dir}/never.wasm`, good = `${dir}/good.wasm`;
  await Deno.writeFile(never, await brokenAllocator("c", "NEVER"));
  await Deno.writeFile(good, ownWasm);
  await t.step("usage errors: one line, exit 2", async () => {
    const cases: [string[], RegExp][] = [
      [["--wasm", `${dir}/missing.wasm`], /^error: Cannot read --wasm ".*missing\.wasm": /],
      [["--frob"], /^error: Unknown flag "--frob"/],
      [["--runs", "-3"], /^error: --runs must be an integer of at least 1, got "-3"/],
      [["--runs", "0"], /^error: --runs must be an integer of at least 1, got "0"/],
      [["--wasm", new URL("../README.md", import.meta.url).pathname], /not a valid WebAssembly/],
      [["--align", "8"], /^error: --align applies to --wasm FILE without --model/],
      // each flag that sets an option refuses what the API's check of it refuses, as the flag
      [["--runs", "abc"], /^error: --runs must be an integer of at least 1, got "abc"/],
      [["--runs", "1e20"], /^error: --runs must be an integer of at least 1, got "1e20"/],
      [
        ["--seconds", "0.0005"],
        /^error: --seconds must be a number of at least 0.001, got "0.0005"/,
      ],
      [
        ["--seed", "1.5"],
        /^error: --seed must be an integer from -2147483648 to 4294967295, got "1.5"/,
      ],
      [["--seed", "99999999999"], /^error: --seed must be an integer from .* got "99999999999"/],
      [["--max-commands", "200000"], /^error: --max-commands must be an integer from 1 to 100000/],
      [["--heap", "--max-commands", "0"], /^error: --max-commands must be .* got "0"/],
      [
        ["--wasm", good, "--align", "3"],
        /^error: --align must be a power of two from 1 to 65536, got "3"/,
      ],
      [
        ["--wasm", good, "--align", "131072"],
        /^error: --align must be a power of two .* got "131072"/,
      ],
      [["--wasm", good, "--abi", "go"], /^error: --abi must be "c" or "rust", got "go"/],
      [
        ["--wasm", good, "--timeout-ms", "0"],
        /^error: --timeout-ms must be an integer of at least 1/,
      ],
      [
        ["--wasm", good, "--soak-ops", "-1"],
        /^error: --soak-ops must be an integer of at least 0, got "-1"/,
      ],
      [
        ["--wasm", good, "--soak-live", "0"],
        /^error: --soak-live must be an integer of at least 1, got "0"/,
      ],
    ];
    for (const [args, message] of cases) {
      const { code, err } = await fuzz(...args);
      assert.equal(code, 2, args.join(" "));
      assert.match(err, message);
      assert.equal(err.trim().split("\n").length, 1, err);
    }
  });
  await t.step(
    "deno task fuzz:concurrent takes fuzzConcurrent's checks: one line, exit 2",
    async () => {
      const cases: [string[], RegExp][] = [
        [["--seed", "5000000000"], /^error: --seed must be an integer from .* got "5000000000"/],
        [["--seed", "-1"], /^error: --seed must be an integer of at least 0, got "-1"/],
        [["--batch", "0"], /^error: --batch must be an integer of at least 1, got "0"/],
        [
          ["--max-commands", "200000"],
          /^error: --max-commands must be an integer from 1 to 100000/,
        ],
        [["--min-workers", "1"], /^error: --min-workers must be an integer from 2 to 8, got "1"/],
      ];
      for (const [args, message] of cases) {
        const { code, err } = await run("./concurrent_main.ts", ["--runs", "1", ...args]);
        assert.equal(code, 2, args.join(" "));
        assert.match(err, message);
        assert.equal(err.trim().split("\n").length, 1, err);
      }
    },
  );
  await t.step(
    "a bug: exit 1, the rule, the shrunk run and the command that replays it",
    async () => {
      const { code, out } = await fuzz("--wasm", never, "--seed", "5", "--timeout-ms", "60000");
      assert.equal(code, 1);
      assert.match(out, /^FAILED \(liveness\)/m);
      const replay = /^Replay: deno task fuzz (.*)$/m.exec(out)?.[1];
      assert.ok(replay, out);
      const again = await fuzz(...replay.replace(/'/g, "").split(" "));
      assert.equal(again.code, 1);
      assert.match(again.out, /^FAILED \(liveness\)/m);
    },
  );
  await t.step("no bug: exit 0; --json is the report", async () => {
    const args = ["--wasm", good, "--runs", "5", "--seed", "1", "--soak-ops", "50000", "--json"];
    args.push("--timeout-ms", "60000"); // no slow call decides it (OPTIONS says why)
    const { code, out } = await fuzz(...args, "--soak-live", "100");
    assert.equal(code, 0, out);
    const report = JSON.parse(out);
    assert.equal(report.runs, 5);
    assert.equal(report.subject.abi, "c");
    assert.equal(report.soak.operations, 50000);
    assert.equal(report.failure, undefined);
  });
  await Deno.remove(dir, { recursive: true });
});
