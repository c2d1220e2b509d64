/**
 * Compiles the allocator in asm/ into the wasm modules mote ships, and writes them into
 * src/_wasm.ts as base64, with the hash of what they were built from.
 *
 *     deno task build           write src/_wasm.ts and print the module sizes
 *     deno task build --check   exit 1 when src/_wasm.ts differs from a fresh build
 *
 * @module
 */
import asc from "assemblyscript/asc";
import binaryen from "binaryen";
import ascPackage from "assemblyscript/package.json" with { type: "json" };
import { encodeBase64, sha256Hex } from "./_bytes.ts";
import { parseArgs } from "./_cli.ts";

/** One module mote ships: how it is compiled and what it is for. */
export interface Variant {
  /** The constant's name in src/_wasm.ts. */
  name: string;
  /** What the module is for, for the generated JSDoc. */
  doc: string;
  /** Compiler flags on top of the shared ones, the optimisation level first. */
  flags: string[];
  /** The most bytes it may have: the build fails past it. None for the checked build. */
  budget?: number;
  /** The entry file, when not asm/mote.ts (which it then imports). */
  entry?: string;
  /**
   * Whether every call is inlined into the exports, but for recursive ones: the engine then
   * checks the stack once per export, on entry, so that no stack overflow can strike inside
   * (the shared build takes its lock inside, and must give it back: asm/shared.ts's enter).
   */
  inlineAll?: boolean;
}

const SOURCE = "asm/mote.ts";
const GENERATED = "src/_wasm.ts";
const SHARED_FLAGS = ["--noAssert", "--runtime", "stub"];

/** The modules mote ships. */
export const VARIANTS: Variant[] = [
  {
    name: "ownWasm",
    doc: "mote owning its memory (exported as `memory`); the heap starts at address 0.",
    // a declared maximum lets views over the memory be resizable buffers that survive growth
    flags: ["-Oz", "--maximumMemory", "65536"],
    budget: 2048,
  },
  {
    name: "regionWasm",
    doc: "mote managing a region of a memory it imports as `env.memory`.",
    flags: ["-Oz", "--importMemory"],
    budget: 2060,
  },
  {
    name: "checkedWasm",
    doc: "mote's checked build: guards, poison and pointer checks, reported through the " +
      "imported `env.mote_report(kind, address, operation)`; imports its memory as `env.memory`.",
    flags: ["-Oz", "--importMemory", "--use", "MOTE_CHECKED=1"],
  },
  {
    name: "fastWasm",
    doc: "mote built for speed over size (its commonest paths written out, -O3), owning its " +
      "memory, with quick lists of small freed blocks in front of the free lists (its " +
      "`mote_quick` is their bound), so its pointers differ from `ownWasm`'s.",
    flags: ["-O3", "--maximumMemory", "65536", "--use", "MOTE_FAST=1"],
    // 3,300 until malloc and free took the quick lists first (+141 bytes), 3,400 until a miss
    // carved the top region before emptying the quick lists (+60 bytes): bench/README.md
    budget: 3500,
  },
  {
    name: "sharedWasm",
    doc: "mote's shared build: the release allocator under a lock in the memory, for every " +
      "thread at once, with its state there too; imports its memory, shared, as `env.memory`.",
    flags: [
      "-Oz",
      "--enable",
      "threads",
      "--importMemory",
      "--sharedMemory",
      "--maximumMemory",
      "65536",
    ],
    entry: "asm/shared.ts",
    inlineAll: true,
  },
];

/** `wasm` with every call inlined but recursive ones, then optimised for speed (-O3). */
export function inlineAll(wasm: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  const module = binaryen.readBinary(wasm);
  try {
    module.setFeatures(binaryen.Features.All);
    binaryen.setOptimizeLevel(3);
    binaryen.setShrinkLevel(0);
    binaryen.setAlwaysInlineMaxSize(Number.MAX_SAFE_INTEGER >>> 0);
    binaryen.setFlexibleInlineMaxSize(Number.MAX_SAFE_INTEGER >>> 0);
    binaryen.setOneCallerInlineMaxSize(Number.MAX_SAFE_INTEGER >>> 0);
    binaryen.setAllowInliningFunctionsWithLoops(true);
    module.runPasses(["inlining-optimizing", "remove-unused-module-elements"]);
    return new Uint8Array(module.emitBinary());
  } finally {
    module.dispose();
  }
}

/** The builds over their budgets, as messages; empty when every build is within its own. */
export function overBudget(builds: Built[]): string[] {
  return builds.flatMap(({ variant: { name, budget }, wasm }) =>
    budget !== undefined && wasm.length > budget
      ? [`${name} is ${wasm.length} bytes, over its budget of ${budget}`]
      : []
  );
}

/** A compiled module. */
export interface Built {
  variant: Variant;
  wasm: Uint8Array<ArrayBuffer>;
}

/**
 * Compiles one variant of asm/ in memory; `edit`, if given, changes each source file's text as
 * the compiler reads it (a test's mutant).
 */
