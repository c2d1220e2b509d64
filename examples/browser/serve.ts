/**
 * Serves the browser example: index.html, and main.js bundled from main.ts with mote inside, as
 * a browser loads it (browsers cannot import TypeScript). Nothing generated is written to disk.
 *
 *     deno task example:browser [port]   then open the address it prints
 *
 * @module
 */

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
      await Deno.readTextFile(new URL("./index.html", import.meta.url)),
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

if (import.meta.main) {
  const { url } = await serveExample(Number(Deno.args[0] ?? 8000));
  console.log(`mote's browser example: ${url}`);
}
