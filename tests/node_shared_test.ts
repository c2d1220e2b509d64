// The shared heap under Node: the published module bundled, a heap made on Node's main thread
// (which may wait), attached in worker_threads workers that allocate and free at once, and
// checked by the main thread afterwards. Then what Node's terminate() does to a worker in the
// heap: it stops it, once its promise settles; recover() frees its lock on that proof alone, also
// after kills at random points while two workers churn the heap, whose ticket log then replays
// through the model exactly; and a waiter terminated just after the lock's release woke it takes no wake-up with it.
import assert from "node:assert/strict";
import { bundle } from "../examples/browser/serve.ts";

const version = await new Deno.Command("node", { args: ["--version"] }).output().then(
  ({ stdout }) => new TextDecoder().decode(stdout).trim(),
  () => undefined,
);
const skip = version === undefined && !Deno.env.get("CI");
if (skip) console.warn("Skipping the Node shared-heap test: `node` is not on the PATH.");

/** Node's main thread: a shared heap, four workers on it, then what it saw as JSON. */
const MAIN = `
import { Heap } from "./mote.js";
import { Worker } from "node:worker_threads";

const heap = new Heap({ shared: true });
const head = heap.calloc(1, 4);
const workers = 4, count = 3000;
const owners = await Promise.all(Array.from({ length: workers }, (_, tag) =>
  new Promise((resolve, reject) => {
    const worker = new Worker(new URL("./worker.mjs", import.meta.url), {
      workerData: { shared: heap.share(), head, count, tag },
    });
    worker.on("message", resolve);
    worker.on("error", reject);
  })));
const view = new DataView(heap.memory.buffer);
let nodes = 0, intact = true;
for (let node = view.getUint32(head, true); node; node = view.getUint32(node, true)) {
  nodes++;
  intact &&= heap.usableSize(node) >= 8 && view.getUint32(node + 4, true) < workers;
}
console.log(JSON.stringify({
  owners, mainOwner: heap.owner, nodes, intact,
  usedBlocks: heap.stats().usedBlocks, problems: heap.check(), lockHolder: heap.lockHolder,
}));
`;

/** A worker: attaches, then pushes nodes on a list with Atomics, churning the heap as it goes. */
const WORKER = `
import { Heap } from "./mote.js";
import { parentPort, workerData } from "node:worker_threads";

const { shared, head, count, tag } = workerData;
const heap = Heap.attach(shared);
const words = new Int32Array(heap.memory.buffer);
for (let i = 0; i < count; i++) {
  const scratch = heap.malloc(i % 300);
  const node = heap.malloc(8);
  heap.free(scratch);
  heap.view.setUint32(node + 4, tag, true);
  let first;
  do {
    first = Atomics.load(words, head >> 2);
    heap.view.setUint32(node, first, true);
  } while (Atomics.compareExchange(words, head >> 2, first, node) !== first);
}
parentPort.postMessage(heap.owner);
`;

/**
 * Node's main thread, on faults: a worker terminated while it holds the lock (in check()), and
 * workers terminated while they wait for it. What it saw, as JSON.
 */
