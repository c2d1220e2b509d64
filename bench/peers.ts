/**
 * The allocators the benchmark compares, each behind one shape: a fresh empty instance on demand,
 * its C ABI callable from JavaScript, and for the wasm ones the exports the in-wasm replayer
 * imports. Modules built by bench/setup.ts are read from bench/peers/; a missing one is skipped
 * with a note.
 *
 * Extra peers: any `.wasm` exporting the C ABI (`malloc`, `free`, `realloc`, `calloc`, optionally
 * `aligned_alloc`, and its memory), passed as `--peer path.wasm` to the report or listed in the
 * environment variable `BENCH_PEERS` (comma-separated) for both the report and `deno bench`.
 *
 * @module
 */
import { checkedWasm, fastWasm, ownWasm } from "../src/_wasm.ts";
import { Heap } from "../src/heap.ts";
import { ModelHeap } from "../src/model.ts";
import { PEERS_DIR } from "./setup.ts";
import { PAGE } from "../src/_layout.ts";

/** The C ABI, as called from JavaScript; pointers may come back signed (`>>> 0` them). */
export interface Calls {
  malloc(size: number): number;
  free(ptr: number): void;
  realloc(ptr: number, size: number): number;
  calloc(count: number, size: number): number;
  aligned_alloc?(alignment: number, size: number): number;
}

/** One fresh, empty allocator. */
export interface Instance {
  /** What JavaScript calls and, for a wasm peer, what the in-wasm replayer imports. */
  calls: Calls;
  /** A wasm peer's exports, for bench/profile.ts's counters. */
  exports?: WebAssembly.Exports;
  /**
   * The bytes of memory the allocator has taken since it was made: for a wasm peer the memory's
   * growth (which never shrinks), for a JS peer its current extent, rounded up to 64 KiB pages.
   */
  used(): number;
}

/** An allocator under test. */
export interface Peer {
  /** Its name in the report. */
  name: string;
  /** What it is, one line. */
  description: string;
  /** "wasm": runs in both modes; "js": a JavaScript allocator, JS calls only. */
  kind: "wasm" | "js";
  /** The module's bytes, for a wasm peer. */
  wasm?: Uint8Array;
  /** The alignment malloc always gives; requests aligned above it need aligned_alloc. */
  natural: number;
  /** False when it has no aligned_alloc: aligned requests then over-allocate by the alignment. */
  hasAligned: boolean;
  /** Whether `used()` can shrink, so the high-water mark must be tracked op by op. */
  shrinks: boolean;
  /** False for a bump allocator: a warm-up (see bench/harness.ts) would use up its memory. */
  reuses: boolean;
  /** A fresh, empty instance, sized for a workload with `peakLive` bytes live at most. */
  create(peakLive: number): Instance;
}

const pages = (bytes: number) => Math.ceil(bytes / PAGE) * PAGE;

/**
 * Stubs for a module's imports: WASI or `env` functions fail (but Emscripten's note that memory
 * grew, which is harmless), an imported memory is made.
 */
function stubImports(module: WebAssembly.Module): WebAssembly.Imports {
  const imports: Record<string, Record<string, WebAssembly.ImportValue>> = {};
  for (const { module: from, name, kind } of WebAssembly.Module.imports(module)) {
    imports[from] ??= {};
    if (name === "emscripten_notify_memory_growth") imports[from][name] = () => {};
    else if (kind === "function") {
      imports[from][name] = () => {
        throw new Error(`the allocator called its import ${from}.${name}`);
      };
    } else if (kind === "memory") imports[from][name] = new WebAssembly.Memory({ initial: 1 });
  }
  return imports;
}

function unavailable(): never {
  throw new Error("aligned_alloc called on a peer without one");
}

/** A wasm peer from its bytes: instantiated fresh for each run, initialised if it must be. */
export function wasmPeer(
  name: string,
  description: string,
  wasm: Uint8Array<ArrayBuffer>,
  natural = 16,
): Peer {
  const module = new WebAssembly.Module(wasm);
  const exported = new Set(WebAssembly.Module.exports(module).map((e) => e.name));
  for (const required of ["malloc", "free", "realloc", "calloc"]) {
    if (!exported.has(required)) throw new Error(`${name} does not export ${required}`);
  }
  return {
    name,
    description,
    kind: "wasm",
    wasm,
    natural,
    hasAligned: exported.has("aligned_alloc") || exported.has("memalign"),
    shrinks: false,
    reuses: true,
    create() {
      const imports = stubImports(module); // a fresh imported memory for each run
      const instance = new WebAssembly.Instance(module, imports);
      const x = instance.exports as Record<string, (...args: number[]) => number> & {
        memory?: WebAssembly.Memory;
      };
      if (x._initialize) x._initialize(); // a WASI reactor
      if (x.mote_init && !x.mote_init(0, 0xFFFE0000)) throw new Error(`${name}: mote_init failed`);
      const memory = x.memory ??
        Object.values(imports).flatMap((m) => Object.values(m)).find((v) =>
          v instanceof WebAssembly.Memory
        ) as WebAssembly.Memory;
      const before = memory.buffer.byteLength;
      const { malloc, free, realloc, calloc } = x;
      // Emscripten's aligned_alloc wants a size that is a multiple of the alignment (C11's rule,
      // which mote and wasi-libc do not hold callers to); its memalign does not
      const aligned_alloc = x.memalign ?? x.aligned_alloc ?? unavailable;
      return {
        // in an object of one shape, whatever the module: each instance's exports object has a map
        // of its own, and the loop, which a program would run over one instance, would meet a new
        // one every run
        calls: { malloc, free, realloc, calloc, aligned_alloc },
        exports: instance.exports,
        used: () => memory.buffer.byteLength - before,
      };
    },
  };
}

