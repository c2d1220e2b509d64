// Rust on mote: mote_alloc.rs, whose #[global_allocator] imports mote's C ABI, built with
// Debian's rustc for wasm32-unknown-unknown, its heap made by linkHeap before it is instantiated.
import assert from "node:assert/strict";
import { linkHeap } from "@mote/alloc";
import { memoryGrows, missingToolchain } from "../c/run.ts";

const SOURCE = new URL("mote_alloc.rs", import.meta.url).pathname;
const TARGET = "wasm32-unknown-unknown";

/** A rustc that has the wasm32 target's standard library (Debian's, or rustup's), if any. */
async function rustcForWasm(): Promise<string | undefined> {
  for (const rustc of ["/usr/bin/rustc", "rustc"]) {
    try {
      const { success, stdout } = await new Deno.Command(rustc, {
        args: ["--print", "target-libdir", "--target", TARGET],
        stderr: "null",
      }).output();
      const dir = new TextDecoder().decode(stdout).trim();
      if (success && [...Deno.readDirSync(dir)].length > 0) return rustc;
    } catch {
      // not installed, or no such target
    }
  }
  return undefined;
}

const rustc = await rustcForWasm();
const missing = [
  ...rustc
    ? []
    : [`no rustc with the ${TARGET} target; apt-get install rustc libstd-rust-dev-wasm32`],
  ...(await missingToolchain()).filter((m) => m.startsWith("llvm-objdump")),
];
// CI installs both (.ci/run), so there a missing one fails the test instead
const skip = missing.length > 0 && !Deno.env.get("CI");
if (skip) console.warn(`Skipping the Rust test: ${missing.join("; ")}`);

/** What `run(n)` in mote_alloc.rs returns, computed here the same way. */
function expected(n: number): number {
  const words = new Set<string>();
  let seed = 2463534242;
  let slices = 0;
  for (let i = 0; i < n; i++) {
    seed = (seed ^ (seed << 13)) >>> 0;
    seed = (seed ^ (seed >>> 17)) >>> 0;
    seed = (seed ^ (seed << 5)) >>> 0;
    let word = "";
    for (let k = 0; k < 1 + seed % 8; k++) word += "abcdef"[(seed >>> k) % 6];
    words.add(word);
    slices++;
    if (i % 3 === 0) slices--;
  }
  return words.size + slices * 1000;
}

Deno.test({
  name: "a Rust library with mote as its global allocator runs on mote wasm to wasm" +
    (skip ? ` (SKIPPED: ${missing.join("; ")})` : ""),
  ignore: skip,
  async fn(t) {
    assert.deepEqual(missing, [], "the Rust toolchain is missing");
    const out = await Deno.makeTempFile({ suffix: ".wasm" });
    let wasm: Uint8Array<ArrayBuffer>;
    try {
      const { success, stderr } = await new Deno.Command(rustc!, {
        args: [
          ...["--target", TARGET, "-O", "-C", "strip=debuginfo", "--crate-type", "cdylib"],
          ...["-C", "link-arg=--import-memory", "-C", "link-arg=--export=__heap_base"],
          ...["-o", out, SOURCE],
        ],
      }).output();
      assert.ok(success, new TextDecoder().decode(stderr));
      wasm = await Deno.readFile(out);
    } finally {
      await Deno.remove(out);
    }

    await t.step(
      "std's allocator is not linked: allocation is imported, memory not grown",
      async () => {
        const imports = WebAssembly.Module.imports(new WebAssembly.Module(wasm))
          .map((entry) => `${entry.module}.${entry.name}`);
        for (const name of ["malloc", "calloc", "realloc", "aligned_alloc", "free", "memory"]) {
          assert.ok(imports.includes(`env.${name}`), `imports env.${name}`);
        }
        assert.equal(await memoryGrows(wasm), 0);
      },
    );

    for (const checked of [false, true]) {
      await t.step(`on mote's ${checked ? "checked" : "release"} build`, async () => {
        const { heap, imports } = linkHeap(wasm, { checked });
        const { instance } = await WebAssembly.instantiate(wasm, imports);
        const run = instance.exports.run as (n: number) => number;
        assert.equal(run(5000), expected(5000)); // bit 31 set would mean a page misaligned
        assert.deepEqual(heap.check(), []);
        assert.equal(heap.stats().usedBlocks, 0, "Rust dropped everything it allocated");
      });
    }
  },
});