const FAULTS = `
import { Heap, readLog, replayLog, sharedEngine, startLog, ticketsOf } from "./mote.js";
import { Worker } from "node:worker_threads";

const heap = new Heap({ shared: true });
const fill = () => {
  for (let i = 0; i < 150_000; i++) heap.malloc(16); // so that check() holds the lock a while
};
fill();
const header = new Int32Array(heap.memory.buffer, 0, 4); // the lock, and the tickets at 2
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
/**
 * A worker on the heap given, its owner id once it has said hello, and whether it has exited. A
 * wait for another thread asks stuck() first: a lock held by a worker that has exited is freed by
 * recover() alone, so the wait would be for good. The program says so and ends, rather than hang.
 */
const everyWorker = new Set();
const start = (data, on = heap) => {
  const worker = new Worker(new URL("./faulty.mjs", import.meta.url), {
    workerData: { shared: on.share(), ...data },
  });
  const said = [];
  const started = { worker, said, heap: on, owner: 0, exited: false };
  worker.on("message", (message) => said.push(message));
  worker.on("exit", () => started.exited = true);
  started.hello = new Promise((resolve) => worker.once("message", resolve))
    .then((hello) => (started.owner = hello.owner, hello));
  everyWorker.add(started);
  return started;
};
const stuck = (where) => {
  for (const { heap: on, owner, exited } of everyWorker) {
    if (exited && owner && on.lockHolder === owner) {
      throw new Error(where + ": the lock is held by owner " + owner + ", whose worker has exited");
    }
  }
};
/** The recipe: a worker terminated and, once it has stopped, its lock recovered if it held it. */
const stopped = async (started) => {
  await started.worker.terminate();
  const { heap, owner, worker } = started;
  const held = heap.lockHolder === owner; // the other may hold it, going about its work
  everyWorker.delete(started);
  return { held, damage: held ? heap.recover(owner, worker) : [] };
};
const seen = { refusedAlive: "", refusedNoProof: "", recovered: null, stoppedRanOn: 0, lost: 0 };
const errorOf = (f) => {
  try {
    f();
    return "none";
  } catch (error) {
    return error.name + ": " + error.message;
  }
};

// a busy worker stops once terminate()'s promise settles
let exitedOther;
{
  const calls = new Int32Array(new SharedArrayBuffer(4));
  const busy = start({ calls: calls.buffer, role: "busy" });
  await busy.hello;
  while (Atomics.load(calls, 0) < 1000) await sleep(1);
  const { held, damage } = await stopped(busy); // it may stop holding the lock
  const after = Atomics.load(calls, 0);
  await sleep(200);
  seen.stoppedRanOn = Atomics.load(calls, 0) - after;
  seen.busyHeld = held;
  exitedOther = busy.worker;
  if (damage.length) (heap.reset(), fill());
}

// a worker killed holding the lock: recover() refuses until the proof, then frees it
for (let tries = 0; seen.recovered === null; tries++) {
  const holder = start({ role: "checker" });
  const { owner } = await holder.hello;
  while (heap.lockHolder !== owner) (stuck("waiting for a checker to hold the lock"), await sleep(0));
  seen.refusedAlive = errorOf(() => heap.recover(owner, holder.worker));
  seen.refusedNoProof = errorOf(() => heap.recover(owner));
  await holder.worker.terminate();
  if (heap.lockHolder !== owner) continue;
  // the proof must be the owner's own worker: another that has exited, or a look-alike, is not
  seen.refusedOtherWorker = errorOf(() => heap.recover(owner, exitedOther));
  seen.refusedLookAlike = errorOf(() => heap.recover(owner, { threadId: -1 }));
  seen.recovered = heap.recover(owner, holder.worker);
  seen.lockAfter = heap.lockHolder;
  seen.recoverTries = tries + 1;
}
seen.mallocAfter = heap.malloc(100) > 0;

// the lost wake-up: the first of two waiters is terminated just after the release wakes it.
// A waiter asleep on a free lock that no operation touched is a wake-up lost: it is woken here,
// and counted, rather than waited for. The first may also stop once it holds the lock: then its
// lock is recovered, as the recipe says, and the second goes on
seen.wakeHolderKilled = 0;
for (let trial = 0; trial < 12; trial++) {
  const go = new Int32Array(new SharedArrayBuffer(4));
  const first = start({ role: "waiter", go: go.buffer, delay: 5 });
  const second = start({ role: "waiter", go: go.buffer, delay: 30 });
  await Promise.all([first.hello, second.hello]);
  Atomics.store(go, 0, 1);
  heap.check(); // holds the lock while both queue on it
  first.worker.terminate();
  while (second.said.length < 2) {
    await sleep(5);
    if (first.exited && heap.lockHolder === first.owner) {
      seen.wakeHolderKilled++;
      if (heap.recover(first.owner, first.worker).length) (heap.reset(), fill());
    }
    stuck("waiting for the second waiter");
    const tickets = Atomics.load(header, 2);
    if (Atomics.load(header, 0) === 0 && Atomics.notify(header, 0) > 0 &&
        Atomics.load(header, 0) === 0 && Atomics.load(header, 2) === tickets) seen.lost++;
  }
  await Promise.all([stopped(first), stopped(second)]);
}
// kills at random points, each on a fresh heap whose log records every operation: one of two
// workers churning it (malloc, calloc, realloc, free) is terminated after a random count of calls
// and, once it has exited, its lock (if it held it) recovered; the other goes on, then is
// terminated too. Unless recover() reported damage, the log replayed through the model predicts
// every result, and the heap ends block for block as the model's
seen.kills = { trials: 0, held: 0, damaged: 0, replayed: 0, mismatches: [] };
for (let kill = 0; kill < 16; kill++) {
  const logAt = 64, entries = 1 << 17, base = logAt + entries * 32, pages = 128, maximum = 4096;
  const memory = new WebAssembly.Memory({ initial: pages, maximum, shared: true });
  const churned = new Heap({ shared: true, memory, base, limit: 64 << 20 });
  startLog(sharedEngine(memory, base, true), logAt, entries);
  const first = ticketsOf(memory, base);
  const calls = new Int32Array(new SharedArrayBuffer(8));
  const begin = (at) => start({ calls: calls.buffer, role: "churn", at }, churned);
  const victim = begin(0), survivor = begin(1);
  await Promise.all([victim.hello, survivor.hello]);
  const at = 200 + Math.floor(Math.random() * 5000);
  while (Atomics.load(calls, 0) < at) (stuck("waiting for the victim"), await sleep(0));
  let damage = [];
  for (const started of [victim, survivor]) {
    // progress, not time, says it went on; on a heap left half changed it may loop for good
    if (started === survivor && damage.length === 0) {
      const before = Atomics.load(calls, 1);
      while (started.said.length < 2 && Atomics.load(calls, 1) < before + 500) {
        stuck("waiting for the survivor");
        await sleep(1);
      }
    }
    const stop = await stopped(started);
    seen.kills.held += stop.held;
    damage = [...damage, ...stop.damage];
  }
  seen.kills.trials++;
  if (damage.length) {
    seen.kills.damaged++;
    continue;
  }
  const log = readLog(memory, logAt, entries, first, ticketsOf(memory, base));
  const limitEnd = base + churned.limit;
  const { model, disagreement } = replayLog(log, { base, limitEnd, pages, maximum });
  const problems = churned.check();
  if (disagreement) seen.kills.mismatches.push(disagreement.what);
  else if (problems.length) seen.kills.mismatches.push("check(): " + problems[0]);
  else if (JSON.stringify(model.picture().blocks) !== JSON.stringify(churned.walk())) {
    seen.kills.mismatches.push("after " + log.length + " operations the blocks are not the model's");
  } else seen.kills.replayed++;
}
seen.problems = heap.check();
console.log(JSON.stringify(seen));
`;

