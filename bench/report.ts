/**
 * `deno task bench:report`: measures every workload against every allocator, interleaved round by
 * round (so the machine's noise falls on all of them alike), and writes
 *
 * - bench/REPORT.md: the tables, mote's standing against its targets, and notes;
 * - bench/results.json: every sample, for reanalysis;
 * - bench/speed-wasm.svg, bench/memory.svg (the JS-call and size tables have no chart);
 * - the tables into docs/benchmarks.md between `<!-- bench:start -->` and `<!-- bench:end -->`.
 *
 *     deno task bench:report                         everything (a few minutes)
 *     deno task bench:report --rounds 3              timed rounds per workload (default 7; 4 for traces)
 *     deno task bench:report --only lifo,sqlite      some workloads (docs left alone)
 *     deno task bench:report --peer x.wasm           an extra allocator exporting the C ABI
 *     deno task bench:report --trace t.trc.gz        an extra trace to replay
 *     deno task bench:report --no-readme             leave docs/benchmarks.md alone
 *     deno task bench:report --from bench/results.json   rewrite the report from saved results
 *
 * @module
 */
import { argPath, fail, parseArgs, readArg } from "../scripts/_cli.ts";
import {
  gzipSize,
  loadReplayer,
  release,
  type Run,
  runJs,
  runTracked,
  runWasm,
} from "./harness.ts";
import { BASELINE, loadPeers, type Peer } from "./peers.ts";
import { setup } from "./setup.ts";
import { barChart, colorOf } from "./svg.ts";
import { readTrace, synthetic, tracePaths, type Workload } from "./workloads.ts";

const HERE = new URL("./", import.meta.url);
const README = new URL("../docs/benchmarks.md", import.meta.url);
/** A run longer than this is not repeated: one sample is enough, and the report must end. */
const SLOW_MS = 3000;
/** Below this much peak live data, memory is page-granular noise: growth is shown in KiB. */
const SMALL_PEAK = 1 << 20;

type Mode = "wasm" | "js";

/** Everything measured for one peer on one workload. */
export interface Cell {
  /** Every timed sample, in milliseconds. */
  wasm: number[];
  js: number[];
  /** In wasm, each sample less the no-op's run beside it: the allocator's own time. */
  wasmNet: number[];
  /** The ratio to mote of each sample, taken back to back with mote (see measureWorkload). */
  wasmRatio: number[];
  jsRatio: number[];
  used?: number;
  failures: number;
  error?: string;
}

/** The results: what was run and every sample. */
interface Results {
  date: string;
  machine: string;
  /** Which mote was measured: the commit and the source hash src/_wasm.ts was built from. */
  mote: string;
  rounds: { synthetic: number; traces: number };
  workloads: Omit<Workload, "ops">[];
  peers: { name: string; description: string; kind: string; bytes?: number; gzip?: number }[];
  cells: Record<string, Record<string, Cell>>;
  notes: string[];
  /** mote's memory over peak live per workload in an earlier report, to hold it to. */
  before?: { commit: string; memory: Record<string, number> };
}

/**
 * The middle of some samples. Each speed sample is taken back to back with mote and the no-op
 * (see measureWorkload), so the drift of the machine's speed mostly cancels out of it.
 */
export const median = (xs: number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted.length ? (sorted[(sorted.length - 1) >> 1] + sorted[sorted.length >> 1]) / 2 : NaN;
};

/** What a command prints, run from the repository's root; undefined when it cannot run or fails. */
async function output(cmd: string, args: string[]): Promise<string | undefined> {
  const command = new Deno.Command(cmd, { args, cwd: new URL("..", import.meta.url) });
  const failed = { success: false, stdout: null };
  const { success, stdout } = await command.output().catch(() => failed);
  return success && stdout ? new TextDecoder().decode(stdout) : undefined;
}

async function machine(): Promise<string> {
  // Deno reads /proc only with --allow-all: ask grep
  const info = await output("grep", ["-m1", "model name", "/proc/cpuinfo"]);
  const cpu = info?.match(/model name\s*:\s*(.*)/)?.[1] ?? "unknown CPU";
  return `${cpu}, ${navigator.hardwareConcurrency} cores; Deno ${Deno.version.deno}, V8 ${Deno.version.v8}`;
}

