// deno task merge on the C program of examples/c: the merged module carries mote, imports
// nothing for allocation or memory, runs as a plain WASI program with the output the program has
// on dlmalloc, and leaves an intact heap that mote's own reader checks.
import assert from "node:assert/strict";
import { readHeap, rootOf } from "../../src/_heap_reader.ts";
import { compileProgram, missingToolchain, runOnOwnAllocator } from "./run.ts";
import { mergeMote } from "../../scripts/merge.ts";

const missing = await missingToolchain();
// CI installs the toolchain (.ci/run), so there a missing one fails the test instead
const skip = missing.length > 0 && !Deno.env.get("CI");
if (skip) console.warn(`Skipping the merge test: ${missing.join("; ")}`);

Deno.test({
  name: "merge puts mote inside an allocator-less C program, started at its __heap_base" +
    (skip ? ` (SKIPPED: ${missing.join("; ")})` : ""),
  ignore: skip,
  async fn() {
    assert.deepEqual(missing, [], "the C toolchain is missing");
    const [program, onDlmalloc] = await Promise.all([
      compileProgram("mote"),
      compileProgram("dlmalloc"),
    ]);
    const merged = await mergeMote(program);
    const module = new WebAssembly.Module(merged);
    assert.deepEqual(
      WebAssembly.Module.imports(module).filter((entry) =>
        entry.module !== "wasi_snapshot_preview1"
      ),
      [],
      "no import but WASI's",
    );

    const run = await runOnOwnAllocator(merged);
    assert.equal(run.stdout, (await runOnOwnAllocator(onDlmalloc)).stdout);
    assert.equal(run.exitCode, 0);

    const value = (name: string) => (run.exports[name] as WebAssembly.Global).value >>> 0;
    const memory = run.exports.memory as WebAssembly.Memory;
    const heap = readHeap({
      buffer: memory.buffer as ArrayBuffer,
      root: rootOf(value("__heap_base")),
      top: value("mote_top"),
      limit: value("mote_limit"),
    });
    assert.deepEqual(heap.problems, []);
    assert.ok(heap.picture.blocks.length > 0, "libc's blocks, allocated by mote");
  },
});

Deno.test("merge refuses a module it could not link, naming why", async () => {
  // (module (memory 1)): a memory of its own
  const own = Uint8Array.from([0, 97, 115, 109, 1, 0, 0, 0, 5, 3, 1, 0, 1]);
  await assert.rejects(mergeMote(own), /defines its own memory/);
});