/**
 * The C ABI over a Heap-like, as methods: one function each for every run, which V8 inlines into
 * the loop as into a program's calls (closures made afresh per run it would not).
 */
class HeapCalls implements Calls {
  constructor(readonly heap: Heap) {}
  malloc(size: number) {
    return this.heap.malloc(size);
  }
  free(ptr: number) {
    this.heap.free(ptr);
  }
  realloc(ptr: number, size: number) {
    return this.heap.realloc(ptr, size);
  }
  calloc(count: number, size: number) {
    return this.heap.calloc(count, size);
  }
  aligned_alloc(alignment: number, size: number) {
    return this.heap.alignedAlloc(alignment, size);
  }
}

/** A JS peer over a Heap (mote's, or the model's); `used` is its span's growth in pages. */
function heapPeer(name: string, description: string, kind: typeof Heap, shrinks: boolean): Peer {
  return {
    name,
    description,
    kind: "js",
    natural: 16,
    hasAligned: true,
    shrinks,
    reuses: true,
    create() {
      const heap = new kind();
      const before = heap.span;
      return { calls: new HeapCalls(heap), used: () => pages(heap.span - before) };
    },
  };
}

/** The version of the mimalloc source bench/setup.ts fetched, from its directory's name. */
function mimallocVersion(): string {
  try {
    const dirs = [...Deno.readDirSync(new URL("mimalloc-src/", PEERS_DIR))].map((e) => e.name);
    return dirs.map((d) => d.match(/^mimalloc-([\d.]+)/)?.[1]).find(Boolean) ?? "?";
  } catch {
    return "?";
  }
}

/** The name of the baseline every ratio is taken against. */
export const BASELINE = "mote";

/** The allocators and the notes on what was skipped, the baseline first. */
export async function loadPeers(extra: string[] = []): Promise<{ peers: Peer[]; notes: string[] }> {
  const notes: string[] = [];
  const peers: Peer[] = [
    wasmPeer(BASELINE, "mote as shipped (src/_wasm.ts ownWasm, -Oz)", ownWasm),
    wasmPeer(
      "mote checked",
      "mote's checked build (src/_wasm.ts checkedWasm): guards, poison, pointer checks",
      checkedWasm,
    ),
    wasmPeer("mote fast", "mote built for speed (src/_wasm.ts fastWasm, -O3)", fastWasm),
  ];
  // name, description, the alignment malloc gives (16 unless said), whether it reuses freed memory
  // (unless said, it does); in bench/peers/ as the name in lower case with dashes (bench/setup.ts
  // builds them there)
  const built: [string, string, number?, boolean?][] = [
    ["dlmalloc", "wasi-libc's malloc (dlmalloc 2.8.6), clang -O2 + wasm-opt"],
    ...["dlmalloc", "emmalloc"].map((m): [string, string, number] => [
      `emscripten ${m}`,
      `Emscripten 3.1.6's ${m} (emcc -O2 -sMALLOC=${m}); aligns to 8`,
      8,
    ]),
    ["mimalloc", `Debian's mimalloc ${mimallocVersion()} (src/static.c); < 8 B take 8`, 8],
    ["AS TLSF", "AssemblyScript's TLSF (--runtime minimal, -O3)"],
    ["AS stub", "AssemblyScript's stub: bump, never reuses (the speed floor)", 16, false],
  ];
  for (const [name, description, natural, reuses = true] of built) {
    const file = `${name.toLowerCase().replaceAll(" ", "-")}.wasm`;
    try {
      const wasm = await Deno.readFile(new URL(file, PEERS_DIR));
      peers.push({ ...wasmPeer(name, description, wasm, natural), reuses });
    } catch {
      notes.push(`${name} skipped: bench/peers/${file} missing (run \`deno task bench:setup\`)`);
    }
  }
  const envPeers = Deno.env.get("BENCH_PEERS")?.split(",").filter(Boolean) ?? [];
  for (const path of [...envPeers, ...extra]) {
    const name = path.split("/").pop()!.replace(/\.wasm$/, "");
    try {
      peers.push(wasmPeer(name, `extra module ${path}`, await Deno.readFile(path), 8));
    } catch (e) {
      notes.push(`${name} skipped: ${e instanceof Error ? e.message : e}`);
    }
  }
  peers.push(
    heapPeer("mote Heap", "mote through its checked JS API (Heap), JS calls only", Heap, false),
    heapPeer("mote model", "mote's reference model (TypeScript, src/model.ts)", ModelHeap, true),
  );
  return { peers, notes };
}
