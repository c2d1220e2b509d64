// The mutation run's mutants must apply to today's sources: when a file changes, this names
// exactly the edits to re-anchor. The run itself is `deno run -A fuzz/mutants.ts`.
import assert from "node:assert/strict";
import { misfit, MUTANTS } from "./_mutants.ts";

const read = (file: string) => Deno.readTextFileSync(new URL(`../${file}`, import.meta.url));

Deno.test("every mutant's text occurs exactly once in its file", () => {
  assert.deepEqual(MUTANTS.map((m) => misfit(read(m.file), m)).filter(Boolean), []);
});

Deno.test("mutants are single edits with unique names, at least 40 of them", () => {
  assert.ok(MUTANTS.length >= 40);
  assert.equal(new Set(MUTANTS.map((m) => m.name)).size, MUTANTS.length);
  for (const mutant of MUTANTS) assert.notEqual(mutant.find, mutant.replace, mutant.name);
});