/** The faults' worker: busy in heap calls, checking the heap over and over, or one waiter. */
const FAULTY = `
import { Heap } from "./mote.js";
import { parentPort, workerData } from "node:worker_threads";

const heap = Heap.attach(workerData.shared);
parentPort.postMessage({ owner: heap.owner });
if (workerData.role === "busy") {
  const calls = new Int32Array(workerData.calls);
  for (;;) {
    heap.free(heap.malloc(64));
    Atomics.add(calls, 0, 1);
  }
} else if (workerData.role === "churn") { // 25,000 calls through the raw exports, then done
  const calls = new Int32Array(workerData.calls), { malloc, calloc, realloc, free } = heap.exports;
  const live = new Array(64).fill(0);
  for (let i = 0, n = 0; n < 25_000; i = (i + 7) % 64, n++) {
    if (live[i] && n % 3 === 0) live[i] = realloc(live[i], 16 + ((n * 131) % 6000)) || live[i];
    else if (live[i]) live[i] = (free(live[i]), 0);
    else live[i] = n % 2 ? malloc(16 + ((i * 97) % 3000)) : calloc(1, 16 + ((n * 53) % 4000));
    Atomics.add(calls, workerData.at, 1);
  }
  parentPort.postMessage("done");
} else if (workerData.role === "checker") {
  for (;;) heap.check();
} else {
  const go = new Int32Array(workerData.go);
  while (Atomics.load(go, 0) === 0);
  const until = performance.now() + workerData.delay; // so that they queue in this order
  while (performance.now() < until);
  parentPort.postMessage({ ptr: heap.malloc(16) });
}
`;

