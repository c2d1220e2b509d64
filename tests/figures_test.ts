// The figures the README and docs/ state in prose, held to where they come from: the bench's
// report (bench/REPORT.md, written by `deno task bench:report`) and the build's size table. A
// bench run that moves a figure fails this test until the prose says what the run measured.
import assert from "node:assert/strict";

const read = (path: string) => Deno.readTextFile(new URL(`../${path}`, import.meta.url));
const [readme, badInput, benchReadme, report] = await Promise.all([
  read("README.md"),
  read("docs/bad-input.md"),
  read("bench/README.md"),
  read("bench/REPORT.md"),
]);

/** The markdown table after `heading` in `text`: a map from each row's first cell to its cells. */
function table(text: string, heading: string): Map<string, Record<string, string>> {
  const lines = text.slice(text.indexOf(heading)).split("\n");
  const first = lines.findIndex((line) => line.startsWith("|"));
  const rows = lines.slice(first, lines.findIndex((line, i) => i > first && !line.startsWith("|")))
    .map((line) => line.split("|").slice(1, -1).map((cell) => cell.trim().replaceAll("**", "")));
  const [names, , ...body] = rows;
  return new Map(
    body.map((cells) => [cells[0], Object.fromEntries(names.map((name, i) => [name, cells[i]]))]),
  );
}

/** A cell's ratio to mote, as the report prints it: "3.5 (0.57×)" gives "0.57×". */
const ratio = (cell: string) =>
  /\(([\d.,]+×)\)/.exec(cell)?.[1] ?? assert.fail(`no ratio: ${cell}`);
const value = (figure: string) => Number(figure.replace(/[^\d.]/g, ""));
/** The smallest and largest of `figures`, as "a–b" with each as printed. */
function range(figures: string[]): string {
  const sorted = figures.toSorted((a, b) => value(a) - value(b));
  return `${sorted[0].replace("×", "")}–${sorted.at(-1)}`;
}

const wasm = table(report, "**Speed inside wasm**");
const js = table(report, "**Speed through JS calls**");
const memory = table(report, "**Memory**");
const sizes = table(report, "**Size** of each wasm module");
const bytes = (module: string) => sizes.get(module)!.bytes;
const SYNTHETIC = ["lifo", "fragment", "vector", "steady", "aligned"];

Deno.test("the README's fast-build ratios are bench/REPORT.md's", () => {
  for (const [speeds, sentence] of [[wasm, "inside wasm"], [js, "through JS calls"]] as const) {
    const fast = [...speeds].map(([workload, cells]) => [workload, ratio(cells["mote fast"])]);
    const others = fast.filter(([workload]) => workload !== "lifo").map(([, r]) => r);
    const lifo = fast.find(([workload]) => workload === "lifo")![1];
    const said = sentence === "inside wasm"
      ? `${lifo} the smallest's time\ninside wasm on \`lifo\``
      : `${lifo} on \`lifo\` and ${range(others)} elsewhere`;
    assert.ok(readme.replace(/\s+/g, " ").includes(said.replace(/\s+/g, " ")), said);
    if (sentence === "inside wasm") {
      assert.match(readme.replace(/\s+/g, " "), new RegExp(`and ${range(others)} on the other`));
    }
  }
  const more = value(bytes("mote fast")) - value(bytes("mote"));
  assert.match(readme, new RegExp(`for ${more.toLocaleString("en")} more bytes`));
});

Deno.test("the Why table names the source of every size, and the bench's rows are the report's", () => {
  const why = table(readme, "## Why");
  for (const [name, row] of why) assert.ok(row["size measured by"], `${name}: no source`);
  assert.equal(why.get("dlmalloc (wasi-libc)")!["module size"], `${bytes("dlmalloc")} B`);
  assert.equal(why.get("AssemblyScript TLSF")!["module size"], `${bytes("AS TLSF")} B`);
  // what the prose works out from the table
  const mote = value(why.get("mote")!["module size"]);
  const rlsf = value(why.get("rlsf `SmallGlobalTlsf` (Rust ABI)")!["module size"]);
  assert.match(readme, new RegExp(`rlsf's TLSF is ${mote - rlsf} bytes smaller`));
  const over = `${(mote - 1024).toLocaleString("en")} bytes (${
    Math.round((mote / 1024 - 1) * 100)
  }%)`;
  assert.ok(readme.includes(`${over} over the 1,024-byte target`), over);
  const sizeTable = table(readme, "<!-- size:start -->");
  assert.match(readme, new RegExp(`region\\), ${sizeTable.get("`ownWasm`")!.gzipped} gzipped`));
});

