/**
 * A C program on mote: alloc_heavy.c, compiled with clang and Debian's wasi-libc, its libc's
 * allocator replaced by mote's through the package's c/mote_shim.c, run under `node:wasi` with
 * every allocation a call from the program's wasm straight into mote's.
 *
 *     deno task example:c [rounds]              compile, run on mote, print its output and heap
 *     deno task example:c --checked -- --double-free   the checked build catching a double free
 *
 * Needs clang, lld, wasi-libc and libclang-rt-dev-wasm32 (Debian's packages; `.ci/run` installs
 * them).
 *
 * @module
 */
import { WASI } from "node:wasi";
import { closeSync, openSync, readFileSync } from "node:fs";
import { type Heap, HeapMisuseError, linkHeap } from "@mote/alloc";
import { parseArgs } from "../../scripts/_cli.ts";

const HERE = new URL(".", import.meta.url);
const SHIM = new URL("../../c/mote_shim.c", HERE).pathname;
const SHIM_DIR = new URL("../../c/", HERE).pathname;
const WASI_LIBC = "/usr/lib/wasm32-wasi/libc.a";
const PACKAGES = "clang lld wasi-libc libclang-rt-dev-wasm32 llvm";

/** How a C program is linked for mote: its memory imported, its heap's base exported. */
export const LINK_FLAGS = ["-Wl,--import-memory", "-Wl,--export=__heap_base"];

/** What a run of a WASI program gives back. */
export interface Run {
  /** Its exit code. */
  exitCode: number;
  /** What it wrote to stdout. */
  stdout: string;
  /** Its memory's size at exit, in bytes. */
  memoryBytes: number;
  /** Its exports, memory included. */
  exports: WebAssembly.Exports;
}

