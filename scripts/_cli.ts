/**
 * The one command-line parser of every script (demo, soak, fuzz, bench report, mutants, ...), a
 * progress line, and the seeded random source the demo and the soak share.
 *
 * A script declares its flags once; `--help` prints them, `--flag value` and `--flag=value` both
 * work, and a bad flag or value ends the script with exit code 2 and one line naming the flag and
 * the value and pointing to `--help`, never a stack trace; a file named on the command
 * line that cannot be read or written (`readArg`, `writeArg`) ends it with one line and exit
 * code 2 too. Its path is the user's, relative to where they typed it (`argPath`).
 *
 * @module
 */
import { seeded } from "../src/_test_util.ts";

/**
 * The check of the API option a flag sets, so that the flag's values meet the API's rule and no
 * copy of it: it throws a TypeError or RangeError whose message names `name` and ends
 * `, got VALUE` (as `src/_validate.ts`'s checks do).
 */
export type ValueCheck = (value: unknown, name: string) => unknown;

/**
 * One flag: its kind, what it does, its default and, for numbers, its range or for strings its
 * choices; or the check of the API option it sets, which sees each value first (a number flag's
 * as `Number` reads it, NaN when it is none, so that the API's rule says what was expected).
 */
export type Flag =
  | {
    kind: "integer" | "number";
    help: string;
    default?: number;
    min?: number;
    max?: number;
    check?: ValueCheck;
  }
  | {
    kind: "string";
    help: string;
    default?: string;
    choices?: readonly string[];
    check?: ValueCheck;
  }
  | { kind: "strings"; help: string }
  | { kind: "boolean"; help: string };

/** A script's command line: what it is, its flags and whether it takes positional arguments. */
export interface Command<F extends Record<string, Flag>> {
  /** How to run it, e.g. `deno task soak`. */
  usage: string;
  /** One or two sentences on what it does. */
  summary: string;
  flags: F;
  /** The name of the positional arguments it takes, if it takes any. */
  positionals?: string;
}

type ValueOf<T extends Flag> = T extends { kind: "integer" | "number" }
  ? T extends { default: number } ? number : number | undefined
  : T extends { kind: "string" } ? T extends { default: string } ? string : string | undefined
  : T extends { kind: "strings" } ? string[]
  : boolean;

/** The parsed values, each typed by its flag; `_` holds the positional arguments. */
export type Values<F extends Record<string, Flag>> = { [K in keyof F]: ValueOf<F[K]> } & {
  _: string[];
};

/** A command line that cannot be run: a flag unknown or given a bad value. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** The text `--help` prints. */
export function helpText<F extends Record<string, Flag>>(command: Command<F>): string {
  const rows = Object.entries(command.flags).map(([name, flag]) => {
    const value = flag.kind === "boolean"
      ? ""
      : flag.kind === "integer" || flag.kind === "number"
      ? " N"
      : " VALUE";
    const extra = "default" in flag && flag.default !== undefined
      ? ` (default ${flag.default})`
      : "";
    return [`  --${name}${value}`, flag.help + extra];
  });
  rows.push(["  --help", "print this and exit"]);
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  const positionals = command.positionals ? ` [${command.positionals}]` : "";
  return `usage: ${command.usage} [flags]${positionals}\n\n${command.summary}\n\n` +
    rows.map(([left, right]) => left.padEnd(width) + right).join("\n");
}

/** Runs the API's check of a flag's value, reporting a refusal with the flag and the raw value. */
function checkValue(check: ValueCheck | undefined, name: string, value: unknown, quoted: string) {
  try {
    check?.(value, `--${name}`);
  } catch (error) {
    if (!(error instanceof TypeError || error instanceof RangeError)) throw error;
    throw new UsageError(error.message.replace(/, got [^]*$/, `, got ${quoted}`));
  }
}

function convert(name: string, flag: Flag, raw: string): number | string {
  const quoted = JSON.stringify(raw);
  if (flag.kind === "integer" || flag.kind === "number") {
    const value = raw.trim() === "" ? NaN : Number(raw);
    checkValue(flag.check, name, value, quoted);
    const what = flag.kind === "integer" ? "an integer" : "a number";
    const range = flag.min !== undefined && flag.max !== undefined
      ? ` from ${flag.min} to ${flag.max}`
      : flag.min !== undefined
      ? ` of at least ${flag.min}`
      : flag.max !== undefined
      ? ` of at most ${flag.max}`
      : "";
    if (
      !Number.isFinite(value) || (flag.kind === "integer" && !Number.isInteger(value)) ||
      (flag.min !== undefined && value < flag.min) || (flag.max !== undefined && value > flag.max)
    ) throw new UsageError(`--${name} must be ${what}${range}, got ${quoted}`);
    return value;
  }
  if (flag.kind === "string") checkValue(flag.check, name, raw, quoted);
  if (flag.kind === "string" && flag.choices && !flag.choices.includes(raw)) {
    throw new UsageError(`--${name} must be one of ${flag.choices.join(", ")}, got ${quoted}`);
  }
  return raw;
}

/**
 * Parses `args` against `command`'s flags. Throws `UsageError` on an unknown flag, a missing or bad
 * value, or positional arguments the command does not take; returns `undefined` for `--help`.
 */
