/**
 * The contents the fuzzer writes into each block: bytes made from the block's id and their
 * offset, so a block overwritten by another, or copied to the wrong offset, shows. Filling and
 * checking go 256 bytes at a time from a table, as they run after nearly every operation.
 */

const CHUNK = 256;

/**
 * Row `k` holds the bytes `k, k + 1, …` (mod 256): every 256-byte chunk of a pattern is one of
 * these rows.
 */
const ROWS = new Uint8Array(CHUNK * CHUNK).map((_, i) => ((i >>> 8) + (i & 255)) & 255);
const ROWS32 = new Uint32Array(ROWS.buffer);

/** The row of the chunk of block `id`'s pattern that starts at `chunk`, a multiple of 256. */
function rowOf(id: number, chunk: number): number {
  return (id * 151 + (chunk >>> 8) * 7 + (chunk >>> 16) * 13) & 255;
}

/** Byte `offset` of block `id`'s pattern. */
export function patternByte(id: number, offset: number): number {
  const chunk = offset - (offset & 255);
  return (rowOf(id, chunk) + (offset & 255)) & 255;
}

/** Writes bytes `[from, to)` of block `id`'s pattern at `ptr + from`. */
export function fillPattern(
  buffer: ArrayBufferLike,
  ptr: number,
  id: number,
  from: number,
  to: number,
): void {
  const bytes = new Uint8Array(buffer);
  for (let chunk = from - (from & 255); chunk < to; chunk += CHUNK) {
    const start = Math.max(from, chunk), end = Math.min(to, chunk + CHUNK);
    const row = rowOf(id, chunk) * CHUNK;
    bytes.set(ROWS.subarray(row + start - chunk, row + end - chunk), ptr + start);
  }
}

/** The first offset in `[from, to)` where block `id`'s pattern is not found at `at`, or -1. */
export function patternMismatch(
  buffer: ArrayBufferLike,
  at: number,
  id: number,
  from: number,
  to: number,
): number {
  const bytes = new Uint8Array(buffer);
  const words = new Uint32Array(buffer, 0, Math.floor(buffer.byteLength / 4));
  for (let chunk = from - (from & 255); chunk < to; chunk += CHUNK) {
    const start = Math.max(from, chunk), end = Math.min(to, chunk + CHUNK);
    const row = rowOf(id, chunk) * CHUNK;
    if (start === chunk && end === chunk + CHUNK && (at + chunk) % 4 === 0) {
      const word = (at + chunk) >>> 2, rowWord = row >>> 2;
      let same = true;
      for (let i = 0; i < CHUNK / 4 && same; i++) same = words[word + i] === ROWS32[rowWord + i];
      if (same) continue;
    }
    for (let offset = start; offset < end; offset++) {
      if (bytes[at + offset] !== ROWS[row + offset - chunk]) return offset;
    }
  }
  return -1;
}

/**
 * The byte ranges of a block of `usable` bytes that a run fills and verifies: all of it up to
 * `whole` bytes, else `edge` bytes at each end, so large blocks cost little and still show a
 * write past either end.
 */
export function extents(usable: number, whole: number, edge: number): [number, number][] {
  return usable <= whole ? [[0, usable]] : [[0, edge], [usable - edge, usable]];
}
