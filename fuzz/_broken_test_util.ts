/**
 * Builds the tests' allocators from fuzz/testdata/ with asc, in memory: the class allocator of
 * classes.ts behind C's ABI or Rust's, with one of its bugs planted or none.
 */
import { compile } from "../scripts/build.ts";

/** The bugs classes.ts can be built with, as its constants name them. */
export type Bug = "NONE" | "HANG" | "LEAK" | "OVERLAP" | "STRAY" | "MISALIGN" | "NEVER";

/** Compiles fuzz/testdata/{abi}_abi.ts with `bug` planted; run from the project's root. */
export async function brokenAllocator(
  abi: "c" | "rust",
  bug: Bug,
): Promise<Uint8Array<ArrayBuffer>> {
  const line = "export const BUG: i32 = 0;";
  const plant = (text: string, file: string) => {
    if (!file.endsWith("classes.ts")) return text;
    if (!text.includes(line)) throw new Error(`classes.ts lacks ${line}`);
    return text.replace(line, `export const BUG: i32 = ${bug === "NONE" ? 0 : bug};`);
  };
  const entry = `fuzz/testdata/${abi}_abi.ts`;
  const flags = ["-O2", "--use", "abort="];
  return (await compile({ name: `${entry} with ${bug}`, doc: "", flags, entry }, plant)).wasm;
}
