/**
 * The fuzzer's rules for an allocator without a model, each with a name the report gives. C's
 * rules (alignment, bounds, no overlap, contents kept, calloc zeroed) are checked by the session
 * after every operation; the rules here go beyond them:
 *
 * - **hang**: every operation returns within a bound (the watchdog of `_third_party.ts`);
 * - **liveness**: a small request on a nearly empty heap that can grow succeeds, and so does
 *   the first small request of a fresh instance, whatever its memory;
 * - **bounded growth**: over a long run with a bounded live set the memory stops growing
 *   (`_soak.ts`, the rule of `deno task soak` for any allocator).
 */

/** A rule broken by one call: the failure, and what the trace shows as the call's outcome. */
export class OracleFailure extends Error {
  override name = "OracleFailure";
  constructor(readonly oracle: string, message: string, readonly outcome: string) {
    super(message);
  }
}

/** Requests up to this size, and alignments up to it, are small: liveness applies to them. */
export const SMALL_REQUEST = 65536;
/** Liveness applies while at most this many requested bytes are live. */
export const NEARLY_EMPTY = 1 << 20;
/** A memory that can still grow by this much can serve a small request. */
export const ROOM_TO_GROW = 16 << 20;

/**
 * Why a small request that returned 0 breaks liveness, or undefined when it may fail: always on
 * a fresh instance, and with at most {@linkcode NEARLY_EMPTY} bytes live while the memory can
 * grow by {@linkcode ROOM_TO_GROW}.
 */
export function livenessBroken(
  request: { size: number; alignment: number },
  heap: { allocations: number; liveBytes: number; memory: WebAssembly.Memory; maxBytes?: number },
): string | undefined {
  if (request.size === 0) return undefined; // C lets malloc(0) return 0
  if (request.size > SMALL_REQUEST || request.alignment > SMALL_REQUEST) return undefined;
  if (heap.allocations === 0) return "the first request on a fresh instance failed";
  const room = heap.maxBytes === undefined ? 0 : heap.maxBytes - heap.memory.buffer.byteLength;
  if (heap.liveBytes <= NEARLY_EMPTY && room >= ROOM_TO_GROW) {
    return `it failed with ${heap.liveBytes} bytes live and room for the memory to grow by ` +
      `${Math.floor(room / 2 ** 20)} MiB`;
  }
  return undefined;
}

/**
 * The soak's rule, for any allocator: of memory sizes sampled at even steps of a run, the
 * memory may have grown at most once in the second half, or by at most a third of what it grew
 * in the first. A leak, or fragmentation without end, grows it in the second half again and
 * again, by about as much as in the first; the peak of a random live set creeps up as a run goes
 * on, which may take a step, or, for an allocator of size classes whose peaks creep each on its
 * own, a few small ones. Returns the growths in the second half, or 0 when they stay within
 * the third.
 */
export function lateGrowths(samples: readonly number[]): number {
  const half = Math.floor(samples.length / 2);
  let growths = 0;
  for (let i = half + 1; i < samples.length; i++) if (samples[i] > samples[i - 1]) growths++;
  const first = (samples[half] ?? 0) - (samples[0] ?? 0);
  const second = (samples.at(-1) ?? 0) - (samples[half] ?? 0);
  return second * 3 > first ? growths : 0;
}

/** Which rule a failure's message reports, checked in this order. */
const RULES: readonly [string, RegExp][] = [
  ["hang", /did not return within/],
  ["liveness", /^Liveness/],
  ["bounded growth", /^Bounded growth/],
  ["alignment", /is not aligned to/],
  ["overlap", /overlaps/],
  ["bounds", /lies outside/],
  ["contents", /'s byte \d+ \(of \d+\) is \d+, not \d+|lost its contents/],
  ["calloc zeroed", /calloc's byte/],
  ["calloc overflow", /the product overflows/],
  ["usable size", /[Uu]sable size/],
  ["reuse", /ever higher addresses/],
  ["no trap", /threw in|aborted|exited|assertion|which the fuzzer lacks/],
  ["model", /model|checked build reported|damaged/],
];

/** The name of the rule a failure broke, from its message: "hang", "liveness", …, or "other". */
export function ruleOf(message: string): string {
  const first = message.split("\n")[0];
  return RULES.find(([, pattern]) => pattern.test(first))?.[0] ?? "other";
}
