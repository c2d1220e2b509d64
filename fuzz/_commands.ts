/**
 * The fuzzer's operations as fast-check commands, each made by {@linkcode command} from its name
 * in the trace and what it does (the Heap-layer fuzz makes its own the same way). A command names
 * a live block by an index taken modulo the number of live blocks, and a size relative to the heap
 * by a {@linkcode Size}, so a shrunk sequence stays meaningful whatever was removed from it.
 */
import type fc from "fast-check";
import { ALIGN, FIRST, FREE, HEADER, LEFT_FREE, MIN_BLOCK, QUICK } from "../src/_layout.ts";
import { rootOf } from "../src/_heap_reader.ts";
import { U32_MAX } from "../src/_validate.ts";
import type { PointerCall, Session } from "./_session.ts";

/**
 * A request size: bytes, or bytes relative to what is left in the top region below the limit
 * (`room`: a request that fills it exactly), to what is left of it in the memory as it is
 * (`memory`: a request that fills it without growing the memory, the edge where a miss empties the
 * quick lists first), or to the limit itself.
 */
export type Size =
  | number
  | { readonly room: number }
  | { readonly memory: number }
  | { readonly limit: number };

/**
 * The most a relative size asks for: near a limit of gigabytes it would fill gigabytes of
 * memory, and then each move of the block would copy them.
 */
const RELATIVE_CAP = 8 << 20;

/** The bytes a size asks for in a heap with `room` (`memoryRoom`) left, a limit of `limitBytes`. */
export function resolve(
  size: Size,
  heap: Pick<Driven, "room" | "memoryRoom" | "limitBytes">,
): number {
  if (typeof size === "number") return Math.min(U32_MAX, Math.max(0, size));
  const [base, delta] = relative(size, heap);
  return Math.min(RELATIVE_CAP, Math.max(0, base + delta));
}

/** What a relative size is relative to, in `to`'s terms, and by how much. */
function relative<T>(
  size: Exclude<Size, number>,
  to: { room: T; memoryRoom: T; limitBytes: T },
): [T, number] {
  if ("room" in size) return [to.room, size.room];
  return "memory" in size ? [to.memoryRoom, size.memory] : [to.limitBytes, size.limit];
}

/** A size as the trace shows it. */
export function show(size: Size): string {
  if (typeof size === "number") return String(size);
  const [name, delta] = relative(size, { room: "room", memoryRoom: "memory", limitBytes: "limit" });
  return delta === 0 ? name : `${name}${delta > 0 ? "+" : ""}${delta}`;
}

/**
 * What the allocation commands drive: a C-ABI session, or a run of the Heap API (`Heap` and
 * `ModelHeap`), each doing the call its way and holding it to the contract.
 */
export interface Driven {
  readonly live: readonly { readonly requested: number }[];
  readonly room: number;
  /** Bytes left in the top region in the memory as it is, as a request that fills it exactly. */
  readonly memoryRoom: number;
  readonly limitBytes: number;
  /** Whether realloc to 0 bytes is defined (mote's is; C leaves it to the implementation). */
  readonly reallocZero: boolean;
  malloc(size: number): void;
  calloc(count: number, size: number): void;
  alignedAlloc(alignment: number, size: number): void;
  reallocNull(size: number): void;
  free(index: number): void;
  realloc(index: number, size: number): void;
  usableSize(index: number): void;
}

/** A command named `name` in the trace, doing `act` on runs where `when` holds. */
export function command<R extends object>(
  name: string,
  act: (run: R, name: string) => void,
  when: (run: Readonly<R>) => boolean = () => true,
): fc.Command<R, R> {
  return { check: when, run: (run) => act(run, name), toString: () => name };
}

/** A command on the live block `index` names, modulo their number: it waits for one. */
function onLive<R extends Driven>(name: string, index: number, act: (run: R, at: number) => void) {
  return command<R>(name, (run) => act(run, index % run.live.length), (run) => run.live.length > 0);
}

/**
 * A call that hands out a new block of `size`: `malloc(size)`, `calloc(first, size)`,
 * `aligned_alloc(first, size)` or `realloc(0, size)`, which is malloc.
 */
export function allocate(
  call: "malloc" | "calloc" | "aligned_alloc" | "realloc",
  size: Size,
  first?: number,
): fc.Command<Driven, Driven> {
  return command(`${call}(${first === undefined ? "" : `${first}, `}${show(size)})`, (run) => {
    const bytes = resolve(size, run);
    if (call === "malloc") run.malloc(bytes);
    else if (call === "calloc") run.calloc(first!, bytes);
    else if (call === "aligned_alloc") run.alignedAlloc(first!, bytes);
    else run.reallocNull(bytes);
  });
}

/** The orders a burst frees its blocks in: see `burst`. */
export const BURST_ORDERS = [
  "in the order made",
  "from the last",
  "in the order made, the block before grown over them",
] as const;

/**
 * malloc(size) `count` times, then free of each: in the order made, a list of freed blocks of one
 * size, each with a used right neighbour, grown to `count` (the quick lists' bound, and past it);
 * from the last, each falling into the top region where it ends there (the checked build marks in
 * it where each began, which later calls carve over and give back); or in the order made, then
 * the live block made just before them grown by realloc over them all (a quick-listed neighbour:
 * the lists are flushed, merging the blocks, and what the realloc leaves of them is given back).
 */
