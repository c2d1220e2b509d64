// A word counter built with `--runtime stub` and no managed objects: it has no allocator of its
// own. Every byte it keeps comes from the `malloc`, `realloc` and `free` it imports from "env",
// which mote provides over the memory this module also imports, above this module's static data.
//
// It holds a hash table of strings: one block per distinct word, an open-addressing table of
// pointers to them that is rebuilt twice as large when it fills, and an array of the words in
// the order first seen, grown in place or moved by realloc.

@external("env", "malloc") declare function malloc(size: usize): usize;
@external("env", "realloc") declare function realloc(ptr: usize, size: usize): usize;
@external("env", "free") declare function free(ptr: usize): void;

// A word's block: [hash u32][count u32][length u32][length bytes, lowercased]
const HASH: usize = 0;
const COUNT: usize = 4;
const LENGTH: usize = 8;
const KEY: usize = 12;

let slots: usize = 0; // capacity u32 slots, each 0 or a word's block
let capacity: u32 = 0; // a power of two, or 0 before the first word
let words: usize = 0; // distinct u32 pointers to words' blocks, in the order first seen
let wordsCapacity: u32 = 0;
let distinct: u32 = 0;

/** The first byte above this module's static data: where the allocator's region may start. */
export function heap_base(): usize {
  return __heap_base;
}

// Static data, below __heap_base: each byte's lowercase form, or 0 for a byte that ends a word.
// Word bytes are letters, digits, apostrophes and every byte of a multi-byte UTF-8 character.
const FOLD = memory.data(256);
for (let c: u32 = 0; c < 256; c++) {
  const word = c - 0x41 < 26 || c - 0x61 < 26 || c - 0x30 < 10 || c == 0x27 || c >= 0x80;
  store<u8>(FOLD + c, word ? (c - 0x41 < 26 ? c | 0x20 : c) : 0);
}

/** The fold table, for a host to check that nothing allocated over this module's data. */
export function fold_table(): usize {
  return FOLD;
}

function lower(c: u32): u32 {
  return load<u8>(FOLD + c);
}

function isWordByte(c: u32): bool {
  return load<u8>(FOLD + c) != 0;
}

function hash(text: usize, length: usize): u32 {
  let h: u32 = 0x811C9DC5; // FNV-1a
  for (let i: usize = 0; i < length; i++) {
    h = (h ^ lower(load<u8>(text + i))) * 0x01000193;
  }
  return h;
}

function matches(word: usize, text: usize, length: usize): bool {
  if (<usize> load<u32>(word + LENGTH) != length) return false;
  for (let i: usize = 0; i < length; i++) {
    if (load<u8>(word + KEY + i) != lower(load<u8>(text + i))) return false;
  }
  return true;
}

// Rebuilds the table at twice the size; false when the memory for it cannot be had.
function grow(): bool {
  const newCapacity: u32 = capacity ? capacity << 1 : 16;
  const newSlots = malloc(<usize> newCapacity << 2);
  if (!newSlots) return false;
  memory.fill(newSlots, 0, <usize> newCapacity << 2);
  const mask = newCapacity - 1;
  for (let i: u32 = 0; i < distinct; i++) {
    const word = <usize> load<u32>(words + (<usize> i << 2));
    let slot = load<u32>(word + HASH) & mask;
    while (load<u32>(newSlots + (<usize> slot << 2))) slot = (slot + 1) & mask;
    store<u32>(newSlots + (<usize> slot << 2), word);
  }
  free(slots);
  slots = newSlots;
  capacity = newCapacity;
  return true;
}

// Counts one word; false when the memory for a new word cannot be had.
function count(text: usize, length: usize): bool {
  if ((distinct + 1) << 1 > capacity && !grow()) return false; // at most half full
  const h = hash(text, length);
  const mask = capacity - 1;
  let slot = h & mask;
  let word: usize;
  while ((word = load<u32>(slots + (<usize> slot << 2)))) {
    if (load<u32>(word + HASH) == h && matches(word, text, length)) {
      store<u32>(word + COUNT, load<u32>(word + COUNT) + 1);
      return true;
    }
    slot = (slot + 1) & mask;
  }
  if (distinct == wordsCapacity) {
    const newCapacity: u32 = wordsCapacity ? wordsCapacity + (wordsCapacity >> 1) : 8;
    const moved = realloc(words, <usize> newCapacity << 2);
    if (!moved) return false;
    words = moved;
    wordsCapacity = newCapacity;
  }
  word = malloc(KEY + length);
  if (!word) return false;
  store<u32>(word + HASH, h);
  store<u32>(word + COUNT, 1);
  store<u32>(word + LENGTH, <u32> length);
  for (let i: usize = 0; i < length; i++) store<u8>(word + KEY + i, lower(load<u8>(text + i)));
  store<u32>(slots + (<usize> slot << 2), <u32> word);
  store<u32>(words + (<usize> distinct << 2), <u32> word);
  distinct++;
  return true;
}

/** Counts the words of `length` bytes of UTF-8 at `text`: how many, or -1 when memory ran out. */
export function add(text: usize, length: usize): i32 {
  let words: i32 = 0;
  let i: usize = 0;
  while (i < length) {
    while (i < length && !isWordByte(load<u8>(text + i))) i++;
    const start = i;
    while (i < length && isWordByte(load<u8>(text + i))) i++;
    if (i > start) {
      if (!count(text + start, i - start)) return -1;
      words++;
    }
  }
  return words;
}

/** How many distinct words have been counted. */
export function size(): u32 {
  return distinct;
}

/** The block of the `index`th distinct word, in the order first seen: count at +4, length at +8, bytes at +12. */
export function word(index: u32): usize {
  return index < distinct ? <usize> load<u32>(words + (<usize> index << 2)) : 0;
}

/** The table's block: one of the blocks this module holds besides the words'. */
export function table(): usize {
  return slots;
}

/** The block of the array of words in the order first seen. */
export function order(): usize {
  return words;
}

/** Frees everything, leaving the counter empty. */
export function clear(): void {
  for (let i: u32 = 0; i < distinct; i++) free(load<u32>(words + (<usize> i << 2)));
  free(words);
  free(slots);
  slots = words = 0;
  capacity = wordsCapacity = distinct = 0;
}
