/**
 * Any allocator module as the fuzzer runs it: its ABI read from its exports, its imports
 * stubbed, and, given as bytes, its code in a worker with a watchdog. The worker shares the
 * allocator's memory (made shared by {@linkcode shareMemory}), so the fuzzer checks the very
 * bytes the allocator works on while each call crosses to the worker and back. A call that does
 * not return within the bound is a hang: the worker is terminated, the run fails naming the
 * call, and the next run starts a new worker. The bound is no wall-clock constant: it is the
 * given bound at the machine's speed when the worker started, stretched by how much slower the
 * machine is when it runs out (a fixed piece of work timed then and now, in this thread), and
 * never less than 20 times the slowest call answered so far. Every run is a fresh instance in a
 * fresh memory and every stub is deterministic, so a run replays the same operations whatever
 * came before it, and fast-check shrinks a hang like any other failure.
 */
import { type Abi, abiAllocator, type AbiName, detectAbi, soakAllocator } from "./_abi.ts";
import { type SharedModule, shareMemory } from "./_binary.ts";
import * as Control from "./_control.ts";
import { type Call, importsFor, instantiate } from "./_imports.ts";
import { OracleFailure } from "./_oracles.ts";
import { soak, type SoakParams, type SoakResult } from "./_soak.ts";
import { type Allocator, importsMemory } from "./_subject.ts";
import type { Init, Start } from "./_worker.ts";

/**
 * How long a worker may take to start (loaded, type-checked under `deno test`, the module
 * compiled): no allocator code runs yet, so no hang of it is judged; the bound only ends a wait
 * in an environment that cannot start workers at all, far beyond what any load makes of it.
 */
const STARTUP_MS = 600_000;
const PAGE = 65536;

/** A module under test: fresh instances of it, and its bounded-growth run. */
export class ThirdParty {
  readonly abi: Abi;
  /** The imports given stand-ins, as "module.name (what it does)". */
  readonly stubbed: readonly string[];
  /** Imported functions the fuzzer lacks: calling one fails the operation. */
  readonly lacking: readonly string[];
  /** The watchdog's bound in milliseconds, or undefined when the module runs in this thread. */
  readonly watchdogMs: number | undefined;
  readonly #module: WebAssembly.Module;
  readonly #shared: SharedModule | undefined;
  readonly #functions: string[];
  #worker: Worker | undefined;
  #control: Int32Array | undefined;
  #request = 0;
  #running = false;
  /** Milliseconds the fixed piece of work took when the worker started. */
  #baseline = 0;
  /** The slowest call answered so far, in milliseconds. */
  #slowest = 0;

