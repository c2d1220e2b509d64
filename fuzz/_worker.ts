/**
 * The worker an allocator runs in, so that the fuzzer can stop it when an operation hangs. It
 * compiles the module once, then for each run instantiates it in the shared memory it is sent
 * and serves calls from the control block, synchronously, until told to end the run.
 */
import { type Abi, soakAllocator } from "./_abi.ts";
import * as Control from "./_control.ts";
import { type Call, instantiate } from "./_imports.ts";
import { soak, type SoakParams } from "./_soak.ts";

/** The first message: the control block and what to run. */
export interface Init {
  readonly type: "init";
  readonly control: SharedArrayBuffer;
  readonly bytes: Uint8Array<ArrayBuffer>;
  /** The exports calls name by index. */
  readonly functions: readonly string[];
  readonly abi: Abi;
  readonly maxBytes: number;
}

/** A message per run: a fresh instance in `memory`, answered as request `request`. */
export interface Start {
  readonly type: "start";
  readonly memory: WebAssembly.Memory;
  readonly request: number;
}

let init: Init, control: Int32Array, module: WebAssembly.Module;

function answer(request: number, status: number, result = 0, text?: string): void {
  if (text !== undefined) Control.writeText(control, text);
  control[Control.RESULT] = result;
  control[Control.STATUS] = status;
  Atomics.store(control, Control.DONE, request);
  Atomics.notify(control, Control.DONE);
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function serve({ memory, request }: Start): void {
  let call: Call;
  try {
    ({ call } = instantiate(module, memory));
    answer(request, Control.OK);
  } catch (error) {
    return answer(request, Control.THREW, 0, describe(error));
  }
  let seen = request;
  for (;;) {
    Atomics.wait(control, Control.REQUEST, seen);
    seen = Atomics.load(control, Control.REQUEST);
    const op = control[Control.OP];
    if (op === Control.END) return answer(seen, Control.OK);
    try {
      if (op === Control.CALL) {
        const argc = control[Control.ARGC];
        const args = [...control.subarray(Control.ARG0, Control.ARG0 + argc)].map((a) => a >>> 0);
        answer(seen, Control.OK, call(init.functions[control[Control.FUNCTION]], args));
      } else if (op === Control.SOAK) {
        const params = JSON.parse(Control.readText(control)) as SoakParams;
        const allocator = soakAllocator(init.abi, call, memory);
        const result = soak(allocator, memory, init.maxBytes, params, (done) => {
          Atomics.store(control, Control.HEARTBEAT, done);
        });
        answer(seen, Control.OK, 0, JSON.stringify(result));
      }
    } catch (error) {
      answer(seen, Control.THREW, 0, describe(error));
    }
  }
}

// deno-lint-ignore no-explicit-any
const scope = self as any;
scope.onmessage = (event: MessageEvent<Init | Start>) => {
  if (event.data.type === "start") return serve(event.data);
  init = event.data;
  control = new Int32Array(init.control);
  try {
    module = new WebAssembly.Module(init.bytes);
    Atomics.store(control, Control.READY, 1);
  } catch (error) {
    Control.writeText(control, describe(error));
    Atomics.store(control, Control.READY, 2);
  }
  Atomics.notify(control, Control.READY);
};
