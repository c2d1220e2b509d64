import assert from "node:assert/strict";

async function demo(...args: string[]): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-write", new URL("./demo.ts", import.meta.url).pathname, ...args],
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  return new TextDecoder().decode(stdout);
}

Deno.test("deno task demo runs, and its heap stays intact", async () => {
  const text = await demo("--ops", "20000", "--seed", "3");
  assert.match(
    text,
    /operations per second through the argument-checked Heap API \(release build\)/,
  );
  assert.match(text, /Integrity: every check passes/);
  assert.match(text, /\|[#+. ]{64}\|/, "a map of the heap");
});

Deno.test("docs/heap-map.svg is what deno task demo draws today", async () => {
  const path = await Deno.makeTempFile({ suffix: ".svg" });
  await demo("--svg", path);
  const drawn = await Deno.readTextFile(path);
  assert.equal((drawn.match(/<svg y=/g) ?? []).length, 3, "three maps stacked");
  const committed = await Deno.readTextFile(new URL("../docs/heap-map.svg", import.meta.url));
  assert.ok(committed === drawn, "docs/heap-map.svg is stale: run `deno task demo`");
  assert.ok(drawn.length < 100_000, `the README's picture is ${drawn.length} bytes`);
  await Deno.remove(path);
});
