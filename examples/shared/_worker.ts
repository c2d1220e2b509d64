/**
 * A worker of the shared table (table.ts): it attaches to the shared heap and runs its share of
 * the operations on the one hash table that every worker updates, each entry a block of mote's.
 *
 * @module
 */
import { Heap } from "../../mod.ts";
import { seeded } from "../../src/_test_util.ts";
import { bucketOf, ENTRY, keyBytes, type TableJob, valueByte } from "./_table.ts";

const scope = globalThis as unknown as {
  onmessage: (event: MessageEvent<TableJob>) => void;
  postMessage(message: unknown): void;
};

scope.onmessage = ({ data: job }) => {
  const heap = Heap.attach(job.shared);
  // the buckets come first in the heap: a view made now reaches them however the memory grows
  const words = new Int32Array(heap.memory.buffer);
  const random = seeded(job.seed);
  const names = Array.from({ length: job.keys }, (_, key) => keyBytes(key));
  const counts = { puts: 0, gets: 0, deletes: 0, heapCalls: 0, mismatches: 0 };

  const lock = (bucket: number) => {
    const at = (job.table >> 2) + bucket * 2;
    while (Atomics.compareExchange(words, at, 0, 1) !== 0) Atomics.wait(words, at, 1, 0.01);
    return at;
  };
  const unlock = (at: number) => {
    Atomics.store(words, at, 0);
    Atomics.notify(words, at, 1);
  };

  const arrived = new Int32Array(job.barrier);
  Atomics.add(arrived, 0, 1);
  while (Atomics.load(arrived, 0) < job.workers); // all start together
  const start = performance.timeOrigin + performance.now();

  for (let op = 0; op < job.ops; op++) {
    const key = random(job.keys);
    const name = names[key];
    const at = lock(bucketOf(key, job.buckets));
    const u8 = heap.u8, view = heap.view; // fresh after any growth
    // find the entry: [next, key length, value length, key bytes, value bytes]
    let prev = (at + 1) << 2, node = view.getUint32(prev, true);
    while (node) {
      if (
        view.getUint32(node + 4, true) === name.length &&
        name.every((byte, i) => u8[node + ENTRY + i] === byte)
      ) break;
      prev = node;
      node = view.getUint32(node, true);
    }
    const roll = random(100);
    if (roll < 50) { // put: a value of a new length, the entry resized or made
      const length = random(200);
      const size = ENTRY + name.length + length;
      if (node) {
        const moved = heap.realloc(node, size);
        counts.heapCalls++;
        if (moved !== node) heap.view.setUint32(prev, moved, true);
        node = moved;
      } else {
        node = heap.malloc(size);
        counts.heapCalls++;
        heap.view.setUint32(node, heap.view.getUint32(prev, true), true);
        heap.view.setUint32(node + 4, name.length, true);
        heap.u8.set(name, node + ENTRY);
        heap.view.setUint32(prev, node, true);
      }
      heap.view.setUint32(node + 8, length, true);
      const bytes = heap.u8, from = node + ENTRY + name.length;
      for (let i = 0; i < length; i++) bytes[from + i] = valueByte(key, length, i);
      counts.puts++;
    } else if (roll < 80) { // get: the value is whole, whoever wrote it
      if (node) {
        const length = view.getUint32(node + 8, true);
        const from = node + ENTRY + name.length;
        for (let i = 0; i < length; i++) {
          if (u8[from + i] !== valueByte(key, length, i)) counts.mismatches++;
        }
      }
      counts.gets++;
    } else { // delete, freeing a block that any worker may have made
      if (node) {
        view.setUint32(prev, view.getUint32(node, true), true);
        heap.free(node);
        counts.heapCalls++;
      }
      counts.deletes++;
    }
    unlock(at);
  }
  scope.postMessage({ ...counts, start, end: performance.timeOrigin + performance.now() });
};
