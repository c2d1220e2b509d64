/**
 * A picture of a heap: its address space as rows of bytes, each block drawn where it lies, used
 * or free, so fragmentation shows at a glance.
 *
 * @module
 */
import { HEADER } from "./_layout.ts";
import type { HeapBlock, HeapStats } from "./_picture.ts";
import { checkInteger, checkOptions, describe } from "./_validate.ts";
import type { Heap } from "./heap.ts";

/**
 * How {@linkcode heapMapSvg} draws a heap.
 *
 * @example A narrow map with 4 KiB rows
 * ```ts
 * import { Heap, heapMapSvg, type HeapMapOptions } from "@mote/alloc";
 *
 * const options: HeapMapOptions = { width: 480, rowBytes: 4096, title: "after startup" };
 * const svg = heapMapSvg(new Heap(), options);
 * ```
 */
export interface HeapMapOptions {
  /** The picture's width in pixels, from 320 to 4096. Defaults to 800. */
  width?: number;
  /**
   * The bytes each row of the map covers, a multiple of 16 from 256 up. Defaults to the smallest
   * power of two from 1024 up that fits the heap in at most 32 rows. A map has at most
   * {@linkcode MAX_MAP_ROWS} rows: for a heap that would need more, it is doubled until the heap
   * fits (the legend's "rows of" says what was drawn).
   */
  rowBytes?: number;
  /** The heading above the map. Defaults to "mote heap". */
  title?: string;
}

/**
 * The most rows a heap map has, which bounds its size: the rows' addresses, and rectangles for
 * blocks at most a pixel apart (narrower neighbours of one kind are one run).
 *
 * @example
 * ```ts
 * import { Heap, heapMapSvg, MAX_MAP_ROWS } from "@mote/alloc";
 * import assert from "node:assert/strict";
 *
 * const heap = new Heap();
 * heap.malloc(4 << 20);
 * const svg = heapMapSvg(heap, { rowBytes: 256 }); // over 16,000 rows asked for
 * assert.ok(svg.match(/<text x="78"/g)!.length <= MAX_MAP_ROWS);
 * ```
 */
export const MAX_MAP_ROWS = 256;

/** What a stretch of the address space holds, and the colour it is drawn in. */
type Kind = "bookkeeping" | "used" | "free" | "top";

const COLOURS: Record<Kind, string> = {
  used: "#4e79a7",
  free: "#e15759",
  top: "#cfe3c8",
  bookkeeping: "#8c8c8c",
};

const LEGEND: [Kind, string][] = [
  ["used", "used"],
  ["free", "free (in a list)"],
  ["top", "top (carved from directly)"],
  ["bookkeeping", "bookkeeping"],
];

/** A stretch of address space of one kind: one block, or neighbours too narrow to draw apart. */
interface Stretch {
  kind: Kind;
  start: number;
  end: number;
  blocks: number;
}

const GUTTER = 84; // room for the row addresses
const MARGIN = 12;
const ROW = 16;
const ROW_GAP = 3;
const FONT = 12, TITLE_FONT = 14;
/** What the layout reserves for a character, in em: a monospace font's advance (0.6) and a little. */
const CHAR_EM = 0.62;
const LINE = 18; // from one line of text to the next
const SWATCH = 12, SWATCH_GAP = 5, ITEM_GAP = 18; // a legend item: swatch, gap, text, gap

/** The width `text` takes at `size` px, at most (a monospace font's advance). */
const textWidth = (text: string, size = FONT) => text.length * CHAR_EM * size;

/**
 * `parts` joined with `separator` into lines no wider than `width` at `size` px; a part wider
 * than a line is cut into pieces that fit.
 */
function wrap(parts: string[], separator: string, width: number, size: number): string[] {
  const most = Math.max(1, Math.floor(width / (CHAR_EM * size)));
  const lines: string[] = [];
  for (const part of parts) {
    const last = lines.at(-1);
    if (last !== undefined && (last + separator + part).length <= most) {
      lines[lines.length - 1] = last + separator + part;
      continue;
    }
    for (let at = 0; at < part.length || at === 0; at += most) {
      lines.push(part.slice(at, at + most));
    }
  }
  return lines;
}

