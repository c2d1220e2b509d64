// The browser example's server without a browser: its page takes the module's size from the
// build, and it stops when told to or when whatever started it is gone.
import assert from "node:assert/strict";
import { serveExample } from "../examples/browser/serve.ts";
import { ownWasm } from "../src/_wasm.ts";

const SERVE = new URL("../examples/browser/serve.ts", import.meta.url).pathname;
const RUN = ["run", "--allow-read", "--allow-run", "--allow-net", SERVE, "--port=0"];

Deno.test("the page gives the module's size as built", async () => {
  const server = await serveExample();
  try {
    const page = await (await fetch(server.url)).text();
    assert.match(
      page,
      new RegExp(`a\\s+wasm module of ${ownWasm.length.toLocaleString("en")} bytes`),
    );
    assert.doesNotMatch(page, /\{\{|KiB/);
  } finally {
    await server.shutdown();
  }
});

/** Reads `stream` until `text` has been seen, then lets the rest go; returns what was read. */
async function readUntil(
  stream: ReadableStream<Uint8Array<ArrayBuffer>>,
  text: string,
): Promise<string> {
  let seen = "";
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  while (!seen.includes(text)) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += value;
  }
  await reader.cancel();
  return seen;
}

/** Whether a process runs (a zombie, exited but not yet reaped, does not): asks `ps`. */
async function alive(pid: number): Promise<boolean> {
  const { stdout } = await new Deno.Command("ps", { args: ["-o", "stat=", "-p", String(pid)] })
    .output();
  const state = new TextDecoder().decode(stdout).trim();
  return state !== "" && !state.startsWith("Z");
}

Deno.test("Ctrl-C stops the server, saying so", async () => {
  const child = new Deno.Command(Deno.execPath(), { args: RUN, stdout: "piped" }).spawn();
  const started = await readUntil(child.stdout, "Ctrl-C stops it");
  assert.match(started, /browser example: http:\/\/127\.0\.0\.1:\d+\//);
  child.kill("SIGINT");
  const { code } = await child.status;
  assert.equal(code, 0);
});

Deno.test({
  name: "the server stops when the process that started it dies without passing a signal on",
  ignore: Deno.build.os === "windows", // no sh, no ps
  async fn() {
    const deno = JSON.stringify(Deno.execPath());
    const script = `${deno} ${
      RUN.map((a) => JSON.stringify(a)).join(" ")
    } 2>&1 & echo "pid $!"; wait`;
    const shell = new Deno.Command("sh", { args: ["-c", script], stdout: "piped" }).spawn();
    const started = await readUntil(shell.stdout, "Ctrl-C stops it");
    const pid = Number(started.match(/pid (\d+)/)![1]);
    assert.match(started, /Ctrl-C stops it/);
    assert.ok(await alive(pid), started);
    shell.kill("SIGKILL"); // a task runner killed outright forwards nothing
    await shell.status;
    // no deadline decides this: on a loaded machine the server may take long to notice; one
    // that never does hangs the test, for the CI job's time limit to report
    while (await alive(pid)) await new Promise((r) => setTimeout(r, 100));
  },
});