/** The commit checked out and the source hash src/_wasm.ts names. */
async function moteVersion(): Promise<string> {
  const commit = (await output("git", ["rev-parse", "--short", "HEAD"]))?.trim() || "?";
  const generated = await Deno.readTextFile(new URL("../src/_wasm.ts", import.meta.url));
  const hash = generated.match(/source sha256 ([0-9a-f]{12})/)?.[1] ?? "?";
  return `commit ${commit}, asm/mote.ts sha256 ${hash}…`;
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/**
 * Measures one workload, `rounds` rounds after a warm-up. The machine's speed drifts (its other
 * load comes and goes), so every sample is a triple run back to back: the no-op, mote and one peer,
 * mote in the middle and the outer two swapped each round. The peer's ratio to mote is taken within
 * each triple (in wasm, of the times above the no-op's), and the report gives their median.
 */
export function measureWorkload(
  workload: Workload,
  peers: Peer[],
  noop: Peer,
  replayer: Awaited<ReturnType<typeof loadReplayer>>,
  rounds: number,
  modes: readonly Mode[] = ["wasm", "js"],
): Record<string, Cell> {
  const cells: Record<string, Cell> = {};
  for (const peer of [noop, ...peers]) {
    cells[peer.name] = { wasm: [], js: [], wasmNet: [], wasmRatio: [], jsRatio: [], failures: 0 };
  }
  const mote = peers.find((p) => p.name === BASELINE)!;
  const sample = (peer: Peer, mode: Mode): number | null => {
    const cell = cells[peer.name];
    gc();
    const run: Run = mode === "wasm" ? runWasm(replayer, peer, workload) : runJs(peer, workload);
    if (run.error) {
      cell.error = `${mode === "wasm" ? "in wasm" : "JS calls"}: ${run.error}` +
        (run.done ? ` (after ${(100 * run.done / workload.count).toFixed(0)}% of the ops)` : "");
      return null;
    }
    cell.failures = Math.max(cell.failures, run.failures);
    if (!peer.shrinks) cell.used ??= run.used;
    return run.ms;
  };
  const slow = new Set<string>(); // peer/mode pairs sampled once: a run over SLOW_MS
  const others = peers.filter((p) => p !== mote);
  for (let round = 0; round <= rounds; round++) {
    const order = others.map((_, i) => others[(i + round) % others.length]);
    for (const peer of [mote, ...order]) {
      for (const mode of modes) {
        const cell = cells[peer.name], key = `${peer.name}/${mode}`;
        if (mode === "wasm" && peer.kind !== "wasm") continue;
        if (cell.error || slow.has(key)) continue;
        const triple = round % 2 ? [peer, mote, noop] : [noop, mote, peer];
        const ms = new Map<Peer, number | null>();
        for (const p of triple) if (!ms.has(p)) ms.set(p, sample(p, mode));
        const [n, m, t] = [ms.get(noop), ms.get(mote), ms.get(peer)];
        if (n == null || m == null || t == null) continue;
        if (t > SLOW_MS) slow.add(key);
        else if (round === 0) continue; // the warm-up
        cells[noop.name][mode].push(n);
        if (peer !== mote) cells[mote.name][mode].push(m);
        cell[mode].push(t);
        if (mode === "wasm") {
          if (peer !== mote) cells[mote.name].wasmNet.push(m - n);
          cell.wasmNet.push(t - n);
        }
        const r = mode === "wasm" ? (t - n) / (m - n) : t / m;
        cell[mode === "wasm" ? "wasmRatio" : "jsRatio"].push(r);
      }
    }
  }
  for (const peer of peers) {
    const cell = cells[peer.name];
    if (peer.shrinks && !cell.error) {
      gc();
      const run = runTracked(peer, workload);
      if (!run.error) cell.used = run.used;
    }
  }
  return cells;
}

// ── formatting ──

const int = (n: number) => Math.round(n).toLocaleString("en");
const ns = (v: number) => (v >= 100 ? int(v) : v.toFixed(1));
const ratio = (v: number) => `${v >= 10 ? v.toFixed(0) : v.toFixed(2)}×`;
const bytes = (n: number) =>
  n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${(n / 1024).toFixed(0)} KiB`;

/** A peer's cell on a workload, if it has one that ran whole and every request succeeded. */
function measured(results: Results, workload: string, peer: string): Cell | undefined {
  const cell = results.cells[workload][peer];
  return cell && !cell.error && !cell.failures ? cell : undefined;
}

const workloadOf = (results: Results, name: string) =>
  results.workloads.find((w) => w.name === name)!;

/**
 * The cost in ns/op: in wasm, the median of its samples less the no-op's beside them (the
 * allocator's alone); through JS, of its samples, the loop and the calls included.
 */
function cost(results: Results, workload: string, peer: string, mode: Mode) {
  const samples = measured(results, workload, peer)?.[mode === "wasm" ? "wasmNet" : "js"];
  if (!samples?.length) return null;
  return (median(samples) * 1e6) / workloadOf(results, workload).count;
}

/**
 * A peer's time over mote's: the median of the ratios taken back to back (in wasm, of the times
 * above the no-op's); null when it has none.
 */
function ratioToMote(results: Results, workload: string, peer: string, mode: Mode) {
  const rs = measured(results, workload, peer)?.[mode === "wasm" ? "wasmRatio" : "jsRatio"];
  return rs?.length ? median(rs) : null;
}

function memoryRatio(results: Results, workload: string, peer: string): number | null {
  const used = measured(results, workload, peer)?.used;
  return used === undefined || !isFinite(used)
    ? null
    : used / workloadOf(results, workload).peakLive;
}

/** A memory ratio as the tables print it: under SMALL_PEAK live, the growth itself. */
function memoryText(results: Results, workload: string, r: number | null): string {
  const w = workloadOf(results, workload);
  return r === null ? "n/a" : w.peakLive < SMALL_PEAK ? `+${bytes(r * w.peakLive)}` : ratio(r);
}

function why(results: Results, workload: string, peer: string): string {
  const cell = results.cells[workload][peer];
  if (!cell) return "—";
  if (cell.error) return cell.error.includes("budget") ? "> 30 s" : "trap";
  if (cell.failures) return `${int(cell.failures)} failed`;
  return "—";
}

/** A Markdown table: its first column left-aligned and the others right, unless `align` says. */
export function table(
  header: string[],
  rows: string[][],
  align = header.map((_, i) => i ? "---:" : "---"),
): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(align), ...rows.map(line)].join("\n");
}

/** The speed, memory and size tables, as Markdown. */
function tables(results: Results) {
  const wasmPeers = results.peers.filter((p) => p.kind === "wasm").map((p) => p.name);
  const allPeers = results.peers.map((p) => p.name);
  const workloads = results.workloads.map((w) => w.name);
  const withRatio = (v: number | null, mode: Mode, w: string, p: string) => {
    const r = ratioToMote(results, w, p, mode);
    return v === null
      ? why(results, w, p)
      : p === BASELINE
      ? `**${ns(v)}**`
      : r === null
      ? ns(v)
      : `${ns(v)} (${ratio(r)})`;
  };

  const speedWasm = table(
    ["workload", "loop alone", ...wasmPeers],
    workloads.map((w) => {
      const loop = median(results.cells[w]["no-op"].wasm) * 1e6 / workloadOf(results, w).count;
      return [
        w,
        ns(loop),
        ...wasmPeers.map((p) => withRatio(cost(results, w, p, "wasm"), "wasm", w, p)),
      ];
    }),
  );
  const speedJs = table(
    ["workload", "no-op", ...allPeers],
    workloads.map((w) => {
      return [
        w,
        ns(cost(results, w, "no-op", "js") ?? NaN),
        ...allPeers.map((p) => withRatio(cost(results, w, p, "js"), "js", w, p)),
      ];
    }),
  );
  const memory = table(
    ["workload", "peak live", ...allPeers],
    results.workloads.map((w) => [
      w.name,
      bytes(w.peakLive),
      ...allPeers.map((p) => {
        const r = memoryRatio(results, w.name, p);
        if (r === null) return why(results, w.name, p);
        const text = memoryText(results, w.name, r);
        return p === BASELINE ? `**${text}**` : text;
      }),
    ]),
  );
  const size = table(
    ["module", "bytes", "gzip", "what it is"],
    results.peers.filter((p) => p.bytes).map((p) => [
      p.name === BASELINE ? `**${p.name}**` : p.name,
      int(p.bytes!),
      int(p.gzip!),
      p.description,
    ]),
    ["---", "---:", "---:", "---"],
  );
  return { speedWasm, speedJs, memory, size };
}

/**
 * mote against each target of issue 20, met or missed and by how much. Times are in wasm, each
 * peer's median of ratios to mote taken back to back; repeated reports on this shared machine
 * move a ratio by up to about 10%, so one within that above its target is called a tie.
 */
function targets(results: Results): string[] {
  const names = results.workloads.map((w) => w.name);
  const traces = results.workloads.filter((w) => w.source !== "synthetic").map((w) => w.name);
  const has = (ps: string[]) => ps.filter((n) => results.peers.some((p) => p.name === n));
  const time = (w: string, p: string) => p === BASELINE ? 1 : ratioToMote(results, w, p, "wasm");
  const mem = (w: string, p: string) => memoryText(results, w, memoryRatio(results, w, p));
  /** A target's line from [what, its ratio to the target (at most 1 meets it)] per workload. */
  const verdict = (label: string, items: [string, number][], noise = 1.10) => {
    const part = (test: (r: number) => boolean, say: string) => {
      const hit = items.filter(([, r]) => test(r)).map(([text]) => text);
      return hit.length ? [`${say} ${hit.join(", ")}`] : [];
    };
    const state = !items.length
      ? "not measured"
      : items.some(([, r]) => r > noise)
      ? "**missed**"
      : items.some(([, r]) => r > 1)
      ? "within the noise"
      : "met";
    return `- ${label}: ${state}` + (items.length ? ". " : "") + [
      ...part((r) => r > noise, "above on"),
      ...part((r) => r > 1 && r <= noise, "within the ±10% noise on"),
      ...part((r) => r <= 1, "at or below on"),
    ].join("; ") + ".";
  };
  /** Per workload, `subject`'s time over the fastest of `peers`'s; each one's memory beside. */
  const against = (subject: string, peers: string[], workloads: string[], memory = true) =>
    workloads.flatMap((w): [string, number][] => {
      const rs = peers.flatMap((p) => [[p, time(w, p)] as const].filter(([, r]) => r !== null));
      const mine = time(w, subject);
      if (!rs.length || mine === null) return [];
      const [fastest, r] = rs.reduce((a, b) => (b[1]! < a[1]! ? b : a));
      const beside = memory
        ? `; memory ${[...peers, subject].map((p) => `${p} ${mem(w, p)}`).join(", ")}`
        : "";
      return [[`${w} ${ratio(mine / r!)} (${fastest}${beside})`, mine / r!]];
    });
  const out: string[] = [];
  const fastest = has(["emscripten dlmalloc", "mimalloc"]);
  const synthetic = names.filter((w) => !traces.includes(w));
  for (const subject of has(["mote fast", BASELINE])) {
    out.push(
      verdict(
        `${subject}'s time in wasm at or below the fastest of ${fastest.join(" and ")}'s on ` +
          "each real trace",
        against(subject, fastest, traces),
      ),
      verdict(
        `${subject} faster than Emscripten dlmalloc in wasm on each synthetic workload`,
        against(subject, has(["emscripten dlmalloc"]), synthetic, false),
      ),
    );
  }
  const before = results.before;
  if (before) {
    out.push(verdict(
      `mote's memory over peak live no worse than at ${before.commit} on any workload`,
      names.filter((w) => before.memory[w] !== undefined).map((w) => {
        const then = memoryText(results, w, before.memory[w]);
        const no = mem(w, BASELINE) === then ||
          memoryRatio(results, w, BASELINE)! <= before.memory[w];
        return [`${w} ${mem(w, BASELINE)} (was ${then})`, no ? 1 : 2];
      }),
      1, // memory is measured, not timed: page-granular and the same on every run
    ));
  }
  const bytesOf = (name: string) => results.peers.find((p) => p.name === name)?.bytes;
  const [small, fast] = [bytesOf(BASELINE)!, bytesOf("mote fast")];
  out.push(
    `- The module \`new Heap()\` uses at or under 2,048 bytes: ` +
      `${small <= 2048 ? "met" : "**missed**"}: ${int(small)} bytes.` +
      (fast
        ? ` The fast module is ${int(fast)} bytes (${int(fast - small)} more); its time over the ` +
          `smallest's: ${
            names.map((w) => `${w} ${ratio(time(w, "mote fast") ?? NaN)}`).join(", ")
          }.`
        : ""),
    verdict(
      "`Heap`'s JS-call cost at most 1.2× the raw export's on every workload (mote Heap over mote)",
      names.flatMap((w): [string, number][] => {
        const r = ratioToMote(results, w, "mote Heap", "js");
        return r === null ? [] : [[`${w} ${ratio(r)}`, r / 1.2]];
      }),
    ),
  );
  return out;
}