Deno.test("the README's outcome against issue 20's targets is bench/REPORT.md's", () => {
  const text = readme.replace(/\s+/g, " ");
  const targets = report.slice(report.indexOf("## mote against its targets"));
  /** The items `subject … ` on the target line that starts with `line`: [workload, ratio, peer]. */
  const items = (line: string) =>
    [
      ...targets.slice(targets.indexOf(line)).split("\n- ")[0].matchAll(
        /(\w+) ([\d.]+×) \(([^;)]+)/g,
      ),
    ]
      .map(([, workload, r, peer]) => [workload, r, peer]);
  const traces = items("- mote fast's time in wasm at or below");
  assert.equal(
    new Set(traces.map(([, , peer]) => peer)).size,
    1,
    "one fastest peer on every trace",
  );
  const [first, second, third] = traces.map(([, r]) => r);
  const names = traces.map(([workload]) => `${workload}'s`);
  const said = [
    `${first}, ${second} and ${third} of ${traces[0][2]}'s time on ${names[0]}, ${names[1]} and ${
      names[2]
    } traces`,
    `every synthetic workload but ${
      items("- mote fast faster than Emscripten dlmalloc").filter(([, r]) => value(r) > 1)
        .map(([workload, r]) => `\`${workload}\` (${r})`).join(", ")
    }`,
    `a \`Heap\` takes ${range([...js].map(([, cells]) => ratio(cells["mote Heap"])))} the raw`,
    `mimalloc takes ${
      range(traces.map(([w]) => memory.get(w)!.mimalloc))
    } of peak live memory on the traces and mote ${
      range(traces.map(([w]) => memory.get(w)!.mote))
    }`,
  ];
  for (const phrase of said) assert.ok(text.includes(phrase), phrase);
});

Deno.test("bench/README.md's cost of the Heap and of the model is bench/REPORT.md's", () => {
  const heap = [...js].map(([workload, cells]) => [workload, ratio(cells["mote Heap"])] as const);
  const names = (test: (r: number) => boolean) =>
    heap.filter(([, r]) => test(value(r))).map(([workload]) => workload);
  const list = (items: string[]) => `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`;
  const over = heap.filter(([, r]) => value(r) > 1.32).map(([, r]) => r); // past the ±10% noise
  const said = [
    `costs ${range(heap.map(([, r]) => r))} the raw exports per call`,
    `within 1.2× (the issue's target) on ${list(names((r) => r <= 1.2))}`,
    `just over it on ${list(names((r) => r > 1.2 && r <= 1.32))}`,
    `and ${range(over)} on ${list(names((r) => r > 1.32))}`,
    `The reference model takes ${range([...js].map(([, cells]) => ratio(cells["mote model"])))}`,
  ];
  const text = benchReadme.replace(/\s+/g, " ");
  for (const phrase of said) assert.ok(text.includes(phrase), phrase);
});

Deno.test("docs/bad-input.md's cost of the checked build is bench/REPORT.md's", () => {
  const checked = (workload: string) => ratio(wasm.get(workload)!["mote checked"]);
  const text = badInput.replace(/\s+/g, " ");
  for (
    const said of [
      `${checked("lua")} the release build's time per operation on Lua's trace`,
      `${checked("sqlite")} on sqlite's, ${checked("gcc_cc1")} on gcc's`,
      `${range(SYNTHETIC.map(checked))} on the synthetic workloads`,
      `${checked("large")} on blocks of 64 KiB to 1 MiB`,
    ]
  ) assert.ok(text.includes(said), said);
  // its memory: the workloads where it is more than 0.01× from the release build's, and by how much
  const differs = [...memory]
    .filter(([, cells]) => Math.abs(value(cells["mote checked"]) - value(cells.mote)) > 0.0101)
    .map(([workload, cells]) => `${workload}'s ${cells["mote checked"]} (against ${cells.mote})`);
  assert.ok(differs.length > 0);
  assert.ok(text.includes(`release build's but for ${differs.join(" and ")}`), differs.join("; "));
});