/**
 * Draws a heap's current layout as an SVG picture: the address space from its base to the end
 * of its span as rows of `rowBytes` bytes, each block a rectangle where it lies, blue when used
 * and red when free, the top region pale green and the heap's own bookkeeping grey. A heading
 * gives the counts of {@linkcode Heap.prototype.stats}. Hovering a block in a browser names its
 * address and size. Blocks too narrow to draw apart (under a pixel) are drawn as one run. It
 * has at most {@linkcode MAX_MAP_ROWS} rows, `rowBytes` doubled as needed to fit the heap.
 *
 * It reads the heap through `walk()` and `stats()`: O(n) in the number of blocks.
 *
 * @param heap The heap to draw: a {@linkcode Heap}, or anything with its `base`, `walk()` and
 * `stats()`, such as the reference model.
 * @param options The picture's width, the bytes per row and its heading.
 * @returns The SVG document, ready to save as a `.svg` file or to set as an element's HTML.
 * @throws {RangeError} When `width` or `rowBytes` is out of range.
 * @throws {TypeError} When `heap` is not a heap, `options` not an object, `width` or `rowBytes`
 * not a number, or `title` not a string.
 *
 * @example Saving a map of a fragmented heap
 * ```ts
 * import { Heap, heapMapSvg } from "@mote/alloc";
 * import assert from "node:assert/strict";
 *
 * const heap = new Heap();
 * const ptrs = Array.from({ length: 40 }, (_, i) => heap.malloc(64 + 32 * i));
 * ptrs.filter((_, i) => i % 3 === 0).forEach((ptr) => heap.free(ptr));
 * const svg = heapMapSvg(heap, { title: "every third block freed" });
 * assert.ok(svg.startsWith("<svg"));
 * assert.ok(svg.includes("13 free"), "the last freed block went back into the top region");
 * // await Deno.writeTextFile("heap.svg", svg);
 * ```
 */
