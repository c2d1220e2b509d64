// The published module under Node: mod.ts bundled to JavaScript (Node 20 cannot import
// TypeScript), imported by a script that node runs, its results checked here.
import assert from "node:assert/strict";
import { bundle } from "../examples/browser/serve.ts";

const version = await new Deno.Command("node", { args: ["--version"] }).output().then(
  ({ stdout }) => new TextDecoder().decode(stdout).trim(),
  () => undefined,
);
// Node is on every machine of this project's kind, so in CI a missing node fails the test
const skip = version === undefined && !Deno.env.get("CI");
if (skip) console.warn("Skipping the Node test: `node` is not on the PATH.");

/** Runs in Node beside the bundle; prints what it saw as JSON. */
const SCRIPT = `
import { Heap, HeapMisuseError, OutOfMemoryError, heapMapSvg } from "./mote.js";

const decode = (bytes) => new TextDecoder().decode(bytes.slice());
const seen = {};
const heap = new Heap();
const hello = heap.malloc(5);
heap.bytes(hello, 5).set(new TextEncoder().encode("hello"));
seen.aligned = heap.alignedAlloc(4096, 10) % 4096;

// growth: where views cannot follow it (Node 20), the heap must hand out fresh ones
const before = heap.u8;
const pages = heap.memory.buffer.byteLength / 65536;
const big = heap.malloc(4 << 20);
seen.grew = heap.memory.buffer.byteLength / 65536 > pages;
seen.engineResizes = typeof WebAssembly.Memory.prototype.toResizableBuffer === "function";
seen.viewsFollowGrowth = heap.viewsFollowGrowth;
seen.oldViewDetached = before.byteLength === 0;
heap.u8[big + (4 << 20) - 1] = 9;
heap.view.setFloat64(big, Math.PI, true);
seen.lastByte = new Uint8Array(heap.memory.buffer)[big + (4 << 20) - 1];
seen.pi = new DataView(heap.memory.buffer).getFloat64(big, true);
seen.helloAfterGrowth = decode(heap.bytes(hello, 5));
const moved = heap.realloc(hello, 100_000);
seen.helloAfterRealloc = decode(heap.bytes(moved, 5));

// errors are the module's own classes
try { heap.free(moved + 16); } catch (error) { seen.misuse = error instanceof RangeError; }
const checked = new Heap({ checked: true });
const freed = checked.malloc(8);
checked.free(freed);
try { checked.free(freed); } catch (error) { seen.doubleFree = error instanceof HeapMisuseError && error.kind; }
const memory = new WebAssembly.Memory({ initial: 1 });
const region = new Heap({ memory, base: 4096, limit: 1 << 20 });
seen.regionPtr = region.malloc(10);
try { region.malloc(2 << 20); } catch (error) { seen.outOfMemory = error instanceof OutOfMemoryError; }

heap.free(big);
seen.problems = heap.check();
seen.usedBlocks = heap.stats().usedBlocks;
seen.map = heapMapSvg(heap).startsWith("<svg");
seen.node = process.version;
console.log(JSON.stringify(seen));
`;

Deno.test({
  name: "the published module runs unchanged in Node, growth and all" +
    (skip ? " (SKIPPED: no node on the PATH: install Node 20 or later)" : ""),
  ignore: skip,
  async fn() {
    const code = await bundle(new URL("../mod.ts", import.meta.url));
    assert.doesNotMatch(code, /\bDeno\./, "no Deno API on the import path");
    const dir = await Deno.makeTempDir({ prefix: "mote-node-" });
    try {
      await Deno.writeTextFile(`${dir}/mote.js`, code);
      await Deno.writeTextFile(`${dir}/run.mjs`, SCRIPT);
      const { success, stdout, stderr } = await new Deno.Command("node", {
        args: ["run.mjs"],
        cwd: dir,
      }).output();
      const decoder = new TextDecoder();
      assert.ok(success, `node failed:\n${decoder.decode(stderr)}`);
      const seen = JSON.parse(decoder.decode(stdout));
      assert.ok(Number(seen.node.match(/^v(\d+)/)[1]) >= 20, `Node ${seen.node}`);
      assert.equal(seen.aligned, 0);
      assert.equal(seen.grew, true, "a 4 MiB block grew the memory");
      assert.equal(seen.viewsFollowGrowth, seen.engineResizes);
      if (!seen.engineResizes) assert.equal(seen.oldViewDetached, true, "Node 20 detaches");
      assert.equal(seen.lastByte, 9, "heap.u8 read after growth is the live memory");
      assert.equal(seen.pi, Math.PI, "so is heap.view");
      assert.equal(seen.helloAfterGrowth, "hello");
      assert.equal(seen.helloAfterRealloc, "hello");
      assert.equal(seen.misuse, true);
      assert.equal(seen.doubleFree, "double-free", "the checked build works there too");
      assert.ok(seen.regionPtr > 4096, `region pointer ${seen.regionPtr}`);
      assert.equal(seen.outOfMemory, true);
      assert.deepEqual(seen.problems, []);
      assert.equal(seen.usedBlocks, 2, "the aligned block and the moved one");
      assert.equal(seen.map, true);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