/** Runs `main.mjs` of `files` under Node beside the bundled package; what it printed, parsed. */
async function runInNode(
  dir: string,
  files: Record<string, string>,
): Promise<ReturnType<typeof JSON.parse>> {
  await Deno.writeTextFile(
    `${dir}/mote.js`,
    await bundle(new URL("./_node_entry.ts", import.meta.url)),
  );
  for (const [name, text] of Object.entries(files)) {
    await Deno.writeTextFile(`${dir}/${name}`, text);
  }
  const { success, stdout, stderr } = await new Deno.Command("node", {
    args: ["main.mjs"],
    cwd: dir,
  })
    .output();
  const decoder = new TextDecoder();
  assert.ok(success, `node failed:\n${decoder.decode(stderr)}`);
  return JSON.parse(decoder.decode(stdout));
}

Deno.test({
  name: "Node: terminate() stops a worker in the heap, recover() frees its lock on that proof, " +
    "the log of a heap killed into replays through the model, " +
    "no wake-up is lost" +
    (skip ? " (SKIPPED: no node on the PATH: install Node 20 or later)" : ""),
  ignore: skip,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "mote-node-faults-" });
    try {
      const seen = await runInNode(dir, { "main.mjs": FAULTS, "faulty.mjs": FAULTY });
      assert.equal(seen.stoppedRanOn, 0, "a worker ran on after terminate() settled");
      assert.match(seen.refusedAlive, /^RangeError: .*has not exited/);
      assert.match(seen.refusedNoProof, /^TypeError: .*node:worker_threads Worker/);
      assert.match(seen.refusedOtherWorker, /^RangeError: .*not from that worker's thread/);
      assert.match(seen.refusedLookAlike, /^TypeError: .*did not see that worker start/);
      assert.deepEqual(seen.recovered, [], "check() reads only: the heap is intact");
      assert.equal(seen.lockAfter, 0);
      assert.equal(seen.mallocAfter, true);
      assert.equal(seen.lost, 0, "a waiter slept on a free lock");
      const { trials, held, damaged, replayed, mismatches } = seen.kills;
      console.log(
        `random kills: ${trials} (${held} holding the lock, ${damaged} reported damaged); ` +
          `stopped holding the lock, so recovered: the busy worker ${seen.busyHeld ? 1 : 0} ` +
          `time, waiters woken ${seen.wakeHolderKilled} times`,
      );
      assert.deepEqual(mismatches, [], "after a kill the log, replayed, is the heap's history");
      assert.equal(replayed + damaged, trials);
      assert.ok(replayed > 0, "no kill left a heap that recover() called intact");
      assert.deepEqual(seen.problems, []);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "Node's worker_threads share one heap: attach, allocate and free at once" +
    (skip ? " (SKIPPED: no node on the PATH: install Node 20 or later)" : ""),
  ignore: skip,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "mote-node-shared-" });
    try {
      const seen = await runInNode(dir, { "main.mjs": MAIN, "worker.mjs": WORKER });
      assert.equal(new Set(seen.owners).size, 4, "each worker's instance has its own owner id");
      assert.ok(!seen.owners.includes(seen.mainOwner));
      assert.equal(seen.nodes, 4 * 3000);
      assert.equal(seen.intact, true);
      // the head, and the record of live blocks: every scratch block freed, no node lost
      assert.equal(seen.usedBlocks, 4 * 3000 + 2, "every scratch block freed, no node lost");
      assert.deepEqual(seen.problems, []);
      assert.equal(seen.lockHolder, 0);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
