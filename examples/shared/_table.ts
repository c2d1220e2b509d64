/** What table.ts and its workers share: the table's layout and the contents of its entries. */
import type { SharedHeap } from "../../mod.ts";

/**
 * An entry's bytes before its key: the next entry of its bucket, the key's length, the value's
 * length (u32 each); then the key, then the value.
 */
export const ENTRY = 12;

/** What the main thread sends each worker. */
export interface TableJob {
  readonly shared: SharedHeap;
  /** The buckets: two words each, a lock (0 free, 1 held) and the first entry. */
  readonly table: number;
  readonly buckets: number;
  /** Keys are "key-0" to "key-(keys - 1)". */
  readonly keys: number;
  /** This worker's share of the operations. */
  readonly ops: number;
  readonly seed: number;
  readonly workers: number;
  readonly barrier: SharedArrayBuffer;
}

/** What a worker did. */
export interface WorkerCounts {
  readonly puts: number;
  readonly gets: number;
  readonly deletes: number;
  /** Calls of the heap's API: malloc, realloc and free. */
  readonly heapCalls: number;
  /** Value bytes a get found wrong: 0, or entries were changed under their lock. */
  readonly mismatches: number;
}

const encoder = new TextEncoder();

/** A key's bytes. */
export function keyBytes(key: number): Uint8Array {
  return encoder.encode(`key-${key}`);
}

/** A key's bucket: Fibonacci hashing. */
export function bucketOf(key: number, buckets: number): number {
  return (Math.imul(key + 1, 0x9E3779B1) >>> 0) % buckets;
}

/** Byte `i` of key `key`'s value of `length` bytes: any writer writes the same. */
export function valueByte(key: number, length: number, i: number): number {
  return (key * 7 + length * 13 + i) & 255;
}
