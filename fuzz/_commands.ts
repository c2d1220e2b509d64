/**
 * The fuzzer's operations as fast-check commands: a small class for each kind, the C function it
 * calls as data. A command names a live block by an index taken modulo the number of live
 * blocks, and a size relative to the heap by a {@linkcode Size}, so a shrunk sequence stays
 * meaningful whatever was removed from it.
 */
import type fc from "fast-check";
import { FIRST, HEADER } from "../src/_layout.ts";
import { rootOf } from "../src/_heap_reader.ts";
import { U32_MAX } from "../src/_validate.ts";
import type { PointerCall, Session } from "./_session.ts";

type Command = fc.Command<Session, Session>;

/**
 * A request size: bytes, or bytes relative to what is left below the limit (`room`: a request
 * that fills the top region exactly) or to the limit itself.
 */
export type Size = number | { readonly room: number } | { readonly limit: number };

/**
 * The most a relative size asks for: near a limit of gigabytes it would fill gigabytes of
 * memory, and then each move of the block would copy them.
 */
const RELATIVE_CAP = 8 << 20;

/** The bytes a size asks for in a heap with `room` left below a limit of `limitBytes`. */
export function resolve(size: Size, heap: { room: number; limitBytes: number }): number {
  if (typeof size === "number") return Math.min(U32_MAX, Math.max(0, size));
  const bytes = "room" in size ? heap.room + size.room : heap.limitBytes + size.limit;
  return Math.min(RELATIVE_CAP, Math.max(0, bytes));
}

/** A size as the trace shows it. */
export function show(size: Size): string {
  if (typeof size === "number") return String(size);
  const [name, delta] = "room" in size ? ["room", size.room] : ["limit", size.limit];
  return delta === 0 ? name : `${name}${delta > 0 ? "+" : ""}${delta}`;
}

/**
 * What the allocation commands drive: a C-ABI session, or a run of the Heap API (`Heap` and
 * `ModelHeap`), each doing the call its way and holding it to the contract.
 */
