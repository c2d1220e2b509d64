/**
 * Builds the benchmark's peers into bench/peers/ (git-ignored):
 *
 * - `as-tlsf.wasm`, `as-stub.wasm`: AssemblyScript's own allocators (TLSF, and the bump stub)
 *   behind the C ABI of bench/asm/as_heap.ts, from the `assemblyscript` npm package;
 * - `dlmalloc.wasm`: wasi-libc's malloc (dlmalloc) linked by clang for wasm32-wasi from Debian's
 *   `clang`, `lld` and `wasi-libc` packages, which this installs with apt-get when it may (root
 *   and apt-get present) and skips with a message when it cannot;
 * - `emscripten-dlmalloc.wasm`, `emscripten-emmalloc.wasm`: Emscripten's two mallocs, from
 *   Debian's `emscripten` package (`emcc -O2 -sMALLOC=…`), installed the same way;
 * - `mimalloc.wasm`: mimalloc from Debian's source package (`apt-get source mimalloc`, after
 *   adding `deb-src` to the Debian entry in /etc/apt/sources.list.d/), built like dlmalloc;
 * - `replay.wasm`, `noop.wasm`: the in-wasm replayer and the no-op allocator it is timed against.
 *
 *     deno task bench:setup            build what is missing or older than its source
 *     deno task bench:setup --force    rebuild everything
 *     deno task bench:setup --no-apt   never run apt-get
 *
 * @module
 */
import asc from "assemblyscript/asc";
import { parseArgs } from "../scripts/_cli.ts";

/** Where the peers go. */
export const PEERS_DIR = new URL("./peers/", import.meta.url);
const ROOT = new URL("../", import.meta.url);

/** -O3, no asserts, aborts dropped; the runtime, and an imported memory for the replayer. */
const asFlags = (
  runtime: string,
  ...more: string[]
) => ["-O3", "--noAssert", "--runtime", runtime, ...more, "--use", "abort="];

/** The AssemblyScript modules to build: each source (from the repository root) and flags. */
export const AS_TARGETS = [
  { out: "as-tlsf.wasm", source: "bench/asm/as_heap.ts", flags: asFlags("minimal") },
  { out: "as-stub.wasm", source: "bench/asm/as_heap.ts", flags: asFlags("stub") },
  { out: "replay.wasm", source: "bench/asm/replay.ts", flags: asFlags("stub", "--importMemory") },
  { out: "noop.wasm", source: "bench/asm/noop.ts", flags: asFlags("stub") },
];

/** Compiles one AssemblyScript file in memory; `text`, when given, stands for its contents. */
export async function compileAs(
  source: string,
  flags: string[],
  text?: string,
): Promise<Uint8Array> {
  let wasm: Uint8Array | undefined;
  const stderr: string[] = [];
  const { error } = await asc.main([source, "--outFile", "out.wasm", ...flags], {
    readFile: (name: string, baseDir: string) => {
      if (text !== undefined && name === source) return text;
      try {
        return Deno.readTextFileSync(new URL(`${baseDir}/${name}`, ROOT));
      } catch {
        return null;
      }
    },
    writeFile(name: string, contents: Uint8Array | string) {
      if (name.endsWith("out.wasm") && typeof contents !== "string") wasm = contents;
    },
    stderr: { write: (s: string | Uint8Array) => stderr.push(String(s)) } as never,
    stdout: { write: () => {} } as never,
  });
  if (error || !wasm) throw new Error(`compiling ${source} failed: ${error?.message}\n${stderr}`);
  return wasm;
}

function mtime(url: URL): number {
  try {
    return Deno.statSync(url).mtime?.getTime() ?? 0;
  } catch {
    return 0;
  }
}

function fresh(out: URL, sources: URL[], force: boolean): boolean {
  const built = mtime(out);
  return !force && built > 0 && sources.every((s) => mtime(s) <= built);
}

async function run(cmd: string, args: string[], options: Deno.CommandOptions = {}) {
  try {
    const { success, stdout, stderr } = await new Deno.Command(cmd, { args, ...options }).output();
    const decode = (b: Uint8Array) => new TextDecoder().decode(b);
    return { ok: success, output: decode(stdout) + decode(stderr) };
  } catch (e) {
    return { ok: false, output: String(e) };
  }
}