function charts(results: Results): Record<string, string> {
  const wasmPeers = results.peers.filter((p) => p.kind === "wasm");
  const color = (name: string) => colorOf(results.peers.findIndex((p) => p.name === name));
  const rows = results.workloads.map((w) => w.name);
  const series = (peers: { name: string }[]) =>
    peers.map((p) => ({ name: p.name, color: color(p.name) }));
  const notes = (peers: { name: string }[], workloads = rows) =>
    workloads.map((w) => peers.map((p) => why(results, w, p.name)));
  const large = results.workloads.filter((w) => w.peakLive >= SMALL_PEAK).map((w) => w.name);
  return {
    "speed-wasm.svg": barChart({
      title: "Allocator cost inside wasm",
      subtitle: "ns per operation above the replay loop's own (median of interleaved rounds); " +
        "shorter is faster; log scale",
      rows,
      series: series(wasmPeers),
      values: rows.map((w) => wasmPeers.map((p) => cost(results, w, p.name, "wasm"))),
      notes: notes(wasmPeers),
      log: true,
      format: ns,
    }),
    "memory.svg": barChart({
      title: "Memory taken over peak live bytes",
      subtitle: "memory grown during the workload ÷ most bytes live at once; 1 is perfect; " +
        `workloads under ${bytes(SMALL_PEAK)} live left out`,
      rows: large,
      series: series(results.peers),
      values: large.map((w) => results.peers.map((p) => memoryRatio(results, w, p.name))),
      notes: notes(results.peers, large),
      max: 4,
      reference: { value: 1.1, label: "1.10× target" },
      format: (v) => `${v.toFixed(2)}×`,
    }),
  };
}

