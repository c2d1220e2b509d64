/// <reference lib="dom" />
/**
 * The browser example's script, bundled with mote into main.js by serve.ts: a heap in the page,
 * its live blocks read back from wasm memory, and its map.
 *
 * @module
 */
import { Heap, heapMapSvg } from "@mote/alloc";

const heap = new Heap();
/** The live blocks: how many bytes were asked for, and whether they hold text. */
const live = new Map<number, { size: number; text: boolean }>();

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const decoder = new TextDecoder();

function render(): void {
  const rows = [...live].sort(([a], [b]) => a - b).map(([ptr, { size, text }]) => {
    const tr = document.createElement("tr");
    // What a text block holds is read back from the heap's memory, not from a JavaScript copy.
    // Browsers' TextDecoder refuses views of resizable buffers, which heap.bytes() returns where
    // views follow the memory's growth: decode a copy.
    const holds = text
      ? JSON.stringify(decoder.decode(heap.bytes(ptr, size).slice()))
      : `${size} bytes`;
    for (const cell of [String(ptr), String(heap.usableSize(ptr)), holds]) {
      tr.insertCell().textContent = cell;
    }
    const free = document.createElement("button");
    free.textContent = "free";
    free.className = "free";
    free.onclick = () => act(() => (heap.free(ptr), live.delete(ptr)));
    tr.insertCell().append(free);
    return tr;
  });
  $("blocks").replaceChildren(...rows);
  const stats = heap.stats();
  $("stats").textContent = `${stats.usedBlocks} used blocks, ${stats.freeBlocks} free, ` +
    `span ${stats.span} bytes, fragmentation ${(stats.fragmentation * 100).toFixed(1)}%`;
  $("map").innerHTML = heapMapSvg(heap, { width: 860, title: "this page's heap" });
  const problems = heap.check();
  $("status").textContent = problems.length === 0
    ? `heap intact: ${live.size} live blocks`
    : `heap damaged: ${problems.join("; ")}`;
  $("status").className = problems.length === 0 ? "" : "bad";
}

/** Runs a user's action; an error (a size out of range, say) is shown rather than thrown. */
function act(action: () => unknown): void {
  try {
    action();
    render();
  } catch (error) {
    render();
    $("status").textContent = `${(error as Error).name}: ${(error as Error).message}`;
    $("status").className = "bad";
  }
}

$("malloc").onclick = () =>
  act(() => {
    const size = $<HTMLInputElement>("size").valueAsNumber;
    live.set(heap.malloc(size), { size, text: false });
  });

$("write").onclick = () =>
  act(() => {
    const bytes = new TextEncoder().encode($<HTMLInputElement>("text").value);
    const ptr = heap.malloc(bytes.length);
    heap.bytes(ptr, bytes.length).set(bytes);
    live.set(ptr, { size: bytes.length, text: true });
  });

// Requests that allocate a burst of objects and free most of them, leaving some behind: the
// survivors pin memory between the holes, which the map then shows.
$("workload").onclick = () =>
  act(() => {
    let seed = 42;
    const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    for (let request = 0; request < 40; request++) {
      const burst = Array.from({ length: 12 }, () => {
        const size = Math.floor(16 + random() ** 3 * 3000);
        return { ptr: heap.malloc(size), size };
      });
      for (const { ptr, size } of burst) {
        if (random() < 0.15) live.set(ptr, { size, text: false });
        else heap.free(ptr);
      }
    }
  });

$("reset").onclick = () => act(() => (heap.reset(), live.clear()));

render();