/** The C toolchain for dlmalloc: a clang for wasm32 and wasi-libc's libc.a. */
type Toolchain = { clang: string; libc: string };

const LIBC_CANDIDATES = [
  "/usr/lib/wasm32-wasi/libc.a", // Debian's wasi-libc
  "/usr/share/wasi-sysroot/lib/wasm32-wasi/libc.a",
  "/opt/wasi-sdk/share/wasi-sysroot/lib/wasm32-wasi/libc.a",
];

async function findToolchain(): Promise<Toolchain | string> {
  const env = Deno.env.get("WASI_SYSROOT");
  const libcs = env ? [`${env}/lib/wasm32-wasi/libc.a`, ...LIBC_CANDIDATES] : LIBC_CANDIDATES;
  const libc = libcs.find((p) => mtime(new URL(`file://${p}`)) > 0);
  let clang: string | undefined;
  for (const name of [Deno.env.get("CLANG"), "clang", "clang-14", "clang-16", "clang-19"]) {
    if (!name) continue;
    const { ok, output } = await run(name, ["--print-targets"]);
    if (ok && output.includes("wasm32")) {
      clang = name;
      break;
    }
  }
  if (!clang) return "no clang with a wasm32 target (packages clang lld wasi-libc)";
  if (!libc) return `no wasi-libc (looked for ${libcs.join(", ")})`;
  const lld = await run("wasm-ld", ["--version"]);
  const lldVersioned = await run(`wasm-ld-${clang.split("-")[1] ?? 14}`, ["--version"]);
  if (!lld.ok && !lldVersioned.ok) return "no wasm-ld (Debian package lld)";
  return { clang, libc };
}

const isRoot = () => Deno.uid?.() === 0;

/** Runs `apt-get` with `args` after an update, as root: "" when done, else `why` and what failed. */
async function aptGet(args: string[], why: string, cwd?: URL): Promise<string> {
  if (!isRoot()) return `${why}; not root: \`sudo apt-get ${args.join(" ")}\``;
  if (!(await run("apt-get", ["--version"])).ok) return `${why}; no apt-get on this machine`;
  console.log(`apt-get ${args.join(" ")} (once) ...`);
  const update = await run("apt-get", ["update", "-qq"]);
  if (!update.ok) return `${why}; apt-get update failed: ${update.output.trim()}`;
  const done = await run("apt-get", ["-y", "-qq", ...args], { cwd });
  return done.ok ? "" : `${why}; apt-get ${args[0]} failed: ${done.output.trim()}`;
}

const aptInstall = (packages: string[], why: string) => aptGet(["install", ...packages], why);

/** The functions every peer exports: the C ABI. */
export const C_ABI = ["malloc", "free", "realloc", "calloc", "aligned_alloc", "malloc_usable_size"];

/**
 * Links one C file with wasi-libc into a module exporting the C ABI and its memory, and no
 * imports. For dlmalloc the file is empty: the linker's --export pulls malloc & co. out of
 * libc.a, which needs nothing from WASI. clang runs binaryen's wasm-opt on the result when it
 * finds one on PATH; binaryen's (an assemblyscript dependency, in node_modules/.bin) is put
 * first so that it always does, as for the AssemblyScript peers.
 */
async function buildWasi(out: URL, toolchain: Toolchain, c = "", flags: string[] = []) {
  const builtins = await run(toolchain.clang, ["--target=wasm32-wasi", "--print-libgcc-file-name"]);
  const path = `${new URL("node_modules/.bin", ROOT).pathname}:${Deno.env.get("PATH") ?? ""}`;
  return await withSource(c, async (source) => {
    const { ok, output } = await run(toolchain.clang, [
      ...["--target=wasm32-wasi", "-O2", "-nostdlib", "-Wl,--no-entry", "-Wl,--strip-all"],
      ...C_ABI.map((name) => `-Wl,--export=${name}`),
      ...[...flags, "-o", out.pathname, source, toolchain.libc],
      ...(c && builtins.ok ? [builtins.output.trim()] : []), // for libc's strtol
    ], { env: { PATH: path } });
    return ok ? "" : output;
  });
}