function markdown(results: Results, readme: boolean): string {
  const t = tables(results);
  const link = (file: string) => (readme ? `../bench/${file}` : file);
  const lines = [
    readme ? "## Benchmarks" : "# mote benchmarks",
    "",
    `Measured by \`deno task bench:report\` on ${results.date.slice(0, 10)}: ${results.machine}; ` +
    `mote at ${results.mote}. ` +
    "Every allocator replays the same seeded workloads and recorded traces of real programs " +
    "(sqlite, gcc's cc1, Lua); peers run interleaved, round by round, so the numbers in one table " +
    "are ratios taken side by side: read them as ratios, not as absolute speeds. " +
    `Method, peers and profile: ${
      readme ? "[bench/README.md](../bench/README.md)" : "[README.md](README.md)"
    }; ` +
    `all tables and notes: ${readme ? "[bench/REPORT.md](../bench/REPORT.md)" : "this file"}.`,
    "",
    "**Speed inside wasm**: ns per operation the allocator adds to a replay loop running in wasm " +
    "(less the no-op allocator's time in the run beside it), median of the rounds; in brackets, its " +
    "time over mote's, the median of ratios taken back to back with mote in each round " +
    "(below 1 is faster than mote; the two are separate medians, so they need not divide " +
    "exactly).",
    "",
    t.speedWasm,
    "",
    `![speed inside wasm](${link("speed-wasm.svg")})`,
    "",
    "**Speed through JS calls**: ns per operation of a JavaScript loop calling the allocator, " +
    "call included (the no-op column is the loop and call alone); in brackets, the time over " +
    "mote's, measured back to back.",
    "",
    t.speedJs,
    "",
    "**Memory**: memory grown during the workload over the most bytes live at once " +
    `(1.00× is perfect; under ${bytes(SMALL_PEAK)} live, the growth itself).`,
    "",
    t.memory,
    "",
    `![memory](${link("memory.svg")})`,
    "",
    "**Size** of each wasm module:",
    "",
    t.size,
    "",
  ];
  lines.push(
    `${readme ? "###" : "##"} mote against its targets (issue 20)`,
    "",
    ...targets(results),
    "",
    `Why, and what would close the gaps: see [bench/README.md](${link("README.md")}#profile).`,
    "",
  );
  if (!readme) {
    lines.push(
      "## Workloads",
      "",
      table(
        ["workload", "ops", "peak live", "peak objects", "what"],
        results.workloads.map((w) => [
          w.name,
          int(w.count),
          bytes(w.peakLive),
          int(w.peakObjects),
          w.description,
        ]),
        ["---", "---:", "---:", "---:", "---"],
      ),
      "",
      "## Notes",
      "",
      ...results.notes.map((n) => `- ${n}`),
      ...Object.entries(results.cells).flatMap(([w, cells]) =>
        Object.entries(cells).flatMap(([p, c]) =>
          c.error
            ? [`- ${p} on ${w}: ${c.error}`]
            : c.failures
            ? [`- ${p} on ${w}: ${int(c.failures)} requests returned 0`]
            : []
        )
      ),
      `- Rounds: ${results.rounds.synthetic} timed (synthetic), ${results.rounds.traces} (traces), ` +
        `after one warm-up. Each sample runs the no-op, mote and the peer back to back, so that ` +
        `the machine's drifting speed (its other load) cancels out of the ratios; a run over ` +
        `${SLOW_MS / 1000} s is taken once. Every sample is in results.json.`,
      "",
    );
  }
  return lines.join("\n");
}

