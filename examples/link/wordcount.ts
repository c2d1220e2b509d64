/**
 * Linking mote with another wasm module: a word counter compiled from AssemblyScript
 * (asm/wordcount.ts beside this file) with `--runtime stub`, so it has no allocator of its own.
 * It imports `env.memory` and `env.malloc`/`realloc`/`free`; mote manages the region of that
 * memory above the counter's static data, from its `__heap_base` up.
 *
 *     deno task example:link [file]   count the words of a file (this one by default)
 *
 * @module
 */
import asc from "assemblyscript/asc";
import { Heap } from "@mote/alloc";
import { parseArgs, readArg } from "../../scripts/_cli.ts";

const SOURCE = new URL("./asm/wordcount.ts", import.meta.url);

/** What the counter exports: pointers and sizes are wasm `i32`s, so read them with `>>> 0`. */
export interface WordcountExports {
  /** The first byte above the counter's static data: where mote's region starts. */
  heap_base(): number;
  /** The counter's static table of 256 bytes (each byte's lowercase form, 0 ending a word). */
  fold_table(): number;
  /** Counts the words in `length` bytes of UTF-8 at `text`: how many, or -1 when out of memory. */
  add(text: number, length: number): number;
  /** How many distinct words it holds. */
  size(): number;
  /** The block of the `index`th distinct word: count at +4, byte length at +8, bytes at +12. */
  word(index: number): number;
  /** Its hash table's block. */
  table(): number;
  /** The block of its array of words in the order first seen. */
  order(): number;
  /** Frees every block it holds. */
  clear(): void;
}

/**
 * Compiles the counter from its AssemblyScript source, in memory.
 *
 * @returns The wasm module's bytes.
 */
export async function compileWordcount(): Promise<Uint8Array<ArrayBuffer>> {
  const { binary, error, stderr } = await asc.compileString(
    { "wordcount.ts": await Deno.readTextFile(SOURCE) },
    // noAssert: no `abort` import; importMemory: the memory is the host's, shared with mote
    { optimizeLevel: 3, runtime: "stub", noAssert: true, importMemory: true },
  );
  if (error || !binary) {
    throw new Error(`Compiling ${SOURCE.pathname} failed: ${error?.message}\n${stderr}`);
  }
  return new Uint8Array(binary);
}

/** A word counter running in wasm, every block of it allocated by mote. */
export class WordCounter {
  /** The mote heap over the counter's memory, from its `__heap_base` up. */
  readonly heap: Heap;
  /** The counter's raw exports. */
  readonly guest: WordcountExports;

  private constructor(heap: Heap, guest: WordcountExports) {
    this.heap = heap;
    this.guest = guest;
  }

  /**
   * Instantiates the counter over a fresh memory, with mote as its allocator.
   *
   * @param wasm The counter's bytes, from {@linkcode compileWordcount}.
   * @param limit The most bytes mote may span above the counter's data.
   * @returns A counter holding no words.
   */
  static async load(wasm: Uint8Array<ArrayBuffer>, limit?: number): Promise<WordCounter> {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536 });
    // mote's region starts at the counter's __heap_base, which is known only once the counter is
    // instantiated; it calls malloc only later, so its imports forward to the heap made below.
    // (Where the base is known beforehand, pass heap.exports' functions directly instead.)
    const linked: { heap?: Heap } = {};
    const env = {
      memory,
      malloc: (size: number) => linked.heap!.exports.malloc(size),
      realloc: (ptr: number, size: number) => linked.heap!.exports.realloc(ptr, size),
      free: (ptr: number) => linked.heap!.exports.free(ptr),
    };
    const { instance } = await WebAssembly.instantiate(wasm, { env });
    const guest = instance.exports as unknown as WordcountExports;
    linked.heap = new Heap({ memory, base: guest.heap_base() >>> 0, limit });
    return new WordCounter(linked.heap, guest);
  }

  /**
   * Counts the words of a text: runs of letters, digits, apostrophes and non-ASCII characters,
   * ASCII letters folded to lowercase.
   *
   * @param text The text.
   * @returns How many words it held.
   * @throws {Error} When the heap cannot hold the new words; those counted before remain.
   */
  add(text: string): number {
    const bytes = new TextEncoder().encode(text);
    const ptr = this.heap.malloc(bytes.length);
    try {
      this.heap.u8.set(bytes, ptr);
      const words = this.guest.add(ptr, bytes.length);
      if (words < 0) {
        throw new Error(
          `The word counter ran out of memory within the heap's ${this.heap.limit}-byte limit`,
        );
      }
      return words;
    } finally {
      this.heap.free(ptr);
    }
  }

  /**
   * The distinct words and their counts, in the order first seen.
   *
   * @returns A map from word to count.
   */
  counts(): Map<string, number> {
    const { u8, view } = this.heap;
    const decoder = new TextDecoder();
    const counts = new Map<string, number>();
    for (let i = 0; i < this.guest.size(); i++) {
      const word = this.guest.word(i) >>> 0;
      const length = view.getUint32(word + 8, true);
      counts.set(
        decoder.decode(u8.subarray(word + 12, word + 12 + length)),
        view.getUint32(word + 4, true),
      );
    }
    return counts;
  }

  /** Frees every word, keeping the counter usable. */
  clear(): void {
    this.guest.clear();
  }
}

if (import.meta.main) {
  const { _: files } = parseArgs({
    usage: "deno task example:link",
    summary: "Counts the words of a text file (this file by default) in an AssemblyScript module " +
      "that allocates from mote.",
    flags: {},
    positionals: "file",
  });
  const text = new TextDecoder().decode(
    readArg(files[0] ?? new URL(import.meta.url).pathname),
  );
  const counter = await WordCounter.load(await compileWordcount());
  const words = counter.add(text);
  const top = [...counter.counts()].sort((a, b) => b[1] - a[1]).slice(0, 10);
  console.log(
    `${words} words, ${counter.guest.size()} distinct, in a heap spanning ` +
      `${counter.heap.span} bytes from ${counter.heap.base}; the most frequent:`,
  );
  for (const [word, count] of top) console.log(`${String(count).padStart(6)}  ${word}`);
  counter.clear();
}
