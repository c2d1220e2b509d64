/**
 * alloc_heavy.c on mote against the same program on wasi-libc's own dlmalloc: time and memory
 * side by side, measured in one run, the builds taking turns. Writes the table into docs/linking.md
 * between its `c-bench` markers.
 *
 *     deno task bench:c [--rounds 20] [--runs 15] [--no-write]
 *
 * @module
 */
import { checkedWasm, regionWasm } from "../../src/_wasm.ts";
import { parseArgs } from "../../scripts/_cli.ts";
import { mergeMote } from "../../scripts/merge.ts";
import { sections } from "../../src/_module_reader.ts";
import { compileProgram, missingToolchain, type Run, runOnMote, runOnOwnAllocator } from "./run.ts";

const README = new URL("../../docs/linking.md", import.meta.url);
const SECTION_CODE = 10;
const START = "<!-- c-bench:start -->";
const END = "<!-- c-bench:end -->";

interface Subject {
  name: string;
  /** The code the program runs: its code section, and mote's module when mote is apart. */
  bytes: number;
  run(args: string[]): Promise<Run>;
}

/** The size of a module's code section: its functions' bodies, without data or debug info. */
function codeBytes(wasm: Uint8Array): number {
  const code = sections(wasm).find((section) => section.id === SECTION_CODE);
  if (!code) throw new TypeError("The module has no code section");
  return code.end - code.contents;
}

const median = (values: number[]) => values.toSorted((a, b) => a - b)[values.length >> 1];

if (import.meta.main) {
  const flags = parseArgs({
    usage: "deno task bench:c",
    summary:
      "alloc_heavy.c on mote against the same program on wasi-libc's dlmalloc, side by side.",
    flags: {
      rounds: {
        kind: "integer",
        help: "the program's workload, repeated per run",
        default: 20,
        min: 1,
      },
      runs: { kind: "integer", help: "runs of each build, taking turns", default: 15, min: 1 },
      "no-write": { kind: "boolean", help: "print the table only, leave docs/linking.md alone" },
    },
  });
  const options = { rounds: flags.rounds, runs: flags.runs, write: !flags["no-write"] };
  const missing = await missingToolchain();
  if (missing.length) throw new Error(missing.join("\n"));
  const [onMote, onDlmalloc] = await Promise.all([
    compileProgram("mote"),
    compileProgram("dlmalloc"),
  ]);
  const merged = await mergeMote(onMote);
  const subjects: Subject[] = [
    {
      name: "wasi-libc's dlmalloc, in the program",
      bytes: codeBytes(onDlmalloc),
      run: (args) => runOnOwnAllocator(onDlmalloc, args),
    },
    {
      name: "mote, called wasm to wasm (linkHeap)",
      bytes: codeBytes(onMote) + regionWasm.length,
      run: (args) => runOnMote(onMote, args),
    },
    {
      name: "mote, called through JavaScript functions",
      bytes: codeBytes(onMote) + regionWasm.length,
      run: (args) => runOnMote(onMote, args, false, true),
    },
    {
      name: "mote merged into the program (`deno task merge`)",
      bytes: codeBytes(merged),
      run: (args) => runOnOwnAllocator(merged, args),
    },
    {
      name: "mote's checked build, wasm to wasm",
      bytes: codeBytes(onMote) + checkedWasm.length,
      run: (args) => runOnMote(onMote, args, true),
    },
  ];
  const args = [String(options.rounds)];
  const times = subjects.map(() => [] as number[]);
  const memory = subjects.map(() => 0);
  let calls = "";
  for (let run = -1; run < options.runs; run++) { // run -1 warms up and is not counted
    for (const [i, subject] of subjects.entries()) {
      const start = performance.now();
      const result = await subject.run(args);
      const elapsed = performance.now() - start;
      if (result.exitCode !== 0) throw new Error(`${subject.name} failed:\n${result.stdout}`);
      if (run >= 0) times[i].push(elapsed);
      memory[i] = result.memoryBytes;
      const counts = result.stdout.match(/(\d+) allocations, (\d+) reallocs, (\d+) frees/);
      const [allocations, reallocs, frees] = (counts?.slice(1) ?? []).map((n) =>
        Number(n).toLocaleString("en")
      );
      calls = `${allocations} allocations, ${reallocs} reallocs, ${frees} frees`;
    }
  }
  const base = median(times[0]);
  const lines = [
    `alloc_heavy.c with ${options.rounds} rounds (${calls} by the program itself), ` +
    `median of ${options.runs} runs each, the builds taking turns (\`deno task bench:c\`):`,
    "",
    "| allocator | time | memory at exit | code (program's code section + mote's module) |",
    "| --- | ---: | ---: | ---: |",
    ...subjects.map((subject, i) =>
      `| ${subject.name} | ${(median(times[i]) / base).toFixed(2)}× | ` +
      `${(memory[i] / 1024).toLocaleString("en")} KiB | ${subject.bytes.toLocaleString("en")} B |`
    ),
  ];
  console.log(lines.join("\n"));
  console.log(`(medians: ${times.map((t) => `${median(t).toFixed(1)} ms`).join(", ")})`);
  if (options.write) {
    const readme = await Deno.readTextFile(README);
    const [before, rest] = readme.split(START);
    const after = rest?.split(END)[1];
    if (after === undefined) throw new Error(`docs/linking.md lacks the ${START} … ${END} markers`);
    await Deno.writeTextFile(README, `${before}${START}\n\n${lines.join("\n")}\n\n${END}${after}`);
    // the page is held to deno fmt: lay the table out as it would
    await new Deno.Command(Deno.execPath(), { args: ["fmt", "--quiet", README.pathname] }).output();
    console.log("wrote docs/linking.md");
  }
}