/** Puts `section` between the bench markers of docs/benchmarks.md, appending them when absent. */
export function spliceReadme(readme: string, section: string): string {
  const START = "<!-- bench:start -->", END = "<!-- bench:end -->";
  const start = readme.indexOf(START), end = readme.indexOf(END);
  const block = `${START}\n\n${section.trim()}\n\n${END}`;
  if (start < 0 || end < start) return `${readme.trimEnd()}\n\n${block}\n`;
  return readme.slice(0, start) + block + readme.slice(end + END.length);
}

async function format(paths: URL[]): Promise<void> {
  const { success } = await new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--quiet", ...paths.map((p) => p.pathname)],
  }).output();
  if (!success) console.error("deno fmt failed on the report");
}

/** The commit whose report mote's memory is held to: main when issue 20 was filed. */
const MEMORY_BEFORE = "b112a82";

/** mote's memory over peak live per workload in MEMORY_BEFORE's results, read with git. */
async function memoryBefore(): Promise<Results["before"]> {
  const json = await output("git", ["show", `${MEMORY_BEFORE}:bench/results.json`]);
  if (!json) return undefined; // not a clone with that history
  const old: Results = JSON.parse(json);
  const memory = old.workloads.map((w) => [w.name, memoryRatio(old, w.name, BASELINE)] as const);
  return {
    commit: MEMORY_BEFORE,
    memory: Object.fromEntries(memory.filter(([, r]) => r !== null)) as Record<string, number>,
  };
}

