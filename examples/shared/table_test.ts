import assert from "node:assert/strict";
import { lockCost, runTable } from "./table.ts";

Deno.test("workers build one intact hash table in one shared heap", async () => {
  for (const workers of [1, 3]) {
    const run = await runTable(workers, { ops: 20_000, keys: 2000, buckets: 256 });
    assert.deepEqual(run.problems, []);
    assert.ok(run.entries > 0);
    assert.equal(run.usedBlocks, run.entries + 1); // the entries and the bucket array, no leak
    assert.ok(run.heapCalls > 0 && run.seconds > 0);
  }
});

Deno.test("the lock's cost is measured on both builds with the same calls", () => {
  const cost = lockCost(20_000, 3);
  assert.ok(cost.shared > 0 && cost.unshared > 0);
  assert.ok(Number.isFinite(cost.ratio) && cost.ratio > 0);
});
