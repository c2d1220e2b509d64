import assert from "node:assert/strict";
import { seeded } from "../../src/_test_util.ts";
import { compileWordcount, WordCounter } from "./wordcount.ts";

const wasm = await compileWordcount();

/** What the counter should find: the same word rule, in JavaScript. */
function reference(texts: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const text of texts) {
    for (const [word] of text.matchAll(/[A-Za-z0-9'\u0080-\u{10FFFF}]+/gu)) {
      const folded = word.replace(/[A-Z]/g, (c) => c.toLowerCase());
      counts.set(folded, (counts.get(folded) ?? 0) + 1);
    }
  }
  return counts;
}

/** Texts of many distinct words, so the counter's table and array grow many times. */
function texts(seed: number, count: number, words: number): string[] {
  const next = seeded(seed);
  const syllables = ["mo", "te", "Ka", "ri", "ün", "zo", "pa", "l'e", "x9", "日本"];
  const vocabulary = Array.from({ length: words }, (_, i) => {
    let word = syllables[i % syllables.length];
    for (let n = i; n > 0; n = Math.floor(n / syllables.length)) {
      word += syllables[n % syllables.length];
    }
    return word;
  });
  return Array.from(
    { length: count },
    () =>
      Array.from({ length: 400 }, () => vocabulary[next(words)]).join(
        [" ", ", ", ".\n", " -- "][next(4)],
      ),
  );
}

/** The blocks the counter holds by its own account: each word's, its table and its array. */
function guestBlocks(counter: WordCounter): { ptr: number; needs: number }[] {
  const { guest, heap } = counter;
  const blocks = [
    { ptr: guest.table() >>> 0, needs: 4 * 16 },
    { ptr: guest.order() >>> 0, needs: 4 * guest.size() },
  ];
  for (let i = 0; i < guest.size(); i++) {
    const word = guest.word(i) >>> 0;
    blocks.push({ ptr: word, needs: 12 + heap.view.getUint32(word + 8, true) });
  }
  return blocks;
}

Deno.test("a module with no allocator of its own counts words with mote's malloc", async (t) => {
  const counter = await WordCounter.load(wasm);
  const fold = counter.guest.fold_table() >>> 0;
  const foldBefore = counter.heap.u8.slice(fold, fold + 256);

  await t.step("mote's region starts above the module's static data", () => {
    assert.ok(
      counter.heap.base >= fold + 256,
      `base ${counter.heap.base}, data ends ${fold + 256}`,
    );
    assert.equal(foldBefore[0x41], 0x61, "the table folds A to a");
  });

  const input = ["The cat, the CAT and the hat: don't panic! Ünïcode 日本語 works 42 times."];
  input.push(...texts(7, 20, 3000));
  await t.step("the counts match a JavaScript reference, in the order first seen", () => {
    let words = 0;
    for (const text of input) words += counter.add(text);
    const expected = reference(input);
    assert.deepEqual([...counter.counts()], [...expected]);
    assert.equal(words, [...expected.values()].reduce((a, b) => a + b));
    assert.ok(expected.size > 2500, "enough words to grow the table and the array many times");
    assert.equal(counter.counts().get("the"), 3);
    assert.equal(counter.counts().get("don't"), 1);
    assert.equal(counter.counts().get("Ünïcode"), 1, "non-ASCII letters are kept, not folded");
    assert.equal(counter.counts().get("日本語"), 1);
  });

  await t.step("every block the module holds is live, big enough and apart from the rest", () => {
    const { heap } = counter;
    const blocks = guestBlocks(counter).map(({ ptr, needs }) => {
      const usable = heap.usableSize(ptr); // throws for a pointer that is not a live block
      assert.ok(usable >= needs, `block ${ptr}: ${usable} usable bytes, needs ${needs}`);
      return { start: ptr, end: ptr + usable };
    }).sort((a, b) => a.start - b.start);
    assert.ok(blocks[0].start > heap.base, "above the module's data");
    for (let i = 1; i < blocks.length; i++) {
      assert.ok(blocks[i - 1].end <= blocks[i].start, `blocks ${i - 1} and ${i} overlap`);
    }
    assert.ok(blocks.at(-1)!.end <= heap.base + heap.span, "inside the heap");
    assert.deepEqual(heap.u8.slice(fold, fold + 256), foldBefore, "the static data is intact");
    assert.deepEqual(heap.check(), [], "the heap's bookkeeping is intact");
    const used = heap.walk().filter((block) => !block.free).map((block) => block.ptr);
    assert.deepEqual(used, blocks.map((block) => block.start), "no block leaked or unaccounted");
  });

  await t.step("clearing frees every block, and the space is reused", () => {
    const blocks = guestBlocks(counter);
    const span = counter.heap.span;
    counter.clear();
    for (const { ptr } of blocks) {
      assert.throws(() => counter.heap.usableSize(ptr), /not a live block/, `block ${ptr}`);
    }
    assert.deepEqual(counter.heap.walk().filter((block) => !block.free), []);
    assert.deepEqual(counter.heap.check(), []);
    for (const text of input) counter.add(text);
    assert.deepEqual([...counter.counts()], [...reference(input)]);
    assert.equal(counter.heap.span, span, "the same words fit in the memory already held");
  });
});

Deno.test("a module's failed malloc reaches it as 0 and it stops cleanly", async () => {
  const counter = await WordCounter.load(wasm, 64 * 1024);
  counter.add("a few words fit");
  assert.throws(() => counter.add(texts(1, 4, 5000).join(" ")), /ran out of memory/);
  const counts = counter.counts();
  for (const word of ["a", "few", "words", "fit"]) assert.equal(counts.get(word), 1, word);
  counter.clear();
  counter.add("and it goes on after clear");
  assert.equal(counter.counts().size, 6);
});
