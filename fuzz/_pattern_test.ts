import assert from "node:assert/strict";
import { fillPattern, patternByte, patternMismatch } from "./_pattern.ts";

Deno.test("a filled pattern reads back, byte for byte, at any offset and alignment", () => {
  const buffer = new ArrayBuffer(4096);
  for (const [at, from, to] of [[0, 0, 1000], [17, 3, 700], [64, 250, 1030], [1, 0, 0]]) {
    new Uint8Array(buffer).fill(0);
    fillPattern(buffer, at, 7, from, to);
    const bytes = new Uint8Array(buffer);
    for (let offset = from; offset < to; offset++) {
      assert.equal(bytes[at + offset], patternByte(7, offset), `offset ${offset}`);
    }
    assert.equal(patternMismatch(buffer, at, 7, from, to), -1);
  }
});

Deno.test("a mismatch is found where it is: another block's pattern, a shift, one byte", () => {
  const buffer = new ArrayBuffer(1 << 18);
  fillPattern(buffer, 16, 3, 0, 100_000);
  assert.equal(patternMismatch(buffer, 16, 4, 0, 100_000), 0, "another id");
  assert.equal(patternMismatch(buffer, 16 + 256, 3, 0, 1000), 0, "shifted by a chunk");
  assert.notEqual(patternMismatch(buffer, 16 + 65536, 3, 0, 1000), -1, "shifted by 64 KiB");
  new Uint8Array(buffer)[16 + 77_777] ^= 1;
  assert.equal(patternMismatch(buffer, 16, 3, 0, 100_000), 77_777);
  assert.equal(patternMismatch(buffer, 16, 3, 77_778, 100_000), -1);
});
