/**
 * Reads a live wasm heap out of its memory, knowing the layout of asm/mote.ts: the picture of
 * its blocks and lists, and what is wrong with the bytes themselves (tags, back words, links).
 */
import {
  ALIGN,
  CLASSES,
  FIRST,
  FL_COUNT,
  FREE,
  FREED_HERE,
  HEADER,
  HEADS,
  LEFT_FREE,
  MAX_LIMIT,
  QUICK,
  QUICK_HEADS,
  QUICK_LISTS,
  SL_COUNT,
  TAGS,
} from "./_layout.ts";
import { checkPicture, type HeapBlock, type HeapPicture } from "./_picture.ts";

const PREV = HEADER;
const NEXT = HEADER + 4;
// the checked build's marks, as asm/mote.ts writes them
const GUARD_KEY = 0x6D6F7465;
/** A guard also names its block's slack, the red zone's bytes, in each of its four bytes. */
const SLACK_BYTES = 0x0101_0101;
const RED = 0xFD;
const POISON = 0xDBDB_DBDB;
/** Where in the root the checked build keeps the end of its poisoned top region. */
const POISONED_END = FL_COUNT * 4;
/** Where in the root the count of quick-listed blocks is, after it. */
const QUICK_COUNT = POISONED_END + 4;
const FREED = 0xF4EE_F4EE;

/** Where a wasm heap is: what the reader needs besides its bytes. */
export interface HeapImage {
  /** The whole memory the heap lives in. */
  readonly buffer: ArrayBufferLike;
  /** The heap's root, its base rounded up to 16. */
  readonly root: number;
  /** Where the top region starts (the module's `mote_top`). */
  readonly top: number;
  /** The address the heap may not grow past (the module's `mote_limit`). */
  readonly limit: number;
  /** Whether it is the checked build's: then guards and poison are read too. */
  readonly checked?: boolean;
  /**
   * How many bytes of poison to read at each end of a freed range or the top region; all of it
   * by default. A reader after every step bounds it, and a whole read catches the middles.
   */
  readonly poisonEdges?: number;
}

/** A heap as read: its picture, and the problems found in its bytes and in the picture. */
export interface HeapReading {
  readonly picture: HeapPicture;
  readonly problems: string[];
}

/** The root of a heap whose region starts at `base`. */
export function rootOf(base: number): number {
  return Math.ceil(base / 16) * 16;
}

