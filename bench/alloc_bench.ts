/**
 * `deno task bench`: every workload against every allocator, with mote as the baseline of each
 * group, in two groups per workload: "in wasm" (the replay loop runs inside wasm, see
 * bench/asm/replay.ts; the no-op row is the loop's own cost) and "JS calls" (a JavaScript loop
 * calls the allocator per operation).
 *
 * A peer that traps or fails requests on a workload (AssemblyScript's stub runs out of memory on
 * `large`) is a result, not a failure: a first replay in wasm finds it, the pair is listed with
 * what happened and not timed, and the bench goes on. So is everything else left out: a missing
 * peer or trace.
 *
 * Extra wasm allocators: `BENCH_PEERS=a.wasm,b.wasm`; extra trace files: `BENCH_TRACES=x.trc.gz`.
 * Narrow it down with `deno task bench --filter sqlite`. `deno task bench:report` measures the
 * same things interleaved, round by round, and writes bench/REPORT.md.
 *
 * @module
 */
import { loadReplayer, runJs, runWasm, type Timer, verdict } from "./harness.ts";
import { BASELINE, loadPeers, type Peer } from "./peers.ts";
import { setup } from "./setup.ts";
import { readTrace, synthetic, tracePaths, type Workload } from "./workloads.ts";

await setup({ quiet: true });
const replayer = await loadReplayer();
const { peers, notes } = await loadPeers();
const traces = tracePaths(Deno.env.get("BENCH_TRACES")?.split(",").filter(Boolean), notes);
const workloads: Workload[] = [...synthetic(), ...await Promise.all(traces.map(readTrace))];

// the workload in every name, so that --filter picks workloads as well as allocators
function label(peer: Peer, workload: Workload): string {
  return `${peer.name}${peer === replayer.noop ? " (the loop alone)" : ""} · ${workload.name}`;
}

function bench(group: string, peer: Peer, workload: Workload, replay: (b: Timer) => void) {
  const baseline = peer.name === BASELINE;
  Deno.bench({ name: label(peer, workload), group, baseline, n: 5, warmup: 1, fn: replay });
}

/** Replays in wasm; a replay that fails after its untimed one did not is the harness's fault. */
function timedInWasm(peer: Peer, workload: Workload, b: Timer): void {
  const why = verdict(runWasm(replayer, peer, workload, b));
  if (why) throw new Error(`${label(peer, workload)}: ${why}, though its first replay did not`);
}

for (const workload of workloads) {
  // one untimed replay in wasm per wasm peer: a trap or a failed request is listed, not timed
  // (the same module fails the same way through JS calls); JS allocators are left to their rows
  const failed = new Set<Peer>();
  for (const peer of [replayer.noop, ...peers.filter((p) => p.kind === "wasm")]) {
    const why = verdict(runWasm(replayer, peer, workload));
    if (why) failed.add(peer), notes.push(`${label(peer, workload)}: not timed, ${why}`);
    else bench(`${workload.name} · in wasm`, peer, workload, (b) => timedInWasm(peer, workload, b));
  }
  for (const peer of [replayer.noop, ...peers].filter((p) => !failed.has(p))) {
    bench(
      `${workload.name} · JS calls`,
      peer,
      workload,
      (b) => void runJs(peer, workload, false, b),
    );
  }
}
// said first and again last, where a reader of the tables looks
for (const note of notes) console.error(`skipped: ${note}`);
addEventListener("unload", () => notes.forEach((note) => console.error(`skipped: ${note}`)));
