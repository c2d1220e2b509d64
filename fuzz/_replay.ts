/**
 * A shared heap's ticket log replayed through the reference model: the one replay of the
 * concurrent fuzz (fuzz/concurrent.ts) and of the Node test that kills threads at random points
 * (tests/node_shared_test.ts), which must both find every pointer and usable size predicted.
 *
 * @module
 */
import { rootOf } from "../src/_heap_reader.ts";
import { SharedModelAllocator } from "../src/_model_shared.ts";
import { type LogEntry, SHARED_HEADER } from "../src/_shared_engine.ts";

/** Where the model first disagreed with the log: the entry's index, and how. */
export interface Disagreement {
  readonly at: number;
  readonly what: string;
}

/**
 * Starts the model as the shared build started the heap at `base` (in a memory of `pages`, at most
 * `maximum`, up to `limitEnd`), replays `log` through it in ticket order, and compares each
 * entry's result and usable size with what the model returns.
 *
 * @returns The model, and the first disagreement if there was one.
 */
export function replayLog(
  log: readonly LogEntry[],
  { base, limitEnd, pages, maximum }: Record<"base" | "limitEnd" | "pages" | "maximum", number>,
): { model: SharedModelAllocator; disagreement?: Disagreement } {
  const model = new SharedModelAllocator(new WebAssembly.Memory({ initial: pages, maximum }));
  if (!model.init(rootOf(base) + SHARED_HEADER, limitEnd)) {
    return { model, disagreement: { at: -1, what: "the model could not start the heap" } };
  }
  for (const [at, { operation, a, b, ticket, result, usable }] of log.entries()) {
    // the model's calls have the log's names (the limit's is mote_set_limit): no other is one
    const name = operation === "set_limit" ? "mote_set_limit" : operation;
    const call = (model as unknown as Record<string, typeof model.realloc | undefined>)[name];
    if (!call) return { model, disagreement: { at, what: `the log holds ${operation}` } };
    const got = call.call(model, a, b) ?? 0;
    // every entry's usable size is compared: a block's, or 0 for an entry that returns none
    const returnsBlock = /^(malloc|realloc|calloc|aligned_alloc)$/.test(operation);
    const gotUsable = returnsBlock && got ? model.malloc_usable_size(got) : 0;
    if (got !== result || gotUsable !== usable) {
      const what = `the model, replaying the log, returns ${got} (usable ${gotUsable}) at ` +
        `#${ticket}, where the heap returned ${result} (usable ${usable})`;
      return { model, disagreement: { at, what } };
    }
  }
  return { model };
}
