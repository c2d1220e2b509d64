/**
 * Serves the browser example: index.html, and main.js bundled from main.ts with mote inside, as
 * a browser loads it (browsers cannot import TypeScript). Nothing generated is written to disk.
 *
 *     deno task example:browser [port]   then open the address it prints
 *
 * The page's figures come from the build (src/_wasm.ts). Ctrl-C stops the server; so does the end
 * of the process that started it (deno task, say), even one that passes no signal on.
 *
 * @module
 */
import { ownWasm } from "../../src/_wasm.ts";
import { parseArgs } from "../../scripts/_cli.ts";

/**
 * Bundles a TypeScript entry and everything it imports into one ES module, with `deno bundle`.
 *
 * @param entry The module to bundle.
 * @returns The bundle's JavaScript.
 * @throws {Error} When `deno bundle` fails, with its output.
 */
export async function bundle(entry: URL): Promise<string> {
  const { success, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "browser", "--format", "esm", entry.pathname],
    env: { NO_COLOR: "1" },
  }).output();
  const decoder = new TextDecoder();
  if (!success) {
    throw new Error(`Bundling ${entry.pathname} failed:\n${decoder.decode(stderr)}`);
  }
  return decoder.decode(stdout);
}

/** A running example server. */
export interface ExampleServer {
  /** The page's address. */
  url: string;
  /** Stops the server. */
  shutdown(): Promise<void>;
}

/**
 * Bundles the page's script and serves the page on 127.0.0.1.
 *
 * @param port The port; 0 picks a free one.
 * @returns The server and the page's address.
 */
export async function serveExample(port = 0): Promise<ExampleServer> {
  const files: Record<string, [string, string]> = {
    "/": [
      (await Deno.readTextFile(new URL("./index.html", import.meta.url)))
        .replace("{{ownWasm bytes}}", ownWasm.length.toLocaleString("en")),
      "text/html; charset=utf-8",
    ],
    "/main.js": [
      await bundle(new URL("./main.ts", import.meta.url)),
      "text/javascript; charset=utf-8",
    ],
  };
  const listening = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port,
    onListen: (address) => listening.resolve(address),
  }, (request) => {
    const file = files[new URL(request.url).pathname];
    if (file === undefined) return new Response("Not found", { status: 404 });
    return new Response(file[0], { headers: { "content-type": file[1] } });
  });
  const address = await listening.promise;
  return {
    url: `http://127.0.0.1:${address.port}/`,
    shutdown: () => server.shutdown(),
  };
}

/**
 * Resolves when the server should stop: on Ctrl-C (SIGINT) or SIGTERM, or when the process that
 * started this one has ended (its parent changed), which a task runner that dies without passing
 * its signal on leaves behind.
 *
 * @returns What stopped it.
 */
export function stopSignal(): Promise<string> {
  const { promise, resolve } = Promise.withResolvers<string>();
  const signals: Deno.Signal[] = Deno.build.os === "windows" ? ["SIGINT"] : ["SIGINT", "SIGTERM"];
  const parent = Deno.ppid;
  const watch = setInterval(() => Deno.ppid !== parent && stop("its parent process ended"), 250);
  const handlers = signals.map((signal) => [signal, () => stop(signal)] as const);
  function stop(why: string) {
    clearInterval(watch);
    for (const [signal, handler] of handlers) Deno.removeSignalListener(signal, handler);
    resolve(why);
  }
  for (const [signal, handler] of handlers) Deno.addSignalListener(signal, handler);
  return promise;
}

if (import.meta.main) {
  const { port } = parseArgs({
    usage: "deno task example:browser",
    summary: "Serves the browser example on localhost until Ctrl-C.",
    flags: {
      port: { kind: "integer", help: "the port to serve on", default: 8000, min: 0, max: 65535 },
    },
  });
  const server = await serveExample(port);
  const stopped = stopSignal();
  console.log(`mote's browser example: ${server.url} (Ctrl-C stops it)`);
  const why = await stopped;
  await server.shutdown();
  console.log(`Stopped (${why}).`);
}
