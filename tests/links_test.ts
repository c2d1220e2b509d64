// Every relative link of the README and the pages under docs/ leads somewhere: the file exists,
// and a #fragment names one of its headings (as GitHub and JSR make their anchors).
import assert from "node:assert/strict";

const ROOT = new URL("..", import.meta.url);
const PAGES = [
  "README.md",
  ...[...Deno.readDirSync(new URL("docs/", ROOT))]
    .filter((entry) => entry.name.endsWith(".md")).map((entry) => `docs/${entry.name}`),
];

function anchors(markdown: string): Set<string> {
  const headings = markdown.replace(/```[^]*?```/g, "").matchAll(/^#+ (.*)$/gm);
  return new Set(
    [...headings].map(([, h]) =>
      h.trim().toLowerCase().replace(/[^\w\- ]/g, "").replaceAll(" ", "-")
    ),
  );
}

Deno.test("every relative link of the README and docs/ resolves, anchors too", async () => {
  assert.ok(PAGES.length >= 7, PAGES.join(" "));
  const broken: string[] = [];
  for (const page of PAGES) {
    const text = (await Deno.readTextFile(new URL(page, ROOT))).replace(/```[^]*?```/g, "");
    for (const [, link] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(link)) continue;
      const [path, fragment] = link.split("#");
      const target = new URL(path || page.split("/").pop()!, new URL(page, ROOT));
      const body = await Deno.readTextFile(target).catch(() => undefined);
      if (body === undefined && !(await Deno.stat(target).catch(() => undefined))) {
        broken.push(`${page}: ${link} (no such file)`);
      } else if (fragment && target.pathname.endsWith(".md") && !anchors(body!).has(fragment)) {
        broken.push(`${page}: ${link} (no such heading)`);
      }
    }
  }
  assert.deepEqual(broken, []);
});