export interface Driven {
  readonly live: readonly { readonly requested: number }[];
  readonly room: number;
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

/** The position in the live blocks that an index names. */
function pick(index: number, session: Driven): number {
  return index % session.live.length;
}

/** A command that can run whatever the heap holds. */
abstract class Anytime implements fc.Command<Driven, Driven> {
  check(): boolean {
    return true;
  }
  abstract run(session: Driven): void;
  abstract toString(): string;
}

abstract class OnLiveBlock implements fc.Command<Driven, Driven> {
  constructor(readonly index: number) {}
  check(session: Driven): boolean {
    return session.live.length > 0;
  }
  abstract run(session: Driven): void;
  abstract toString(): string;
}

/**
 * A call that hands out a new block of `size`: `malloc(size)`, `calloc(first, size)`,
 * `aligned_alloc(first, size)` or `realloc(0, size)`, which is malloc.
 */
export class Allocate extends Anytime {
  constructor(
    readonly call: "malloc" | "calloc" | "aligned_alloc" | "realloc",
    readonly size: Size,
    readonly first?: number,
  ) {
    super();
  }
  run(session: Driven): void {
    const bytes = resolve(this.size, session);
    if (this.call === "malloc") session.malloc(bytes);
    else if (this.call === "calloc") session.calloc(this.first!, bytes);
    else if (this.call === "aligned_alloc") session.alignedAlloc(this.first!, bytes);
    else session.reallocNull(bytes);
  }
  toString(): string {
    return `${this.call}(${this.first === undefined ? "" : `${this.first}, `}${show(this.size)})`;
  }
}

/**
 * malloc(size) `count` times, then free of each in the order made: a list of freed blocks of one
 * size, each with a used right neighbour, grown to `count` (the quick lists' bound, and past it).
 */
export class Burst extends Anytime {
  constructor(readonly size: Size, readonly count: number) {
    super();
  }
  run(session: Session): void {
    const first = session.live.length;
    for (let n = 0; n < this.count; n++) session.malloc(resolve(this.size, session));
    while (session.live.length > first) session.free(first);
  }
  toString(): string {
    return `${this.count} × malloc(${show(this.size)}), then free of each`;
  }
}

/** free(live block) or malloc_usable_size(live block) */
export class OnBlock extends OnLiveBlock {
  constructor(readonly call: "free" | "malloc_usable_size", index: number) {
    super(index);
  }
  run(session: Driven): void {
    const index = pick(this.index, session);
    if (this.call === "free") session.free(index);
    else session.usableSize(index);
  }
  toString(): string {
    return `${this.call}(#${this.index})`;
  }
}

/** How realloc changes a block's size: to a size, by some bytes, not at all, or to 0. */
export type Change =
  | { readonly to: Size }
  | { readonly by: number }
  | { readonly same: true };

/** realloc(live block, size) */
export class Realloc extends OnLiveBlock {
  constructor(index: number, readonly change: Change) {
    super(index);
  }
  run(session: Driven): void {
    const index = pick(this.index, session);
    const { requested } = session.live[index];
    const size = "to" in this.change
      ? resolve(this.change.to, session)
      : "by" in this.change
      ? resolve(requested + this.change.by, session)
      : requested;
    // C leaves realloc(p, 0) to the implementation: only mote's answer is checked
    session.realloc(index, session.reallocZero ? size : Math.max(1, size));
  }
  toString(): string {
    const change = "to" in this.change
      ? show(this.change.to)
      : "by" in this.change
      ? `size${this.change.by >= 0 ? "+" : ""}${this.change.by}`
      : "size";
    return `realloc(#${this.index}, ${change})`;
  }
}

/** free(live block), then the same pointer to free, realloc or malloc_usable_size again */
export class FreeTwice extends OnLiveBlock {
  constructor(index: number, readonly then: PointerCall) {
    super(index);
  }
  run(session: Session): void {
    session.freeTwice(pick(this.index, session), this.then);
  }
  toString(): string {
    return `free(#${this.index}) then ${this.then} of it`;
  }
}

/** Where a pointer mote never returned points: each place the wasm must tell from a block. */
export type Foreign =
  | { readonly misaligned: number } // a live block's pointer plus 1 to 15, even: a forged header
  | { readonly below: number } // 16-byte steps below the first block
  | { readonly above: number } // 16-byte steps from the top region up
  | { readonly interior: number }; // 16-byte steps into a live block: checked build only

/** free, realloc or malloc_usable_size of a pointer mote never returned */
export class ForeignPointer extends Anytime {
  constructor(readonly where: Foreign, readonly call: PointerCall) {
    super();
  }
  run(session: Session): void {
    const first = rootOf(session.diff!.base) + FIRST + HEADER;
    if ("interior" in this.where) {
      // in the release build a pointer inside a live block is undefined behaviour, as in C
      const block = session.live.find((b) => b.usable > 16);
      if (!session.checked || !block) return;
      const steps = this.where.interior % Math.floor((block.usable - 1) / 16);
      const ptr = block.ptr + 16 * (1 + steps);
      // odd picks: the bytes in front read as a used block's header that fits
      const forged = this.where.interior & 1 ? 32 : undefined;
      return session.foreignPointer(ptr, this.call, "not a block", forged);
    }
    const ptr = Math.min(
      U32_MAX - 15,
      "misaligned" in this.where
        ? (session.live.length > 0 ? session.live[0].ptr : first) + this.where.misaligned
        : "below" in this.where
        ? Math.max(16, first - 16 * this.where.below)
        : session.mote.top() + HEADER + 16 * this.where.above,
    );
    // above the blocks, a block the run freed into the top region: a double free
    const kind = session.contract.misuseOf(ptr) === "double-free" ? "double free" : "not a block";
    // even misalignments, in every build: the word in front reads as the header of a used
    // block that ends at the top region, as one just below it would
    const plausible = session.mote.top() - (ptr - HEADER);
    const forged = "misaligned" in this.where && this.where.misaligned % 2 === 0 &&
        plausible >= 16
      ? plausible
      : undefined;
    session.foreignPointer(ptr, this.call, kind, forged);
  }
  toString(): string {
    const [where, steps] = Object.entries(this.where)[0];
    return `${this.call}(a pointer ${where} ${steps})`;
  }
}

/** Moves the heap's limit: raised by some bytes, or lowered to its end plus some. */
export class SetLimit implements Command {
  constructor(readonly lower: boolean, readonly bytes: number) {}
  check(session: Session): boolean {
    return session.diff!.model.limit > 0; // a heap that failed to start has no root to trust
  }
  run(session: Session): void {
    const memoryEnd = session.real.memory.buffer.byteLength;
    const heapEnd = Math.min(memoryEnd, session.mote.limit);
    session.setLimit((this.lower ? heapEnd : session.mote.limit) + this.bytes);
  }
  toString(): string {
    return this.lower ? `limit = heap end + ${this.bytes}` : `limit += ${this.bytes}`;
  }
}

/** Starts the heap again, as Heap.reset */
export class Reset extends Anytime {
  run(session: Session): void {
    session.reset();
  }
  toString(): string {
    return "reset()";
  }
}
