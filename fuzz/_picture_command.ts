/**
 * The Heap-layer fuzz's look at the heap as people see it: `stats()`, `heapMapSvg` and
 * `viewsFollowGrowth` of the Heap must be the model's, and `u8` and `view` span its memory,
 * whatever the commands did before.
 */
import type fc from "fast-check";
import { heapMapSvg } from "../mod.ts";
import type { HeapRun } from "./_heap_fuzz.ts";

/** Draws both heaps and compares their figures, maps and views. */
export class Picture implements fc.Command<HeapRun, HeapRun> {
  constructor(readonly width: number) {}
  check(): boolean {
    return true;
  }
  run(_model: HeapRun, run: HeapRun): void {
    const [heap, model] = [run.heap, run.model];
    const stats = JSON.stringify(heap.stats()), modelStats = JSON.stringify(model.stats());
    if (stats !== modelStats) run.fail(`stats() is ${stats}, the model's ${modelStats}`);
    if (heapMapSvg(heap, { width: this.width }) !== heapMapSvg(model, { width: this.width })) {
      run.fail(`heapMapSvg(heap, { width: ${this.width} }) differs from the model's`);
    }
    if (heap.viewsFollowGrowth !== model.viewsFollowGrowth) {
      run.fail(`viewsFollowGrowth is ${heap.viewsFollowGrowth}, not the model's`);
    }
    // the views read afresh cover the whole memory, however it grew, from inside or outside
    const bytes = heap.memory.buffer.byteLength;
    if (heap.u8.byteLength !== bytes || heap.view.byteLength !== bytes) {
      run.fail(`u8 and view span ${heap.u8.byteLength} and ${heap.view.byteLength} of ${bytes}`);
    }
  }
  toString(): string {
    return `picture(${this.width})`;
  }
}
