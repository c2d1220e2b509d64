/**
 * The bounded-growth run: `deno task soak`'s rule for any allocator. Many random operations
 * over a bounded live set, seeded; the memory's size is sampled at even steps and must stop
 * growing (see {@linkcode lateGrowths}). Its blocks are held to the contract (fuzz/_contract.ts):
 * each placed where no other lies, aligned, and its contents verified before it is freed or
 * reallocated; a small request that fails while the heap could grow breaks liveness. It runs
 * where the allocator runs (the worker), calling the exports directly, and beats a heartbeat the
 * watchdog reads.
 */
import { type Block, Contract } from "./_contract.ts";
import { lateGrowths, livenessBroken } from "./_oracles.ts";

/** How long and how wide a soak is. */
export interface SoakParams {
  readonly operations: number;
  /** The most blocks live at once. */
  readonly live: number;
  readonly seed: number;
  /** The alignment plain allocations must have. */
  readonly alignment: number;
}

/** An allocator's three calls with Rust's arguments; a C allocator ignores sizes it is not given. */
export interface SoakAllocator {
  alloc(size: number, align: number): number;
  dealloc(ptr: number, size: number, align: number): void;
  realloc(ptr: number, size: number, align: number, newSize: number): number;
  /** Whether it takes alignments above the plain one (Rust's alloc, C's aligned_alloc). */
  readonly aligns: boolean;
  /** Whether realloc keeps a block's alignment (Rust) or gives the plain one (C). */
  readonly reallocKeepsAlignment: boolean;
}

/** How a soak ended. */
export interface SoakResult {
  readonly operations: number;
  /** The memory's size in bytes at each of the samples. */
  readonly samples: readonly number[];
  /** The largest sum of requested bytes live at once. */
  readonly peakLive: number;
  /** Set when a rule was broken. */
  readonly failure?: string;
}

/** How many times the memory's size is sampled. */
const SAMPLES = 40;

class SoakFailure extends Error {}

/** Runs a soak; `beat` is called every 1024 operations with the count so far. */
export function soak(
  allocator: SoakAllocator,
  memory: WebAssembly.Memory,
  maxBytes: number | undefined,
  params: SoakParams,
  beat: (operations: number) => void,
): SoakResult {
  const { operations, live, seed, alignment } = params;
  let state = (seed | 0) || 1;
  const random = () => {
    state ^= state << 13, state ^= state >>> 17, state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  const pick = (n: number) => Math.floor(random() * n);
  // the soak's sizes: mostly small, some up to 16 KiB, rarely up to 256 KiB
  const size = () => {
    const r = random();
    if (r < 0.7) return 1 + pick(128);
    if (r < 0.995) return Math.floor(2 ** (7 + random() * 7));
    return 65536 + pick(196_608);
  };
  const slots: (Block | undefined)[] = new Array(live), aligns = new Float64Array(live);
  let liveBytes = 0, peakLive = 0, allocations = 0, op = 0, what = "";
  const samples: number[] = [];
  const every = Math.max(1, Math.floor(operations / SAMPLES));
  // the operations done: all of them, or those before the one that failed
  const end = (failure?: string): SoakResult => ({ operations: op, samples, peakLive, failure });
  const contract = new Contract(() => memory.buffer, () => undefined, (problem) => {
    throw new SoakFailure(`${problem}, from ${what} in operation ${op} of the bounded-growth run`);
  });
  try {
    for (op = 0; op < operations; op++) {
      if ((op & 1023) === 0) beat(op);
      if (op % every === 0) samples.push(memory.buffer.byteLength);
      const slot = pick(live), old = slots[slot];
      if (old && random() >= 0.2) {
        what = `a free of ${old.ptr}`;
        contract.take(contract.live.indexOf(old), what);
        allocator.dealloc(old.ptr, old.requested, aligns[slot]);
        liveBytes -= old.requested;
        slots[slot] = undefined;
        continue;
      }
      // a realloc of the slot's block, or an allocation into the empty slot
      const bytes = size();
      const align = old
        ? aligns[slot]
        : allocator.aligns && random() < 0.05
        ? Math.max(alignment, 32 << pick(8))
        : alignment;
      what = old ? `realloc(${old.ptr}, ${bytes})` : `an allocation of ${bytes} bytes`;
      if (old) contract.take(contract.live.indexOf(old), what);
      const ptr = old
        ? allocator.realloc(old.ptr, old.requested, align, bytes) >>> 0
        : allocator.alloc(bytes, align) >>> 0;
      if (ptr === 0) {
        if (old) contract.restore(old, what);
        const heap = { allocations, liveBytes, memory, maxBytes };
        const why = livenessBroken({ size: bytes, alignment: align }, heap);
        if (!why) continue;
        return end(
          `Liveness: ${what} returned 0 in operation ${op} of the bounded-growth run: ${why}`,
        );
      }
      aligns[slot] = old && !allocator.reallocKeepsAlignment ? alignment : align;
      const bounds = [1, memory.buffer.byteLength] as const, kept = old?.requested ?? 0;
      const how = { alignment: aligns[slot], bounds, kept: Math.min(kept, bytes), what };
      slots[slot] = old
        ? contract.moved(old, ptr, bytes, bytes, how)
        : contract.place(ptr, bytes, bytes, how);
      if (!old) allocations++;
      liveBytes += bytes - (old?.requested ?? 0);
      peakLive = Math.max(peakLive, liveBytes);
    }
  } catch (error) {
    if (error instanceof SoakFailure) return end(error.message);
    throw error;
  }
  samples.push(memory.buffer.byteLength);
  const growths = lateGrowths(samples);
  if (growths > 1) {
    const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(2);
    const half = samples[Math.floor(samples.length / 2)];
    return end(
      `Bounded growth: with at most ${live} blocks (${mib(peakLive)} MiB) live, the memory ` +
        `grew ${growths} times in the second half of ${operations} operations, from ` +
        `${mib(half)} MiB to ${mib(samples.at(-1)!)} MiB`,
    );
  }
  return end();
}