export function burst(
  size: Size,
  count: number,
  order: typeof BURST_ORDERS[number] = BURST_ORDERS[0],
): fc.Command<Driven, Driven> {
  return command(`${count} × malloc(${show(size)}), then free of each ${order}`, (run) => {
    const first = run.live.length;
    for (let n = 0; n < count; n++) run.malloc(resolve(size, run));
    const freed = run.live.slice(first).reduce((sum, block) => sum + block.requested, 0);
    const lastFirst = order === BURST_ORDERS[1];
    while (run.live.length > first) run.free(lastFirst ? run.live.length - 1 : first);
    if (order === BURST_ORDERS[2] && first > 0) {
      run.realloc(first - 1, run.live[first - 1].requested + freed);
    }
  });
}

/** free(live block) or malloc_usable_size(live block) */
export function onBlock(call: "free" | "malloc_usable_size", index: number) {
  return onLive<Driven>(`${call}(#${index})`, index, (run, at) => {
    if (call === "free") run.free(at);
    else run.usableSize(at);
  });
}

/** How realloc changes a block's size: to a size (0 too), or by some bytes (0: not at all). */
export type Change = { readonly to: Size } | { readonly by: number };

/** realloc(live block, size) */
export function realloc(index: number, change: Change): fc.Command<Driven, Driven> {
  const shown = "to" in change
    ? show(change.to)
    : `size${change.by > 0 ? "+" : ""}${change.by || ""}`;
  return onLive<Driven>(`realloc(#${index}, ${shown})`, index, (run, at) => {
    const size = resolve("to" in change ? change.to : run.live[at].requested + change.by, run);
    // C leaves realloc(p, 0) to the implementation: only mote's answer is checked
    run.realloc(at, run.reallocZero ? size : Math.max(1, size));
  });
}

/** free(live block), then the same pointer to free, realloc or malloc_usable_size again */
export function freeTwice(index: number, then: PointerCall): fc.Command<Session, Session> {
  return onLive<Session>(`free(#${index}) then ${then} of it`, index, (session, at) => {
    const { ptr } = session.live[at];
    session.free(at);
    session.foreignPointer(ptr, then, "double-free"); // the allocator must ignore it
  });
}

/** Where a pointer mote never returned points: each place the wasm must tell from a block. */
export type Foreign =
  | { readonly misaligned: number } // a live block's pointer plus 1 to 15, even: a forged header
  | { readonly below: number } // 16-byte steps below the first block
  | { readonly above: number } // 16-byte steps from the top region up
  | { readonly interior: number } // 16-byte steps into a live block
  | { readonly freed: number }; // a pointer the run freed, in any call since

/** free, realloc or malloc_usable_size of a pointer mote never returned */
export function foreignPointer(where: Foreign, call: PointerCall): fc.Command<Session, Session> {
  const [place, distance] = Object.entries(where)[0];
  return command(`${call}(a pointer ${place} ${distance})`, (session) => {
    const first = rootOf(session.diff!.base) + FIRST + HEADER;
    if ("freed" in where) {
      // a double free however long ago, through the splits, merges and carves since (the
      // contract forgets a pointer once a block handed out covers the word in front of it)
      const freed = [...session.contract.freed];
      if (freed.length === 0) return;
      return session.foreignPointer(freed[where.freed % freed.length], call, "double-free");
    }
    if ("interior" in where) {
      const block = session.live.find((b) => b.usable > ALIGN);
      if (!block) return;
      const steps = where.interior % Math.floor((block.usable - 1) / ALIGN);
      const ptr = block.ptr + ALIGN * (1 + steps);
      // The checked build refuses it whatever the bytes in front say; odd picks make them read
      // as a used block's header that fits. In the others a pointer inside a live block behind
      // a header that fits is undefined behaviour, as in C: the bytes in front read as a header
      // no build may take, each of blockOf's refusals in turn
      const fits = 2 * MIN_BLOCK, pastTop = session.mote.top() - (ptr - HEADER) + ALIGN;
      const refused = [MIN_BLOCK - ALIGN, LEFT_FREE, fits | FREE, fits | QUICK, pastTop];
      const forged = session.checked
        ? where.interior & 1 ? fits : undefined
        : refused[where.interior % refused.length];
      return session.foreignPointer(ptr, call, "invalid-pointer", forged);
    }
    const ptr = Math.min(
      U32_MAX - 15,
      "misaligned" in where
        ? (session.live.length > 0 ? session.live[0].ptr : first) + where.misaligned
        : "below" in where
        ? Math.max(16, first - 16 * where.below)
        : session.mote.top() + HEADER + 16 * where.above,
    );
    // even misalignments, in every build: the word in front reads as the header of a used
    // block that ends at the top region, as one just below it would
    const plausible = session.mote.top() - (ptr - HEADER);
    const forged = "misaligned" in where && where.misaligned % 2 === 0 && plausible >= 16
      ? plausible
      : undefined;
    // above the blocks, a block the run freed into the top region: a double free
    session.foreignPointer(ptr, call, session.contract.misuseOf(ptr), forged);
  });
}

/** Moves the heap's limit: raised by some bytes, or lowered to its end plus some. */
export function setLimit(lower: boolean, bytes: number): fc.Command<Session, Session> {
  const name = lower ? `limit = heap end + ${bytes}` : `limit += ${bytes}`;
  return command(name, (session) => {
    const memoryEnd = session.real.memory.buffer.byteLength;
    const heapEnd = Math.min(memoryEnd, session.mote.limit);
    session.setLimit((lower ? heapEnd : session.mote.limit) + bytes);
  }, (session) => session.diff!.model.limit > 0); // a heap that failed to start has no root
}

/** Starts the heap again, as Heap.reset */
export const reset: fc.Command<Session, Session> = command("reset()", (s) => s.reset());
