/**
 * What a change to the checked build costs in time: its checkedWasm as committed at a revision
 * against the working tree's, on the same random malloc/free loop, taking turns round by round.
 * Prints the median of the per-round time ratios (now / then) and their range.
 *
 *     deno run --allow-run=git scripts/checked_cost.ts 22b689e
 *
 * @module
 */
import { parseArgs } from "./_cli.ts";
import { decodeBase64 } from "../src/_base64.ts";
import { checkedWasm } from "../src/_wasm.ts";
import { seeded } from "../src/_test_util.ts";

const flags = parseArgs({
  usage: "deno run --allow-run=git scripts/checked_cost.ts REVISION",
  summary: "The time of the checked build now over its time at REVISION, side by side.",
  flags: {
    rounds: { kind: "integer", help: "rounds per workload (odd)", default: 15, min: 1 },
    operations: {
      kind: "integer",
      help: "malloc or free calls per round",
      default: 200_000,
      min: 1,
    },
  },
  positionals: "REVISION",
});

/** The checkedWasm src/_wasm.ts held at `revision`. */
async function checkedAt(revision: string): Promise<Uint8Array<ArrayBuffer>> {
  const git = new Deno.Command("git", { args: ["show", `${revision}:src/_wasm.ts`] });
  const text = new TextDecoder().decode((await git.output()).stdout);
  const base64 = text.match(/export const checkedWasm[^"]*"([^"]+)"/)?.[1];
  if (!base64) throw new Error(`${revision}:src/_wasm.ts holds no checkedWasm`);
  return decodeBase64(base64);
}

type Raw = Record<string, (...args: number[]) => number>;

function instance(bytes: Uint8Array<ArrayBuffer>): Raw {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536 });
  const mote_report = () => {
    throw new Error("the loop misused the heap");
  };
  return new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory, mote_report } })
    .exports as unknown as Raw;
}

/** One round: random sizes from 1 to `largest`, at most 2,000 blocks live; milliseconds. */
function round(x: Raw, seed: number, largest: number): number {
  x.mote_init(0, 1 << 30);
  const random = seeded(seed);
  const live: number[] = [];
  const start = performance.now();
  for (let i = 0; i < flags.operations; i++) {
    if (live.length > 0 && (live.length >= 2000 || random(2))) {
      const j = random(live.length);
      x.free(live[j]);
      live[j] = live[live.length - 1];
      live.pop();
    } else {
      live.push(x.malloc(1 + random(largest)));
    }
  }
  return performance.now() - start;
}

const then = instance(await checkedAt(flags._[0] ?? "HEAD")), now = instance(checkedWasm);
for (const largest of [64, 512, 4096]) {
  const ratios: number[] = [];
  for (let seed = 1; seed <= flags.rounds; seed++) {
    const before = round(then, seed, largest);
    ratios.push(round(now, seed, largest) / before);
  }
  ratios.sort((a, b) => a - b);
  const median = ratios[ratios.length >> 1];
  console.log(
    `sizes 1..${largest}: ${median.toFixed(2)}× (${ratios[0].toFixed(2)}–${
      ratios.at(-1)!.toFixed(2)
    }× over ${flags.rounds} rounds)`,
  );
}
