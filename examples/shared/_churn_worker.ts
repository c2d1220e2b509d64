/**
 * A worker of the side-by-side throughput (_churn.ts): on the shared heap it is sent, or on a
 * heap of its own, it waits at the start line for the others, then runs its share of the calls.
 *
 * @module
 */
import { Heap } from "../../mod.ts";
import { churn, type ChurnJob } from "./_churn.ts";

const scope = globalThis as unknown as {
  onmessage: (event: MessageEvent<ChurnJob>) => void;
  postMessage(message: unknown): void;
};

scope.onmessage = ({ data: job }) => {
  const heap = job.shared ? Heap.attach(job.shared) : new Heap({ limit: 64 << 20 });
  const line = new Int32Array(job.barrier);
  if (Atomics.add(line, 0, 1) + 1 === job.workers) Atomics.store(line, 1, 1);
  while (Atomics.load(line, 1) === 0); // all start together, on the CPU
  scope.postMessage(churn(heap, job.calls, job.seed));
};
