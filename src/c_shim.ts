/**
 * mote's C shim, for a clang + wasi-libc program that takes mote as its allocator: `mote.h`
 * declares mote's functions as imports from `env`, and `mote_shim.c` defines `malloc`, `free` and
 * the rest of libc's allocation functions as calls to them, so libc's own allocator is never
 * linked. The package carries both in its `c/` folder; {@linkcode writeCShim} copies them where
 * a build wants them, for a user who installed the package and has no clone to take them from.
 *
 * @example Write the shim into `vendor/mote/`, then build with it
 * ```ts ignore
 * import { writeCShim } from "@mote/alloc/c";
 *
 * await writeCShim("vendor/mote"); // then: clang ... -I vendor/mote vendor/mote/mote_shim.c
 * ```
 *
 * @module
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe } from "./_validate.ts";

/** The shim's files, as the package's `c/` folder holds them. */
const C_SHIM_FILES = ["mote.h", "mote_shim.c"] as const;

/**
 * The text of the shim's files, read from the package itself: from disk for a local or npm
 * install, over the network from the registry for a package run from JSR's URL.
 *
 * @returns Each file's name and text.
 *
 * @example
 * ```ts
 * import { cShim } from "@mote/alloc/c";
 * import assert from "node:assert/strict";
 *
 * const shim = await cShim();
 * assert.match(shim["mote_shim.c"], /void \*malloc\(size_t size\)/);
 * ```
 */
export async function cShim(): Promise<{ "mote.h": string; "mote_shim.c": string }> {
  const texts = await Promise.all(C_SHIM_FILES.map(async (name) => {
    const url = new URL(`../c/${name}`, import.meta.url);
    if (url.protocol === "file:") return await readFile(fileURLToPath(url), "utf8");
    const response = await fetch(url);
    if (!response.ok) throw new Error(`Cannot fetch ${url}: ${response.status}`);
    return await response.text();
  }));
  return { "mote.h": texts[0], "mote_shim.c": texts[1] };
}

/**
 * Writes `mote.h` and `mote_shim.c` into `dir` (made if it does not exist), for a C build to
 * compile the shim beside its program (`-I dir dir/mote_shim.c`; see the package's
 * docs/linking.md). Works under Deno (`--allow-read --allow-write`, and `--allow-net` for a
 * package run from JSR's URL) and Node.
 *
 * @param dir The directory to write into, relative to the current one.
 * @returns The paths written.
 * @throws {TypeError} When `dir` is not a non-empty string.
 *
 * @example
 * ```ts
 * import { writeCShim } from "@mote/alloc/c";
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * const written = await writeCShim(dir);
 * assert.deepEqual(written, [`${dir}/mote.h`, `${dir}/mote_shim.c`]);
 * ```
 */
export async function writeCShim(dir: string): Promise<string[]> {
  if (typeof dir !== "string" || dir === "") {
    throw new TypeError(`The directory must be a non-empty string, got ${describe(dir)}`);
  }
  const shim = await cShim();
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  for (const name of C_SHIM_FILES) {
    const path = join(dir, name);
    await writeFile(path, shim[name]);
    written.push(path);
  }
  return written;
}