export async function compile(
  variant: Variant,
  edit?: (text: string, file: string) => string,
): Promise<Built> {
  let wasm: Uint8Array<ArrayBuffer> | undefined;
  const stderr: string[] = [];
  const { error } = await asc.main(
    [variant.entry ?? SOURCE, "--outFile", "out.wasm", ...SHARED_FLAGS, ...variant.flags],
    {
      writeFile(name: string, contents: Uint8Array | string) {
        if (name.endsWith("out.wasm") && typeof contents !== "string") {
          wasm = new Uint8Array(contents);
        }
      },
      stderr: { write: (s: string | Uint8Array) => stderr.push(String(s)) } as never,
      stdout: { write: () => {} } as never,
      readFile: edit &&
        ((file: string, dir: string) =>
          Deno.readTextFile(`${dir}/${file}`).then((text) => edit(text, file), () => null)),
    },
  );
  if (error || !wasm) {
    throw new Error(`Compiling ${variant.name} failed: ${error?.message}\n${stderr.join("")}`);
  }
  return { variant, wasm: variant.inlineAll ? inlineAll(wasm) : wasm };
}

/** The text of src/_wasm.ts for the given builds of the given source. */
export async function generate(source: string, builds: Built[]): Promise<string> {
  const hash = await sha256Hex(new TextEncoder().encode(source));
  const lines = [
    `// Generated by \`deno task build\` from ${SOURCE}. Do not edit: change the source and rebuild.`,
    `// source sha256 ${hash}`,
    `// assemblyscript ${ascPackage.version}, flags: ${SHARED_FLAGS.join(" ")}`,
    `import { decodeBase64 } from "./_base64.ts";`,
    "",
  ];
  for (const { variant, wasm } of builds) {
    lines.push(
      `/** ${variant.doc} ${wasm.length} bytes${
        variant.flags.length ? `; extra flags: ${variant.flags.join(" ")}` : ""
      }. */`,
      `export const ${variant.name}: Uint8Array<ArrayBuffer> = decodeBase64(`,
      `  "${encodeBase64(wasm)}",`,
      `);`,
      "",
    );
  }
  return lines.join("\n");
}

/** Builds every variant from the source on disk: the generated text and the builds. */
export async function buildAll(): Promise<{ text: string; builds: Built[] }> {
  const source = await Deno.readTextFile(SOURCE);
  // one at a time: asc compiling several modules at once in one process shares state between
  // them, and the checked build came out 12 bytes apart from run to run
  const builds: Built[] = [];
  for (const variant of VARIANTS) builds.push(await compile(variant));
  return { text: await generate(source, builds), builds };
}

async function gzipSize(bytes: Uint8Array<ArrayBuffer>): Promise<number> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"));
  return (await new Response(stream).arrayBuffer()).byteLength;
}

const README = "README.md";
const TABLE_START = "<!-- size:start -->", TABLE_END = "<!-- size:end -->";

/** `readme` with `table` between its size markers; unchanged when it has none. */
export function spliceSizeTable(readme: string, table: string): string {
  const start = readme.indexOf(TABLE_START), end = readme.indexOf(TABLE_END);
  if (start < 0 || end < start) return readme;
  return `${readme.slice(0, start)}${TABLE_START}\n\n${table}\n\n${readme.slice(end)}`;
}

/**
 * The README's size table: each module's flags, bytes, gzipped bytes and budget, from the build,
 * laid out as `deno fmt` lays out Markdown tables.
 */
export async function sizeTable(builds: Built[]): Promise<string> {
  const rows = [["module", "flags", "bytes", "gzipped", "budget"]];
  for (const { variant: { name, flags, budget }, wasm } of builds) {
    const n = (x: number) => x.toLocaleString("en");
    const gzipped = await gzipSize(wasm);
    rows.push([
      `\`${name}\``,
      `\`${flags.join(" ")}\``,
      n(wasm.length),
      n(gzipped),
      budget ? n(budget) : "—",
    ]);
  }
  const right = [false, false, true, true, true];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  const pad = (cell: string, c: number) =>
    right[c] ? cell.padStart(widths[c]) : cell.padEnd(widths[c]);
  return [
    line(rows[0].map(pad)),
    line(widths.map((w, c) => right[c] ? `${"-".repeat(w - 1)}:` : "-".repeat(w))),
    ...rows.slice(1).map((row) => line(row.map(pad))),
  ].join("\n");
}

if (import.meta.main) {
  const flags = parseArgs({
    usage: "deno task build",
    summary: "Builds asm/mote.ts into src/_wasm.ts and the README's size table; fails when a " +
      "module grows past its budget.",
    flags: { check: { kind: "boolean", help: "only check that both are current" } },
  });
  const { text, builds } = await buildAll();
  const over = overBudget(builds);
  if (over.length) {
    console.error(over.join("\n"));
    Deno.exit(1);
  }
  const table = await sizeTable(builds);
  const readme = await Deno.readTextFile(README);
  if (flags.check) {
    const committed = await Deno.readTextFile(GENERATED).catch(() => "");
    if (committed !== text || spliceSizeTable(readme, table) !== readme) {
      console.error(`${GENERATED} or ${README} is stale: run \`deno task build\` and commit.`);
      Deno.exit(1);
    }
    console.log(`${GENERATED} and ${README}'s size table match a fresh build.`);
  } else {
    await Deno.writeTextFile(GENERATED, text);
    await Deno.writeTextFile(README, spliceSizeTable(readme, table));
    console.log(`wrote ${GENERATED} and ${README}'s size table`);
  }
  console.log(table);
}
