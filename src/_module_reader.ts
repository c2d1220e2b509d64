/**
 * What a wasm module needs from mote before it runs, read from its bytes: the memory it imports
 * (where from, and its limits), the functions it imports, whether it defines a memory, the
 * value of the global it exports as `__heap_base`, and the features it uses. Only the import,
 * memory, global, export and tag sections and the `target_features` custom section are read; the
 * others are skipped by their length.
 *
 * ```
 *  "\0asm" 01 00 00 00 │ id │ length (LEB128) │ contents … │ id │ length │ contents … │
 *  import  (id 2): vec of  module name │ field name │ kind │ type (memory: flags, min, max?)
 *  memory  (id 5): vec of  flags │ min │ max?
 *  global  (id 6): vec of  value type │ mutability │ init expression (i32.const n, end)
 *  export  (id 7): vec of  name │ kind (3 = global) │ index (imported globals first)
 *  tag    (id 13): present only in a module that throws or catches (exception handling)
 *  custom  (id 0): name "target_features", then vec of  prefix ("+" used, "=" required) │ name
 * ```
 *
 * @module
 */

/** A memory a module imports. */
export interface MemoryImport {
  /** The import's module name, such as `"env"`. */
  module: string;
  /** The import's field name, such as `"memory"`. */
  name: string;
  /** The pages it must have when the module is instantiated. */
  minimum: number;
  /** The most pages it may grow to, when the module declares a maximum. */
  maximum?: number;
  /** Whether it is a shared memory (threads). */
  shared: boolean;
  /** Whether it is a 64-bit memory (memory64). */
  memory64: boolean;
}

/** What {@linkcode readModule} finds in a module. */
export interface ModuleFacts {
  /** The memory it imports, if any. */
  memory?: MemoryImport;
  /** The functions it imports. */
  functions: { module: string; name: string }[];
  /** Whether it defines a memory of its own. */
  ownMemory: boolean;
  /** The value of the immutable, constant i32 global it exports as `__heap_base`, if any. */
  heapBase?: number;
  /**
   * The features it uses, as LLVM names them (`"exception-handling"`, `"bulk-memory"`, ...): those
   * its `target_features` section lists (clang, rustc and wasm-ld write one), and those its
   * sections show: a tag, exception handling; a shared memory, atomics; a 64-bit one, memory64.
   */
  features: string[];
}

const SECTION_IMPORT = 2;
const SECTION_MEMORY = 5;
const SECTION_GLOBAL = 6;
const SECTION_EXPORT = 7;
const SECTION_CUSTOM = 0;
const SECTION_TAG = 13;
const TARGET_FEATURES = "target_features";
const FEATURE_USED = 0x2b, FEATURE_REQUIRED = 0x3d; // "+", "="
const KIND_FUNCTION = 0;
const KIND_TABLE = 1;
const KIND_MEMORY = 2;
const KIND_GLOBAL = 3;
const KIND_TAG = 4;
const LIMITS_MAX = 0x01;
const LIMITS_SHARED = 0x02;
const LIMITS_64 = 0x04;
const OP_END = 0x0b;
const OP_GLOBAL_GET = 0x23;
const OP_I32_CONST = 0x41;
const OP_I64_CONST = 0x42;
const OP_F32_CONST = 0x43;
const OP_F64_CONST = 0x44;
const OP_REF_NULL = 0xd0;
const OP_REF_FUNC = 0xd2;
const OP_SIMD = 0xfd; // v128.const: 0xfd 12, then 16 bytes
/** The extended constant expressions' i32/i64 add, sub and mul: no immediates. */
const OP_ARITHMETIC = [0x6a, 0x6b, 0x6c, 0x7c, 0x7d, 0x7e];
const HEAP_BASE = "__heap_base";

/** A cursor over a module's bytes; each read throws a TypeError past the end. */
class Reader {
  #at: number;

  constructor(readonly bytes: Uint8Array, at = 0) {
    this.#at = at;
  }

  get at(): number {
    return this.#at;
  }

