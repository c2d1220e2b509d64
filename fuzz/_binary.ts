/**
 * Just enough of the WebAssembly binary format to move an allocator into a worker: its memory
 * made shared and imported, so that the fuzzer's thread reads and writes the very bytes the
 * allocator works on while the worker, which can be stopped, runs its code.
 *
 *     module    = magic version section*
 *     section   = id:u8 size:u32 contents
 *     import    = module:name field:name desc        (import section, id 2)
 *     desc      = 0x00 type | 0x01 table | 0x02 limits | 0x03 global | 0x04 tag
 *     limits    = 0x00 min | 0x01 min max | 0x03 min max  (0x03: shared)
 *
 * A defined memory (memory section, id 5) becomes an import of `env.memory` (or
 * `mote_fuzz.memory` if the module already imports `env.memory` as something else): as the
 * only memory it keeps index 0, so exports and data segments are unchanged. Nothing else of the
 * module is touched.
 */

import { Reader, sections } from "../src/_module_reader.ts";

const MEMORY_SECTION = 5;
const IMPORT_SECTION = 2;
const TYPE_SECTION = 1;
const PAGES_MAX = 65536;

/** A module moved into shared memory. */
export interface SharedModule {
  /** The module's bytes with its memory shared and imported. */
  readonly bytes: Uint8Array<ArrayBuffer>;
  /** The memory's declared size: a shared memory must have a maximum; without one, all of wasm32. */
  readonly limits: { readonly initial: number; readonly maximum: number };
}

function u32(value: number): number[] {
  const out = [];
  do {
    let byte = value & 0x7F;
    value = Math.floor(value / 128);
    if (value !== 0) byte |= 0x80;
    out.push(byte);
  } while (value !== 0);
  return out;
}

function name(text: string): number[] {
  const bytes = new TextEncoder().encode(text);
  return [...u32(bytes.length), ...bytes];
}

/**
 * The module with its one memory shared and imported. Throws a `TypeError` for a module that
 * has no memory, more than one, or a 64-bit one.
 */
export function shareMemory(bytes: Uint8Array): SharedModule {
  const all = sections(bytes);
  const imports = all.find((s) => s.id === IMPORT_SECTION);
  const memories = all.find((s) => s.id === MEMORY_SECTION);
  const entries: number[] = [];
  let count = 0, limits: SharedModule["limits"] | undefined, envMemoryTaken = false;
  /** Imports as `module.field`, shared, the memory whose limits `reader` reads: not 64-bit. */
  const importMemory = (module: string, field: string, reader: Reader) => {
    if (limits) throw new TypeError("The module has more than one memory");
    const { flags, minimum: initial, maximum = PAGES_MAX } = reader.limits();
    if (flags & 4) throw new TypeError("The module's memory is 64-bit: only wasm32 is fuzzed");
    limits = { initial, maximum }; // 0x03: shared, which needs a maximum
    entries.push(...name(module), ...name(field), 0x02, 0x03, ...u32(initial), ...u32(maximum));
  };
  if (imports) {
    const reader = new Reader(bytes.subarray(0, imports.end), imports.contents);
    count = reader.u32();
    for (let i = 0; i < count; i++) {
      const start = reader.at;
      const module = reader.name(), field = reader.name();
      const kind = reader.byte();
      if (module === "env" && field === "memory") envMemoryTaken = true;
      if (kind === 0x02) importMemory(module, field, reader);
      else if (kind === 0x00) reader.u32();
      else if (kind === 0x01) reader.byte(), reader.limits();
      else if (kind === 0x03) reader.byte(), reader.byte();
      else if (kind === 0x04) reader.byte(), reader.u32();
      else throw new TypeError(`The module has an import of unknown kind ${kind}`);
      if (kind !== 0x02) entries.push(...bytes.subarray(start, reader.at));
    }
  }
  if (memories) {
    const reader = new Reader(bytes.subarray(0, memories.end), memories.contents);
    const n = reader.u32();
    if (n > 1) throw new TypeError("The module has more than one memory");
    if (n === 1) importMemory(envMemoryTaken ? "mote_fuzz" : "env", "memory", reader);
    count += n;
  }
  if (!limits) throw new TypeError("The module has no memory to allocate in");
  const contents = [...u32(count), ...entries];
  const importSection = new Uint8Array([IMPORT_SECTION, ...u32(contents.length), ...contents]);
  // the import section replaces the old one, or goes first after the type section
  const before = imports ?? all.find((s) => s.id > TYPE_SECTION);
  const parts: Uint8Array[] = [bytes.subarray(0, 8)];
  for (const s of all) {
    if (s === before) parts.push(importSection);
    if (s !== imports && s !== memories) parts.push(bytes.subarray(s.start, s.end));
  }
  if (!before) parts.push(importSection);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) out.set(part, at), at += part.length;
  return { bytes: out, limits };
}
