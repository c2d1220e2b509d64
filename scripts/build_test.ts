import assert from "node:assert/strict";
import { buildAll, compile, overBudget, sizeTable, spliceSizeTable, VARIANTS } from "./build.ts";

Deno.test("src/_wasm.ts is what the committed source builds to", async () => {
  const { text } = await buildAll();
  const committed = await Deno.readTextFile("src/_wasm.ts");
  assert.ok(committed === text, "src/_wasm.ts is stale: run `deno task build` and commit it");
});

Deno.test("the build is byte-reproducible", async () => {
  for (const variant of VARIANTS) {
    const a = await compile(variant), b = await compile(variant); // as the build: one at a time
    assert.deepEqual(a.wasm, b.wasm, variant.name);
  }
});

Deno.test("the README states the modules' sizes as they are built", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const { builds } = await buildAll();
  const bytes = (name: string) =>
    builds.find((b) => b.variant.name === name)!.wasm.length.toLocaleString("en");
  const release = readme.match(
    /The release module is ([\d,]+) bytes \(own memory\) and ([\d,]+) bytes/,
  );
  assert.deepEqual(release?.slice(1), [bytes("ownWasm"), bytes("regionWasm")], "the Size section");
  assert.match(readme, new RegExp(`checked build is ${bytes("checkedWasm")} bytes`));
  assert.match(
    readme,
    new RegExp(
      `\\*\\*mote\\*\\* +\\| \\*\\*O\\(1\\)\\*\\* +\\| +\\*\\*${bytes("ownWasm")} B\\*\\*`,
    ),
  );
});

Deno.test("every module is within its budget; one past it fails the build", async () => {
  const { builds } = await buildAll();
  assert.deepEqual(overBudget(builds), []);
  const smallest = builds.find((b) => b.variant.name === "ownWasm")!;
  assert.ok(smallest.variant.budget! <= 2048, "the smallest module stays within two kilobytes");
  const grown = { ...smallest, wasm: new Uint8Array(smallest.variant.budget! + 1) };
  assert.deepEqual(overBudget([grown]), [
    `ownWasm is ${
      smallest.variant.budget! + 1
    } bytes, over its budget of ${smallest.variant.budget}`,
  ]);
});

Deno.test("the README's size table is the build's", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const { builds } = await buildAll();
  const table = await sizeTable(builds);
  assert.ok(readme.includes(`<!-- size:start -->\n\n${table}\n\n<!-- size:end -->`));
  assert.equal(spliceSizeTable(readme, table), readme);
});
