// What the published package holds and how its docs read: only what a user imports and reads is
// published, and every exported symbol has an example that imports from the package's own entry
// points, as a user of the package would write it.
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);
const CONFIG = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
const ENTRY_POINTS: string[] = Object.values(CONFIG.exports);
/** What an example may import: the package by its entry points, and Node's built-ins. */
const IMPORTABLE = [
  ...Object.keys(CONFIG.exports).map((key) => CONFIG.name + key.slice(1)),
  "node:",
];
/** Whether a module is one of the project's own files, not an npm package's. */
const ours = (specifier: string) =>
  specifier.startsWith(ROOT.href) && !specifier.includes("/node_modules/");

async function deno(...args: string[]): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  assert.equal(code, 0, text);
  return text;
}

Deno.test("deno publish lists only what a user imports and reads", async () => {
  const text = await deno("publish", "--dry-run", "--allow-dirty");
  const published = [...text.matchAll(/^\s+(file:\/\/\S+) \(/gm)]
    .map(([, url]) => url.slice(ROOT.href.length));
  assert.ok(published.includes("mod.ts") && published.includes("README.md"), text);
  for (const path of published) {
    assert.doesNotMatch(path, /_test\.ts$|_test_util\.ts$|^(scripts|bench|tests|examples)\//);
    // the entry points and what they import, the allocator's source (and its C shim, where
    // there is one), and what a reader of the package page sees
    const what = /^(mod\.ts|README\.md|LICENSE|deno\.json|\.git|docs\/[\w-]+\.(md|svg))$/;
    const code = /^(src|fuzz)\/\w+\.ts$|^asm\/\w+\.ts$|^c\/\w+\.[ch]$/;
    assert.ok(what.test(path) || code.test(path), `${path} is published`);
  }
});

Deno.test("every exported symbol has an example that imports the package by its name", async () => {
  const doc = JSON.parse(await deno("doc", "--json", ...ENTRY_POINTS));
  const missing: string[] = [];
  for (const { symbols } of Object.values(doc.nodes) as { symbols: Symbol[] }[]) {
    for (const symbol of symbols) {
      // a re-export of another entry point's symbol is documented where it is declared
      if (symbol.declarations.every((d) => d.kind === "reference")) continue;
      const examples = symbol.declarations.flatMap((d) => d.jsDoc?.tags ?? [])
        .filter((tag) => tag.kind === "example");
      if (examples.length === 0) missing.push(symbol.name);
      for (const { doc } of examples) {
        for (const [, from] of doc.matchAll(/\bfrom\s+"([^"]+)"/g)) {
          assert.ok(
            IMPORTABLE.some((entry) =>
              from === entry || entry === "node:" && from.startsWith(entry)
            ),
            `${symbol.name}'s example imports "${from}"`,
          );
        }
      }
    }
  }
  assert.deepEqual(missing, [], "exported symbols without an @example");
});

interface Symbol {
  name: string;
  declarations: { kind: string; jsDoc?: { tags?: { kind: string; doc: string }[] } }[];
}

Deno.test("the package's modules import one another without a circle", async () => {
  const modules: GraphModule[] = [];
  for (const entry of ENTRY_POINTS) {
    modules.push(...JSON.parse(await deno("info", "--json", entry)).modules);
  }
  const edges = new Map<string, string[]>();
  for (const module of modules) {
    if (!ours(module.specifier)) continue;
    const targets = (module.dependencies ?? []).flatMap((d) => [d.code, d.type])
      .map((to) => to?.specifier).filter((to): to is string => to !== undefined && ours(to));
    edges.set(module.specifier, targets);
  }
  // depth-first, a module met again while still on the path closes a circle
  const done = new Set<string>(), path: string[] = [];
  const visit = (module: string) => {
    if (path.includes(module)) {
      const circle = [...path.slice(path.indexOf(module)), module];
      assert.fail(`import circle: ${circle.map((m) => m.slice(ROOT.href.length)).join(" -> ")}`);
    }
    if (done.has(module)) return;
    path.push(module);
    for (const to of edges.get(module) ?? []) visit(to);
    path.pop();
    done.add(module);
  };
  for (const module of edges.keys()) visit(module);
  assert.ok(edges.size > 10, `${edges.size} modules`);
});

interface GraphModule {
  specifier: string;
  dependencies?: { code?: { specifier: string }; type?: { specifier: string } }[];
}

Deno.test("deno task demo fetches no npm package: it imports none, and no task installs for it", async () => {
  // deno task installs every npm import of deno.json before any task unless node_modules is manual
  assert.equal(CONFIG.nodeModulesDir, "manual");
  assert.doesNotMatch(CONFIG.tasks.demo, /deno install/);
  const graph = JSON.parse(await deno("info", "--json", "scripts/demo.ts"));
  const foreign = (graph.modules as GraphModule[]).map((m) => m.specifier).filter((s) => !ours(s));
  assert.deepEqual(foreign, [], "the demo imports only the project's own files");
});

Deno.test("no example in the package's sources imports a file by its path", async () => {
  const relative: string[] = [];
  for (const dir of ["", "src/", "fuzz/"]) {
    for await (const { name } of Deno.readDir(new URL(dir || ".", ROOT))) {
      if (!name.endsWith(".ts") || name.endsWith("_test.ts")) continue;
      const text = await Deno.readTextFile(new URL(dir + name, ROOT));
      for (const [line] of text.matchAll(/^\s*\* import .* from "\.{1,2}\/.*$/gm)) {
        relative.push(`${dir}${name}: ${line}`);
      }
    }
  }
  assert.deepEqual(relative, []);
});