/** Runs every workload against every peer: the results the report is written from. */
type RunArgs = { rounds?: number; only?: string[]; peer: string[]; trace: string[] };
async function run(args: RunArgs): Promise<Results> {
  await setup({ quiet: true });
  const replayer = await loadReplayer();
  const { peers, notes } = await loadPeers(args.peer);
  const only = args.only;
  const rounds = { synthetic: args.rounds ?? 7, traces: args.rounds ?? 4 };
  const fromEnv = Deno.env.get("BENCH_TRACES")?.split(",").filter(Boolean) ?? [];
  const traces = tracePaths([...fromEnv, ...args.trace]);
  const workloads = synthetic().filter((w) => !only || only.includes(w.name));
  const results: Results = {
    date: new Date().toISOString(),
    machine: await machine(),
    mote: await moteVersion(),
    rounds,
    workloads: [],
    peers: [],
    cells: {},
    notes,
    before: await memoryBefore(),
  };
  for (const { name, description, kind, wasm } of peers) {
    const size = wasm ? { bytes: wasm.length, gzip: await gzipSize(new Uint8Array(wasm)) } : {};
    results.peers.push({ name, description, kind, ...size });
  }
  const selected = traces.filter((path) => !only || only.some((o) => path.includes(o)));
  for (const source of [...workloads, ...selected]) {
    const workload = typeof source === "string" ? await readTrace(source) : source;
    const started = performance.now();
    const { ops: _, ...summary } = workload;
    results.workloads.push(summary);
    const n = workload.source === "synthetic" ? rounds.synthetic : rounds.traces;
    results.cells[workload.name] = measureWorkload(workload, peers, replayer.noop, replayer, n);
    release(workload);
    console.log(`${workload.name}: ${((performance.now() - started) / 1000).toFixed(0)} s`);
  }
  return results;
}

