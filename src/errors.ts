/**
 * The error a {@linkcode Heap} throws when it cannot serve an allocation.
 *
 * @example Catching an exhausted heap
 * ```ts
 * import { Heap, OutOfMemoryError } from "@mote/alloc";
 * import assert from "node:assert/strict";
 *
 * const heap = new Heap({ limit: 64 * 1024 });
 * assert.throws(() => heap.malloc(1 << 20), OutOfMemoryError);
 * ```
 */
export class OutOfMemoryError extends Error {
  /** The bytes that were asked for. */
  readonly requested: number;
  /** The heap's limit in bytes at the time of the request. */
  readonly limit: number;

  /**
   * Makes the error for a request of `requested` bytes made by `operation`.
   *
   * @param operation The call that failed, such as `"malloc"`.
   * @param requested The bytes that were asked for.
   * @param limit The heap's limit in bytes.
   */
  constructor(operation: string, requested: number, limit: number) {
    super(
      `${operation} cannot allocate ${requested} bytes: no free block fits and the heap cannot ` +
        `grow enough within its ${limit}-byte limit or the memory's maximum`,
    );
    this.name = "OutOfMemoryError";
    this.requested = requested;
    this.limit = limit;
  }
}

/** What a checked heap found wrong. */
export type MisuseKind = "double-free" | "invalid-pointer" | "overflow" | "use-after-free";

/** The kinds in the order of the checked wasm's report codes (1-based). */
const KINDS: MisuseKind[] = ["double-free", "invalid-pointer", "overflow", "use-after-free"];

/**
 * The error a checked {@linkcode Heap} throws when it catches a misuse: a double free, a pointer it
 * never returned, a write past a block's end, or a write to freed memory. The heap is left as it
 * was before the call that found it. It is a `RangeError`, as a pointer that is not a live block
 * is in either build.
 *
 * @example Catching a double free
 * ```ts
 * import { Heap, HeapMisuseError } from "@mote/alloc";
 * import assert from "node:assert/strict";
 *
 * const heap = new Heap({ checked: true });
 * const ptr = heap.malloc(10);
 * heap.free(ptr);
 * assert.throws(() => heap.free(ptr), (e: HeapMisuseError) => e.kind === "double-free");
 * ```
 */
export class HeapMisuseError extends RangeError {
  /** What went wrong. */
  readonly kind: MisuseKind;
  /** The pointer passed in, or for a use after free, the first damaged word. */
  readonly address: number;
  /** The call that found it, such as `"free"`. */
  readonly operation: string;

  /**
   * Makes the error from the checked wasm's report.
   *
   * @param code The report's kind: 1 double free, 2 invalid pointer, 3 overflow, 4 use after free.
   * @param address The address the report names.
   * @param operation The call that found it.
   */
  constructor(code: number, address: number, operation: string) {
    const kind = KINDS[code - 1];
    super(`${operation}: ${HeapMisuseError.#explain(kind, address)}`);
    this.name = "HeapMisuseError";
    this.kind = kind;
    this.address = address;
    this.operation = operation;
  }

  static #explain(kind: MisuseKind, address: number): string {
    switch (kind) {
      case "double-free":
        return `double free: the block at ${address} was freed already`;
      case "invalid-pointer":
        return `invalid pointer: ${address} is not a block this heap handed out (misaligned, ` +
          `outside the heap, inside a block, or into freed memory)`;
      case "overflow":
        return `heap overflow: the guard at the end of the block at ${address}, or the header ` +
          `after it, was overwritten by a write past the block's usable size`;
      case "use-after-free":
        return `use after free: freed memory at ${address} was written after it was freed`;
    }
  }
}
