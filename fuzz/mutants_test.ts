// The mutation run's mutants must apply to today's sources: when a file changes, this names
// exactly the edits to re-anchor. The run itself is `deno run -A fuzz/mutants.ts`.
import assert from "node:assert/strict";
import { fileOf, MUTANTS, unapplied } from "./_mutants.ts";

const sources = new Map<string, string>();
for (const file of new Set(MUTANTS.map(fileOf))) {
  sources.set(file, await Deno.readTextFile(new URL(`../${file}`, import.meta.url)));
}

Deno.test("every mutant's text occurs exactly once in its file", () => {
  assert.deepEqual(unapplied((file) => sources.get(file)!), []);
});

Deno.test("mutants are single edits with unique names, at least 40 of them", () => {
  assert.ok(MUTANTS.length >= 40);
  assert.equal(new Set(MUTANTS.map((m) => m.name)).size, MUTANTS.length);
  for (const mutant of MUTANTS) assert.notEqual(mutant.find, mutant.replace, mutant.name);
});