async function output(command: string, args: string[]): Promise<string | undefined> {
  try {
    const { success, stdout } = await new Deno.Command(command, { args, stderr: "null" }).output();
    return success ? new TextDecoder().decode(stdout).trim() : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What the C toolchain lacks, one sentence each, naming the package to install; empty when
 * clang can build wasm32-wasi programs here and llvm-objdump can read them.
 */
export async function missingToolchain(): Promise<string[]> {
  const missing: string[] = [];
  if (await output("clang", ["--version"]) === undefined) missing.push("clang is not installed");
  else {
    const builtins = await output("clang", ["--target=wasm32-wasi", "-print-libgcc-file-name"]);
    if (!builtins || !await exists(builtins)) {
      missing.push(`clang's wasm32 builtins are missing (${builtins}): libclang-rt-dev-wasm32`);
    }
    if (await output("wasm-ld", ["--version"]) === undefined) {
      missing.push("wasm-ld is missing: lld");
    }
  }
  if (!await exists(WASI_LIBC)) missing.push(`wasi-libc is missing (${WASI_LIBC})`);
  if (await output("llvm-objdump", ["--version"]) === undefined) {
    missing.push("llvm-objdump is missing: llvm");
  }
  return missing.length ? [...missing, `apt-get install ${PACKAGES}`] : [];
}

/** Ends `task` with one line, exit code 0, when the C toolchain is missing: what to install. */
export async function skipWithoutToolchain(task: string): Promise<void> {
  const missing = await missingToolchain();
  if (missing.length === 0) return;
  console.error(`${task} skipped: ${missing.join("; ")}`);
  Deno.exit(0);
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/**
 * Compiles a program of this folder with clang -O2 for wasm32-wasi: alloc_heavy.c, or a C++
 * source (`.cc`, built with clang++ and libc++ as C++17, without exceptions).
 *
 * @param allocator "mote": with c/mote_shim.c, importing its memory and exporting __heap_base,
 * as the README says; "dlmalloc": as a plain wasi-libc program with libc's own allocator.
 * @param source The program's file name in this folder.
 * @returns The module's bytes.
 */
export async function compileProgram(
  allocator: "mote" | "dlmalloc",
  source = "alloc_heavy.c",
): Promise<Uint8Array<ArrayBuffer>> {
  const program = new URL(source, HERE).pathname;
  const cxx = source.endsWith(".cc");
  const dir = await Deno.makeTempDir({ prefix: "mote-c-" });
  const clang = async (command: string, args: string[]) => {
    const flags = ["--target=wasm32-wasi", "-O2", "-Wall", "-Wextra", "-Werror"];
    const { success, stderr } = await new Deno.Command(command, { args: [...flags, ...args] })
      .output();
    if (!success) {
      throw new Error(
        `${command} failed to build ${program}:\n${new TextDecoder().decode(stderr)}`,
      );
    }
  };
  try {
    const args = [program, "-o", `${dir}/out.wasm`];
    if (allocator === "mote") {
      // the shim is C: a C++ program links it as an object compiled by clang
      const shim = cxx ? `${dir}/mote_shim.o` : SHIM;
      if (cxx) await clang("clang", ["-c", SHIM, "-o", shim]);
      args.push(`-I${SHIM_DIR}`, shim, ...LINK_FLAGS);
    }
    if (cxx) await clang("clang++", ["-std=c++17", "-fno-exceptions", ...args]);
    else await clang("clang", args);
    return await Deno.readFile(`${dir}/out.wasm`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const modules = new WeakMap<Uint8Array, Promise<WebAssembly.Module>>();

/** The module of some bytes, compiled once, so that runs after the first time only the run. */
function compiled(wasm: Uint8Array<ArrayBuffer>): Promise<WebAssembly.Module> {
  let module = modules.get(wasm);
  if (!module) modules.set(wasm, module = WebAssembly.compile(wasm));
  return module;
}

/**
 * The `memory.grow` instructions of a module, counted in llvm-objdump's disassembly. An allocator
 * is what grows a program's memory (wasi-libc's sbrk, under its dlmalloc): a module with none of
 * its own never does. (Optimised builds carry no function names to look for instead.)
 *
 * @param wasm The module's bytes.
 */
export async function memoryGrows(wasm: Uint8Array<ArrayBuffer>): Promise<number> {
  const path = await Deno.makeTempFile({ suffix: ".wasm" });
  try {
    await Deno.writeFile(path, wasm);
    const { success, stdout, stderr } = await new Deno.Command("llvm-objdump", {
      args: ["-d", path],
    }).output();
    if (!success) throw new Error(`llvm-objdump -d failed: ${new TextDecoder().decode(stderr)}`);
    return new TextDecoder().decode(stdout).match(/\bmemory\.grow\b/g)?.length ?? 0;
  } finally {
    await Deno.remove(path);
  }
}

/**
 * Runs a WASI program under node:wasi, its stdout going to a file that is read back.
 * `instantiate` returns what WASI's start takes: exports that include `_start` and `memory`.
 */
async function runWasi(
  args: string[],
  instantiate: (wasi: WASI) => Promise<{ exports: WebAssembly.Exports }>,
): Promise<Run> {
  const path = await Deno.makeTempFile({ suffix: ".txt" });
  const stdout = openSync(path, "w");
  try {
    const argv = ["alloc_heavy", ...args];
    const wasi = new WASI({ version: "preview1", args: argv, stdout, returnOnExit: true });
    const instance = await instantiate(wasi);
    const exitCode = wasi.start(instance);
    const memory = instance.exports.memory as WebAssembly.Memory;
    return {
      exitCode,
      stdout: readFileSync(path, "utf8"),
      memoryBytes: memory.buffer.byteLength,
      exports: instance.exports,
    };
  } finally {
    closeSync(stdout);
    await Deno.remove(path);
  }
}

/**
 * Runs the program built for mote (see {@linkcode compileProgram}) on a heap made before it
 * is instantiated: the README's recipe.
 *
 * @param wasm The program's bytes.
 * @param args Its arguments.
 * @param checked Whether to run mote's checked build.
 * @param throughJavaScript Whether the program's calls go through JavaScript functions that call
 * mote, as the README recommended before linkHeap (for the benchmark's comparison).
 * @returns What it printed and its exit code, and the heap, to inspect afterwards. A misuse the
 * checked build catches rejects with its `HeapMisuseError`.
 */
export async function runOnMote(
  wasm: Uint8Array<ArrayBuffer>,
  args: string[] = [],
  checked = false,
  throughJavaScript = false,
): Promise<Run & { heap: Heap }> {
  let heap: Heap | undefined;
  const run = await runWasi(args, async (wasi) => {
    // the heap, from the program's __heap_base up, and the imports: its memory, mote's functions
    const linked = linkHeap(wasm, {
      checked,
      imports: { wasi_snapshot_preview1: wasi.wasiImport },
    });
    heap = linked.heap;
    if (throughJavaScript) {
      const env = linked.imports.env as Record<string, unknown>;
      for (const [name, value] of Object.entries(env)) {
        const call = value as (...args: number[]) => number;
        if (typeof call === "function") env[name] = (...args: number[]) => call(...args);
      }
    }
    const instance = await WebAssembly.instantiate(await compiled(wasm), linked.imports);
    // node:wasi wants the memory among the exports; clang 14's wasm-ld cannot export an import
    return { exports: { ...instance.exports, memory: linked.memory } };
  });
  return { ...run, heap: heap! };
}

/**
 * Runs the program built with libc's own allocator (see {@linkcode compileProgram}).
 *
 * @param wasm The program's bytes.
 * @param args Its arguments.
 */
export function runOnOwnAllocator(
  wasm: Uint8Array<ArrayBuffer>,
  args: string[] = [],
): Promise<Run> {
  return runWasi(args, async (wasi) => {
    const imports = { wasi_snapshot_preview1: wasi.wasiImport };
    return await WebAssembly.instantiate(await compiled(wasm), imports);
  });
}

if (import.meta.main) {
  const { checked, _: args } = parseArgs({
    usage: "deno task example:c",
    summary: "Compiles alloc_heavy.c through mote's C shim and runs it on mote; arguments after " +
      "`--` go to the program (a round count, --double-free).",
    flags: { checked: { kind: "boolean", help: "run on the checked build" } },
    positionals: "-- program arguments",
  });
  await skipWithoutToolchain("deno task example:c");
  const run = await runOnMote(await compileProgram("mote"), args, checked).catch((error) => {
    if (!(error instanceof HeapMisuseError)) throw error;
    console.error(`mote's checked build stopped the program: ${error.message}`);
    Deno.exit(1);
  });
  console.log(run.stdout.trimEnd());
  const { usedBlocks, usedBytes, topBytes } = run.heap.stats();
  console.log(
    `exit code ${run.exitCode}; memory ${run.memoryBytes} bytes; the heap spans ` +
      `${run.heap.span} bytes from ${run.heap.base}, ${usedBlocks} blocks (${usedBytes} bytes) ` +
      `still used, ${topBytes} free at the top; check(): ${
        run.heap.check().join("; ") || "intact"
      }`,
  );
}