/** Runs `use` on a temporary C file holding `c`, removed after. */
async function withSource<T>(c: string, use: (path: string) => Promise<T>): Promise<T> {
  const path = await Deno.makeTempFile({ suffix: ".c" });
  try {
    await Deno.writeTextFile(path, c);
    return await use(path);
  } finally {
    await Deno.remove(path);
  }
}

/**
 * mimalloc's one translation unit behind the C ABI. Requests under 8 bytes take 8: its smallest
 * class on wasm32 is 4 bytes, 4-aligned. It grows the memory itself (its WASI layer); what it
 * would import from WASI is stubbed: no environment, nowhere to print, no clock, one thread.
 */
const MIMALLOC_C = `#include "static.c"
#define AT_LEAST_8(n) ((n) < 8 ? 8 : (n))
void* malloc(size_t n) { return mi_malloc(AT_LEAST_8(n)); }
void free(void* p) { mi_free(p); }
void* realloc(void* p, size_t n) { return mi_realloc(p, AT_LEAST_8(n)); }
void* calloc(size_t c, size_t n) { return c < 8 && n < 8 && c * n < 8 ? mi_zalloc(8) : mi_calloc(c, n); }
void* aligned_alloc(size_t a, size_t n) { return mi_malloc_aligned(AT_LEAST_8(n), a); }
size_t malloc_usable_size(void* p) { return mi_usable_size(p); }
char* getenv(const char* name) { return NULL; }
FILE* const stdout = NULL; FILE* const stderr = NULL; int fputs(const char* s, FILE* f) { return 0; }
int vsnprintf(char* b, size_t n, const char* f, va_list a) { if (n) *b = 0; return 0; }
int snprintf(char* b, size_t n, const char* f, ...) { if (n) *b = 0; return 0; }
int clock_gettime(clockid_t c, struct timespec* t) { t->tv_sec = t->tv_nsec = 0; return 0; }
int atexit(void (*f)(void)) { return 0; } int sched_yield(void) { return 0; }
void __wasm_call_ctors(void);
void _initialize(void) { __wasm_call_ctors(); } // a reactor: else every call would run them
`;
const MIMALLOC_SRC = new URL("mimalloc-src/", PEERS_DIR);
const SOURCES = "/etc/apt/sources.list.d/";