if (import.meta.main) {
  const args = parseArgs({
    usage: "deno task bench:report",
    summary: "Times mote and its peers side by side on every workload, writes bench/REPORT.md, " +
      "results.json, the charts and docs/benchmarks.md's tables.",
    flags: {
      rounds: { kind: "integer", help: "rounds per workload (default 7, traces 4)", min: 1 },
      only: { kind: "string", help: "only these workloads, comma-separated" },
      peer: { kind: "strings", help: "another allocator module to time (repeatable)" },
      trace: { kind: "strings", help: "another recorded trace to replay (repeatable)" },
      from: { kind: "string", help: "redraw from this results.json instead of measuring" },
      "no-readme": { kind: "boolean", help: "leave docs/benchmarks.md alone" },
    },
  });
  const only = args.only?.split(",");
  const names = [...synthetic(0).map((w) => w.name), ...tracePaths(args.trace.map(argPath))];
  const unknown = only?.filter((o) => !names.some((name) => name === o || name.includes(o)));
  if (unknown?.length) fail(`--only: no workload named ${unknown.join(", ")}`);
  const written: URL[] = [];
  let results: Results;
  const [peer, trace] = [args.peer.map(argPath), args.trace.map(argPath)];
  for (const file of [...peer, ...trace]) readArg(file); // missing: one line, exit 2
  if (args.from) {
    results = JSON.parse(new TextDecoder().decode(readArg(args.from, "--from")));
    results.before ??= await memoryBefore();
  } else {
    results = await run({ ...args, only, peer, trace });
    const json = new URL("results.json", HERE);
    await Deno.writeTextFile(json, JSON.stringify(results, null, 1) + "\n");
    written.push(json);
  }
  for (const [file, svg] of Object.entries(charts(results))) {
    await Deno.writeTextFile(new URL(file, HERE), svg);
    written.push(new URL(file, HERE)); // deno fmt formats SVG too
  }
  const report = new URL("REPORT.md", HERE);
  await Deno.writeTextFile(report, markdown(results, false));
  written.push(report);
  if (!args["no-readme"] && !only) {
    const text = await Deno.readTextFile(README);
    await Deno.writeTextFile(README, spliceReadme(text, markdown(results, true)));
    written.push(README);
  }
  await format(written);
  const root = new URL("..", import.meta.url).pathname;
  console.log(`wrote ${written.map((u) => u.pathname.slice(root.length)).join(", ")}`);
}