export function parseFlags<F extends Record<string, Flag>>(
  command: Command<F>,
  args: readonly string[],
): Values<F> | undefined {
  const values: Record<string, unknown> = { _: [] };
  for (const [name, flag] of Object.entries(command.flags)) {
    if (flag.kind === "boolean") values[name] = false;
    else if (flag.kind === "strings") values[name] = [];
    else values[name] = flag.default;
  }
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--help" || arg === "-h") return undefined;
    if (arg === "--") {
      (values._ as string[]).push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith("--")) {
      if (!command.positionals) {
        throw new UsageError(`Unexpected argument ${JSON.stringify(arg)}: this takes only flags`);
      }
      (values._ as string[]).push(arg);
      continue;
    }
    const equals = arg.indexOf("=");
    const name = arg.slice(2, equals < 0 ? undefined : equals);
    const flag = Object.hasOwn(command.flags, name) ? command.flags[name] : undefined;
    if (!flag) throw new UsageError(`Unknown flag ${JSON.stringify(`--${name}`)}`);
    if (flag.kind === "boolean") {
      if (equals >= 0) {
        const raw = arg.slice(equals + 1);
        if (raw !== "true" && raw !== "false") {
          throw new UsageError(
            `--${name} takes no value or true/false, got ${JSON.stringify(raw)}`,
          );
        }
        values[name] = raw === "true";
      } else values[name] = true;
      continue;
    }
    let raw: string;
    if (equals >= 0) raw = arg.slice(equals + 1);
    else if (i + 1 < args.length && !args[i + 1].startsWith("--")) raw = args[++i];
    else throw new UsageError(`--${name} needs a value`);
    if (flag.kind === "strings") (values[name] as string[]).push(raw);
    else values[name] = convert(name, flag, raw);
  }
  return values as Values<F>;
}

/**
 * Parses `Deno.args` (or `args`) for a script: on `--help` prints the help and exits 0, on a
 * usage error prints one line, pointing to `--help`, and exits 2.
 */
export function parseArgs<F extends Record<string, Flag>>(
  command: Command<F>,
  args: readonly string[] = Deno.args,
): Values<F> {
  try {
    const values = parseFlags(command, args);
    if (values) return values;
    console.log(helpText(command));
    Deno.exit(0);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    fail(error.message, command.usage);
  }
}

/**
 * Ends a script as a bad command line does: `error: message`, one line (saying where `--help` is
 * when `usage` is given), and exit code 2.
 */
export function fail(message: string, usage?: string): never {
  const help = usage ? ` (${usage} --help lists the flags)` : "";
  console.error(`error: ${message.replaceAll("\n", " ")}${help}`);
  Deno.exit(2);
}

/**
 * A path given on the command line, resolved against the directory the user typed it in:
 * `deno task` runs scripts in the project's root and names that directory in `INIT_CWD`.
 * Without the permission to read it, the path is taken as given.
 */
export function argPath(path: string): string {
  let from: string | undefined;
  try {
    from = Deno.env.get("INIT_CWD");
  } catch {
    // no --allow-env: relative to where the script runs
  }
  const absolute = /^([A-Za-z]:)?[\\/]/.test(path); // POSIX, or Windows with its drive
  return from && !absolute ? `${from.replace(/[\\/]$/, "")}/${path}` : path;
}

/** Why a file operation failed, in a few words: the OS's message without its error number. */
function reason(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/ \(os error.*$/s, "");
}

/** Reads a file named on the command line; a missing or unreadable one ends the script (`fail`). */
export function readArg(path: string, what = "file"): Uint8Array<ArrayBuffer> {
  try {
    return Deno.readFileSync(argPath(path));
  } catch (error) {
    fail(`Cannot read ${what} ${JSON.stringify(path)}: ${reason(error)}`);
  }
}

/** Writes a file named on the command line; one that cannot be written ends the script (`fail`). */
export async function writeArg(path: string, data: Uint8Array | string): Promise<void> {
  try {
    if (typeof data === "string") await Deno.writeTextFile(argPath(path), data);
    else await Deno.writeFile(argPath(path), data);
  } catch (error) {
    fail(`Cannot write ${JSON.stringify(path)}: ${reason(error)}`);
  }
}

/**
 * Progress for long runs: on a terminal, one line on stderr rewritten in place; elsewhere (CI,
 * a pipe), a line at most every `quietMs`, so logs stay short.
 */
export class Progress {
  #terminal = Deno.stderr.isTerminal();
  #last = -Infinity;
  #shown = false;
  constructor(readonly quietMs = 10_000) {}

  /** Shows `line` now on a terminal, or if `quietMs` passed since the last line elsewhere. */
  update(line: string): void {
    const now = performance.now();
    if (this.#terminal) {
      if (now - this.#last < 100) return;
      Deno.stderr.writeSync(new TextEncoder().encode(`\r\x1b[2K${line}`));
      this.#shown = true;
    } else {
      if (now - this.#last < this.quietMs) return;
      console.error(line);
    }
    this.#last = now;
  }

  /** Ends the in-place line, so what is printed next starts on a line of its own. */
  done(): void {
    if (this.#terminal && this.#shown) Deno.stderr.writeSync(new TextEncoder().encode("\r\x1b[2K"));
    this.#shown = false;
  }
}

/** A seeded source of numbers in [0, 1), so every run of a script does the same work. */
export function seededFraction(seed: number): () => number {
  const next = seeded(seed);
  return () => next(2 ** 31) / 2 ** 31;
}
