// Every public entry is driven by the fuzz: the command sets of the bounded fuzzes of
// `deno task test` (the Heap layer against ModelHeap, the shared heap under workers) run under
// V8's coverage in a process of their own, and every function, class, static method, method,
// getter and setter that mod.ts exports (enumerated from the module, not listed here) must have
// run. An entry no command reaches is one the fuzz cannot hold to its contract.
import assert from "node:assert/strict";
import * as api from "../mod.ts";
import { fuzzHeapLayer } from "../fuzz/_runner.ts";
import { fuzzConcurrent } from "../fuzz/concurrent.ts";
import { BOUNDED } from "../fuzz/_bounded.ts";

/**
 * A public entry: its name for people, and the name and length of its text V8's coverage gives
 * it (no length for a class: its constructor's text is only part of the class's).
 */
interface Entry {
  readonly label: string;
  readonly functionName: string;
  readonly length?: number;
}

/** What the module exports that runs: functions, classes, and each class's own members. */
export function entries(module: Record<string, unknown>): Entry[] {
  const found: Entry[] = [];
  const add = (label: string, functionName: string, fn: unknown) => {
    if (typeof fn === "function") {
      found.push({ label, functionName, length: Function.prototype.toString.call(fn).length });
    }
  };
  for (const [name, value] of Object.entries(module)) {
    if (typeof value !== "function") continue;
    const text = Function.prototype.toString.call(value);
    if (!/^class\b/.test(text)) {
      add(name, name, value);
      continue;
    }
    // a class without a constructor of its own runs its parent's: nothing of its own to drive
    if (/\bconstructor\s*\(/.test(text)) found.push({ label: name, functionName: name });
    for (
      const [key, { value: member }] of Object.entries(Object.getOwnPropertyDescriptors(value))
    ) {
      if (key !== "prototype") add(`${name}.${key}`, key, member);
    }
    const members = Object.getOwnPropertyDescriptors(value.prototype);
    for (const [key, { value: member, get, set }] of Object.entries(members)) {
      if (key === "constructor") continue;
      add(`${name}.prototype.${key}`, key, member);
      add(`get ${name}.prototype.${key}`, `get ${key}`, get);
      add(`set ${name}.prototype.${key}`, `set ${key}`, set);
    }
  }
  return found;
}

/** A function's record in V8's coverage: its name, where it is and how often it ran. */
interface Covered {
  readonly functionName: string;
  readonly ranges: readonly { startOffset: number; endOffset: number; count: number }[];
}

/** The entries that never ran in the coverage of the scripts in `directory`. */
async function undriven(found: Entry[], directory: string): Promise<string[]> {
  const root = new URL("../", import.meta.url).href;
  const counts = new Map<string, number>(); // by name, and by name and length of its text
  for await (const file of Deno.readDir(directory)) {
    const { url, functions } = JSON.parse(await Deno.readTextFile(`${directory}/${file.name}`));
    if (!url.startsWith(root) || url.includes("/node_modules/")) continue;
    for (const { functionName, ranges: [range] } of functions as Covered[]) {
      for (const key of [functionName, `${functionName} ${range.endOffset - range.startOffset}`]) {
        counts.set(key, (counts.get(key) ?? 0) + range.count);
      }
    }
  }
  const key = (e: Entry) =>
    e.length === undefined ? e.functionName : `${e.functionName} ${e.length}`;
  return found.filter((e) => !counts.get(key(e))).map((e) => e.label);
}

/**
 * Entries that no fuzz command drives yet: each a gap the fuzz must close, named so that the
 * test fails both when another entry goes undriven and when one of these becomes driven.
 */
const NOT_YET_DRIVEN: readonly string[] = [
  // no command makes its heap for a module from the module's bytes
  "linkHeap",
];

if (import.meta.main) {
  // the driven process: the bounded fuzzes' command sets, as deno task test runs them
  // a third of the runs: the command set is the same, and every command comes up many times
  fuzzHeapLayer({ runs: BOUNDED.heapRuns / 3, seed: BOUNDED.seed });
  const report = await fuzzConcurrent({ runs: 4, seed: BOUNDED.seed });
  if (report.failure) throw new Error(report.failure);
} else {
  Deno.test("every entry mod.ts exports is driven by a fuzz command", async () => {
    const found = entries(api);
    assert.ok(found.length >= 20, `only ${found.length} entries found in mod.ts`);
    const directory = await Deno.makeTempDir();
    try {
      const { success, stderr } = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", `--coverage=${directory}`, new URL(import.meta.url).pathname],
        stdout: "null",
        stderr: "piped",
      }).output();
      assert.ok(success, new TextDecoder().decode(stderr));
      assert.deepEqual(await undriven(found, directory), NOT_YET_DRIVEN);
    } finally {
      await Deno.remove(directory, { recursive: true });
    }
  });
}
