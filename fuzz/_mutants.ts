/**
 * The mutation run's mutants: single edits of asm/mote.ts (or of another file: asm/shared.ts, a
 * TypeScript file of src/), as data. Each is a text that occurs exactly once in its file and what
 * it becomes, so that when the source changes, the test names precisely the edits that no longer
 * apply and re-anchoring them is quick. A mutant that cannot change what any caller sees is marked
 * `equivalent`, with the reason.
 */
/** One single-edit mutant. */
export interface Mutant {
  /** The file it edits, from the project's root. */
  readonly file: string;
  /** What the edit breaks, in a few words; unique. */
  readonly name: string;
  /** The function it edits, for the table. */
  readonly where: string;
  /** Text that occurs once in the file, and what it becomes. */
  readonly find: string;
  readonly replace: string;
  /** Why no caller can tell it from the original, for a mutant that is equivalent. */
  readonly equivalent?: string;
}

/** Makes `file`'s mutants: `mote(where, name, [find, replace], equivalent?)`. */
const mutantsOf =
  (file: string) =>
  (where: string, name: string, [find, replace]: [string, string], equivalent?: string): Mutant =>
    equivalent === undefined
      ? { file, name, where, find, replace }
      : { file, name, where, find, replace, equivalent };
const mote = mutantsOf("asm/mote.ts"), shared = mutantsOf("asm/shared.ts");
const liveBlocks = mutantsOf("src/_live_blocks.ts"), heap = mutantsOf("src/heap.ts");
const model = mutantsOf("src/_model_allocator.ts");

