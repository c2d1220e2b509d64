/**
 * The mutation run's mutants: single edits of asm/mote.ts (or of another file: asm/shared.ts, a
 * TypeScript file of src/), as data. Each is a text that occurs exactly once in its file and what
 * it becomes, so that when the source changes, the test
 * names precisely the edits that no longer apply and re-anchoring them is quick. A mutant that
 * cannot change what any caller sees is marked `equivalent`, with the reason.
 */

/** One single-edit mutant. */
export interface Mutant {
  /** The file it edits, from the project's root, when not asm/mote.ts. */
  readonly file?: string;
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

/** The mutants: every function, both builds. */
export const MUTANTS: readonly Mutant[] = [
  // classes and bitmaps
  {
    name: "small classes end one size late",
    where: "classOf",
    find: "if (size < SMALL) return size >> ALIGN_BITS;",
    replace: "if (size <= SMALL) return size >> ALIGN_BITS;",
    equivalent:
      "256 >> 4 is 16 either way: the first two-level class is the one after the last small one",
  },
  {
    name: "second level off by one bit",
    where: "classOf",
    find: "+ (size >> (bits - SL_BITS));",
    replace: "+ (size >> (bits - SL_BITS + 1));",
  },
  {
    name: "a list head's prev is off by a word",
    where: "insert",
    find: "store<u32>(block, slot - NEXT, PREV);",
    replace: "store<u32>(block, slot - PREV, PREV);",
  },
  {
    name: "the old head's prev is not updated",
    where: "insert",
    find: "if (head) store<u32>(head, block, PREV);",
    replace: "if (head) store<u32>(head, block, NEXT);",
  },
  {
    name: "the first-level bit is set one level up",
    where: "insert",
    find: "flMap |= 1 << <u32>fl;",
    replace: "flMap |= 1 << <u32>(fl + 1);",
  },
  {
    name: "an emptied list keeps its bit",
    where: "remove",
    find: "} else if (prev < root + ROOT_SIZE) {",
    replace: "} else if (prev < root + HEADS) {",
  },
  {
    name: "the first-level bit is cleared while the level has lists",
    where: "remove",
    find: "if (!slMap) flMap &= ~(1 << <u32>fl);",
    replace: "if (slMap) flMap &= ~(1 << <u32>fl);",
  },
  {
    name: "unlinking writes the next block's next, not its prev",
    where: "remove",
    find: "store<u32>(next, prev, PREV);",
    replace: "store<u32>(next, prev, NEXT);",
  },
  // growth and limits
  {
    name: "growth stops one byte short of the limit",
    where: "room",
    find: "if (need > limit || need < size) return false;",
    replace: "if (need >= limit || need < size) return false;",
  },
  {
    name: "the top region ends at the limit, not a header before it",
    where: "room",
    find: "let need = top + size + HEADER;",
    replace: "let need = top + size;",
    equivalent: "blocks start 4 bytes below a 16-byte boundary and are multiples of 16, so none " +
      "can end in the last 4 bytes below a 16-aligned end: both ends admit the same blocks " +
      "and ask for the same pages",
  },
  {
    name: "growth rounds the pages down",
    where: "room",
    find: "(need + PAGE_MASK) >> PAGE_BITS",
    replace: "need >> PAGE_BITS",
  },
  {
    name: "a full 4 GiB memory's end wraps to 0",
    where: "endOf",
    find: "return <usize>min(pages, <i32>(MAX_LIMIT >> PAGE_BITS)) << PAGE_BITS;",
    replace: "return <usize>pages << PAGE_BITS;",
  },
  {
    name: "the top region asks to grow when it fits exactly",
    where: "room",
    find: "if (pages < want) {",
    replace: "if (pages <= want) {",
    equivalent: "memory.grow of exactly what is left asks for 0 pages, which adds nothing and " +
      "cannot fail",
  },
  {
    name: "a popped block stays in the quick lists' count",
    where: "allocate",
    find: "store<u32>(root, load<u32>(root, QUICK_COUNT) - 1, QUICK_COUNT);",
    replace: "store<u32>(root, load<u32>(root, QUICK_COUNT), QUICK_COUNT);",
  },
  // allocation, split, merge
  {
    name: "the bounded scan looks at one block more",
    where: "allocate",
    find: "block = n < SCAN ? load<u32>(block, NEXT) : 0;",
    replace: "block = n <= SCAN ? load<u32>(block, NEXT) : 0;",
  },
  {
    name: "the next class search includes the request's own class",
    where: "allocate",
    find: "& (-2 << <u32>(index & (SL_COUNT - 1)));",
    replace: "& (-1 << <u32>(index & (SL_COUNT - 1)));",
  },
  {
    name: "checked: the scan follows a link that leads out of the heap",
    where: "allocate",
    find: "      if (CHECKED && n < SCAN && linkDamaged(block)) return 0;\n",
    replace: "",
  },
  {
    name: "the first-level search includes the request's own level",
    where: "allocate",
    find: "let above = flMap & (-2 << <u32>fl);",
    replace: "let above = flMap & (-1 << <u32>fl);",
  },
  {
    name: "split off by one: a 16-byte rest is not split off",
    where: "allocate",
    find: "if (rest >= MIN_BLOCK) {\n    // the rest is freed",
    replace: "if (rest > MIN_BLOCK) {\n    // the rest is freed",
  },
  {
    name: "a block taken whole leaves its right neighbour's LEFT_FREE set",
    where: "allocate",
    find: "store<u32>(block + blockSize, load<u32>(block + blockSize) & ~LEFT_FREE);",
    replace: "",
  },
  {
    name: "carving from the top skips 16 bytes",
    where: "allocate",
    find: "    block = top;\n    top += size;",
    replace: "    block = top;\n    top += size + ALIGN;",
  },
  {
    name: "the checked split writes the rest's back word a word low",
    where: "allocate",
    find: "store<u32>(spare + rest - HEADER, spare);",
    replace: "store<u32>(spare + rest - 2 * HEADER, spare);",
  },
  {
    name: "free misses the coalesce with a free left neighbour",
    where: "release",
    find: "if (header & LEFT_FREE) {\n    block = load<u32>(block - HEADER);",
    replace: "if (false) {\n    block = load<u32>(block - HEADER);",
  },
  {
    name: "memory freed into the top region is thought clean",
    where: "release",
    find: "reused\n    clean = max(clean, top);",
    replace: "reused\n",
  },
  {
    name: "a merged right neighbour's tags leak into the size",
    where: "release",
    find: "size += rightHeader & ~TAGS;",
    replace: "size += rightHeader;",
  },
  {
    name: "the right neighbour is not told its left is free",
    where: "release",
    find: "store<u32>(right, rightHeader | LEFT_FREE);",
    replace: "store<u32>(right, rightHeader);",
  },
  {
    name: "a free block's back word names its payload",
    where: "release",
    find: "store<u32>(block + size - HEADER, block);",
    replace: "store<u32>(block + size - HEADER, block + HEADER);",
  },
  {
    name: "checked: the freed bytes' last word is not poisoned",
    where: "release",
    find: "if (CHECKED) poison(freed + HEADER, right);",
    replace: "if (CHECKED) poison(freed + HEADER, right - HEADER);",
  },
  {
    name: "checked: a merged left block's back word keeps its value",
    where: "release",
    find: "if (CHECKED) poison(freed - HEADER, freed); // the left block's back word",
    replace: "",
  },
  {
    name: "checked: memory freed into the top region is not remembered as poisoned",
    where: "release",
    find: "if (CHECKED) store<u32>(root + POISONED, max(poisoned(), top));",
    replace: "",
  },
  {
    name: "trim off by one: a 16-byte rest stays in the block",
    where: "trim",
    find: "if (rest >= MIN_BLOCK) {\n    setUsed(block, size | (header & LEFT_FREE));",
    replace: "if (rest > MIN_BLOCK) {\n    setUsed(block, size | (header & LEFT_FREE));",
  },
  {
    name: "trim drops LEFT_FREE",
    where: "trim",
    find: "setUsed(block, size | (header & LEFT_FREE));",
    replace: "setUsed(block, size);",
  },
  {
    name: "block size forgets the header",
    where: "blockSize",
    find: "return (bytes + OVERHEAD + ALIGN_MASK) & ~ALIGN_MASK;",
    replace: "return (bytes + ALIGN_MASK) & ~ALIGN_MASK;",
  },
  {
    name: "block size rounds one byte short",
    where: "blockSize",
    find: "return (bytes + OVERHEAD + ALIGN_MASK) & ~ALIGN_MASK;",
    replace: "return (bytes + OVERHEAD + ALIGN_MASK - 1) & ~ALIGN_MASK;",
  },
  {
    name: "checked: the guard is written a word low, over the usable bytes",
    where: "setUsed",
    find: "if (CHECKED) store<u32>(block + (header & ~TAGS) - GUARD, <u32>block ^ GUARD_KEY);",
    replace:
      "if (CHECKED) store<u32>(block + (header & ~TAGS) - 2 * GUARD, <u32>block ^ GUARD_KEY);",
  },
  // quick lists
  {
    name: "a quick list holds one block past its bound",
    where: "discard",
    find: "if (depth <= QUICK_BOUND) {",
    replace: "if (depth < QUICK_BOUND + 2) {",
  },
  {
    name: "a block ending at the top region waits in a quick list",
    where: "discard",
    find: "if (QUICK_LISTS && size < SMALL && block + size != top) {",
    replace: "if (QUICK_LISTS && size < SMALL) {",
  },
  {
    name: "a popped block keeps its QUICK tag",
    where: "allocate",
    find: "setUsed(block, load<u32>(block) & ~QUICK);",
    replace: "setUsed(block, load<u32>(block));",
  },
  {
    name: "the search is not made again after a flush",
    where: "allocate",
    find: "return allocate(size); // once: the quick lists are empty now",
    replace: "if (!top) return allocate(size);",
  },
  {
    name: "realloc does not flush a quick-listed right neighbour it could grow into",
    where: "realloc",
    find: "if (QUICK_LISTS && end - block < size && end != top && load<u32>(end) & QUICK) {",
    replace: "if (QUICK_LISTS && end - block < size && end != top && load<u32>(end) & FREE) {",
  },
  {
    name: "a flush leaves the largest size's quick list",
    where: "flush",
    find: "slot < root + ROOT_SIZE - QUICK_HEADS;",
    replace: "slot < root + ROOT_SIZE - QUICK_HEADS - 4;",
  },
  // pointers
  {
    name: "a pointer at the top region passes as a block",
    where: "blockOf",
    find: "if ((ptr & ALIGN_MASK) || block - first >= top - first) {",
    replace: "if ((ptr & ALIGN_MASK) || block - first > top - first) {",
  },
  {
    name: "release: a free block's pointer passes as live",
    where: "blockOf",
    find: "if (!CHECKED) return header & (FREE | QUICK) || !fits(block, header) ? 0 : block;",
    replace: "if (!CHECKED) return !fits(block, header) ? 0 : block;",
  },
  {
    name: "the last block before the top does not fit",
    where: "fits",
    find: "return size >= MIN_BLOCK && size <= top - block;",
    replace: "return size >= MIN_BLOCK && size < top - block;",
  },
  {
    name: "checked: the guard is read a word low",
    where: "guarded",
    find: "let guard = block + (header & ~TAGS) - GUARD;",
    replace: "let guard = block + (header & ~TAGS) - 2 * GUARD;",
  },
  {
    name: "checked: a merged block freed again is not a double free",
    where: "classify",
    find: "if (header == FREED) return DOUBLE_FREE;",
    replace: "if (header == FREED) return NOT_A_BLOCK;",
  },
  {
    name: "checked: a listed block freed again is not a double free",
    where: "classify",
    find: "      ? DOUBLE_FREE\n      : NOT_A_BLOCK;",
    replace: "      ? NOT_A_BLOCK\n      : NOT_A_BLOCK;",
  },
  {
    name: "checked: every address is a block start",
    where: "isBlockStart",
    find: "return block == target;",
    replace: "return true;",
  },
  {
    name: "checked: the right neighbour is not checked",
    where: "neighboursDamaged",
    find: "if (right != top) {",
    replace: "if (false) {",
  },
  {
    name: "checked: a left neighbour that does not end at the block passes",
    where: "neighboursDamaged",
    find: "damaged = !(leftHeader & FREE) || left + (leftHeader & ~TAGS) != block\n",
    replace: "damaged = !(leftHeader & FREE)\n",
  },
  {
    name: "checked: a free block's back word is not checked",
    where: "freeDamage",
    find: "if (load<u32>(block + size - HEADER) != block) return block + size - HEADER;",
    replace: "",
  },
  {
    name: "checked: a free block's next link is not checked",
    where: "freeDamage",
    find:
      "if (next && (next - first >= top - first || load<u32>(next, PREV) != block)) return block + NEXT;",
    replace: "",
  },
  {
    name: "checked: the first poison word is not checked",
    where: "freeDamage",
    find: "return poisonDamage(block + NEXT + sizeof<u32>(), min(upTo, block + size - HEADER));",
    replace:
      "return poisonDamage(block + NEXT + 2 * sizeof<u32>(), min(upTo, block + size - HEADER));",
  },
  {
    name: "checked: the last poison word of a range is not checked",
    where: "poisonDamage",
    find: "for (let word = from; word < to; word += sizeof<u32>()) {",
    replace: "for (let word = from; word + sizeof<u32>() < to; word += sizeof<u32>()) {",
  },
  {
    name: "checked: the top region's first poison word is not checked",
    where: "topDamaged",
    find: "let damaged = poisonDamage(top, min(to, max(poisoned(), top)));",
    replace: "let damaged = poisonDamage(top + sizeof<u32>(), min(to, max(poisoned(), top)));",
  },
  {
    name: "checked: the top region's poison is checked before the limit",
    where: "allocate",
    find: "if (CHECKED && size <= limit - HEADER - top && topDamaged(top + size)) return 0;",
    replace: "if (CHECKED && topDamaged(top + size)) return 0;",
  },
  // the C ABI
  {
    name: "malloc of exactly the limit is tried",
    where: "malloc",
    find: "enter(OP_MALLOC);\n  if (bytes >= limit) return 0;",
    replace: "enter(OP_MALLOC);\n  if (bytes > limit) return 0;",
    equivalent: "a request of the limit's bytes cannot fit below the limit, and its block size " +
      "cannot wrap below MAX_LIMIT: allocate fails as the check did",
  },
  {
    name: "free does not count itself",
    where: "free",
    find: "enter(OP_FREE);\n  frees++;",
    replace: "enter(OP_FREE);",
  },
  {
    name: "realloc grows into a right neighbour one byte too small",
    where: "realloc",
    find: "if (rightHeader & FREE && merged >= size) {",
    replace: "if (rightHeader & FREE && merged > size) {",
  },
  {
    name: "realloc grows into its right neighbour without unlisting it",
    where: "realloc",
    find: "      }\n      remove(right);\n      store<u32>(block + merged",
    replace: "      }\n      store<u32>(block + merged",
  },
  {
    name: "realloc at the top asks room for the whole block",
    where: "realloc",
    find: "} else if (right == top && room(size - current)) {",
    replace: "} else if (right == top && room(size)) {",
  },
  {
    name: "realloc moves without copying",
    where: "realloc",
    find: "memory.copy(moved, ptr, current - OVERHEAD);",
    replace: "",
  },
  {
    name: "realloc copies a word short",
    where: "realloc",
    find: "memory.copy(moved, ptr, current - OVERHEAD);",
    replace: "memory.copy(moved, ptr, current - OVERHEAD - 4);",
  },
  {
    name: "checked: realloc into a free neighbour does not check its poison",
    where: "realloc",
    find: "let damaged = freeDamage(right, block + size);",
    replace: "let damaged = freeDamage(right, right);",
  },
  {
    name: "calloc does not see the product overflow",
    where: "calloc",
    find: "if (wide >> 32) return 0;",
    replace: "",
  },
  {
    name: "calloc forgets that memory freed back to the top region is dirty",
    where: "calloc",
    find: "let zeroFrom = max(clean, oldTop);",
    replace: "let zeroFrom = oldTop;",
  },
  {
    name: "calloc clears one byte short",
    where: "calloc",
    find: "memory.fill(ptr, 0, min(bytes, zeroFrom - ptr));",
    replace: "memory.fill(ptr, 0, min(bytes - 1, zeroFrom - ptr));",
  },
  {
    name: "aligned_alloc refuses the largest alignment",
    where: "aligned_alloc",
    find: "alignment > MAX_ALIGN) return 0;",
    replace: "alignment >= MAX_ALIGN) return 0;",
  },
  {
    name: "aligned_alloc takes 16-byte alignment the long way",
    where: "aligned_alloc",
    find: "if (alignment <= ALIGN) return malloc(bytes);",
    replace: "if (alignment < ALIGN) return malloc(bytes);",
    equivalent: "for 16 the long way allocates the same size with no gap, and trims nothing",
  },
  {
    name: "aligned_alloc takes 16 bytes too little slack",
    where: "aligned_alloc",
    find: "let block = allocate(size + alignment - ALIGN);",
    replace: "let block = allocate(size + alignment - 2 * ALIGN);",
  },
  {
    name: "aligned_alloc aligns the header, not the payload",
    where: "aligned_alloc",
    find: "let gap = (0 - block - HEADER) & (alignment - 1);",
    replace: "let gap = (0 - block) & (alignment - 1);",
  },
  {
    name: "malloc_usable_size counts the checked guard as usable",
    where: "malloc_usable_size",
    find: "return block ? (load<u32>(block) & ~TAGS) - OVERHEAD : 0;",
    replace: "return block ? (load<u32>(block) & ~TAGS) - HEADER : 0;",
  },
  {
    name: "reset keeps the old list heads",
    where: "mote_init",
    find: "memory.fill(newRoot, 0, ROOT_SIZE);",
    replace: "memory.fill(newRoot, 0, HEADS);",
  },
  {
    name: "memory already there is thought zero",
    where: "mote_init",
    find: "clean = memoryEnd(); // memory already there may hold anything",
    replace: "clean = 0;",
  },
  {
    name: "a region one byte too small for the root is accepted",
    where: "mote_init",
    find: "newRoot + FIRST + HEADER > newLimit) return 0;",
    replace: "newRoot + FIRST > newLimit) return 0;",
    equivalent: "the limit is rounded down to 16 and root + FIRST lies 4 below a multiple of 16, " +
      "so no limit falls between the two bounds",
  },
  {
    name: "checked: init poisons up to the memory's end, past the limit",
    where: "mote_init",
    find: "let poisonEnd = max(min(clean, newLimit), top);",
    replace: "let poisonEnd = max(clean, top);",
  },
  // the fast build's written-out paths
  {
    name: "fast: free into the top region forgets that memory there is dirty",
    where: "free",
    find: "store<u32>(block, header | FREE);\n        clean = max(clean, top);",
    replace: "store<u32>(block, header | FREE);",
  },
  {
    name: "fast: free into the top region is not counted",
    where: "free",
    find: "        top = block;\n        return;",
    replace: "        top = block;\n        frees--;\n        return;",
  },
  {
    name: "fast: free into the top region leaves a free left neighbour unmerged",
    where: "free",
    find: "if (!(header & (FREE | LEFT_FREE)) && header >= MIN_BLOCK && block + header == top) {",
    replace: "if (!(header & FREE) && header >= MIN_BLOCK && block + header == top) {",
    equivalent: "a header with LEFT_FREE set carries the tag in its low bits, so block + header " +
      "is never the top: the shortcut is not taken either way (tried: top merges down as before)",
  },
  {
    name: "fast: free takes a misaligned pointer before a plausible header",
    where: "free",
    find: "if (!(ptr & ALIGN_MASK) && block - (root + FIRST) < top - (root + FIRST)) {",
    replace: "if (block - (root + FIRST) < top - (root + FIRST)) {",
  },
  {
    name: "fast: free takes a block whose header is too small",
    where: "free",
    find: "header >= MIN_BLOCK && block + header == top",
    replace: "block + header == top",
    equivalent: "an aligned pointer's block and the top both lie 4 below a multiple of 16, so a " +
      "header without tags that reaches the top from below is a multiple of 16 above 0: never " +
      "below MIN_BLOCK",
  },
  {
    name: "fast: malloc carves the top region while blocks are listed",
    where: "malloc",
    find: "if (FAST && !flMap && !load<u32>(root, QUICK_COUNT) && room(size)) {",
    replace: "if (FAST && !load<u32>(root, QUICK_COUNT) && room(size)) {",
  },
  {
    name: "fast: a split's rest is listed with its right neighbour's tag",
    where: "allocate",
    find: "store<u32>(spare, rest | FREE);",
    replace: "store<u32>(spare, rest | FREE | LEFT_FREE);",
  },
  // the free counter
  {
    name: "realloc does not count itself",
    where: "realloc",
    find: "  frees++;\n  if (!ptr) return malloc(bytes);",
    replace: "  if (!ptr) return malloc(bytes);",
  },
  // the shared build
  {
    name: "shared: a log entry's usable size is 0",
    where: "leave",
    file: "asm/shared.ts",
    find: "returnsBlock && result ? moteUsableSize(result) : 0",
    replace: "0",
  },
  {
    name: "shared: a log entry names no owner",
    where: "leave",
    file: "asm/shared.ts",
    find: "store<u32>(entry, me, 8);",
    replace: "store<u32>(entry, 0, 8);",
  },
  {
    name: "shared: a log entry's second argument is the first",
    where: "leave",
    file: "asm/shared.ts",
    find: "store<u32>(entry, b, 16);",
    replace: "store<u32>(entry, a, 16);",
  },
  {
    name: "shared: the limit may be set 16 bytes below the span",
    where: "mote_set_limit",
    file: "asm/shared.ts",
    find: "let done: usize = limitEnd >= spanEnd ? 1 : 0;",
    replace: "let done: usize = limitEnd + 16 >= spanEnd ? 1 : 0;",
  },
  {
    name: "shared: mote_unlock does not store the state",
    where: "mote_unlock",
    file: "asm/shared.ts",
    find: "if (held == 0) return;\n  moteStoreState(at + STATE);",
    replace: "if (held == 0) return;",
    equivalent: "every operation inside a mote_lock stores the state as it leaves, and " +
      "mote_log and mote_set_limit change none of it unstored: the state in memory is current",
  },
  {
    name: "shared: the state forgets where memory is clean",
    where: "moteStoreState",
    find: "store<u32>(at, clean, 16);",
    replace: "store<u32>(at, top, 16);",
  },
  {
    name: "shared: tickets skip a number",
    where: "leave",
    file: "asm/shared.ts",
    find: "store<u32>(at + TICKETS, ticket + 1);",
    replace: "store<u32>(at + TICKETS, ticket + 2);",
  },
  // the Heap's live-block record and its limits (TypeScript)
  {
    name: "live blocks: a rebuild forgets the blocks freed behind its back",
    where: "LiveBlocks.rebuild",
    file: "src/_live_blocks.ts",
    find: "    if (this.#freed) {\n      was.forEach",
    replace: "    if (false) {\n      was.forEach",
    equivalent: "only a checked heap keeps freed blocks, and there every free and realloc, the " +
      "Heap's and other modules' through exports, goes through the record's wrappers: a rebuild " +
      "finds no block gone that the record did not see go",
  },
  {
    name: "live blocks: a block handed out again stays freed",
    where: "LiveBlocks.add",
    file: "src/_live_blocks.ts",
    find: "if (this.#freed && word < this.#freed.length) this.#freed[word] &= ~(1 << index);",
    replace: "",
    equivalent: "a block stops being live only by free or realloc, which mark it freed again, " +
      "or by reset, which clears both records: its stale freed bit is never read while it is live",
  },
  {
    name: "live blocks: a freed block stays live",
    where: "LiveBlocks.delete",
    file: "src/_live_blocks.ts",
    find: "this.#live[index >>> 5] &= ~(1 << index);",
    replace: "",
  },
  {
    name: "live blocks: a pointer 8 bytes into a block is live",
    where: "LiveBlocks.has",
    file: "src/_live_blocks.ts",
    find: "if (offset < 0 || (offset & (ALIGN - 1)) !== 0) return false;",
    replace: "if (offset < 0 || (offset & (ALIGN / 2 - 1)) !== 0) return false;",
  },
  {
    name: "live blocks: the record grows too little",
    where: "grown",
    file: "src/_live_blocks.ts",
    find: "Math.max(words.length * 2, index + 1)",
    replace: "Math.max(words.length, index)",
  },
  {
    name: "a limit may be lowered onto the top of the blocks, without a header",
    where: "Heap.limit",
    file: "src/heap.ts",
    find: ": this.#engine.read(this.base, 0).picture.top + HEADER - this.base;",
    replace: ": this.#engine.read(this.base, 0).picture.top - this.base;",
  },
  // the checked build's byte-exact red zone, and limits lowered and raised again
  {
    name: "checked: the red zone's first byte is not checked",
    where: "guarded",
    find: "for (let at = guard - slack; at < guard; at++)",
    replace: "for (let at = guard - slack + 1; at < guard; at++)",
  },
  {
    name: "checked: the slack counts one byte less",
    where: "seal",
    find: "let slack = guard - ptr - bytes;",
    replace: "let slack = guard - ptr - bytes - 1;",
  },
  {
    name: "checked: realloc in place keeps the old red zone",
    where: "realloc",
    find: "  trim(block, size);\n  if (CHECKED) seal(ptr, bytes);",
    replace: "  trim(block, size);",
  },
  {
    name: "checked: aligned_alloc's block has no red zone",
    where: "aligned_alloc",
    find: "if (CHECKED) seal(block + HEADER, bytes);\n  return block + HEADER;",
    replace: "return block + HEADER;",
  },
  {
    name: "checked: malloc_usable_size counts the red zone as usable",
    where: "malloc_usable_size",
    find: "return (header & ~TAGS) - OVERHEAD - slackOf(block, header);",
    replace: "return (header & ~TAGS) - OVERHEAD;",
  },
  {
    name: "checked: a guard with one byte changed still names a slack",
    where: "slackOf",
    find: "return slack == (slack & ALIGN_MASK) * SLACK_BYTES ? slack & ALIGN_MASK : ALIGN;",
    replace: "return slack & ALIGN_MASK;",
  },
  {
    name: "checked: a right neighbour's overflow is blamed on the block freed",
    where: "neighboursDamaged",
    find: "if (!guarded(right, rightHeader)) return overflowed(right);",
    replace: "if (!guarded(right, rightHeader)) return overflowed(block);",
  },
  {
    name: "checked: a used left neighbour's red zone is not checked",
    where: "neighboursDamaged",
    find: "} else if (!damaged && block != first) {",
    replace: "} else if (false) {",
  },
  {
    name: "memory another module grew is thought zero",
    where: "room",
    find: "if (<usize>pages != seen) clean = endOf(pages);",
    replace: "",
  },
  {
    name: "memory above a lowered limit is thought zero when raised again",
    where: "mote_set_limit",
    find: "    seen = 0; // so room() takes all the memory there is now for written\n",
    replace: "",
  },
  {
    name: "checked: memory above a lowered limit is thought poisoned when raised again",
    where: "mote_set_limit",
    find: "if (CHECKED) store<u32>(root + POISONED, min(poisoned(), limitEnd));",
    replace: "",
  },
];

/** `source` with `mutant` applied, or undefined when its text does not occur exactly once. */
export function mutate(source: string, mutant: Mutant): string | undefined {
  const parts = source.split(mutant.find);
  return parts.length === 2 ? parts.join(mutant.replace) : undefined;
}

/** The file a mutant edits, from the project's root. */
export function fileOf(mutant: Mutant): string {
  return mutant.file ?? "asm/mote.ts";
}

/** The mutants whose text no longer occurs exactly once in its file, each with its count. */
export function unapplied(read: (file: string) => string): string[] {
  return MUTANTS.filter((m) => mutate(read(fileOf(m)), m) === undefined).map((m) =>
    `${m.name} (${fileOf(m)}, ${m.where}): its text occurs ` +
    `${read(fileOf(m)).split(m.find).length - 1} times, not once`
  );
}
