/**
 * Builds the tests' allocators from fuzz/testdata/ with asc, in memory: the class allocator of
 * classes.ts behind C's ABI or Rust's, with one of its bugs planted or none.
 */
import asc from "assemblyscript/asc";

const ROOT = new URL("../", import.meta.url);

/** The bugs classes.ts can be built with, as its constants name them. */
export type Bug = "NONE" | "HANG" | "LEAK" | "OVERLAP" | "STRAY" | "MISALIGN" | "NEVER";

/** Compiles fuzz/testdata/{abi}_abi.ts with `bug` planted. */
export async function brokenAllocator(
  abi: "c" | "rust",
  bug: Bug,
): Promise<Uint8Array<ArrayBuffer>> {
  let wasm: Uint8Array<ArrayBuffer> | undefined;
  const errors: string[] = [];
  const { error } = await asc.main([
    `fuzz/testdata/${abi}_abi.ts`,
    "--outFile",
    "out.wasm",
    "-O2",
    "--noAssert",
    "--runtime",
    "stub",
    "--use",
    "abort=",
  ], {
    readFile: (name: string, baseDir: string) => {
      try {
        const text = Deno.readTextFileSync(new URL(`${baseDir}/${name}`, ROOT));
        if (!name.endsWith("classes.ts")) return text;
        const line = "export const BUG: i32 = 0;";
        if (!text.includes(line)) throw new Error(`classes.ts lacks ${line}`);
        return text.replace(line, `export const BUG: i32 = ${bug === "NONE" ? 0 : bug};`);
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return null;
        throw e;
      }
    },
    writeFile(name: string, contents: Uint8Array | string) {
      if (name.endsWith("out.wasm") && typeof contents !== "string") {
        wasm = new Uint8Array(contents);
      }
    },
    stderr: { write: (s: string | Uint8Array) => errors.push(String(s)) } as never,
    stdout: { write: () => {} } as never,
  });
  if (error || !wasm) throw new Error(`asc failed: ${error?.message}\n${errors.join("")}`);
  return wasm;
}
