// The mutation run's mutants must apply to today's asm/mote.ts: when the allocator changes, this
// names exactly the edits to re-anchor. The run itself is `deno run -A fuzz/mutants.ts`.
import assert from "node:assert/strict";
import { MUTANTS, unapplied } from "./_mutants.ts";

const source = await Deno.readTextFile(new URL("../asm/mote.ts", import.meta.url));

Deno.test("every mutant's text occurs exactly once in asm/mote.ts", () => {
  assert.deepEqual(unapplied(source), []);
});

Deno.test("mutants are single edits with unique names, at least 40 of them", () => {
  assert.ok(MUTANTS.length >= 40);
  assert.equal(new Set(MUTANTS.map((m) => m.name)).size, MUTANTS.length);
  for (const mutant of MUTANTS) assert.notEqual(mutant.find, mutant.replace, mutant.name);
});
