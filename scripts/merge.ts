/**
 * Merges mote into a wasm module built without an allocator, so that the result has its own
 * allocator and imports none: binaryen's wasm-merge (from npm) links the module's `env.malloc`,
 * `env.free`, ... imports to mote's exports, and a small start function made here initialises
 * the heap at the module's `__heap_base` before anything else runs. The module's memory import
 * is resolved too: the result defines its memory, with the limits the module asked for, and
 * exports it as `memory`.
 *
 *     deno task merge program.wasm merged.wasm
 *
 * Paths are relative to the directory the task was run in; the features passed to wasm-merge are
 * mote's and those the program uses, read from its bytes.
 *
 * @module
 */
import { ownWasm } from "../src/_wasm.ts";
import { linkable } from "../src/link.ts";
import { readModule, sections } from "../src/_module_reader.ts";
import { argPath, fail, parseArgs, readArg, writeArg } from "./_cli.ts";

/** binaryen's npm package, whose wasm-merge and wasm-as run under Node through npx. */
const BINARYEN = "binaryen@132";

/** What mote's own module uses (asc's defaults), and nothing newer (no --all-features: it would
 * let wasm-merge write encodings engines do not read yet). The program's features are added. */
const MOTE_FEATURES = ["bulk-memory", "sign-ext", "mutable-globals", "nontrapping-fptoint"];

/** binaryen's name for each feature LLVM names in a module's target_features section. */
const BINARYEN_FEATURES: Record<string, string> = {
  "atomics": "threads",
  "bulk-memory": "bulk-memory",
  "bulk-memory-opt": "bulk-memory-opt",
  "call-indirect-overlong": "call-indirect-overlong",
  "exception-handling": "exception-handling",
  "extended-const": "extended-const",
  "fp16": "fp16",
  "gc": "gc",
  "memory64": "memory64",
  "multimemory": "multimemory",
  "multivalue": "multivalue",
  "mutable-globals": "mutable-globals",
  "nontrapping-fptoint": "nontrapping-float-to-int",
  "reference-types": "reference-types",
  "relaxed-simd": "relaxed-simd",
  "sign-ext": "sign-ext",
  "simd128": "simd",
  "tail-call": "tail-call",
};

/**
 * wasm-merge's feature flags for mote and `program`: mote's own and those the program's bytes say
 * it uses (its target_features section, its tags), so a module built with exception handling
 * (clang's `-mllvm -wasm-enable-sjlj` for setjmp, `-fwasm-exceptions`) merges as it was built.
 *
 * @throws {TypeError} For a feature binaryen has no flag for.
 */
export function featureFlags(program: Uint8Array): string[] {
  const names = new Set([...MOTE_FEATURES, ...readModule(program).features]);
  return [...names].map((name) => {
    const flag = BINARYEN_FEATURES[name];
    if (!flag) {
      throw new TypeError(`The module uses the feature ${name}, which merge cannot pass on`);
    }
    return `--enable-${flag}`;
  });
}
const SECTION_MEMORY = 5;
/** wasm32's most pages: 4 GiB. */
const MAX_PAGES = 65536;

/** mote's heap spans up to here: all of wasm32 but its last 128 KiB (MAX_LIMIT). */
const LIMIT_END = 0xFFFE_0000;

/** Runs in the merged module before the program's own start: mote_init at __heap_base. */
const INIT = `(module
  (import "main" "__heap_base" (global $base i32))
  (import "env" "mote_init" (func $init (param i32 i32) (result i32)))
  (func $start
    (if (i32.eqz (call $init (global.get $base) (i32.const ${LIMIT_END | 0})))
      (then (unreachable))))
  (start $start))
`;

function leb(value: number): number[] {
  const bytes: number[] = [];
  do {
    let byte = value & 0x7f;
    value = Math.floor(value / 128);
    if (value) byte |= 0x80;
    bytes.push(byte);
  } while (value);
  return bytes;
}

/**
 * mote's own-memory module, its memory declaring the program's limits (wasm-merge requires an
 * import and the export it resolves to to agree). Its memory section is made anew: mote defines
 * that one memory and nothing else there.
 */
function moteFor(memory: { minimum: number; maximum?: number }): Uint8Array {
  const contents = [1, 0x01, ...leb(memory.minimum), ...leb(memory.maximum ?? MAX_PAGES)];
  const section = [SECTION_MEMORY, ...leb(contents.length), ...contents];
  const parts: number[] = [...ownWasm.subarray(0, 8)];
  for (const { id, start, end } of sections(ownWasm)) {
    parts.push(...(id === SECTION_MEMORY ? section : ownWasm.subarray(start, end)));
  }
  return new Uint8Array(parts);
}

/** Runs one of binaryen's tools (wasm-as, wasm-merge, ...) from npm; throws with its message. */
export async function binaryen(tool: string, args: string[]): Promise<void> {
  const { success, stderr } = await new Deno.Command("npx", {
    args: ["-y", "-p", BINARYEN, tool, ...args],
  }).output();
  if (!success) throw new Error(`${tool} failed: ${new TextDecoder().decode(stderr).trim()}`);
}

/**
 * Merges mote into a module that imports its allocator and memory and exports `__heap_base`.
 *
 * @param program The module's bytes.
 * @returns The merged module's bytes: mote inside, started at `__heap_base`.
 * @throws {TypeError} As {@linkcode linkHeap} does, for a module it could not link.
 */
export async function mergeMote(
  program: Uint8Array<ArrayBuffer>,
): Promise<Uint8Array<ArrayBuffer>> {
  const { memory } = linkable(program);
  const features = featureFlags(program);
  const dir = await Deno.makeTempDir({ prefix: "mote-merge-" });
  try {
    await Deno.writeFile(`${dir}/mote.wasm`, moteFor(memory));
    await Deno.writeTextFile(`${dir}/init.wat`, INIT);
    await Deno.writeFile(`${dir}/main.wasm`, program);
    await binaryen("wasm-as", [`${dir}/init.wat`, "-o", `${dir}/init.wasm`]);
    // mote is named "env", so the program's env.malloc & co. and env.memory resolve to it;
    // start functions run in this order: mote's (none), the init, the program's
    await binaryen("wasm-merge", [
      ...[`${dir}/mote.wasm`, "env", `${dir}/init.wasm`, "mote_start", `${dir}/main.wasm`, "main"],
      ...features,
      ...["-o", `${dir}/merged.wasm`],
    ]);
    return await Deno.readFile(`${dir}/merged.wasm`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  const { _: files } = parseArgs({
    usage: "deno task merge",
    summary: "Puts mote inside an allocator-less module (binaryen's wasm-merge), started at its " +
      "__heap_base.",
    flags: {},
    positionals: "program.wasm merged.wasm",
  });
  if (files.length !== 2) fail(`expected two files, program.wasm merged.wasm; got ${files.length}`);
  const [input, output] = files;
  const merged = await mergeMote(readArg(input, "program")).catch((error) =>
    fail(`Cannot merge ${JSON.stringify(input)}: ${error.message}`)
  );
  await writeArg(output, merged);
  const imports = WebAssembly.Module.imports(new WebAssembly.Module(merged));
  console.log(
    `wrote ${argPath(output)}, ${merged.length} bytes; it imports ` +
      imports.map((entry) => `${entry.module}.${entry.name}`).join(", "),
  );
}
