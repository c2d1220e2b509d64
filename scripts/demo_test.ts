import assert from "node:assert/strict";

Deno.test("deno task demo runs, and its heap stays intact", async () => {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", new URL("./demo.ts", import.meta.url).pathname, "--ops", "20000", "--seed", "3"],
  }).output();
  const text = new TextDecoder().decode(stdout);
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  assert.match(text, /operations per second/);
  assert.match(text, /Integrity: every check passes/);
  assert.match(text, /\|[#+. ]{64}\|/, "a map of the heap");
});
