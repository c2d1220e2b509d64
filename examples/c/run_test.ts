// A real C program on mote, as the README's linking section tells it: compiled with clang and
// wasi-libc through c/mote_shim.c, its heap made by linkHeap before it runs, every allocation a
// call from its wasm into mote's. Checked: its output against the same program on wasi-libc's
// own dlmalloc, that the binary holds no allocator of its own, and mote's heap afterwards, in
// both builds; the checked build catches the program's double free.
import assert from "node:assert/strict";
import { HeapMisuseError } from "@mote/alloc";
import {
  compileProgram,
  LINK_FLAGS,
  memoryGrows,
  missingToolchain,
  runOnMote,
  runOnOwnAllocator,
} from "./run.ts";

const missing = await missingToolchain();
// CI installs the toolchain (.ci/run), so there a missing one fails the test instead
const skip = missing.length > 0 && !Deno.env.get("CI");
if (skip) console.warn(`Skipping the C program's test: ${missing.join("; ")}`);

Deno.test({
  name: "a C program on wasi-libc runs on mote wasm to wasm, with no allocator of its own" +
    (skip ? ` (SKIPPED: ${missing.join("; ")})` : ""),
  ignore: skip,
  async fn(t) {
    assert.deepEqual(missing, [], "the C toolchain is missing");
    const [onMote, onDlmalloc] = await Promise.all([
      compileProgram("mote"),
      compileProgram("dlmalloc"),
    ]);
    const expected = await runOnOwnAllocator(onDlmalloc);

    await t.step("the program on its own dlmalloc: the reference run", () => {
      assert.equal(expected.exitCode, 0, expected.stdout);
      const counts = expected.stdout.match(/(\d+) allocations, (\d+) reallocs, (\d+) frees/);
      assert.ok(counts, expected.stdout);
      const [allocations, reallocs, frees] = counts.slice(1).map(Number);
      assert.ok(allocations > 5000 && reallocs > 1000, "thousands of calls");
      assert.equal(frees, allocations, "the program frees all it allocates");
      assert.doesNotMatch(expected.stdout, /FAIL/);
    });

    await t.step(
      "the shim leaves libc no allocator: allocation is imported, memory not grown",
      async () => {
        const imports = WebAssembly.Module.imports(new WebAssembly.Module(onMote))
          .filter((entry) => entry.module === "env").map((entry) => `${entry.kind} ${entry.name}`);
        assert.deepEqual(imports.sort(), [
          "function aligned_alloc",
          "function calloc",
          "function free",
          "function malloc",
          "function malloc_usable_size",
          "function realloc",
          "memory memory",
        ]);
        assert.equal(await memoryGrows(onMote), 0);
        // the same look finds the allocator in the program built without the shim
        assert.equal(await memoryGrows(onDlmalloc), 1);
      },
    );

    await t.step("the shim defines every function wasi-libc's dlmalloc.o does", async () => {
      /** The functions defined in each object llvm-nm lists, by the object's name. */
      const defined = async (path: string) => {
        const { stdout } = await new Deno.Command("llvm-nm", { args: ["--defined-only", path] })
          .output();
        // an archive's members each start with a "name.o:" line; a lone object has none
        const objects = new Map<string, string[]>();
        let names = objects.set(path, []).get(path)!;
        for (const line of new TextDecoder().decode(stdout).split("\n")) {
          if (line.endsWith(":")) objects.set(line.slice(0, -1), names = []);
          else if (/ [TW] /.test(line)) names.push(line.split(" ").at(-1)!);
        }
        return objects;
      };
      const object = await Deno.makeTempFile({ suffix: ".o" });
      try {
        const shim = new URL("../../c/mote_shim.c", import.meta.url).pathname;
        const build = ["--target=wasm32-wasi", "-O2", "-c", shim, "-o", object];
        assert.ok((await new Deno.Command("clang", { args: build }).output()).success);
        const dlmalloc = (await defined("/usr/lib/wasm32-wasi/libc.a")).get("dlmalloc.o") ?? [];
        assert.ok(dlmalloc.includes("malloc") && dlmalloc.includes("__libc_malloc"), "dlmalloc.o");
        const shimmed = (await defined(object)).get(object)!;
        assert.deepEqual(dlmalloc.filter((name) => !shimmed.includes(name)), []);
        assert.ok(shimmed.includes("memalign"), "and memalign, which wasi-libc leaves out");
      } finally {
        await Deno.remove(object);
      }
    });

    await t.step(
      "a shim that missed a name libc calls would fail to link, not link dlmalloc",
      async () => {
        const dir = await Deno.makeTempDir();
        try {
          const shim = await Deno.readTextFile(new URL("../../c/mote_shim.c", import.meta.url));
          const missing = shim.replace(/^void \*__libc_calloc.*$/m, "");
          assert.notEqual(missing, shim, "the shim's __libc_calloc line");
          await Deno.writeTextFile(`${dir}/shim.c`, missing);
          // atexit's table beyond 32 handlers is allocated by __libc_calloc
          await Deno.writeTextFile(
            `${dir}/exits.c`,
            "#include <stdlib.h>\nstatic void f(void) {}\n" +
              "int main(void) { for (int i = 0; i < 40; i++) atexit(f); return 0; }\n",
          );
          const c = new URL("../../c/", import.meta.url).pathname;
          const args = ["--target=wasm32-wasi", "-O2", `-I${c}`, `${dir}/exits.c`, `${dir}/shim.c`];
          const { success, stderr } = await new Deno.Command("clang", {
            args: [...args, ...LINK_FLAGS, "-o", `${dir}/exits.wasm`],
          }).output();
          assert.equal(success, false);
          assert.match(new TextDecoder().decode(stderr), /duplicate symbol: malloc/);
        } finally {
          await Deno.remove(dir, { recursive: true });
        }
      },
    );

    await t.step(
      "docs/linking.md's recipe works as pasted, from a clone and from the package",
      async () => {
        const page = await Deno.readTextFile(new URL("../../docs/linking.md", import.meta.url));
        assert.match(page, /apt-get install clang lld wasi-libc libclang-rt-dev-wasm32/);
        const blocks = [...page.matchAll(/```sh\n([^`]*clang --target[^`]*)```/g)].map((m) => m[1]);
        assert.equal(blocks.length, 2, "a clone's recipe and the package's");
        for (const block of blocks) assert.ok(block.includes(LINK_FLAGS.join(" ")), block);
        // a clone's root, without writing into this one: its c/ and examples/ reached from a folder
        const dir = await Deno.makeTempDir();
        const root = new URL("../../", import.meta.url).pathname;
        try {
          for (const name of ["c", "examples"]) {
            await Deno.symlink(`${root}${name}`, `${dir}/${name}`);
          }
          await Deno.copyFile(`${root}examples/c/alloc_heavy.c`, `${dir}/your_program.c`);
          const pasted = blocks[1].replace('"jsr:@mote/alloc/c"', `"${root}src/c_shim.ts"`)
            .replace("deno eval", `${Deno.execPath()} eval`);
          for (const [script, out] of [[blocks[0], "alloc_heavy"], [pasted, "your_program"]]) {
            const { success, stderr } = await new Deno.Command("sh", {
              args: ["-ec", script],
              cwd: dir,
            })
              .output();
            assert.ok(success, new TextDecoder().decode(stderr));
            const run = await runOnMote(await Deno.readFile(`${dir}/${out}.wasm`), ["2"]);
            assert.equal(run.exitCode, 0, out);
          }
        } finally {
          await Deno.remove(dir, { recursive: true });
        }
        assert.match(
          page,
          /linkHeap\(wasm, \{\n {2}imports: \{ wasi_snapshot_preview1: wasi\.wasiImport \}/,
        );
      },
    );

    await t.step("where allocators may differ, the shim fails as documented", async () => {
      const run = await runOnMote(onMote, ["--mote-errors"]);
      assert.equal(
        run.stdout,
        [
          "aligned_alloc(3, 8): NULL, errno EINVAL",
          "aligned_alloc(128 KiB, 8): NULL, errno EINVAL",
          "memalign(48, 8): NULL, errno EINVAL",
          "posix_memalign(128 KiB, 8): EINVAL, errno unset",
          "malloc_usable_size(NULL): 0",
          "",
        ].join("\n"),
      );
    });

    for (const checked of [false, true]) {
      const build = checked ? "checked" : "release";
      await t.step(
        `on mote's ${build} build: the same output, an intact heap, nothing leaked`,
        async () => {
          const run = await runOnMote(onMote, ["1"], checked);
          assert.equal(run.exitCode, 0, run.stdout);
          assert.equal(run.stdout, expected.stdout);
          assert.match(run.stdout, /^allocated by a constructor, before main$/m);
          assert.match(run.stdout, /^errno after .*: ENOMEM ENOMEM ENOMEM$/m);
          assert.deepEqual(run.heap.check(), []);
          // what is still in use is what libc holds (its arguments and environment), the same
          // as after a run that does no work (with an argument of the same length)
          const idle = await runOnMote(onMote, ["0"], checked);
          const used = ({ heap }: typeof run) => {
            const { usedBlocks, usedBytes } = heap.stats();
            return { usedBlocks, usedBytes };
          };
          assert.deepEqual(used(run), used(idle));
          // the release build takes no more memory than dlmalloc; the checked build's quick lists
          // keep small freed blocks unmerged, and each block is a guard word longer
          const most = checked ? 2 * expected.memoryBytes : expected.memoryBytes;
          assert.ok(run.memoryBytes <= most, `${run.memoryBytes} bytes of memory, not ${most}`);
        },
      );
    }

    await t.step("the checked build reports the program's double free, naming free", async () => {
      await assert.rejects(runOnMote(onMote, ["--double-free"], true), (e: Error) => {
        assert.ok(e instanceof HeapMisuseError, String(e));
        assert.equal(e.kind, "double-free");
        assert.equal(e.operation, "free");
        return true;
      });
      // the release build ignores a pointer that is not a live block
      const release = await runOnMote(onMote, ["--double-free"]);
      assert.equal(release.stdout, "freed twice and nothing happened\n");
      assert.deepEqual(release.heap.check(), []);
    });
  },
});

const LIBCXX = "/usr/lib/wasm32-wasi/libc++.a";
const missingCxx = [
  ...missing,
  ...await Deno.stat(LIBCXX).then(
    () => [],
    () => [`libc++ is missing (${LIBCXX}): apt-get install libc++-dev-wasm32`],
  ),
];
const skipCxx = missingCxx.length > 0 && !Deno.env.get("CI");
if (skipCxx && !skip) console.warn(`Skipping the C++ program's test: ${missingCxx.join("; ")}`);

Deno.test({
  name: "a C++ program's operator new and delete reach mote through the shim, aligned new too" +
    (skipCxx ? ` (SKIPPED: ${missingCxx.join("; ")})` : ""),
  ignore: skipCxx,
  async fn() {
    assert.deepEqual(missingCxx, [], "the C++ toolchain is missing");
    const [onMote, onDlmalloc] = await Promise.all([
      compileProgram("mote", "containers.cc"),
      compileProgram("dlmalloc", "containers.cc"),
    ]);
    const imports = WebAssembly.Module.imports(new WebAssembly.Module(onMote))
      .filter((entry) => entry.module === "env").map((entry) => entry.name);
    // libc++'s aligned operator new calls aligned_alloc
    assert.deepEqual(imports.sort(), ["aligned_alloc", "free", "malloc", "memory"]);
    assert.equal(await memoryGrows(onMote), 0);
    const expected = await runOnOwnAllocator(onDlmalloc);
    assert.match(expected.stdout, /^\d+ distinct words, \d+ strings kept, \d+ pages aligned, sum/);
    for (const checked of [false, true]) {
      const run = await runOnMote(onMote, [], checked);
      assert.equal(run.exitCode, 0);
      assert.equal(run.stdout, expected.stdout);
      assert.deepEqual(run.heap.check(), []);
      assert.equal(run.heap.stats().usedBlocks, 0, "every container freed its blocks");
    }
  },
});

Deno.test("the package publishes the C side: c/mote.h and c/mote_shim.c", async () => {
  const root = new URL("../../", import.meta.url).pathname;
  const { success, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["publish", "--dry-run", "--allow-dirty"],
    cwd: root,
    env: { NO_COLOR: "1" },
  }).output();
  const listing = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  assert.ok(success, listing);
  for (const file of ["c/mote.h", "c/mote_shim.c"]) {
    assert.match(listing, new RegExp(`file://${root}${file} `), `${file} is published`);
  }
});
