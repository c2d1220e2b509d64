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
