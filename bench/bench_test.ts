// A quick smoke test of the benchmark's machinery (a few seconds): the workloads are
// deterministic, a trace file reads back, and the replayers (in wasm and through JS calls) drive
// real allocators without failures, overlaps or misaligned blocks. It times nothing.
import assert from "node:assert/strict";
import { makeReplayer, runJs, runTracked, runWasm, verdict } from "./harness.ts";
import { type Calls, loadPeers, type Peer, wasmPeer } from "./peers.ts";
import { spliceReadme } from "./report.ts";
import { AS_TARGETS, compileAs } from "./setup.ts";
import {
  FREE,
  measure,
  PLAIN_ALIGN,
  readTrace,
  REALLOC,
  synthetic,
  tracePaths,
  type Workload,
} from "./workloads.ts";

const SCALE = 0.01;

async function build(out: string): Promise<Uint8Array<ArrayBuffer>> {
  const target = AS_TARGETS.find((t) => t.out === out)!;
  return new Uint8Array(await compileAs(target.source, target.flags));
}

Deno.test("the synthetic workloads are the same on every run and sane", () => {
  const a = synthetic(SCALE), b = synthetic(SCALE);
  const names = "lifo fragment vector large steady aligned";
  assert.deepEqual(a.map((w) => w.name), names.split(" "));
  for (let i = 0; i < a.length; i++) {
    assert.deepEqual(a[i].ops, b[i].ops, a[i].name);
    assert.ok(a[i].peakLive > 0 && a[i].peakObjects > 0, a[i].name);
    assert.equal(a[i].aligned, a[i].name === "aligned");
  }
});

Deno.test("a trace file reads back as the records written", async () => {
  const ops = new Uint32Array([1, 1, 100, 8, 1, 2, 50, 8, 3, 1, 300, 8, 2, 2, 50, 8, 4, 3, 10, 8]);
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/tiny.trc.gz`;
    const gz = new Blob([ops]).stream().pipeThrough(new CompressionStream("gzip"));
    await Deno.writeFile(path, gz);
    const trace = await readTrace(path);
    assert.equal(trace.name, "tiny");
    assert.deepEqual(trace.ops, ops);
    const { count, maxId, peakLive, peakObjects } = trace;
    assert.deepEqual({ count, maxId, peakLive, peakObjects }, {
      count: 5,
      maxId: 3,
      peakLive: 350,
      peakObjects: 2,
    });
    assert.deepEqual(measure(ops).peakLive, 350);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Replays through JS calls, checking every block: aligned, and overlapping no live one. */
function replayChecked(peer: Peer, workload: Workload): void {
  const calls: Calls = peer.create(workload.peakLive).calls;
  const live = new Map<number, [number, number]>(); // id -> [ptr, size]
  const ops = workload.ops;
  for (let i = 0; i < workload.count; i++) {
    const [op, id, size, align] = ops.subarray(4 * i, 4 * i + 4);
    if (op === FREE) {
      calls.free(live.get(id)![0]);
      live.delete(id);
      continue;
    }
    const emulate = align > peer.natural && !peer.hasAligned;
    const need = emulate ? size + align - peer.natural : size;
    const ptr = (op === REALLOC
      ? calls.realloc(live.get(id)![0], need)
      : op === 4
      ? calls.calloc(1, need)
      : align > peer.natural && !emulate
      ? calls.aligned_alloc!(align, need)
      : calls.malloc(need)) >>> 0;
    assert.ok(ptr !== 0, `${peer.name}: op ${i} failed`);
    live.delete(id);
    const start = emulate ? (ptr + align - 1) & -align : ptr;
    assert.equal(start % Math.max(align, PLAIN_ALIGN), 0, `${peer.name}: op ${i} misaligned`);
    for (const [other, [p, s]] of live) {
      assert.ok(ptr + need <= p || p + s <= ptr, `${peer.name}: op ${i} overlaps id ${other}`);
    }
    live.set(id, [ptr, need]);
  }
}

Deno.test("every peer replays every workload in wasm and through JS calls", async () => {
  const replayer = makeReplayer(await build("replay.wasm"), await build("noop.wasm"));
  const { peers } = await loadPeers();
  const mote = peers[0];
  const tlsf = wasmPeer("AS TLSF", "fresh", await build("as-tlsf.wasm"));
  const js = peers.filter((p) => p.kind === "js");
  for (const workload of synthetic(SCALE)) {
    for (const peer of [mote, tlsf, replayer.noop]) {
      const run = runWasm(replayer, peer, workload);
      assert.equal(run.error, undefined, `${peer.name} on ${workload.name}`);
      assert.equal(run.failures, 0, `${peer.name} on ${workload.name}`);
      assert.equal(run.done, workload.count);
    }
    for (const peer of [mote, tlsf, ...js]) {
      const run = peer.shrinks ? runTracked(peer, workload) : runJs(peer, workload);
      assert.equal(run.error, undefined, `${peer.name} on ${workload.name}`);
      assert.equal(run.failures, 0, `${peer.name} on ${workload.name}`);
      assert.ok(run.used >= 0);
    }
    // and mimalloc, when bench:setup could build it: its blocks under 8 bytes are rounded up
    for (const peer of [mote, tlsf, ...peers.filter((p) => p.name === "mimalloc")]) {
      replayChecked(peer, workload);
    }
  }
});

Deno.test("the report's README section replaces what is between the markers, or is appended", () => {
  const section = "## Benchmarks\n\nnew";
  assert.equal(
    spliceReadme("a\n<!-- bench:start -->\nold\n<!-- bench:end -->\nb\n", section),
    "a\n<!-- bench:start -->\n\n## Benchmarks\n\nnew\n\n<!-- bench:end -->\nb\n",
  );
  assert.equal(
    spliceReadme("a\n", section),
    "a\n\n<!-- bench:start -->\n\n## Benchmarks\n\nnew\n\n<!-- bench:end -->\n",
  );
});

Deno.test("a peer that traps is a verdict, not an exception: deno bench lists it untimed", async () => {
  const replayer = makeReplayer(await build("replay.wasm"), await build("noop.wasm"));
  const stub = wasmPeer("AS stub", "fresh", await build("as-stub.wasm"));
  const ops = new Uint32Array([1, 1, 0xFFFF_0000, 8, 1, 2, 16, 8]); // more than wasm32 can hold
  const workload: Workload = {
    name: "huge",
    description: "",
    source: "",
    ops,
    count: 2,
    ...measure(ops),
  };
  const why = verdict(runWasm(replayer, stub, workload));
  assert.match(why ?? "", /trapped|failed/);
  assert.equal(verdict(runWasm(replayer, replayer.noop, workload)), undefined);
});

Deno.test("the recorded traces live in the project, each beside its summary", () => {
  const notes: string[] = [];
  const names = tracePaths([], notes).map((path) => path.split("/").pop());
  assert.deepEqual(names, ["gcc_cc1.trc.gz", "lua.trc.gz", "sqlite.trc.gz"]);
  assert.deepEqual(notes, []);
});
