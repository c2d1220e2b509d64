/** What the demo and the soak share: their command-line flags and a seeded random source. */
import { seeded } from "../src/_test_util.ts";

/** The number after `--name` in the arguments, or `fallback`. */
export function numberFlag(args: string[], name: string, fallback: number): number {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? Number(args[at + 1]) : fallback;
}

/** A seeded source of numbers in [0, 1), so every run of a script does the same work. */
export function seededFraction(seed: number): () => number {
  const next = seeded(seed);
  return () => next(2 ** 31) / 2 ** 31;
}
