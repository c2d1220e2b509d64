import assert from "node:assert/strict";
import { lockCost, runTable, unrecordedModule } from "./table.ts";
import { churnRate } from "./_churn.ts";

Deno.test("workers build one intact hash table in one shared heap", async () => {
  for (const workers of [1, 3]) {
    const run = await runTable(workers, { ops: 20_000, keys: 2000, buckets: 256 });
    assert.deepEqual(run.problems, []);
    assert.ok(run.entries > 0);
    // the entries, the bucket array and the record of live blocks: no leak
    assert.equal(run.usedBlocks, run.entries + 2);
    assert.ok(run.heapCalls > 0 && run.seconds > 0);
  }
});

Deno.test("the lock's and the record's costs are measured on every build with the same calls", async () => {
  const cost = lockCost(await unrecordedModule(), 20_000, 3);
  assert.ok(cost.shared > 0 && cost.unshared > 0 && cost.unrecorded > 0);
  for (const ratio of [cost.ratio, cost.recordRatio, cost.apiRecordRatio]) {
    assert.ok(Number.isFinite(ratio) && ratio > 0);
  }
});

Deno.test("one thread, and 1 or 2 workers on a shared heap or heaps of their own, churn alike", async () => {
  for (const workers of [0, 1, 2]) {
    for (const shared of workers ? [true, false] : [false]) {
      const rate = await churnRate({ workers, shared }, 20_000);
      assert.ok(Number.isFinite(rate) && rate > 0, `${workers} workers, shared ${shared}`);
    }
  }
});
