/**
 * The side-by-side throughput of table.ts: one seeded sequence of malloc and free calls, run by
 * one thread on its own heap, or split among workers that share one heap or each keep their own,
 * so that what sharing costs shows beside what threads gain (the workers: _churn_worker.ts).
 *
 * @module
 */
import { Heap, type SharedHeap } from "../../mod.ts";
import { seeded } from "../../src/_test_util.ts";

/** What a churn worker is sent: the shared heap, or none for a private heap of its own. */
export interface ChurnJob {
  readonly shared?: SharedHeap;
  readonly calls: number;
  readonly seed: number;
  /** Int32 0 counts the workers at the start line; int32 1 is 0 until they all are there. */
  readonly barrier: SharedArrayBuffer;
  readonly workers: number;
}

/**
 * `calls` seeded calls on `heap`'s raw exports (sizes 1 to 512 bytes, up to 256 blocks live per
 * thread), freeing what stays live at the end; how many milliseconds they took.
 */
export function churn(heap: Heap, calls: number, seed: number): number {
  const { malloc, free } = heap.exports;
  const random = seeded(seed);
  const slots = new Array<number>(256).fill(0);
  const start = performance.now();
  for (let call = 0; call < calls; call++) {
    const slot = random(slots.length);
    if (slots[slot]) {
      free(slots[slot]);
      slots[slot] = 0;
    } else slots[slot] = malloc(1 + random(512));
  }
  const elapsed = performance.now() - start;
  for (const ptr of slots) if (ptr) free(ptr);
  return elapsed;
}

/** One configuration of the comparison. */
export interface ChurnSetup {
  /** 0: the calling thread itself, on a heap of its own. */
  readonly workers: number;
  /** Whether the workers share one heap, or each has its own. */
  readonly shared: boolean;
}

/**
 * Heap calls per second of `calls` seeded calls split among the setup's threads, each thread's
 * share timed by itself from one start line: the calls over the slowest thread's time.
 */
export async function churnRate(setup: ChurnSetup, calls: number): Promise<number> {
  if (setup.workers === 0) return calls / churn(new Heap({ limit: 64 << 20 }), calls, 1) * 1000;
  const heap = setup.shared ? new Heap({ shared: true }) : undefined;
  const barrier = new SharedArrayBuffer(8);
  const url = new URL("./_churn_worker.ts", import.meta.url).href;
  const pool = Array.from({ length: setup.workers }, () => new Worker(url, { type: "module" }));
  try {
    const times = await Promise.all(
      pool.map((worker, i) =>
        new Promise<number>((resolve, reject) => {
          worker.onmessage = (event) => resolve(event.data);
          worker.onerror = (event) => {
            event.preventDefault();
            reject(new Error(`Churn worker ${i}: ${event.message}`));
          };
          const job: ChurnJob = {
            shared: heap?.share(),
            calls: Math.ceil(calls / setup.workers),
            seed: 1 + i,
            barrier,
            workers: setup.workers,
          };
          worker.postMessage(job);
        })
      ),
    );
    const problems = heap?.check() ?? [];
    if (problems.length) throw new Error(`The shared heap after the churn: ${problems[0]}`);
    return calls / Math.max(...times) * 1000;
  } finally {
    for (const worker of pool) worker.terminate();
  }
}