/** Reads the heap in `image`, checking every rule it can on the way. */
export function readHeap(image: HeapImage): HeapReading {
  const { buffer, root, top, limit } = image;
  const memory = new DataView(buffer);
  const problems: string[] = [];
  const word = (address: number): number | undefined => {
    if (address % 4 === 0 && address >= 0 && address + 4 <= memory.byteLength) {
      return memory.getUint32(address, true);
    }
    problems.push(`Word at ${address} lies outside the memory or is misaligned`);
    return undefined;
  };
  const end = Math.min(memory.byteLength, MAX_LIMIT, limit) - HEADER;
  /** Reports the first word in [from, to) that is not poison: freed memory written. */
  const edges = image.poisonEdges ?? Infinity;
  const poisoned = (from: number, to: number, zeroToo: boolean) => {
    for (let address = from; address < to; address += 4) {
      // past the near end's bytes, on to the far end's
      if (address - from === edges) {
        address += Math.max(0, Math.floor((to - address - edges) / 4) * 4);
      }
      const value = memory.getUint32(address, true);
      if (value !== POISON && value !== FREED && !(zeroToo && value === 0)) {
        problems.push(
          `Freed memory at ${address} was written after it was freed: it reads ${value}`,
        );
        return;
      }
    }
  };

  const blocks: HeapBlock[] = [];
  const freeBlocks = new Set<number>(); // tagged FREE, for the free lists
  const quickBlocks = new Set<number>(); // tagged QUICK, for the quick lists
  let leftFree = false;
  for (let address = root + FIRST; address < top;) {
    const header = word(address);
    if (header === undefined) break;
    const size = (header & ~TAGS) >>> 0; // sizes reach 2^31 and beyond: keep them unsigned
    if (size === 0 || address + size > top) {
      problems.push(`Block at ${address} has size ${size}, which does not fit below top ${top}`);
      break;
    }
    const free = (header & FREE) !== 0;
    const quick = (header & QUICK) !== 0;
    // a free block's tag in the checked build; the quick lists' on a used one
    const known = FREE | LEFT_FREE | (free ? (image.checked ? FREED_HERE : 0) : QUICK);
    if ((header & TAGS & ~known) !== 0) {
      problems.push(`Block at ${address} has unknown tag bits in header ${header}`);
    }
    if (((header & LEFT_FREE) !== 0) !== leftFree) {
      problems.push(
        `Block at ${address} has LEFT_FREE ${leftFree ? "clear" : "set"} but the block below ` +
          `it is ${leftFree ? "free" : "used"}`,
      );
    }
    if (free && word(address + size - HEADER) !== address) {
      problems.push(`Free block at ${address} has back word ${word(address + size - HEADER)}`);
    }
    if (image.checked && !free) {
      const guard = address + size - 4;
      const slack = ((word(guard) ?? 0) ^ GUARD_KEY ^ address) >>> 0;
      const red = slack & 15;
      if (slack !== red * SLACK_BYTES || red > size - 8) {
        problems.push(
          `Used block at ${address} has its guard overwritten: a write past its usable end`,
        );
      } else if (new Uint8Array(buffer, guard - red, red).some((byte) => byte !== RED)) {
        problems.push(
          `Used block at ${address} has its red zone overwritten: a write past the size asked for`,
        );
      }
    }
    // a quick-listed block keeps a used block's guard (naming no slack), poisoned up to it
    if (image.checked && free) poisoned(address + NEXT + 4, address + size - 4, false);
    if (image.checked && quick) poisoned(address + PREV + 4, address + size - 4, false);
    blocks.push({ address, ptr: address + HEADER, size, free: free || quick });
    if (free) freeBlocks.add(address);
    if (quick) quickBlocks.add(address);
    leftFree = free;
    address += size;
  }

  // a quick list links its blocks through the word after the header: each link is a block's
  // address with its low bits (always ALIGN - HEADER) the length of the list from that block on
  const quick: number[][] = [];
  for (let index = 0; index < QUICK_LISTS; index++) {
    const list: number[] = [], lengths: number[] = [];
    for (let link = word(root + QUICK_HEADS + 4 * index); link;) {
      const block = ((link & ~TAGS) | (ALIGN - HEADER)) >>> 0;
      if (!quickBlocks.has(block) || list.includes(block)) {
        problems.push(
          `Quick list ${index} links to ${block}, which is not a quick-listed block, or loops`,
        );
        break;
      }
      list.push(block);
      lengths.push(link & TAGS);
      link = word(block + PREV);
    }
    list.forEach((block, at) => {
      if (lengths[at] !== list.length - at) {
        problems.push(
          `Block ${block} in quick list ${index} is linked as ${lengths[at]} long, ` +
            `not ${list.length - at}`,
        );
      }
    });
    quick.push(list);
  }
  const quickCount = quick.reduce((sum, list) => sum + list.length, 0);
  if (word(root + QUICK_COUNT) !== quickCount) {
    problems.push(`The quick lists' count reads ${word(root + QUICK_COUNT)}, not ${quickCount}`);
  }
  const lists: number[][] = [];
  for (let index = 0; index < CLASSES; index++) {
    const slot = root + HEADS + 4 * index;
    const list: number[] = [];
    let prev = slot - NEXT; // a head's prev: so unlinking it stores through the slot
    for (let block = word(slot); block;) {
      if (!freeBlocks.has(block) || list.includes(block)) {
        problems.push(`List ${index} links to ${block}, which is not a free block, or loops`);
        break;
      }
      list.push(block);
      const blockPrev = word(block + PREV);
      if (blockPrev !== prev) {
        problems.push(`Free block at ${block} in list ${index} has prev ${blockPrev}, not ${prev}`);
      }
      prev = block;
      block = word(block + NEXT);
    }
    lists.push(list);
  }

  // a bit of slMap[fl] for each class of that first level whose list is not empty
  for (let fl = 0; fl < FL_COUNT; fl++) {
    let expected = 0;
    for (let sl = 0; sl < SL_COUNT; sl++) {
      if (lists[fl * SL_COUNT + sl].length) expected |= 1 << sl;
    }
    if (word(root + 4 * fl) !== expected) {
      problems.push(
        `Second-level map ${fl} reads ${word(root + 4 * fl)}, its lists say ${expected}`,
      );
    }
  }

  // the checked build's top region is poisoned up to where it keeps the end of its poison (in the
  // root's padding after the maps): above that lie fresh memory or, in a region whose limit was
  // raised, the owner's bytes, which the heap never wrote
  if (image.checked) {
    poisoned(top, Math.min(end, Math.max(word(root + POISONED_END) ?? 0, top)), true);
  }

  const picture = { root, blocks, lists, quick, top, end };
  problems.push(...checkPicture(picture));
  return { picture, problems };
}
