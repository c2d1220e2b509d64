import assert from "node:assert/strict";
import { type Command, type Flag, helpText, parseFlags, UsageError } from "./_cli.ts";

const command = {
  usage: "deno task x",
  summary: "Does x.",
  flags: {
    seconds: { kind: "number", help: "how long", default: 60, min: 0.1 },
    runs: { kind: "integer", help: "how many", min: 1, max: 10 },
    wasm: { kind: "string", help: "a module" },
    peer: { kind: "strings", help: "a peer, repeatable" },
    checked: { kind: "boolean", help: "checked build" },
  },
} satisfies Command<Record<string, Flag>>;

Deno.test("parseFlags", async (t) => {
  await t.step("takes --flag value and --flag=value alike, defaults the rest", () => {
    const a = parseFlags(command, ["--seconds", "3", "--runs=4", "--checked", "--peer", "a"]);
    assert.deepEqual(a, {
      _: [],
      seconds: 3,
      runs: 4,
      wasm: undefined,
      peer: ["a"],
      checked: true,
    });
    const b = parseFlags(command, ["--seconds=3", "--peer=a", "--peer=b", "--checked=false"]);
    assert.deepEqual(b, {
      _: [],
      seconds: 3,
      runs: undefined,
      wasm: undefined,
      peer: ["a", "b"],
      checked: false,
    });
  });
  await t.step("returns undefined for --help, wherever it stands", () => {
    assert.equal(parseFlags(command, ["--seconds", "3", "--help"]), undefined);
  });
  await t.step("names the flag and the value that is wrong", () => {
    const cases: [string[], string][] = [
      [["--seconds", "abc"], '--seconds must be a number of at least 0.1, got "abc"'],
      [["--seconds="], '--seconds must be a number of at least 0.1, got ""'],
      [["--runs", "-3"], '--runs must be an integer from 1 to 10, got "-3"'],
      [["--runs=-3"], '--runs must be an integer from 1 to 10, got "-3"'],
      [["--runs", "2.5"], '--runs must be an integer from 1 to 10, got "2.5"'],
      [["--runs"], "--runs needs a value"],
      [["--speed", "3"], 'Unknown flag "--speed"'],
      [["stray"], 'Unexpected argument "stray": this takes only flags'],
      [["--checked=yes"], '--checked takes no value or true/false, got "yes"'],
    ];
    for (const [args, message] of cases) {
      assert.throws(() => parseFlags(command, args), new UsageError(message), args.join(" "));
    }
  });
  await t.step("help lists every flag with its default", () => {
    const text = helpText(command);
    for (const name of ["--seconds N", "--runs N", "--wasm VALUE", "--checked", "--help"]) {
      assert.ok(text.includes(name), name);
    }
    assert.match(text, /how long \(default 60\)/);
  });
});

Deno.test("scripts end a bad command line with one line and exit code 2", async () => {
  const run = (script: string, ...args: string[]) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL(script, import.meta.url).pathname, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
  const bad = await run("./soak.ts", "--seconds", "abc");
  assert.equal(bad.code, 2);
  const message = new TextDecoder().decode(bad.stderr);
  assert.match(
    message,
    /^error: --seconds must be a number of at least 0\.1, got "abc" \(.*--help/,
  );
  assert.equal(message.trim().split("\n").length, 1, message);
  assert.doesNotMatch(message, /at .*\.ts:\d+/, "no stack trace");
  const help = await run("./demo.ts", "--help");
  assert.equal(help.code, 0);
  assert.match(new TextDecoder().decode(help.stdout), /--ops N +heap operations to run/);
  const short = await run("./soak.ts", "--ops=300000", "--live=500"); // no clock decides it
  assert.equal(short.code, 0, new TextDecoder().decode(short.stderr));
  assert.match(new TextDecoder().decode(short.stdout), /PASS/);
});
