// A shared heap in headless Chromium: a cross-origin isolated page (the only kind browsers give
// SharedArrayBuffer to) whose main thread, where waiting is not allowed, allocates and frees in
// the same heap as two Web Workers at once, so its calls spin for the lock where theirs wait.
import assert from "node:assert/strict";
import { bundle } from "../examples/browser/serve.ts";
import { Chromium, CHROMIUM_PATH, chromiumFound } from "./_chromium.ts";

const found = await chromiumFound();
const skip = !found && !Deno.env.get("CI"); // CI installs Chromium (.ci/run): there it must run
if (skip) console.warn(`Skipping the shared-heap browser test: no Chromium at ${CHROMIUM_PATH}.`);

const PAGE = `<!doctype html><meta charset="utf-8"><script type="module" src="/main.js"></script>`;

/** The page: two workers and the main thread on one heap, then what it saw. */
const MAIN = `
import { Heap } from "./mote.js";

async function run() {
  const seen = { isolated: globalThis.crossOriginIsolated };
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    seen.mainMayWait = true;
  } catch {
    seen.mainMayWait = false;
  }
  const heap = new Heap({ shared: true });
  const go = new Int32Array(new SharedArrayBuffer(4));
  const workers = [0, 1].map(() => new Worker("/worker.js", { type: "module" }));
  const ready = [], answers = [];
  workers.forEach((worker, tag) => {
    let attached;
    ready.push(new Promise((resolve) => attached = resolve));
    answers.push(new Promise((resolve, reject) => {
      worker.onmessage = (event) => event.data === "ready" ? attached() : resolve(event.data);
      worker.onerror = (event) => reject(new Error(event.message));
    }));
    worker.postMessage({ shared: heap.share(), go: go.buffer, tag });
  });
  await Promise.all(ready);
  Atomics.store(go, 0, 1);
  // the main thread's share, at the same time
  const live = [];
  let mismatches = 0;
  for (let i = 0; i < 20000; i++) {
    const ptr = heap.malloc(i % 400);
    heap.u8.fill(0xA5, ptr, ptr + (i % 400));
    live.push([ptr, i % 400]);
    if (live.length > 40) {
      const [old, size] = live.shift();
      if (!heap.u8.subarray(old, old + size).every((byte) => byte === 0xA5)) mismatches++;
      heap.free(old);
    }
  }
  seen.workers = await Promise.all(answers);
  seen.mainMismatches = mismatches;
  seen.problems = heap.check();
  seen.usedBlocks = heap.stats().usedBlocks;
  seen.lockHolder = heap.lockHolder;
  // recover() refuses here: nothing tells a page that a terminated worker has stopped
  for (let i = 0; i < 20000; i++) heap.malloc(16); // so that check() holds the lock a while
  const checker = new Worker("/worker.js", { type: "module" });
  const owner = await new Promise((resolve) => {
    checker.onmessage = (event) => resolve(event.data);
    checker.postMessage({ shared: heap.share(), checker: true });
  });
  while (!seen.recover) {
    while (heap.lockHolder !== owner) await new Promise((resolve) => setTimeout(resolve, 0));
    try {
      heap.recover(owner, checker);
      seen.recover = "freed";
    } catch (error) {
      if (!/does not hold/.test(error.message)) seen.recover = error.name + ": " + error.message;
    }
  }
  checker.terminate();
  return seen;
}
globalThis.result = run().catch((error) => ({ error: String(error) }));
`;

/** A worker: attaches, waits for the start, then allocates, fills, checks and frees. */
const WORKER = `
import { Heap } from "./mote.js";

onmessage = ({ data: { shared, go, tag, checker } }) => {
  const heap = Heap.attach(shared);
  if (checker) {
    postMessage(heap.owner);
    for (;;) heap.check();
  }
  postMessage("ready");
  const start = new Int32Array(go);
  while (Atomics.load(start, 0) === 0) Atomics.wait(start, 0, 0, 1);
  const live = [];
  let mismatches = 0;
  for (let i = 0; i < 20000; i++) {
    const size = (i * 7) % 600;
    const ptr = heap.malloc(size);
    heap.u8.fill(tag + 1, ptr, ptr + size);
    live.push([ptr, size]);
    if (live.length > 40) {
      const [old, oldSize] = live.shift();
      if (!heap.u8.subarray(old, old + oldSize).every((byte) => byte === tag + 1)) mismatches++;
      heap.free(old);
    }
  }
  for (const [ptr] of live) heap.free(ptr);
  postMessage({ owner: heap.owner, mismatches });
};
`;

Deno.test({
  name: "in a browser, the main thread spins for the lock while Web Workers wait, one heap intact" +
    (skip ? ` (SKIPPED: no Chromium at ${CHROMIUM_PATH}: apt-get install chromium)` : ""),
  ignore: skip,
  async fn() {
    const code = await bundle(new URL("../mod.ts", import.meta.url));
    const files: Record<string, [string, string]> = {
      "/": [PAGE, "text/html"],
      "/main.js": [MAIN, "text/javascript"],
      "/worker.js": [WORKER, "text/javascript"],
      "/mote.js": [code, "text/javascript"],
    };
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
      const [body, type] = files[new URL(request.url).pathname] ?? ["", "text/plain"];
      return new Response(body, {
        status: body ? 200 : 404,
        headers: {
          "content-type": type,
          // cross-origin isolation: without it a page gets no SharedArrayBuffer
          "cross-origin-opener-policy": "same-origin",
          "cross-origin-embedder-policy": "require-corp",
        },
      });
    });
    const browser = await Chromium.launch();
    try {
      const page = await browser.newPage(400, 300);
      await page.goto(`http://127.0.0.1:${server.addr.port}/`);
      const seen = await page.evaluate<Record<string, unknown>>("globalThis.result");
      assert.equal(seen.error, undefined, String(seen.error));
      assert.equal(seen.isolated, true);
      assert.equal(seen.mainMayWait, false, "a browser's main thread may not wait");
      const workers = seen.workers as { owner: number; mismatches: number }[];
      assert.deepEqual(workers.map((w) => w.mismatches), [0, 0]);
      assert.equal(new Set(workers.map((w) => w.owner)).size, 2);
      assert.equal(seen.mainMismatches, 0);
      assert.deepEqual(seen.problems, []);
      // the main thread's last 40 blocks and the record of live blocks, the workers' freed
      assert.equal(seen.usedBlocks, 41, "the main thread's last 40 blocks, the workers' freed");
      assert.equal(seen.lockHolder, 0);
      assert.match(String(seen.recover), /^TypeError: .*this runtime gives no proof/);
      assert.deepEqual(page.errors, []);
    } finally {
      await browser.close();
      await server.shutdown();
    }
  },
});
