import assert from "node:assert/strict";
import { cShim, writeCShim } from "./c_shim.ts";

const C_SHIM_FILES = ["mote.h", "mote_shim.c"] as const;

Deno.test("writeCShim writes the package's c/ files where it is told, its folder made", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const written = await writeCShim(`${dir}/vendor/mote`);
    assert.deepEqual(written, C_SHIM_FILES.map((name) => `${dir}/vendor/mote/${name}`));
    for (const name of C_SHIM_FILES) {
      const shipped = await Deno.readTextFile(new URL(`../c/${name}`, import.meta.url));
      assert.equal(await Deno.readTextFile(`${dir}/vendor/mote/${name}`), shipped, name);
      assert.equal((await cShim())[name], shipped);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeCShim checks its argument as the rest of the API does", async () => {
  for (const [bad, got] of [[undefined, "undefined"], ["", '""'], [5, "5"], [null, "null"]]) {
    await assert.rejects(
      writeCShim(bad as never),
      new TypeError(`The directory must be a non-empty string, got ${got}`),
    );
  }
});
