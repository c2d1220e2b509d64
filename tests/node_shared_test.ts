// The shared heap under Node: the published module bundled, a heap made on Node's main thread
// (which may wait), attached in worker_threads workers that allocate and free at once, and
// checked by the main thread afterwards.
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

Deno.test({
  name: "Node's worker_threads share one heap: attach, allocate and free at once",
  ignore: skip,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "mote-node-shared-" });
    try {
      await Deno.writeTextFile(
        `${dir}/mote.js`,
        await bundle(new URL("../mod.ts", import.meta.url)),
      );
      await Deno.writeTextFile(`${dir}/main.mjs`, MAIN);
      await Deno.writeTextFile(`${dir}/worker.mjs`, WORKER);
      const { success, stdout, stderr } = await new Deno.Command("node", {
        args: ["main.mjs"],
        cwd: dir,
      }).output();
      const decoder = new TextDecoder();
      assert.ok(success, `node failed:\n${decoder.decode(stderr)}`);
      const seen = JSON.parse(decoder.decode(stdout));
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
