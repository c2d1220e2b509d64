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

/** An AssemblyScript module to build: source (from the repository root) and flags. */
export interface AsTarget {
  out: string;
  source: string;
  flags: string[];
}

export const AS_TARGETS: AsTarget[] = [
  {
    out: "as-tlsf.wasm",
    source: "bench/asm/as_heap.ts",
    flags: ["-O3", "--noAssert", "--runtime", "minimal", "--use", "abort="],
  },
  {
    out: "as-stub.wasm",
    source: "bench/asm/as_heap.ts",
    flags: ["-O3", "--noAssert", "--runtime", "stub", "--use", "abort="],
  },
  {
    out: "replay.wasm",
    source: "bench/asm/replay.ts",
    flags: ["-O3", "--noAssert", "--runtime", "stub", "--importMemory", "--use", "abort="],
  },
  {
    out: "noop.wasm",
    source: "bench/asm/noop.ts",
    flags: ["-O3", "--noAssert", "--runtime", "stub", "--use", "abort="],
  },
];

/** Compiles one AssemblyScript file in memory. */
export async function compileAs(source: string, flags: string[]): Promise<Uint8Array> {
  let wasm: Uint8Array | undefined;
  const stderr: string[] = [];
  const { error } = await asc.main([source, "--outFile", "out.wasm", ...flags], {
    readFile: (name: string, baseDir: string) => {
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

async function run(
  cmd: string,
  args: string[],
  env?: Record<string, string>,
): Promise<{ ok: boolean; output: string }> {
  try {
    const { success, stdout, stderr } = await new Deno.Command(cmd, { args, env }).output();
    const decode = (b: Uint8Array) => new TextDecoder().decode(b);
    return { ok: success, output: decode(stdout) + decode(stderr) };
  } catch (e) {
    return { ok: false, output: String(e) };
  }
}

/** The C toolchain for dlmalloc: a clang for wasm32 and wasi-libc's libc.a. */
interface Toolchain {
  clang: string;
  libc: string;
}

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

async function aptInstall(packages: string[], why: string): Promise<string> {
  const list = packages.join(" ");
  if (Deno.uid?.() !== 0) return `${why}; not root: \`sudo apt-get install ${list}\``;
  if (!(await run("apt-get", ["--version"])).ok) return `${why}; no apt-get on this machine`;
  console.log(`installing ${list} with apt-get (once) ...`);
  const update = await run("apt-get", ["update", "-qq"]);
  if (!update.ok) return `${why}; apt-get update failed: ${update.output.trim()}`;
  const install = await run("apt-get", ["install", "-y", "-qq", ...packages]);
  return install.ok ? "" : `${why}; apt-get install failed: ${install.output.trim()}`;
}

/** The functions every peer exports: the C ABI. */
export const C_ABI = ["malloc", "free", "realloc", "calloc", "aligned_alloc", "malloc_usable_size"];

/**
 * Links wasi-libc's malloc alone into a module exporting the C ABI and its memory. The input is
 * an empty C file: the linker's --export pulls malloc & co. out of libc.a, which needs nothing
 * from WASI and no compiler builtins, so the module has no imports at all. clang runs binaryen's
 * wasm-opt on the result when it finds one on PATH; binaryen's (an assemblyscript dependency, in
 * node_modules/.bin) is put first so that it always does, as for the AssemblyScript peers.
 */
async function buildDlmalloc(out: URL, toolchain: Toolchain): Promise<string> {
  const empty = await Deno.makeTempFile({ suffix: ".c" });
  try {
    const { ok, output } = await run(toolchain.clang, [
      "--target=wasm32-wasi",
      "-O2",
      "-nostdlib",
      "-Wl,--no-entry",
      "-Wl,--strip-all",
      ...C_ABI.map((name) => `-Wl,--export=${name}`),
      "-o",
      out.pathname,
      empty,
      toolchain.libc,
    ], { PATH: `${new URL("node_modules/.bin", ROOT).pathname}:${Deno.env.get("PATH") ?? ""}` });
    return ok ? "" : output;
  } finally {
    await Deno.remove(empty);
  }
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
    "-O2",
    `-sMALLOC=${malloc}`,
    "-sSTANDALONE_WASM",
    "--no-entry",
    `-sEXPORTED_FUNCTIONS=${[...C_ABI.slice(0, 5), "memalign"].map((f) => `_${f}`).join(",")}`,
    "-sALLOW_MEMORY_GROWTH",
    "-sMAXIMUM_MEMORY=4GB",
    "-sINITIAL_MEMORY=65536",
    "-sTOTAL_STACK=16384",
  ],
}));

async function buildEmscripten(out: URL, args: string[]): Promise<string> {
  const empty = await Deno.makeTempFile({ suffix: ".c" });
  try {
    const { ok, output } = await run("emcc", [...args, "-o", out.pathname, empty]);
    return ok ? "" : output;
  } finally {
    await Deno.remove(empty);
  }
}

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
  const dl = new URL("dlmalloc.wasm", PEERS_DIR);
  if (!fresh(dl, [new URL(import.meta.url)], force)) {
    let toolchain = await findToolchain();
    if (typeof toolchain === "string" && apt) {
      toolchain = await aptInstall(["clang", "lld", "wasi-libc"], toolchain) ||
        await findToolchain();
    }
    const failure = typeof toolchain === "string" ? toolchain : await buildDlmalloc(dl, toolchain);
    if (failure) skipped.push(`dlmalloc skipped: ${failure.trim().split("\n")[0]}`);
    else log(`built bench/peers/dlmalloc.wasm (${Deno.statSync(dl).size} bytes)`);
  }
  for (const { out: file, args } of EMSCRIPTEN_PEERS) {
    const out = new URL(file, PEERS_DIR);
    if (fresh(out, [new URL(import.meta.url)], force)) continue;
    let failure = (await run("emcc", ["--version"])).ok ? "" : "no emcc (package emscripten)";
    if (failure && apt) failure = await aptInstall(["emscripten"], failure);
    failure ||= await buildEmscripten(out, args);
    if (failure) skipped.push(`${file} skipped: ${failure.trim().split("\n")[0]}`);
    else log(`built bench/peers/${file} (${Deno.statSync(out).size} bytes)`);
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
