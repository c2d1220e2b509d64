import assert from "node:assert/strict";
import { buildAll, compile, VARIANTS } from "./build.ts";

Deno.test("src/_wasm.ts is what the committed source builds to", async () => {
  const { text } = await buildAll();
  const committed = await Deno.readTextFile("src/_wasm.ts");
  assert.ok(committed === text, "src/_wasm.ts is stale: run `deno task build` and commit it");
});

Deno.test("the build is byte-reproducible", async () => {
  for (const variant of VARIANTS) {
    const [a, b] = await Promise.all([compile(variant), compile(variant)]);
    assert.deepEqual(a.wasm, b.wasm, variant.name);
  }
});
