/**
 * The worker an allocator runs in, so that the fuzzer can stop it when an operation hangs. It
 * compiles the module once, then for each run instantiates it in the shared memory it is sent
 * and serves calls from the control block, synchronously, until told to end the run.
 */
import { type Abi, soakAllocator } from "./_abi.ts";
import {
  ARG0,
  ARGC,
  CALL,
  DONE,
  END,
  FUNCTION,
  HEARTBEAT,
  OK,
  OP,
  readText,
  READY,
  REQUEST,
  RESULT,
  SOAK,
  STATUS,
  THREW,
  writeText,
} from "./_control.ts";
import { importsFor, startInstance } from "./_imports.ts";
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

let init: Init;
let control: Int32Array;
let module: WebAssembly.Module;

function answer(request: number, status: number, result = 0, text?: string): void {
  if (text !== undefined) writeText(control, text);
  control[RESULT] = result;
  control[STATUS] = status;
  Atomics.store(control, DONE, request);
  Atomics.notify(control, DONE);
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function serve({ memory, request }: Start): void {
  let exports: WebAssembly.Exports;
  try {
    const { imports } = importsFor(module, memory);
    exports = new WebAssembly.Instance(module, imports).exports;
    startInstance(exports);
    answer(request, OK);
  } catch (error) {
    answer(request, THREW, 0, describe(error));
    return;
  }
  const functions = init.functions.map((name) => exports[name] as (...a: number[]) => number);
  const call = (name: string, args: readonly number[]) =>
    ((exports[name] as (...a: number[]) => number)(...args) ?? 0) >>> 0;
  let seen = request;
  for (;;) {
    Atomics.wait(control, REQUEST, seen);
    const current = Atomics.load(control, REQUEST);
    seen = current;
    const op = control[OP];
    if (op === END) return answer(current, OK);
    try {
      if (op === CALL) {
        const args = Array.from({ length: control[ARGC] }, (_, i) => control[ARG0 + i] >>> 0);
        const result = functions[control[FUNCTION]](...args);
        answer(current, OK, Number(result ?? 0) >>> 0);
      } else if (op === SOAK) {
        const params = JSON.parse(readText(control)) as SoakParams;
        const allocator = soakAllocator(init.abi, call, memory);
        const result = soak(allocator, memory, init.maxBytes, params, (done) => {
          Atomics.store(control, HEARTBEAT, done);
        });
        answer(current, OK, 0, JSON.stringify(result));
      }
    } catch (error) {
      answer(current, THREW, 0, describe(error));
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
    Atomics.store(control, READY, 1);
  } catch (error) {
    writeText(control, describe(error));
    Atomics.store(control, READY, 2);
  }
  Atomics.notify(control, READY);
};
