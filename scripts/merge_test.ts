import assert from "node:assert/strict";
import { binaryen, featureFlags, mergeMote } from "./merge.ts";

/**
 * A program as clang builds one for setjmp with `-mllvm -wasm-enable-sjlj`: it imports its memory
 * and allocator, exports `__heap_base`, and jumps out of a call by throwing a tag (exception
 * handling), which wasm-merge refuses unless told the feature.
 */
const THROWING = `(module
  (import "env" "memory" (memory 2))
  (import "env" "malloc" (func $malloc (param i32) (result i32)))
  (import "env" "free" (func $free (param i32)))
  (tag $jump (param i32))
  (global $heap_base i32 (i32.const 65536))
  (export "__heap_base" (global $heap_base))
  (func $deep (param $p i32) (throw $jump (i32.load (local.get $p))))
  (func (export "run") (result i32)
    (local $p i32) (local $jumped i32)
    (local.set $p (call $malloc (i32.const 100)))
    (i32.store (local.get $p) (i32.const 7))
    (local.set $jumped
      (try (result i32) (do (call $deep (local.get $p)) (i32.const 0)) (catch $jump)))
    (call $free (local.get $p))
    (i32.add (local.get $jumped) (local.get $p))))
`;

async function assemble(wat: string): Promise<Uint8Array<ArrayBuffer>> {
  const dir = await Deno.makeTempDir({ prefix: "mote-merge-test-" });
  try {
    await Deno.writeTextFile(`${dir}/m.wat`, wat);
    await binaryen("wasm-as", [
      `${dir}/m.wat`,
      "--enable-exception-handling",
      "-o",
      `${dir}/m.wasm`,
    ]);
    return await Deno.readFile(`${dir}/m.wasm`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** `bytes` with a `target_features` custom section listing `names` as used ("+"). */
function withTargetFeatures(bytes: Uint8Array, names: string[]): Uint8Array {
  const text = (s: string) => [s.length, ...new TextEncoder().encode(s)];
  const contents = [
    ...text("target_features"),
    names.length,
    ...names.flatMap((n) => [0x2b, ...text(n)]),
  ];
  return new Uint8Array([...bytes, 0, contents.length, ...contents]);
}

Deno.test("merge passes wasm-merge the features the module uses, read from its bytes", async (t) => {
  const program = await assemble(THROWING);
  await t.step("a module that throws (setjmp's exception handling) merges and runs", async () => {
    assert.ok(featureFlags(program).includes("--enable-exception-handling"));
    const merged = await mergeMote(program);
    const { exports } = new WebAssembly.Instance(new WebAssembly.Module(merged), {});
    assert.deepEqual(WebAssembly.Module.imports(new WebAssembly.Module(merged)), []);
    const run = exports.run as () => number;
    const first = run();
    assert.equal(first - 7, run() - 7, "the block freed after the jump is reused");
    assert.equal((first - 7) % 16, 0, "a 16-byte aligned block from mote");
  });
  await t.step("the target_features section's names, in binaryen's spelling", () => {
    const declared = withTargetFeatures(program, ["simd128", "tail-call", "atomics"]);
    for (const flag of ["--enable-simd", "--enable-tail-call", "--enable-threads"]) {
      assert.ok(featureFlags(declared).includes(flag), flag);
    }
    assert.throws(
      () => featureFlags(withTargetFeatures(program, ["quantum"])),
      /feature quantum, which merge cannot pass on/,
    );
  });
});

Deno.test("deno task merge: paths from where it was run, one line and exit 2 for bad files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "mote-merge-cli-" });
  const merge = (...args: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("./merge.ts", import.meta.url).pathname, ...args],
      cwd: new URL("..", import.meta.url).pathname, // deno task runs in the project's root
      env: { INIT_CWD: dir }, // ... and says where it was run
      stdout: "piped",
      stderr: "piped",
    }).output();
  try {
    await Deno.writeFile(`${dir}/program.wasm`, await assemble(THROWING));
    const ok = await merge("program.wasm", "merged.wasm");
    assert.equal(ok.code, 0, new TextDecoder().decode(ok.stderr));
    assert.ok((await Deno.stat(`${dir}/merged.wasm`)).size > 0, "written where it was run");
    await Deno.writeTextFile(`${dir}/text.wasm`, "not wasm");
    for (
      const [args, message] of [
        [["missing.wasm", "out.wasm"], /^error: Cannot read program "missing.wasm": No such file/],
        [
          ["text.wasm", "out.wasm"],
          /^error: Cannot merge "text.wasm": The bytes are not a WebAssembly/,
        ],
        [
          ["program.wasm", "no/such/dir/out.wasm"],
          /^error: Cannot write "no\/such\/dir\/out.wasm"/,
        ],
        [["program.wasm"], /^error: expected two files/],
      ] as const
    ) {
      const { code, stderr } = await merge(...args);
      const text = new TextDecoder().decode(stderr);
      assert.equal(code, 2, text);
      assert.match(text, message);
      assert.equal(text.trim().split("\n").length, 1, text);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("merge refuses a module built with threads, saying to link it at run time", async () => {
  // (module (import "env" "memory" (memory 1 16 shared))
  //   (import "env" "malloc" (func $malloc (param i32) (result i32)))
  //   (global (export "__heap_base") i32 (i32.const 1024))
  //   (func (export "allocate") (param i32) (result i32) (call $malloc (local.get 0))))
  const threaded = Uint8Array.from(
    atob(
      "AGFzbQEAAAABBgFgAX8BfwIdAgNlbnYGbWFsbG9jAAADZW52Bm1lbW9yeQIDARADAgEABgcBfwBBgAgLBxoCC19faGVh" +
        "cF9iYXNlAwAIYWxsb2NhdGUAAQoIAQYAIAAQAAs=",
    ),
    (c) => c.charCodeAt(0),
  );
  await assert.rejects(
    () => mergeMote(threaded),
    /^TypeError: The module imports a shared memory \(env\.memory\), as one built with threads does: merging gives it mote's unshared heap; link it at run time instead, with linkHeap\(wasm, \{ shared: true \}\)$/,
  );
});