  /**
   * `wasm` as bytes runs in a worker, watched with a bound of `watchdogMs`; as a compiled
   * module, in this thread, unwatched. Throws a one-line `TypeError` for a module that is no
   * allocator.
   */
  constructor(
    wasm: WebAssembly.Module | Uint8Array<ArrayBuffer>,
    options: { abi?: AbiName; watchdogMs: number },
  ) {
    try {
      this.#module = wasm instanceof WebAssembly.Module ? wasm : new WebAssembly.Module(wasm);
    } catch (error) {
      throw new TypeError(
        `The file is not a valid WebAssembly module: ${(error as Error).message}`,
      );
    }
    this.#functions = WebAssembly.Module.exports(this.#module)
      .filter((entry) => entry.kind === "function").map((entry) => entry.name);
    this.abi = detectAbi(this.#functions, options.abi);
    const listed = importsFor(this.#module, new WebAssembly.Memory({ initial: 0 }));
    ({ stubbed: this.stubbed, lacking: this.lacking } = listed);
    this.#shared = wasm instanceof WebAssembly.Module ? undefined : shareMemory(wasm);
    this.watchdogMs = this.#shared && options.watchdogMs;
  }

  /** A fresh instance in a fresh memory, driven through the C ABI. */
  allocator(alignment: number): Allocator {
    const { memory, call, maxBytes } = this.#shared ? this.#remote() : this.#local();
    return abiAllocator(this.abi, call, memory, alignment, maxBytes);
  }

  /** The bounded-growth run on a fresh instance. */
  soak(params: SoakParams): SoakResult {
    if (!this.#shared) {
      const { memory, call } = this.#local();
      return soak(soakAllocator(this.abi, call, memory), memory, undefined, params, () => {});
    }
    this.#remote();
    const control = this.#control!;
    Control.writeText(control, JSON.stringify(params));
    Atomics.store(control, Control.HEARTBEAT, 0);
    this.#send(Control.SOAK, "an operation of the bounded-growth run", true);
    return JSON.parse(Control.readText(control)) as SoakResult;
  }

  /** Ends the worker, if one runs. */
  close(): void {
    // a worker blocked in Atomics.wait is not ended by terminate(): let it go back to its loop
    if (this.#running && this.#worker) {
      try {
        this.#send(Control.END, "the end of the run");
      } catch { /* it hung: terminated already */ }
    }
    this.#stop();
  }

  #stop(): void {
    this.#worker?.terminate();
    this.#worker = undefined;
    this.#control = undefined;
    this.#running = false;
  }

  #local(): { memory: WebAssembly.Memory; call: Call; maxBytes: undefined } {
    const given = new WebAssembly.Memory({ initial: 1 });
    const { exports, call } = instantiate(this.#module, given);
    const memory = importsMemory(this.#module) ? given : exports.memory;
    if (!(memory instanceof WebAssembly.Memory)) {
      throw new TypeError("The module must export its memory as `memory` or import one");
    }
    return { memory, call, maxBytes: undefined };
  }

  #remote(): { memory: WebAssembly.Memory; call: Call; maxBytes: number } {
    const shared = this.#shared!;
    if (this.#running) this.#send(Control.END, "the end of the run");
    if (!this.#worker) this.#spawn();
    const { initial, maximum } = shared.limits;
    const memory = new WebAssembly.Memory({ initial, maximum, shared: true });
    const control = this.#control!;
    const request = ++this.#request;
    Atomics.store(control, Control.REQUEST, request);
    this.#worker!.postMessage({ type: "start", memory, request } satisfies Start);
    this.#await(request, "instantiating the module", false);
    this.#running = true;
    const index = new Map(this.#functions.map((name, i) => [name, i]));
    const call: Call = (name, args) => {
      control[Control.FUNCTION] = index.get(name)!;
      control[Control.ARGC] = args.length;
      for (let i = 0; i < args.length; i++) control[Control.ARG0 + i] = args[i];
      this.#send(Control.CALL, `${name}(${args.join(", ")})`);
      return control[Control.RESULT] >>> 0;
    };
    return { memory, call, maxBytes: maximum * PAGE };
  }

  #spawn(): void {
    const control = new Int32Array(new SharedArrayBuffer(Control.CONTROL_BYTES));
    const worker = new Worker(new URL("./_worker.ts", import.meta.url), { type: "module" });
    const shared = this.#shared!;
    worker.postMessage(
      {
        type: "init",
        control: control.buffer as SharedArrayBuffer,
        bytes: shared.bytes,
        functions: this.#functions,
        abi: this.abi,
        maxBytes: shared.limits.maximum * PAGE,
      } satisfies Init,
    );
    if (Atomics.wait(control, Control.READY, 0, STARTUP_MS) === "timed-out") {
      worker.terminate();
      throw new Error(`The fuzzer's worker did not start within ${STARTUP_MS / 1000} s`);
    }
    if (Atomics.load(control, Control.READY) === 2) {
      worker.terminate();
      throw new TypeError(
        `The module with its memory shared does not compile: ${Control.readText(control)}`,
      );
    }
    this.#worker = worker;
    this.#control = control;
    this.#baseline = work();
  }

  /** Sends a request and waits for its answer. */
  #send(op: number, what: string, beating = false): void {
    const control = this.#control!;
    control[Control.OP] = op;
    const request = ++this.#request;
    Atomics.store(control, Control.REQUEST, request);
    Atomics.notify(control, Control.REQUEST);
    const started = performance.now();
    this.#await(request, what, beating);
    if (op === Control.CALL) this.#slowest = Math.max(this.#slowest, performance.now() - started);
    if (op === Control.END) this.#running = false;
  }

  /**
   * Waits for request `request`; a bound without an answer (or, `beating`, without a heartbeat)
   * is a hang: the worker is terminated and an {@linkcode OracleFailure} thrown.
   */
  #await(request: number, what: string, beating: boolean): void {
    const control = this.#control!;
    let bound = Math.max(this.watchdogMs!, 20 * this.#slowest);
    let beat = Atomics.load(control, Control.HEARTBEAT), since = performance.now();
    for (;;) {
      const done = Atomics.load(control, Control.DONE);
      if (done === request) break;
      const left = bound - (performance.now() - since);
      if (left > 0 && Atomics.wait(control, Control.DONE, done, left) !== "timed-out") continue;
      if (Atomics.load(control, Control.DONE) === request) break;
      const now = Atomics.load(control, Control.HEARTBEAT);
      if (beating && now !== beat) {
        [beat, since] = [now, performance.now()];
        continue;
      }
      // a machine slower now than at the start stretches the bound by as much
      const stretched = Math.round(this.watchdogMs! * work() / this.#baseline);
      if (stretched > bound) {
        bound = stretched;
        continue;
      }
      // Deno's worker spins on in the allocator's code until the process exits (fuzzAllocator)
      this.#stop();
      const where = beating ? `${what} after operation ${now}` : what;
      throw new OracleFailure(
        "hang",
        `Hang: ${where} did not return within ${this.watchdogMs} ms at the machine's speed ` +
          `when its worker started`,
        "hung",
      );
    }
    if (control[Control.STATUS] === Control.THREW) {
      // the worker writes "name: message"; rethrown as that, so it prints as it would here
      const text = Control.readText(control);
      const [, name = "Error", message = ""] = /^(\w+): ([^]*)$/.exec(text) ?? [];
      const started = what.startsWith("instantiating") ? "The module could not be started: " : "";
      throw Object.assign(new Error(started + message), { name });
    }
  }
}

/**
 * Times a fixed piece of work in this thread, in milliseconds (the least of three tries): how
 * fast the machine runs now, against which the watchdog's bound is scaled.
 */
function work(): number {
  let least = Infinity, sum = 0;
  for (let attempt = 0; attempt < 3; attempt++) {
    const started = performance.now();
    for (let i = 0; i < 2_000_000; i++) sum = (sum + Math.imul(i, 0x9E3779B1)) | 0;
    least = Math.min(least, performance.now() - started);
  }
  return Math.max(least, 0.1) + (sum & 1) * 1e-9; // the work's result used, so that it is done
}
