/**
 * Stand-ins for the functions allocators commonly import: what AssemblyScript, WASI (wasi-libc,
 * Rust's wasm32-wasi) and Emscripten link against even when all a module does is allocate. Each
 * is deterministic, so a run replays the same: clocks read 0, random bytes are a fixed sequence,
 * nothing reaches the console, and exiting or aborting fails the operation that did it.
 */

import { MAX_LIMIT } from "../src/_layout.ts";

/** Calls an export by name with i32 arguments and reads its result unsigned. */
export type Call = (name: string, args: readonly number[]) => number;

/** The errno WASI answers for what it does not support. */
const ENOSYS = 52;
const WASI = "wasi_snapshot_preview1";

/** Thrown by a stub that ends the program: abort, exit, a failed assertion. */
export class ImportTrap extends Error {
  override name = "ImportTrap";
}

type Fn = (...args: number[]) => number | void | bigint;

function table(memory: WebAssembly.Memory): Record<string, Record<string, [string, Fn]>> {
  const view = () => new DataView(memory.buffer);
  let random = 0x2545F491;
  const nextByte = () => {
    random ^= random << 13, random ^= random >>> 17, random ^= random << 5;
    return random & 255;
  };
  const noneSizes: Fn = (count, size) => {
    view().setUint32(count, 0, true), view().setUint32(size, 0, true);
    return 0;
  };
  const wasi: Record<string, [string, Fn]> = {
    proc_exit: ["fails the operation", (code) => {
      throw new ImportTrap(`The allocator exited with code ${code}`);
    }],
    fd_write: ["discards the output", (_fd, iovs, count, written) => {
      let total = 0;
      for (let i = 0; i < count; i++) total += view().getUint32(iovs + 8 * i + 4, true);
      view().setUint32(written, total, true);
      return 0;
    }],
    environ_sizes_get: ["no variables", noneSizes],
    environ_get: ["no variables", () => 0],
    args_sizes_get: ["no arguments", noneSizes],
    args_get: ["no arguments", () => 0],
    clock_time_get: ["time 0", (_id, _precision, time) => {
      view().setBigUint64(time as number, 0n, true);
      return 0;
    }],
    random_get: ["a fixed sequence", (buffer, length) => {
      const bytes = new Uint8Array(memory.buffer, buffer, length);
      for (let i = 0; i < length; i++) bytes[i] = nextByte();
      return 0;
    }],
    sched_yield: ["returns", () => 0],
  };
  const emscripten: Record<string, [string, Fn]> = {
    emscripten_resize_heap: ["grows the memory", (requested) => {
      const pages = Math.ceil((requested >>> 0) / 65536) - memory.buffer.byteLength / 65536;
      try {
        if (pages > 0) memory.grow(pages);
        return 1;
      } catch {
        return 0;
      }
    }],
    emscripten_memcpy_big: ["copies", (dest, src, n) => {
      new Uint8Array(memory.buffer).copyWithin(dest, src, src + n);
    }],
    emscripten_notify_memory_growth: ["returns", () => {}],
    emscripten_get_heap_max: ["the memory's maximum", () => 2 ** 31],
    setTempRet0: ["returns", () => {}],
    getTempRet0: ["returns 0", () => 0],
    abort: ["fails the operation", (message, file, line) => {
      throw new ImportTrap(
        message === undefined ? "The allocator aborted" : `The allocator aborted (${message}` +
          `${file === undefined ? "" : ` at ${file}:${line}`})`,
      );
    }],
    __assert_fail: ["fails the operation", () => {
      throw new ImportTrap("The allocator failed an assertion");
    }],
    seed: ["a fixed seed", () => 42],
    trace: ["discards the output", () => {}],
  };
  return { env: emscripten, [WASI]: wasi };
}

/**
 * The imports for an instance of `module` in `memory`: the memory where it is asked for, a
 * stand-in for each function above, and for any other function one that throws naming it.
 * `stubbed` lists the stand-ins given, as "module.name (what it does)"; `lacking`, the
 * functions that throw.
 */
export function importsFor(
  module: WebAssembly.Module,
  memory: WebAssembly.Memory,
): { imports: WebAssembly.Imports; stubbed: string[]; lacking: string[] } {
  const known = table(memory);
  const imports: Record<string, Record<string, unknown>> = {};
  const stubbed: string[] = [], lacking: string[] = [];
  for (const { module: from, name, kind } of WebAssembly.Module.imports(module)) {
    imports[from] ??= {};
    if (kind === "memory") {
      imports[from][name] = memory;
      continue;
    }
    if (kind !== "function") {
      throw new TypeError(`The module imports a ${kind}, ${from}.${name}, which the fuzzer lacks`);
    }
    const group = from.startsWith("wasi") ? known[WASI] : known.env;
    const stub = Object.hasOwn(group, name) ? group[name] : undefined;
    if (stub) {
      imports[from][name] = stub[1];
      stubbed.push(`${from}.${name} (${stub[0]})`);
    } else if (from === WASI) {
      imports[from][name] = () => ENOSYS;
      stubbed.push(`${from}.${name} (answers ENOSYS)`);
    } else {
      imports[from][name] = () => {
        throw new ImportTrap(`The allocator called ${from}.${name}, which the fuzzer lacks`);
      };
      lacking.push(`${from}.${name}`);
    }
  }
  return { imports: imports as WebAssembly.Imports, stubbed, lacking };
}

/**
 * A fresh instance of `module` in `memory` with the imports above, started as its toolchain
 * would: a WASI reactor's `_initialize`, and a mote build's `mote_init` over all of wasm32 from
 * address 0, as `new Heap()` starts one. `call` calls an export by name.
 */
export function instantiate(
  module: WebAssembly.Module,
  memory: WebAssembly.Memory,
): { exports: WebAssembly.Exports; call: Call } {
  const { exports } = new WebAssembly.Instance(module, importsFor(module, memory).imports);
  (exports._initialize as (() => void) | undefined)?.();
  (exports.mote_init as ((base: number, limitEnd: number) => number) | undefined)?.(0, MAX_LIMIT);
  const call: Call = (name, args) =>
    Number((exports[name] as (...a: number[]) => number)(...args) ?? 0) >>> 0;
  return { exports, call };
}