/** The unpacked source of Debian's mimalloc, fetched with `apt-get source` when `apt` allows. */
async function mimallocSource(mayApt: boolean): Promise<URL | string> {
  const found = () => [...Deno.readDirSync(MIMALLOC_SRC)].find((e) => e.isDirectory)?.name;
  await Deno.mkdir(MIMALLOC_SRC, { recursive: true });
  if (found()) return new URL(`${found()}/`, MIMALLOC_SRC);
  if (!mayApt) return "no mimalloc source, and --no-apt";
  if (!(await run("apt-get", ["--version"])).ok) return "no apt-get on this machine";
  if (!isRoot()) return "not root: `sudo deno task bench:setup` adds deb-src and fetches it";
  // deb-src on the Debian entry (deb822: the stanza naming deb.debian.org/debian), once
  const file = [...Deno.readDirSync(SOURCES)].map((e) => SOURCES + e.name)
    .find((f) => f.endsWith(".sources") && /debian\.org\/debian\s/.test(Deno.readTextFileSync(f)));
  if (!file) return `no deb822 Debian entry in ${SOURCES} to add deb-src to`;
  const text = Deno.readTextFileSync(file);
  const fixed = text.replace(
    /^Types: deb$(?=\n(?:#.*\n)*URIs: \S*debian\.org\/debian\s)/m,
    "$& deb-src",
  );
  if (fixed !== text) Deno.writeTextFileSync(file, fixed);
  if (!(await run("dpkg-source", ["--help"])).ok) await aptInstall(["dpkg-dev"], "no dpkg-source");
  return await aptGet(["source", "mimalloc"], "no mimalloc source", MIMALLOC_SRC) ||
    (found() ? new URL(`${found()}/`, MIMALLOC_SRC) : "apt-get source unpacked nothing");
}

/**
 * Emscripten's mallocs, each alone in a module: an empty C file linked as a standalone reactor
 * exporting the C ABI (`memalign` too: it is what emmalloc calls aligned_alloc). The memory
 * starts at one page with a 16 KiB stack, so that what the bench measures, the memory's growth,
 * is the heap's; the default 16 MiB start would hide it. Emscripten's malloc aligns to 8.
 */
export const EMSCRIPTEN_PEERS = ["dlmalloc", "emmalloc"].map((malloc) => ({
  out: `emscripten-${malloc}.wasm`,
  args: [
    ...["-O2", `-sMALLOC=${malloc}`, "-sSTANDALONE_WASM", "--no-entry", "-sALLOW_MEMORY_GROWTH"],
    `-sEXPORTED_FUNCTIONS=${[...C_ABI.slice(0, 5), "memalign"].map((f) => `_${f}`).join(",")}`,
    ...["-sMAXIMUM_MEMORY=4GB", "-sINITIAL_MEMORY=65536", "-sTOTAL_STACK=16384"],
  ],
}));

/** Builds every peer that is missing or stale; returns the notes on what was skipped. */
export async function setup(
  options: { force?: boolean; apt?: boolean; quiet?: boolean } = {},
): Promise<string[]> {
  const { force = false, apt = true, quiet = false } = options;
  const log = quiet ? () => {} : console.log;
  await Deno.mkdir(PEERS_DIR, { recursive: true });
  const skipped: string[] = [];
  for (const target of AS_TARGETS) {
    const out = new URL(target.out, PEERS_DIR);
    if (fresh(out, [new URL(target.source, ROOT), new URL(import.meta.url)], force)) continue;
    const wasm = await compileAs(target.source, target.flags);
    await Deno.writeFile(out, wasm);
    log(`built bench/peers/${target.out} (${wasm.length} bytes)`);
  }
  /** Builds `file` unless it is fresh, with `build` (what went wrong, or ""): one line each. */
  const make = async (file: string, build: (out: URL) => Promise<string>) => {
    const out = new URL(file, PEERS_DIR);
    if (fresh(out, [new URL(import.meta.url)], force)) return;
    const failure = await build(out);
    if (failure) skipped.push(`${file} skipped: ${failure.trim().split("\n")[0]}`);
    else log(`built bench/peers/${file} (${Deno.statSync(out).size} bytes)`);
  };
  await make("dlmalloc.wasm", async (out) => {
    let toolchain = await findToolchain();
    if (typeof toolchain === "string" && apt) {
      toolchain = await aptInstall(["clang", "lld", "wasi-libc"], toolchain) ||
        await findToolchain();
    }
    return typeof toolchain === "string" ? toolchain : await buildWasi(out, toolchain);
  });
  await make("mimalloc.wasm", async (out) => {
    const toolchain = await findToolchain(), source = await mimallocSource(apt);
    if (typeof toolchain === "string" || typeof source === "string") {
      return typeof toolchain === "string" ? toolchain : source as string;
    }
    return await buildWasi(out, toolchain, MIMALLOC_C, [
      ...["DEBUG", "SECURE", "STAT", "USE_ENVIRON"].map((d) => `-DMI_${d}=0`),
      ...["include", "src"].map((dir) => `-I${new URL(dir, source).pathname}`),
      ...["-Wl,--export=_initialize", "-w"], // -w: its own warnings are not ours to fix
    ]);
  });
  for (const { out: file, args } of EMSCRIPTEN_PEERS) {
    await make(file, async (out) => {
      const failure = (await run("emcc", ["--version"])).ok ? "" : "no emcc (package emscripten)";
      return (failure && apt ? await aptInstall(["emscripten"], failure) : failure) ||
        await withSource("", async (empty) => {
          const { ok, output } = await run("emcc", [...args, "-o", out.pathname, empty]);
          return ok ? "" : output;
        });
    });
  }
  for (const note of skipped) console.error(note);
  return skipped;
}

if (import.meta.main) {
  const flags = parseArgs({
    usage: "deno task bench:setup",
    summary: "Builds the benchmark's peers into bench/peers/, what is missing or older than its " +
      "source.",
    flags: {
      force: { kind: "boolean", help: "rebuild everything" },
      "no-apt": { kind: "boolean", help: "never run apt-get" },
    },
  });
  await setup({ force: flags.force, apt: !flags["no-apt"] });
}
