// The browser example in real headless Chromium: the published module bundled for the browser,
// driven by clicks, its results read from the page, and a screenshot checked pixel by pixel.
import assert from "node:assert/strict";
import { serveExample } from "../examples/browser/serve.ts";
import { Chromium, CHROMIUM_PATH, chromiumFound, type Page } from "./_chromium.ts";
import { colours, decodePng } from "./_png.ts";

const found = await chromiumFound();
// CI installs Chromium (.ci/run), so there a missing browser fails the test instead
const skip = !found && !Deno.env.get("CI");
const why = `SKIPPED, no Chromium at ${CHROMIUM_PATH}: install it (apt-get install chromium) ` +
  "or point CHROMIUM at one";
if (skip) {
  // said before its tests, and in the skipped test's own name, which the results list
  console.warn(`The browser test is ${why}.`);
}

/** The live blocks the page lists: pointer, usable bytes and what each holds. */
function rows(page: Page): Promise<string[][]> {
  return page.evaluate(
    `[...document.querySelectorAll("#blocks tr")]
      .map((tr) => [...tr.cells].slice(0, 3).map((td) => td.textContent))`,
  );
}

function text(page: Page, id: string): Promise<string> {
  return page.evaluate(`document.getElementById(${JSON.stringify(id)}).textContent`);
}

function click(page: Page, selector: string): Promise<void> {
  return page.evaluate(`document.querySelector(${JSON.stringify(selector)}).click()`);
}

Deno.test({
  name: "the browser example allocates, reads back and maps its heap in Chromium" +
    (skip ? ` (${why})` : ""),
  ignore: skip,
  async fn(t) {
    const server = await serveExample();
    const browser = await Chromium.launch();
    try {
      const page = await browser.newPage(900, 1000);
      await page.goto(server.url);

      await t.step("the page starts with an empty, intact heap", async () => {
        assert.equal(await text(page, "status"), "heap intact: 0 live blocks");
        assert.deepEqual(await rows(page), []);
      });

      await t.step("malloc lists each block with its usable size", async () => {
        for (let i = 0; i < 3; i++) await click(page, "#malloc");
        const blocks = await rows(page);
        assert.equal(blocks.length, 3);
        for (const [ptr, usable, holds] of blocks) {
          assert.equal(Number(ptr) % 16, 0, `pointer ${ptr} is 16-byte aligned`);
          assert.equal(usable, "108", "100 bytes asked for, 108 usable in a 112-byte block");
          assert.equal(holds, "100 bytes");
        }
        assert.equal(new Set(blocks.map(([ptr]) => ptr)).size, 3);
      });

      await t.step("text written into the heap reads back from wasm memory", async () => {
        await page.evaluate(`document.getElementById("text").value = "héllo, wasm — ünïcode"`);
        await click(page, "#write");
        const held = (await rows(page)).map(([, , holds]) => holds);
        assert.ok(held.includes(`"héllo, wasm — ünïcode"`), held.join(", "));
      });

      await t.step("freeing a block between two others shows a free block in the map", async () => {
        const [, second] = await rows(page);
        await click(page, "#blocks tr:nth-child(2) button.free");
        assert.equal((await rows(page)).length, 3);
        const header = (Number(second[0]) - 4).toString(16);
        const titles: string[] = await page.evaluate(
          `[...document.querySelectorAll("#map rect.free title")].map((t) => t.textContent)`,
        );
        assert.deepEqual(titles, [`free block at 0x${header}, 112 bytes`]);
      });

      await t.step("a bad size is reported on the page, not thrown", async () => {
        await page.evaluate(`document.getElementById("size").value = ""`);
        await click(page, "#malloc");
        assert.match(await text(page, "status"), /^RangeError: Size must be .*got NaN/);
        await page.evaluate(`document.getElementById("size").value = "100"`);
      });

      await t.step("a workload leaves an intact, fragmented heap", async () => {
        await click(page, "#workload");
        const live = (await rows(page)).length;
        assert.ok(live > 40, `${live} live blocks`);
        assert.equal(await text(page, "status"), `heap intact: ${live} live blocks`);
        assert.match(await text(page, "stats"), new RegExp(`^${live} used blocks, \\d+ free`));
        const free = await page.evaluate<number>(
          `document.querySelectorAll("#map rect.free").length`,
        );
        assert.ok(free > 10, `${free} free blocks drawn`);
      });

      await t.step("the screenshot shows the page and its map", async () => {
        const png = await page.screenshot();
        const path = await Deno.makeTempFile({ prefix: "mote-browser-", suffix: ".png" });
        await Deno.writeFile(path, png);
        console.log(`screenshot: ${path}`);
        const image = await decodePng(png);
        assert.deepEqual([image.width, image.height], [900, 1000]);
        const counts = colours(image);
        const pixels = image.width * image.height;
        assert.ok((counts.get("#ffffff") ?? 0) < pixels * 0.9, "not blank");
        // the map's colours, as src/heap_map.ts paints used and free blocks
        assert.ok((counts.get("#4e79a7") ?? 0) > 2000, "used blocks drawn");
        assert.ok((counts.get("#e15759") ?? 0) > 500, "free blocks drawn");
      });

      assert.deepEqual(page.errors, [], "no error in the page");
    } finally {
      await browser.close();
      await server.shutdown();
    }
  },
});