  byte(): number {
    if (this.#at >= this.bytes.length) {
      throw new TypeError(`The module ends early, at byte ${this.#at}: it is not valid wasm`);
    }
    return this.bytes[this.#at++];
  }

  /** An unsigned LEB128 number of up to 64 bits, as a JavaScript number. */
  u32(): number {
    let value = 0;
    for (let scale = 1;; scale *= 128) {
      const byte = this.byte();
      value += (byte & 0x7f) * scale;
      if (!(byte & 0x80)) return value;
    }
  }

  /** A signed LEB128 number of 32 bits. */
  s32(): number {
    let value = 0;
    let shift = 0;
    let byte;
    do {
      byte = this.byte();
      value |= (byte & 0x7f) << shift;
      shift += 7;
    } while (byte & 0x80 && shift < 35);
    return shift < 32 && byte & 0x40 ? value | (-1 << shift) : value;
  }

  name(): string {
    const length = this.u32();
    const start = this.skip(length);
    return new TextDecoder().decode(this.bytes.subarray(start, start + length));
  }

  /** Skips `count` bytes, returning where they began. */
  skip(count: number): number {
    const start = this.#at;
    if (start + count > this.bytes.length) {
      throw new TypeError(
        `The module ends early, at byte ${this.bytes.length}: it is not valid wasm`,
      );
    }
    this.#at += count;
    return start;
  }

  /**
   * A constant expression, up to its `end`: its value when it is a lone `i32.const`, as an
   * unsigned number, else undefined (such as `global.get` of an imported base).
   */
  constantI32(): number | undefined {
    let value: number | undefined;
    for (let count = 0;; count++) {
      const op = this.byte();
      if (op === OP_END) return count === 1 ? value : undefined;
      if (op === OP_I32_CONST) value = this.s32() >>> 0;
      else if (op === OP_I64_CONST || op === OP_GLOBAL_GET || op === OP_REF_FUNC) this.u32();
      else if (op === OP_F32_CONST) this.skip(4);
      else if (op === OP_F64_CONST) this.skip(8);
      else if (op === OP_REF_NULL) this.byte();
      else if (op === OP_SIMD && this.u32() === 12) this.skip(16);
      else if (!OP_ARITHMETIC.includes(op)) {
        throw new TypeError(
          `The module has a global initialiser with opcode ${op}, not a constant`,
        );
      }
    }
  }

  limits(): { flags: number; minimum: number; maximum?: number } {
    const flags = this.byte();
    const minimum = this.u32();
    return { flags, minimum, maximum: flags & LIMITS_MAX ? this.u32() : undefined };
  }
}

/** One section of a module: its id, and where it and its contents lie in the module's bytes. */
export interface Section {
  /** The section's id: 1 type, 2 import, ... 10 code, 11 data, 0 custom. */
  id: number;
  /** Where the section starts: its id byte. */
  start: number;
  /** Where its contents start, after the id and length. */
  contents: number;
  /** Where it ends. */
  end: number;
}

/**
 * The sections of a module, in order.
 *
 * @param bytes The module's binary.
 * @throws {TypeError} When the bytes are not a wasm module, or end inside a section.
 */
export function sections(bytes: Uint8Array): Section[] {
  const header = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  if (bytes.length < 8 || header.some((byte, i) => bytes[i] !== byte)) {
    throw new TypeError(
      `The bytes are not a WebAssembly module (version 1): they start with ` +
        `${[...bytes.subarray(0, 8)].map((b) => b.toString(16).padStart(2, "0")).join(" ")}`,
    );
  }
  const found: Section[] = [];
  const reader = new Reader(bytes, 8);
  while (reader.at < bytes.length) {
    const start = reader.at;
    const id = reader.byte();
    const length = reader.u32();
    const contents = reader.skip(length);
    found.push({ id, start, contents, end: contents + length });
  }
  return found;
}

/**
 * Reads what mote needs to know of a module before instantiating it.
 *
 * @param bytes The module's binary.
 * @throws {TypeError} When the bytes are not a wasm module.
 */
export function readModule(bytes: Uint8Array): ModuleFacts {
  const facts: ModuleFacts = { functions: [], ownMemory: false, features: [] };
  const features = new Set<string>();
  const memoryFeatures = (flags: number) => {
    if (flags & LIMITS_SHARED) features.add("atomics");
    if (flags & LIMITS_64) features.add("memory64");
  };
  let importedGlobals = 0;
  const globalInits: (number | undefined)[] = [];
  let heapBaseIndex: number | undefined;
  for (const { id, contents, end } of sections(bytes)) {
    const section = new Reader(bytes.subarray(0, end), contents);
    if (id === SECTION_IMPORT) {
      for (let count = section.u32(); count > 0; count--) {
        const module = section.name();
        const name = section.name();
        const kind = section.byte();
        if (kind === KIND_FUNCTION) section.u32(), facts.functions.push({ module, name });
        else if (kind === KIND_TABLE) section.byte(), section.limits();
        else if (kind === KIND_GLOBAL) section.byte(), section.byte(), importedGlobals++;
        else if (kind === KIND_TAG) {
          section.byte(), section.u32(), features.add("exception-handling");
        } else if (kind === KIND_MEMORY) {
          const { flags, minimum, maximum } = section.limits();
          facts.memory = {
            module,
            name,
            minimum,
            maximum,
            shared: (flags & LIMITS_SHARED) !== 0,
            memory64: (flags & LIMITS_64) !== 0,
          };
          memoryFeatures(flags);
        } else throw new TypeError(`The module imports ${module}.${name} of unknown kind ${kind}`);
      }
    } else if (id === SECTION_MEMORY) {
      const count = section.u32();
      facts.ownMemory = count > 0;
      for (let i = 0; i < count; i++) memoryFeatures(section.limits().flags);
    } else if (id === SECTION_TAG) {
      features.add("exception-handling");
    } else if (id === SECTION_CUSTOM && section.name() === TARGET_FEATURES) {
      for (let count = section.u32(); count > 0; count--) {
        const prefix = section.byte();
        const name = section.name();
        if (prefix === FEATURE_USED || prefix === FEATURE_REQUIRED) features.add(name);
      }
    } else if (id === SECTION_GLOBAL) {
      for (let count = section.u32(); count > 0; count--) {
        section.byte(); // value type
        const mutable = section.byte() === 1;
        const value = section.constantI32();
        // a mutable global's initial value may be changed before anyone reads it (asc sets
        // such globals in its start function): only a constant one is a known base
        globalInits.push(mutable ? undefined : value);
      }
    } else if (id === SECTION_EXPORT) {
      for (let count = section.u32(); count > 0; count--) {
        const name = section.name();
        const kind = section.byte();
        const index = section.u32();
        if (name === HEAP_BASE && kind === KIND_GLOBAL) heapBaseIndex = index;
      }
    }
  }
  if (heapBaseIndex !== undefined && heapBaseIndex >= importedGlobals) {
    facts.heapBase = globalInits[heapBaseIndex - importedGlobals];
  }
  facts.features = [...features];
  return facts;
}
