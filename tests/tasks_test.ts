// Every task as a newcomer runs it, with the permissions deno.json gives it: on a machine without
// the C toolchain, Emscripten or apt-get, what cannot be built is skipped with one line saying what
// to install; a missing file named on the command line is one line and exit code 2.
import assert from "node:assert/strict";

const ROOT = new URL("..", import.meta.url);
const TASKS: Record<string, string> = JSON.parse(
  await Deno.readTextFile(new URL("deno.json", ROOT)),
).tasks;

/** Runs `task` as `deno task` would (its last command, in the project's root), with `args`. */
async function task(name: string, args: string[], env?: Record<string, string>) {
  const words = TASKS[name].split("&&").at(-1)!.trim().split(/\s+/).slice(1); // after "deno"
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [...words, ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    clearEnv: env !== undefined,
    stdout: "null",
    stderr: "piped",
  }).output();
  const lines = new TextDecoder().decode(stderr).trim().split("\n")
    .filter((line) => line && !/^(Download|Initialize|Check|Warning)\b/.test(line));
  return { code, lines };
}

Deno.test("tasks on a machine with none of the build tools: one line for each thing skipped", async (t) => {
  // a PATH with nothing on it: no clang, emcc, apt-get, node or npx
  const env = { PATH: await Deno.makeTempDir(), HOME: Deno.env.get("HOME") ?? "/tmp" };
  try {
    await t.step(
      "bench:setup builds the AssemblyScript peers and names the packages it lacks",
      async () => {
        const { code, lines } = await task("bench:setup", ["--force"], env); // built ones too
        assert.equal(code, 0, lines.join("\n"));
        const skipped = lines.filter((line) => line.includes("skipped"));
        assert.deepEqual(lines, skipped, "nothing but one line per peer skipped");
        assert.match(
          lines.join("\n"),
          /^dlmalloc\.wasm skipped: no clang .*\(packages clang lld wasi-libc\)/m,
        );
        assert.match(
          lines.join("\n"),
          /^mimalloc\.wasm skipped: no clang .*\(packages clang lld wasi-libc\)/m,
        );
        assert.match(
          lines.join("\n"),
          /emscripten-dlmalloc\.wasm skipped: no emcc \(package emscripten\)/,
        );
      },
    );
    for (const name of ["example:c", "bench:c"]) {
      await t.step(`${name} is skipped, saying what to install`, async () => {
        const { code, lines } = await task(name, [], env);
        assert.equal(code, 0);
        assert.equal(lines.length, 1, lines.join("\n"));
        assert.match(lines[0], /skipped: clang is not installed; .*apt-get install clang lld/);
      });
    }
  } finally {
    await Deno.remove(env.PATH);
  }
});

Deno.test("a file the command line names that cannot be read: one line, exit 2", async () => {
  const missing = "/nonexistent-mote/file";
  for (
    const [name, args] of [
      ["example:link", [missing]],
      ["merge", [missing, "out.wasm"]],
      ["fuzz", ["--wasm", missing]],
      ["bench:report", ["--from", missing]],
      ["bench:report", ["--peer", missing]],
    ] as const
  ) {
    const { code, lines } = await task(name, [...args]);
    assert.equal(code, 2, `${name}: ${lines.join("\n")}`);
    assert.equal(lines.length, 1, `${name}: ${lines.join("\n")}`);
    assert.match(lines[0], /^error: Cannot read .*nonexistent-mote\/file.*: No such file/, name);
  }
});

Deno.test("the README's install line names every package .ci/run installs for the tests", async () => {
  const readme = await Deno.readTextFile(new URL("README.md", ROOT));
  const ci = await Deno.readTextFile(new URL(".ci/run", ROOT));
  const line = /sudo apt-get install ([^`]*?)\n```/.exec(readme)![1].replace(/\\\n\s*/g, "");
  const named = new Set(line.split(/\s+/));
  const installed = [...ci.matchAll(/(?:PACKAGES="([^"]+)"|install -y -qq (\w+);)/g)]
    .flatMap(([, list, one]) => (list ?? one).split(" "));
  assert.deepEqual(installed.filter((p) => !named.has(p)), []);
  assert.ok(installed.length >= 9, installed.join(" "));
});

Deno.test("a bad option value: one line (and where --help is), exit 2, nothing written", async () => {
  const report = await Deno.readTextFile(new URL("bench/REPORT.md", ROOT));
  for (
    const [name, args, message] of [
      ["bench:report", ["--only", "nosuch"], /^error: --only: no workload named nosuch$/],
      ["demo", ["--svg", "/nonexistent-mote/map.svg"], /^error: Cannot write /],
      ["merge", ["one.wasm"], /^error: expected two files/],
    ] as const
  ) {
    const { code, lines } = await task(name, [...args]);
    assert.equal(code, 2, `${name}: ${lines.join("\n")}`);
    assert.match(lines[0], message, name);
    assert.equal(lines.length, 1, lines.join("\n"));
  }
  assert.equal(await Deno.readTextFile(new URL("bench/REPORT.md", ROOT)), report);
});
