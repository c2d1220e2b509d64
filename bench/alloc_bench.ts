/**
 * `deno task bench`: every workload against every allocator, with mote as the baseline of each
 * group, in two groups per workload: "in wasm" (the replay loop runs inside wasm, see
 * bench/asm/replay.ts; the no-op row is the loop's own cost) and "JS calls" (a JavaScript loop
 * calls the allocator per operation).
 *
 * Extra wasm allocators: `BENCH_PEERS=a.wasm,b.wasm`; extra trace files: `BENCH_TRACES=x.trc.gz`.
 * Narrow it down with `deno task bench --filter sqlite`. `deno task bench:report` measures the
 * same things interleaved, round by round, and writes bench/REPORT.md.
 *
 * @module
 */
import { loadReplayer, runJs, runs, runWasm, type Timer } from "./harness.ts";
import { BASELINE, loadPeers, type Peer } from "./peers.ts";
import { setup } from "./setup.ts";
import { readTrace, synthetic, tracePaths, type Workload } from "./workloads.ts";

// a list-walking allocator would take minutes per iteration on the larger workloads
const MAX_LIST_WORK = 1e8; // operations × live objects

await setup({ quiet: true });
const replayer = await loadReplayer();
const { peers, notes } = await loadPeers();
const traces = tracePaths(Deno.env.get("BENCH_TRACES")?.split(",").filter(Boolean));
const workloads: Workload[] = [...synthetic(), ...await Promise.all(traces.map(readTrace))];
for (const note of notes) console.error(note);

function check(run: { error?: string; failures: number }, what: string): void {
  if (run.error) throw new Error(`${what}: ${run.error}`);
  if (run.failures) throw new Error(`${what}: ${run.failures} requests failed`);
}

function fits(peer: Peer, workload: Workload): boolean {
  return runs(peer, workload) &&
    (peer.maxLiveObjects === undefined || workload.count * workload.peakObjects <= MAX_LIST_WORK);
}

// the workload in every name, so that --filter picks workloads as well as allocators
function label(peer: Peer, workload: Workload): string {
  return `${peer.name}${peer === replayer.noop ? " (the loop alone)" : ""} · ${workload.name}`;
}

for (const workload of workloads) {
  const group = `${workload.name} · in wasm`;
  for (const peer of [replayer.noop, ...peers.filter((p) => p.kind === "wasm")]) {
    Deno.bench({
      name: label(peer, workload),
      group,
      baseline: peer.name === BASELINE,
      n: 5,
      warmup: 1,
      fn(b) {
        check(runWasm(replayer, peer, workload, b as Timer), `${peer.name} on ${workload.name}`);
      },
    });
  }
  for (const peer of [replayer.noop, ...peers]) {
    if (!fits(peer, workload)) {
      console.error(`${peer.name} skipped on ${workload.name}: too slow (it walks lists)`);
      continue;
    }
    Deno.bench({
      name: label(peer, workload),
      group: `${workload.name} · JS calls`,
      baseline: peer.name === BASELINE,
      n: 5,
      warmup: 1,
      fn(b) {
        runJs(peer, workload, b as Timer);
      },
    });
  }
}
