/**
 * The worker of src/shared_test.ts: it attaches to the shared heap it is sent and does what the
 * message's `task` says, answering with what it saw.
 *
 * @module
 */
import { Heap, type SharedHeap } from "./heap.ts";
import { sharedEngine, spinOnly } from "./_shared_engine.ts";

/** What the test asks a worker to do. */
export type Task =
  | { readonly task: "api"; readonly shared: SharedHeap }
  | {
    readonly task: "threaded";
    readonly shared: SharedHeap;
    readonly wasm: WebAssembly.Module;
    readonly head: number;
    readonly count: number;
    readonly tag: number;
  }
  | { readonly task: "hold"; readonly shared: SharedHeap }
  | { readonly task: "busy"; readonly shared: SharedHeap; readonly flags: SharedArrayBuffer }
  | { readonly task: "contend"; readonly shared: SharedHeap; readonly spin: boolean };

const scope = globalThis as unknown as {
  onmessage: (event: MessageEvent<Task>) => void;
  postMessage(message: unknown): void;
};

/** The name of the error `call` throws, or "no error". */
function refusal(call: () => void): string {
  try {
    call();
    return "no error";
  } catch (error) {
    return (error as Error).name;
  }
}

scope.onmessage = ({ data }) => {
  if (data.task === "api") {
    // the Heap API, attached: allocate, write, grow, align, zero, free
    const heap = Heap.attach(data.shared);
    const kept = heap.malloc(100);
    heap.bytes(kept, 100).fill(7);
    const grown = heap.realloc(kept, 5000);
    const zeroed = heap.calloc(10, 10);
    const aligned = heap.alignedAlloc(4096, 10);
    heap.free(aligned);
    scope.postMessage({
      owner: heap.owner,
      limit: heap.limit,
      grown,
      usable: heap.usableSize(grown),
      sevens: heap.bytes(grown, 100).every((byte) => byte === 7),
      zeroed: heap.bytes(zeroed, 100).every((byte) => byte === 0),
      aligned: aligned % 4096,
      problems: heap.check(),
      freeTwice: refusal(() => heap.free(aligned)),
      // a pointer inside a live block, behind a header forged there: refused all the same
      interior: refusal(() => {
        heap.view.setUint32(zeroed + 12, 16, true);
        heap.free(zeroed + 16);
      }),
      interiorProblems: heap.check(),
    });
  } else if (data.task === "threaded") {
    // a wasm module built with threads, its allocator the attached heap's exports
    const heap = Heap.attach(data.shared);
    const instance = new WebAssembly.Instance(data.wasm, { env: { ...heap.exports } });
    const push = instance.exports.push as (head: number, count: number, tag: number) => number;
    scope.postMessage({ pushed: push(data.head, data.count, data.tag) });
  } else if (data.task === "contend") {
    // a call while another thread holds the lock: waiting for it, or spinning as a browser's
    // main thread must
    if (data.spin) spinOnly();
    const heap = Heap.attach(data.shared);
    scope.postMessage({ attached: true });
    scope.postMessage({ ptr: heap.malloc(64) });
  } else if (data.task === "busy") {
    // heap calls in a synchronous loop, counted in flags[0], until flags[1] asks it to stop
    const heap = Heap.attach(data.shared), flags = new Int32Array(data.flags);
    scope.postMessage({ owner: heap.owner });
    while (Atomics.load(flags, 1) === 0) {
      heap.free(heap.malloc(64));
      Atomics.add(flags, 0, 1);
    }
  } else {
    // a thread that dies in the middle of a call: it takes the lock and never gives it up
    const engine = sharedEngine(data.shared.memory, data.shared.base, true);
    (engine.calls as unknown as { mote_lock(): void }).mote_lock();
    scope.postMessage({ owner: engine.sharing.owner });
    while (true) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
  }
};