export function heapMapSvg(
  heap: Pick<Heap, "base" | "walk" | "stats">,
  options: HeapMapOptions = {},
): string {
  if (typeof heap?.walk !== "function" || typeof heap.stats !== "function") {
    throw new TypeError(`The heap must be a Heap or ModelHeap, got ${describe(heap)}`);
  }
  checkOptions(options, "Options");
  const width = checkInteger(options.width ?? 800, "Width", 320, 4096);
  const title = options.title ?? "mote heap";
  if (typeof title !== "string") {
    throw new TypeError(`Title must be a string, got ${describe(title)}`);
  }
  const stats = heap.stats();
  const { base } = heap;
  let rowBytes = options.rowBytes === undefined
    ? defaultRowBytes(stats.span)
    : checkRowBytes(options.rowBytes);
  while (stats.span / rowBytes > MAX_MAP_ROWS) rowBytes *= 2;
  const rows = Math.max(1, Math.ceil(stats.span / rowBytes));
  const mapWidth = width - GUTTER - MARGIN;
  const scale = mapWidth / rowBytes; // pixels per byte
  const stretches = merge(layout(base, heap.walk(), stats), 1 / scale);

  // the heading and the legend wrap onto as many lines as they need to stay inside the width
  const inner = width - 2 * MARGIN;
  const titleLines = wrap(title.split(" "), " ", inner, TITLE_FONT);
  const summaryLines = wrap(summary(stats), " · ", inner, FONT);
  const heading = MARGIN + (titleLines.length + summaryLines.length) * LINE + 4;
  const legend = legendLayout(inner, `rows of ${bytes(rowBytes)}`);
  const mapBottom = heading + rows * (ROW + ROW_GAP);
  const height = mapBottom + 8 + legend.lines * LINE + MARGIN;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
    `viewBox="0 0 ${width} ${height}" role="img" aria-label="${escape(title)}" ` +
    `font-family="ui-monospace, SFMono-Regular, Menlo, Consolas, monospace" font-size="12">`,
    `<title>${escape(title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    ...titleLines.map((line, i) =>
      `<text x="${MARGIN}" y="${MARGIN + 8 + i * LINE}" font-size="${TITLE_FONT}" ` +
      `font-weight="bold" fill="#222">${escape(line)}</text>`
    ),
    ...summaryLines.map((line, i) =>
      `<text x="${MARGIN}" y="${MARGIN + 8 + (titleLines.length + i) * LINE}" fill="#444">` +
      `${escape(line)}</text>`
    ),
  ];
  for (let row = 0; row < rows; row++) {
    const y = heading + row * (ROW + ROW_GAP);
    out.push(
      `<text x="${GUTTER - 6}" y="${y + ROW - 4}" text-anchor="end" fill="#666">` +
        `0x${(base + row * rowBytes).toString(16).padStart(8, "0")}</text>`,
    );
  }
  for (const stretch of stretches) {
    const label = escape(describeStretch(stretch));
    // a stretch that crosses a row's end goes on in the next row
    for (let start = stretch.start; start < stretch.end;) {
      const row = Math.floor((start - base) / rowBytes);
      const rowStart = base + row * rowBytes;
      const end = Math.min(stretch.end, rowStart + rowBytes);
      const x = GUTTER + (start - rowStart) * scale;
      let w = (end - start) * scale;
      if (end === stretch.end && w >= 3) w -= 1; // a gap between blocks wide enough to show it
      out.push(
        `<rect class="${stretch.kind}" x="${round(x)}" y="${heading + row * (ROW + ROW_GAP)}" ` +
          `width="${round(w)}" height="${ROW}" fill="${COLOURS[stretch.kind]}">` +
          `<title>${label}</title></rect>`,
      );
      start = end;
    }
  }
  for (const { kind, text, x, line } of legend.items) {
    const y = mapBottom + 8 + line * LINE;
    out.push(
      kind
        ? `<rect x="${round(MARGIN + x)}" y="${y}" width="${SWATCH}" height="${SWATCH}" ` +
          `fill="${COLOURS[kind]}"/>\n<text x="${round(MARGIN + x + SWATCH + SWATCH_GAP)}" ` +
          `y="${y + 10}" fill="#444">${text}</text>`
        : `<text x="${width - MARGIN}" y="${y + 10}" text-anchor="end" fill="#444">${text}</text>`,
    );
  }
  out.push("</svg>");
  return out.join("\n");
}

/**
 * Where the legend's items go within `width`: each swatch and its name on the first line with
 * room for it, and `rows` (the row size) right-aligned after them, on a line of its own if the
 * last has no room.
 */
function legendLayout(width: number, rows: string) {
  const items: { kind?: Kind; text: string; x: number; line: number }[] = [];
  let x = 0, line = 0;
  for (const [kind, text] of LEGEND) {
    const wide = SWATCH + SWATCH_GAP + textWidth(text);
    if (x > 0 && x + wide > width) x = 0, line++;
    items.push({ kind, text, x, line });
    x += wide + ITEM_GAP;
  }
  if (x + textWidth(rows) > width) line++;
  items.push({ text: rows, x: width - textWidth(rows), line });
  return { items, lines: line + 1 };
}

/** The heap's span cut into stretches in address order, from `base` to the end of the span. */
function layout(base: number, blocks: HeapBlock[], stats: HeapStats): Stretch[] {
  const end = base + stats.span;
  const top = end - HEADER - stats.topBytes; // the top region ends a header short of the end
  const first = blocks[0]?.address ?? top;
  const stretches: Stretch[] = [{ kind: "bookkeeping", start: base, end: first, blocks: 0 }];
  for (const block of blocks) {
    stretches.push({
      kind: block.free ? "free" : "used",
      start: block.address,
      end: block.address + block.size,
      blocks: 1,
    });
  }
  if (top < end - HEADER) stretches.push({ kind: "top", start: top, end: end - HEADER, blocks: 0 });
  stretches.push({ kind: "bookkeeping", start: end - HEADER, end, blocks: 0 });
  return stretches;
}

/** Joins neighbours of one kind that are each narrower than `bytes`, which no eye tells apart. */
function merge(stretches: Stretch[], bytes: number): Stretch[] {
  const merged: Stretch[] = [];
  for (const stretch of stretches) {
    const last = merged.at(-1);
    if (
      last !== undefined && last.kind === stretch.kind && stretch.end - stretch.start < bytes &&
      (last.end - last.start < bytes || last.blocks > 1)
    ) {
      last.end = stretch.end;
      last.blocks += stretch.blocks;
    } else {
      merged.push({ ...stretch });
    }
  }
  return merged;
}

function defaultRowBytes(span: number): number {
  let rowBytes = 1024;
  while (span / rowBytes > 32) rowBytes *= 2;
  return rowBytes;
}

function checkRowBytes(value: unknown): number {
  const rowBytes = checkInteger(value, "Row bytes", 256, 2 ** 32);
  if (rowBytes % 16 !== 0) {
    throw new RangeError(`Row bytes must be a multiple of 16, got ${rowBytes}`);
  }
  return rowBytes;
}

function summary(stats: HeapStats): string[] {
  return [
    `${bytes(stats.span)} spanned`,
    `${stats.usedBlocks} used (${bytes(stats.usedBytes)})`,
    `${stats.freeBlocks} free (${bytes(stats.freeBytes)})`,
    `top ${bytes(stats.topBytes)}`,
    `fragmentation ${(stats.fragmentation * 100).toFixed(1)}%`,
  ];
}

function describeStretch({ kind, start, end, blocks }: Stretch): string {
  const where = `at 0x${start.toString(16)}, ${end - start} bytes`;
  if (blocks > 1) return `${blocks} ${kind} blocks ${where}`;
  return `${kind === "used" || kind === "free" ? `${kind} block` : kind} ${where}`;
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${+(n / 1024).toFixed(1)} KiB`;
  return `${+(n / 1024 / 1024).toFixed(2)} MiB`;
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

function escape(text: string): string {
  return text.replace(
    /[&<>"]/g,
    (c) => `&${{ "&": "amp", "<": "lt", ">": "gt", '"': "quot" }[c]};`,
  );
}