/** The mutants: every function, both builds. */
export const MUTANTS: readonly Mutant[] = [
  // classes and bitmaps
  mote("classOf", "small classes end one size late", [
    "if (size < SMALL) return size >> ALIGN_BITS;",
    "if (size <= SMALL) return size >> ALIGN_BITS;",
  ], "256 >> 4 is 16 either way: the first two-level class is the one after the last small one"),
  mote("classOf", "second level off by one bit", [
    "+ (size >> (bits - SL_BITS));",
    "+ (size >> (bits - SL_BITS + 1));",
  ]),
  mote("insert", "a list head's prev is off by a word", [
    "store<u32>(block, slot - NEXT, PREV);",
    "store<u32>(block, slot - PREV, PREV);",
  ]),
  mote("insert", "the old head's prev is not updated", [
    "if (head) store<u32>(head, block, PREV);",
    "if (head) store<u32>(head, block, NEXT);",
  ]),
  mote("insert", "the first-level bit is set one level up", [
    "flMap |= 1 << <u32>fl;",
    "flMap |= 1 << <u32>(fl + 1);",
  ]),
  mote("remove", "an emptied list keeps its bit", [
    "} else if (prev < root + ROOT_SIZE) {",
    "} else if (prev < root + HEADS) {",
  ]),
  mote("remove", "the first-level bit is cleared while the level has lists", [
    "if (!slMap) flMap &= ~(1 << <u32>fl);",
    "if (slMap) flMap &= ~(1 << <u32>fl);",
  ]),
  mote("remove", "unlinking writes the next block's next, not its prev", [
    "store<u32>(next, prev, PREV);",
    "store<u32>(next, prev, NEXT);",
  ]),
  // growth and limits
  mote("room", "growth stops one byte short of the limit", [
    "if (need > limit || need < size) return false;",
    "if (need >= limit || need < size) return false;",
  ]),
  mote(
    "room",
    "the top region ends at the limit, not a header before it",
    [
      "let need = top + size + HEADER;\n  if (need > limit",
      "let need = top + size;\n  if (need > limit",
    ],
    "blocks start 4 bytes below a 16-byte boundary and are multiples of 16, so none can end in " +
      "the last 4 bytes below a 16-aligned end: both ends admit the same blocks and ask for the " +
      "same pages",
  ),
  mote("room", "growth rounds the pages down", [
    "(need + PAGE_MASK) >> PAGE_BITS",
    "need >> PAGE_BITS",
  ]),
  mote("endOf", "a full 4 GiB memory's end wraps to 0", [
    "return <usize>min(pages, <i32>(MAX_LIMIT >> PAGE_BITS)) << PAGE_BITS;",
    "return <usize>pages << PAGE_BITS;",
  ]),
  mote("room", "the top region asks to grow when it fits exactly", [
    "if (pages < want) {",
    "if (pages <= want) {",
  ], "memory.grow of exactly what is left asks for 0 pages, which adds nothing and cannot fail"),
  mote("fromQuick", "a popped block stays in the quick lists' count", [
    "store<u32>(root, load<u32>(root, QUICK_COUNT) - 1, QUICK_COUNT);",
    "store<u32>(root, load<u32>(root, QUICK_COUNT), QUICK_COUNT);",
  ]),
  // allocation, split, merge
  mote("allocate", "the bounded scan looks at one block more", [
    "block = n < SCAN ? load<u32>(block, NEXT) : 0;",
    "block = n <= SCAN ? load<u32>(block, NEXT) : 0;",
  ]),
  mote("allocate", "the next class search includes the request's own class", [
    "& (-2 << <u32>(index & (SL_COUNT - 1)));",
    "& (-1 << <u32>(index & (SL_COUNT - 1)));",
  ]),
  mote("allocate", "checked: the scan follows a link that leads out of the heap", [
    "      if (CHECKED && n < SCAN && linkDamaged(block)) return 0;\n",
    "",
  ]),
  mote("allocate", "the first-level search includes the request's own level", [
    "let above = flMap & (-2 << <u32>fl);",
    "let above = flMap & (-1 << <u32>fl);",
  ]),
  mote("allocate", "split off by one: a 16-byte rest is not split off", [
    "if (rest >= MIN_BLOCK) {\n    // the rest is freed",
    "if (rest > MIN_BLOCK) {\n    // the rest is freed",
  ]),
  mote("allocate", "a block taken whole leaves its right neighbour's LEFT_FREE set", [
    "store<u32>(block + blockSize, load<u32>(block + blockSize) & ~LEFT_FREE);",
    "",
  ]),
  mote("allocate", "carving from the top skips 16 bytes", [
    "    block = top;\n    top += size;",
    "    block = top;\n    top += size + ALIGN;",
  ]),
  mote("allocate", "the checked split writes the rest's back word a word low", [
    "store<u32>(spare + rest - HEADER, spare);",
    "store<u32>(spare + rest - 2 * HEADER, spare);",
  ]),
  mote("release", "free misses the coalesce with a free left neighbour", [
    "if (header & LEFT_FREE) {\n    block = load<u32>(block - HEADER);",
    "if (false) {\n    block = load<u32>(block - HEADER);",
  ]),
  mote("release", "memory freed into the top region is thought clean", [
    "reused\n    clean = max(clean, top);",
    "reused\n",
  ]),
  mote("release", "a merged right neighbour's tags leak into the size", [
    "size += rightHeader & ~TAGS;",
    "size += rightHeader;",
  ]),
  mote("release", "the right neighbour is not told its left is free", [
    "store<u32>(right, rightHeader | LEFT_FREE);",
    "store<u32>(right, rightHeader);",
  ]),
  mote("release", "a free block's back word names its payload", [
    "store<u32>(block + size - HEADER, block);",
    "store<u32>(block + size - HEADER, block + HEADER);",
  ]),
  mote("release", "checked: the freed bytes' last word is not poisoned", [
    "else poison(freed + HEADER, right);",
    "else poison(freed + HEADER, right - HEADER);",
  ]),
  mote("release", "checked: a merged left block's back word keeps its value", [
    "if (CHECKED) poison(freed - HEADER, freed); // the left block's back word",
    "",
  ]),
  mote("release", "checked: memory freed into the top region is not remembered as poisoned", [
    "if (CHECKED) store<u32>(root + POISONED, max(poisoned(), top));",
    "",
  ]),
  mote("trim", "trim off by one: a 16-byte rest stays in the block", [
    "if (rest >= MIN_BLOCK) {\n    setUsed(block, size | (header & LEFT_FREE));",
    "if (rest > MIN_BLOCK) {\n    setUsed(block, size | (header & LEFT_FREE));",
  ]),
  mote("trim", "trim drops LEFT_FREE", [
    "setUsed(block, size | (header & LEFT_FREE));",
    "setUsed(block, size);",
  ]),
  mote("blockSize", "block size forgets the header", [
    "return (bytes + OVERHEAD + ALIGN_MASK) & ~ALIGN_MASK;",
    "return (bytes + ALIGN_MASK) & ~ALIGN_MASK;",
  ]),
  mote("blockSize", "block size rounds one byte short", [
    "return (bytes + OVERHEAD + ALIGN_MASK) & ~ALIGN_MASK;",
    "return (bytes + OVERHEAD + ALIGN_MASK - 1) & ~ALIGN_MASK;",
  ]),
  mote("setUsed", "checked: the guard is written a word low, over the usable bytes", [
    "if (CHECKED) store<u32>(block + (header & ~TAGS) - GUARD, <u32>block ^ GUARD_KEY);",
    "if (CHECKED) store<u32>(block + (header & ~TAGS) - 2 * GUARD, <u32>block ^ GUARD_KEY);",
  ]),
  // quick lists
  mote("toQuick", "a quick list holds one block past its bound", [
    "if (length > QUICK_BOUND) return false;",
    "if (length > QUICK_BOUND + 1) return false;",
  ]),
  mote("discard", "a block ending at the top region waits in a quick list", [
    "if (QUICK_LISTS && size < SMALL && block + size != top && toQuick(block, header)) return;",
    "if (QUICK_LISTS && size < SMALL && toQuick(block, header)) return;",
  ]),
  mote("fromQuick", "a popped block keeps its QUICK tag", [
    "setUsed(block, load<u32>(block) & ~QUICK);",
    "setUsed(block, load<u32>(block));",
  ]),
  mote("allocate", "the search is not made again after a flush", [
    "return allocate(size); // once: the quick lists are empty now",
    "if (!top) return allocate(size);",
  ]),
  mote("inMemory", "a miss empties the quick lists when the top region holds it exactly", [
    "return need >= size && need <= min(limit, memoryEnd());",
    "return need >= size && need < min(limit, memoryEnd());",
  ]),
  mote("inMemory", "a miss grows the memory while the quick lists hold blocks", [
    "return need >= size && need <= min(limit, memoryEnd());",
    "return need >= size && need <= limit;",
  ]),
  mote("allocate", "every miss empties the quick lists, though the top region holds it", [
    "if (QUICK_LISTS && load<u32>(root, QUICK_COUNT) && !inMemory(size)) {",
    "if (QUICK_LISTS && load<u32>(root, QUICK_COUNT)) {",
  ]),
  mote("realloc", "realloc does not flush a quick-listed right neighbour it could grow into", [
    "if (QUICK_LISTS && end - block < size && end != top && load<u32>(end) & QUICK) {",
    "if (QUICK_LISTS && end - block < size && end != top && load<u32>(end) & FREE) {",
  ]),
  mote("toQuick", "a push links the block with the list's old length", [
    "store<u32>(slot, (block & ~ALIGN_MASK) | length, QUICK_HEADS);",
    "store<u32>(slot, (block & ~ALIGN_MASK) | (length - 1), QUICK_HEADS);",
  ]),
  mote("linked", "a link names the block 16 bytes on", [
    "return (link & ~ALIGN_MASK) | (ALIGN - HEADER);",
    "return ((link & ~ALIGN_MASK) | (ALIGN - HEADER)) + ALIGN;",
  ]),
  mote("quickDamage", "checked: a link's length is not checked", [
    "if (next ? (next & ALIGN_MASK) != length - 1 || linked(next) - first >= top - first : length != 1) {",
    "if (next ? linked(next) - first >= top - first : false) {",
  ]),
  mote("flush", "a flush leaves the largest size's quick list", [
    "slot < root + ROOT_SIZE - QUICK_HEADS;",
    "slot < root + ROOT_SIZE - QUICK_HEADS - 4;",
  ]),
  // pointers
  mote("blockOf", "a pointer at the top region passes as a block", [
    "if ((ptr & ALIGN_MASK) || block - first >= top - first) {",
    "if ((ptr & ALIGN_MASK) || block - first > top - first) {",
  ]),
  mote("blockOf", "release: a free block's pointer passes as live", [
    "if (!CHECKED) return header & (FREE | QUICK) || !fits(block, header) ? 0 : block;",
    "if (!CHECKED) return !fits(block, header) ? 0 : block;",
  ]),
  mote("fits", "the last block before the top does not fit", [
    "return size >= MIN_BLOCK && size <= top - block;",
    "return size >= MIN_BLOCK && size < top - block;",
  ]),
  mote("guarded", "checked: the guard is read a word low", [
    "let guard = block + (header & ~TAGS) - GUARD;",
    "let guard = block + (header & ~TAGS) - 2 * GUARD;",
  ]),
  mote("classify", "checked: a merged block freed again is not a double free", [
    "if (header == FREED) return DOUBLE_FREE;",
    "if (header == FREED) return NOT_A_BLOCK;",
  ]),
  mote("classify", "checked: a listed block freed again is not a double free", [
    "      ? DOUBLE_FREE\n      : NOT_A_BLOCK;",
    "      ? NOT_A_BLOCK\n      : NOT_A_BLOCK;",
  ]),
  mote("isBlockStart", "checked: every address is a block start", [
    "return block == target;",
    "return true;",
  ]),
  mote("neighboursDamaged", "checked: the right neighbour is not checked", [
    "if (right != top) {",
    "if (false) {",
  ]),
  mote("neighboursDamaged", "checked: a left neighbour that does not end at the block passes", [
    "damaged = !(leftHeader & FREE) || left + (leftHeader & ~TAGS) != block\n",
    "damaged = !(leftHeader & FREE)\n",
  ]),
  mote("freeDamage", "checked: a free block's back word is not checked", [
    "if (load<u32>(block + size - HEADER) != block) return block + size - HEADER;",
    "",
  ]),
  mote("freeDamage", "checked: a free block's next link is not checked", [
    "if (next && (next - first >= top - first || load<u32>(next, PREV) != block)) return block + NEXT;",
    "",
  ]),
  mote("freeDamage", "checked: the first poison word is not checked", [
    "return poisonDamage(block + NEXT + sizeof<u32>(), min(upTo, block + size - HEADER));",
    "return poisonDamage(block + NEXT + 2 * sizeof<u32>(), min(upTo, block + size - HEADER));",
  ]),
  mote("poisonDamage", "checked: the last poison word of a range is not checked", [
    "for (let word = from; word < to; word += sizeof<u32>()) {",
    "for (let word = from; word + sizeof<u32>() < to; word += sizeof<u32>()) {",
  ]),
  mote("topDamaged", "checked: the top region's first poison word is not checked", [
    "let damaged = poisonDamage(top, min(to, max(poisoned(), top)));",
    "let damaged = poisonDamage(top + sizeof<u32>(), min(to, max(poisoned(), top)));",
  ]),
  mote("allocate", "checked: the top region's poison is checked before the limit", [
    "if (CHECKED && size <= limit - HEADER - top && topDamaged(top + size)) return 0;",
    "if (CHECKED && topDamaged(top + size)) return 0;",
  ]),
  // the C ABI
  // once listed as equivalent; the bounded fuzz makes it trap (a malloc after it reads past the
  // memory), so the check is not redundant
  mote("malloc", "malloc of exactly the limit is tried", [
    "enter(OP_MALLOC);\n  if (bytes >= limit) return 0;",
    "enter(OP_MALLOC);\n  if (bytes > limit) return 0;",
  ]),
  mote("free", "free does not count itself", ["enter(OP_FREE);\n  frees++;", "enter(OP_FREE);"]),
  mote("realloc", "realloc grows into a right neighbour one byte too small", [
    "if (rightHeader & FREE && merged >= size) {",
    "if (rightHeader & FREE && merged > size) {",
  ]),
  mote("realloc", "realloc grows into its right neighbour without unlisting it", [
    "      }\n      remove(right);\n      store<u32>(block + merged",
    "      }\n      store<u32>(block + merged",
  ]),
  mote("realloc", "realloc at the top asks room for the whole block", [
    "} else if (right == top && room(size - current)) {",
    "} else if (right == top && room(size)) {",
  ]),
  mote("realloc", "realloc moves without copying", [
    "memory.copy(moved, ptr, current - OVERHEAD);",
    "",
  ]),
  mote("realloc", "realloc copies a word short", [
    "memory.copy(moved, ptr, current - OVERHEAD);",
    "memory.copy(moved, ptr, current - OVERHEAD - 4);",
  ]),
  mote("realloc", "checked: realloc into a free neighbour does not check its poison", [
    "let damaged = freeDamage(right, block + size);",
    "let damaged = freeDamage(right, right);",
  ]),
  mote("calloc", "calloc does not see the product overflow", ["if (wide >> 32) return 0;", ""]),
  mote("calloc", "calloc forgets that memory freed back to the top region is dirty", [
    "let zeroFrom = max(clean, oldTop);",
    "let zeroFrom = oldTop;",
  ]),
  mote("calloc", "calloc clears one byte short", [
    "memory.fill(ptr, 0, min(bytes, zeroFrom - ptr));",
    "memory.fill(ptr, 0, min(bytes - 1, zeroFrom - ptr));",
  ]),
  mote("aligned_alloc", "aligned_alloc refuses the largest alignment", [
    "alignment > MAX_ALIGN) return 0;",
    "alignment >= MAX_ALIGN) return 0;",
  ]),
  mote("aligned_alloc", "aligned_alloc takes 16-byte alignment the long way", [
    "if (alignment <= ALIGN) return malloc(bytes);",
    "if (alignment < ALIGN) return malloc(bytes);",
  ], "for 16 the long way allocates the same size with no gap, and trims nothing"),
  mote("aligned_alloc", "aligned_alloc takes 16 bytes too little slack", [
    "let block = allocate(size + alignment - ALIGN);",
    "let block = allocate(size + alignment - 2 * ALIGN);",
  ]),
  mote("aligned_alloc", "aligned_alloc aligns the header, not the payload", [
    "let gap = (0 - block - HEADER) & (alignment - 1);",
    "let gap = (0 - block) & (alignment - 1);",
  ]),
  mote(
    "malloc_usable_size",
    "malloc_usable_size counts the checked guard as usable",
    [
      "return block ? (load<u32>(block) & ~TAGS) - OVERHEAD : 0;",
      "return block ? (load<u32>(block) & ~TAGS) - HEADER : 0;",
    ],
    "the checked build returns above, with its red zone's slack: the line is reached only where GUARD is 0 and OVERHEAD is HEADER",
  ),
  mote("mote_init", "reset keeps the old list heads", [
    "memory.fill(newRoot, 0, ROOT_SIZE);",
    "memory.fill(newRoot, 0, HEADS);",
  ]),
  mote("mote_init", "memory already there is thought zero", [
    "clean = memoryEnd(); // memory already there may hold anything",
    "clean = 0;",
  ]),
  mote(
    "mote_init",
    "a region one byte too small for the root is accepted",
    ["newRoot + FIRST + HEADER > newLimit) return 0;", "newRoot + FIRST > newLimit) return 0;"],
    "the limit is rounded down to 16 and root + FIRST lies 4 below a multiple of 16, so no limit " +
      "falls between the two bounds",
  ),
  mote("mote_init", "checked: init poisons up to the memory's end, past the limit", [
    "let poisonEnd = max(min(clean, newLimit), top);",
    "let poisonEnd = max(clean, top);",
  ]),
  // the fast build's written-out paths
  mote("free", "fast: free into the top region forgets that memory there is dirty", [
    "store<u32>(block, header | FREE);\n        clean = max(clean, top);",
    "store<u32>(block, header | FREE);",
  ]),
  mote("free", "fast: free into the top region is not counted", [
    "        top = block;\n        return;",
    "        top = block;\n        frees--;\n        return;",
  ]),
  mote("free", "fast: free into the top region leaves a free left neighbour unmerged", [
    "if (!(header & LEFT_FREE)) { // a used left neighbour",
    "{ // a used left neighbour",
  ]),
  mote("free", "fast: free takes a misaligned pointer", [
    "if (ptr & ALIGN_MASK || block - (root + FIRST) >= top - (root + FIRST)) return;",
    "if (block - (root + FIRST) >= top - (root + FIRST)) return;",
  ]),
  mote("free", "fast: free takes a block whose header is too small", [
    "if (header & (FREE | QUICK) || size < MIN_BLOCK || size > top - block) return;",
    "if (header & (FREE | QUICK) || size > top - block) return;",
  ]),
  mote("free", "fast: free takes a quick-listed block again", [
    "if (header & (FREE | QUICK) || size < MIN_BLOCK || size > top - block) return;",
    "if (header & FREE || size < MIN_BLOCK || size > top - block) return;",
  ]),
  mote(
    "free",
    "fast: a block ending at the top region with a free left one waits in a quick list",
    [
      "    } else if (QUICK_LISTS && size < SMALL && toQuick(block, header)) {",
      "    }\n    if (QUICK_LISTS && size < SMALL && toQuick(block, header)) {",
    ],
  ),
  mote("malloc", "fast: malloc's quick path takes the block of the next size up", [
    "let head = load<u32>(slot, QUICK_HEADS);\n    if (head) {\n      let block",
    "let head = load<u32>(slot, QUICK_HEADS + 4);\n    if (head) {\n      let block",
  ]),
  mote("malloc", "fast: malloc carves the top region while blocks are listed", [
    "if (FAST && !flMap && !load<u32>(root, QUICK_COUNT) && room(size)) {",
    "if (FAST && !load<u32>(root, QUICK_COUNT) && room(size)) {",
  ]),
  mote("allocate", "fast: a split's rest is listed with its right neighbour's tag", [
    "store<u32>(spare, rest | FREE);",
    "store<u32>(spare, rest | FREE | LEFT_FREE);",
  ]),
  // the free counter
  mote("realloc", "realloc does not count itself", [
    "  frees++;\n  if (!ptr) return malloc(bytes);",
    "  if (!ptr) return malloc(bytes);",
  ]),
  // the shared build
  shared("leave", "shared: a log entry's usable size is 0", [
    "returnsBlock && result ? moteUsableSize(result) : 0",
    "0",
  ]),
  shared("leave", "shared: a log entry names no owner", [
    "store<u32>(entry, me, 8);",
    "store<u32>(entry, 0, 8);",
  ]),
  shared("leave", "shared: a log entry's second argument is the first", [
    "store<u32>(entry, b, 16);",
    "store<u32>(entry, a, 16);",
  ]),
  shared("mote_set_limit", "shared: the limit may be set 16 bytes below the span", [
    "let done: usize = limitEnd >= spanEnd ? 1 : 0;",
    "let done: usize = limitEnd + 16 >= spanEnd ? 1 : 0;",
  ]),
  shared(
    "mote_unlock",
    "shared: mote_unlock does not store the state",
    ["if (held == 0) return;\n  moteStoreState(at + STATE);", "if (held == 0) return;"],
    "every operation inside a mote_lock stores the state as it leaves, and mote_log and " +
      "mote_set_limit change none of it unstored: the state in memory is current",
  ),
  mote("moteStoreState", "shared: the state forgets where memory is clean", [
    "store<u32>(at, clean, 16);",
    "store<u32>(at, top, 16);",
  ]),
  shared("leave", "shared: tickets skip a number", [
    "store<u32>(at + TICKETS, ticket + 1);",
    "store<u32>(at + TICKETS, ticket + 2);",
  ]),
  // the Heap's live-block record and its limits (TypeScript)
  liveBlocks(
    "LiveBlocks.rebuild",
    "live blocks: a rebuild forgets the blocks freed behind its back",
    ["    if (this.#freed) {\n      was.forEach", "    if (false) {\n      was.forEach"],
    "only a checked heap keeps freed blocks, and there every free and realloc, the Heap's and " +
      "other modules' through exports, goes through the record's wrappers: a rebuild finds no " +
      "block gone that the record did not see go",
  ),
  liveBlocks(
    "LiveBlocks.add",
    "live blocks: a block handed out again stays freed",
    ["if (this.#freed && word < this.#freed.length) this.#freed[word] &= ~(1 << index);", ""],
    "a block stops being live only by free or realloc, which mark it freed again, or by reset, " +
      "which clears both records: its stale freed bit is never read while it is live",
  ),
  liveBlocks("LiveBlocks.forget", "live blocks: a freed block stays live", [
    "this.#live[index >>> 5] &= ~(1 << index);",
    "",
  ]),
  liveBlocks("LiveBlocks.indexIn", "live blocks: a pointer 8 bytes into a block is live", [
    "if (offset < 0 || (offset & ALIGN_MASK) !== 0) return -1;",
    "if (offset < 0 || (offset & (ALIGN_MASK >> 1)) !== 0) return -1;",
  ]),
  liveBlocks("grown", "live blocks: the record grows too little", [
    "Math.max(words.length * 2, index + 1)",
    "Math.max(words.length, index)",
  ]),
  heap("Heap.limit", "a limit may be lowered onto the top of the blocks, without a header", [
    ": this.#engine.read(this.base, 0).picture.top + HEADER - this.base;",
    ": this.#engine.read(this.base, 0).picture.top - this.base;",
  ]),
  // the checked build's byte-exact red zone, and limits lowered and raised again
  mote("guarded", "checked: the red zone's first byte is not checked", [
    "for (let at = guard - slack; at < guard; at++)",
    "for (let at = guard - slack + 1; at < guard; at++)",
  ]),
  mote("seal", "checked: the slack counts one byte less", [
    "let slack = guard - ptr - bytes;",
    "let slack = guard - ptr - bytes - 1;",
  ]),
  mote("realloc", "checked: realloc in place keeps the old red zone", [
    "    keepMarks = false;\n    seal(ptr, bytes);",
    "    keepMarks = false;",
  ]),
  mote("aligned_alloc", "checked: aligned_alloc's block has no red zone", [
    "    keepMarks = false;\n    seal(block + HEADER, bytes);",
    "    keepMarks = false;",
  ]),
  mote("malloc_usable_size", "checked: malloc_usable_size counts the red zone as usable", [
    "return (header & ~TAGS) - OVERHEAD - slackOf(block, header);",
    "return (header & ~TAGS) - OVERHEAD;",
  ]),
  mote("slackOf", "checked: a guard with one byte changed still names a slack", [
    "return slack == (slack & ALIGN_MASK) * SLACK_BYTES ? slack & ALIGN_MASK : ALIGN;",
    "return slack & ALIGN_MASK;",
  ]),
  mote("neighboursDamaged", "checked: a right neighbour's overflow is blamed on the block freed", [
    "if (!guarded(right, rightHeader)) return overflowed(right);",
    "if (!guarded(right, rightHeader)) return overflowed(block);",
  ]),
  mote("neighboursDamaged", "checked: a used left neighbour's red zone is not checked", [
    "} else if (!damaged && block != first) {",
    "} else if (false) {",
  ]),
  mote("room", "memory another module grew is thought zero", [
    "if (<usize>pages != seen) clean = endOf(pages);",
    "",
  ]),
  mote(
    "quickListsDamaged",
    "checked: a flush merges a quick-listed block's free neighbours unchecked",
    [
      "      if (neighboursDamaged(block, load<u32>(block))) return true;\n",
      "",
    ],
  ),
  mote("mote_set_limit", "memory above a lowered limit is thought zero when raised again", [
    "  seen = 0; // so room() takes all the memory there is now for written\n",
    "",
  ]),
  mote("mote_set_limit", "memory grown past the limit is thought zero when it is raised", [
    "  seen = 0; // so room() takes all the memory there is now for written",
    "  if (limitEnd < limit) seen = 0;",
  ]),
  mote(
    "mote_set_limit",
    "checked: memory above a lowered limit is thought poisoned when raised again",
    [
      "if (CHECKED && limitEnd < limit) store<u32>(root + POISONED, min(poisoned(), limitEnd));",
      "",
    ],
  ),
  // the checked build's FREED marks in memory that a call takes and gives back unhanded
  mote("aligned_alloc", "checked: aligned_alloc's gap and tail forget where freed blocks began", [
    "  if (CHECKED) keepMarks = true; // the gap and the tail were free, never handed out\n",
    "",
  ]),
  mote("realloc", "checked: a block grown into its free neighbour forgets freed blocks there", [
    "    if (CHECKED) keepMarks = true; // the rest trimmed below was the free right neighbour's\n",
    "",
  ]),
  // ModelHeap is an API too: its calloc and realloc keep the contract on its own memory
  model("calloc", "model: calloc leaves a used block's last byte as it was", [
    "fill(0, ptr, Math.min(ptr + bytes, pristine));",
    "fill(0, ptr, Math.min(ptr + bytes, pristine) - 1);",
  ]),
  model("realloc", "model: a realloc that moves copies one byte short", [
    "copyWithin(moved, ptr, ptr + this.#usable(block));",
    "copyWithin(moved, ptr, ptr + this.#usable(block) - 1);",
  ]),
  model("#inMemory", "model: a miss empties the quick lists when the top region holds it exactly", [
    "return this.#top + size + HEADER <= Math.min(this.#limit, this.#memoryEnd());",
    "return this.#top + size + HEADER < Math.min(this.#limit, this.#memoryEnd());",
  ]),
];

/** Why `mutant` cannot be applied to `source`, its file's text: "" when it can. */
export function misfit(source: string, mutant: Mutant): string {
  const count = source.split(mutant.find).length - 1;
  const { name, file, where } = mutant;
  return count === 1 ? "" : `${name} (${file}, ${where}): its text occurs ${count} times, not once`;
}

/** `source` with `mutant` applied; throws when its text does not occur exactly once. */
export function mutate(source: string, mutant: Mutant): string {
  const why = misfit(source, mutant);
  if (why) throw new Error(why);
  return source.replace(mutant.find, () => mutant.replace);
}
