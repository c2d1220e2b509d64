/**
 * Hand-made SVG bar charts for the report: one group of horizontal bars per row (a workload),
 * one bar per series (an allocator), on a linear or logarithmic axis.
 *
 * @module
 */

/** What to draw. */
export interface Chart {
  title: string;
  /** Under the title: the unit and how to read it. */
  subtitle: string;
  /** The groups, top to bottom. */
  rows: string[];
  /** The bars in each group, with their colours. */
  series: { name: string; color: string }[];
  /** values[row][series]; null for no bar (skipped or failed), drawn as a note. */
  values: (number | null)[][];
  /** What a null bar says, per row and series (default "n/a"). */
  notes?: (string | undefined)[][];
  /** A logarithmic axis (for values spanning orders of magnitude). */
  log?: boolean;
  /** Bars beyond this are clipped, their label still telling the value. */
  max?: number;
  /** A vertical reference line (a target), with its label. */
  reference?: { value: number; label: string };
  /** How a value is printed beside its bar. */
  format: (value: number) => string;
}

/** The palette, by series index, one colour for each (mote first, in red: the baseline stands
 * out); past its end, hues spaced by the golden angle. */
export const COLORS =
  "#d62728 #ff9896 #1f77b4 #2ca02c #7f7f7f #9467bd #8c564b #e377c2 #bcbd22 #17becf #ff7f0e #393b79"
    .split(" ");

/** Series `index`'s colour. */
export const colorOf = (index: number) =>
  COLORS[index] ?? `hsl(${Math.round((index * 137.5) % 360)} 60% 40%)`;

const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** Renders a chart as an SVG document. */
export function barChart(chart: Chart): string {
  const BAR = 11, GAP = 10, LEFT = 110, RIGHT = 90, WIDTH = 760, TOP = 58;
  const plot = WIDTH - LEFT - RIGHT;
  const finite = chart.values.flat().filter((v): v is number => v !== null && v > 0);
  const top = chart.max ?? Math.max(...finite, chart.reference?.value ?? 0) * 1.05;
  const bottom = chart.log ? Math.min(...finite, chart.reference?.value ?? Infinity) / 1.5 : 0;
  const x = (v: number) => {
    const clipped = Math.min(Math.max(v, bottom), top);
    const f = chart.log ? Math.log(clipped / bottom) / Math.log(top / bottom) : clipped / top;
    return LEFT + f * plot;
  };
  const groupHeight = chart.series.length * BAR + GAP;
  const legendY = TOP + chart.rows.length * groupHeight + 16;
  const height = legendY + Math.ceil(chart.series.length / 4) * 18 + 10;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" ` +
    `viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="10">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<style>text { paint-order: stroke; stroke: #fff; stroke-width: 3px; }</style>`,
    `<text x="${LEFT}" y="18" font-size="14" font-weight="bold">${escape(chart.title)}</text>`,
    `<text x="${LEFT}" y="34" fill="#555">${escape(chart.subtitle)}</text>`,
  ];
  // grid: powers of ten on a log axis, five steps on a linear one
  const ticks: number[] = [];
  if (chart.log) {
    for (let t = Math.pow(10, Math.ceil(Math.log10(bottom))); t <= top; t *= 10) ticks.push(t);
  } else {
    const step = Math.pow(10, Math.floor(Math.log10(top / 5)));
    const nice = [1, 2, 5, 10].map((m) => m * step).find((s) => top / s <= 6)!;
    for (let t = 0; t <= top; t += nice) ticks.push(t);
  }
  const gridBottom = TOP + chart.rows.length * groupHeight - GAP / 2;
  for (const t of ticks) {
    out.push(
      `<line x1="${x(t)}" y1="${TOP - 6}" x2="${x(t)}" y2="${gridBottom}" stroke="#ddd"/>`,
      `<text x="${x(t)}" y="${TOP - 9}" text-anchor="middle" fill="#777">${
        escape(chart.format(t))
      }</text>`,
    );
  }
  // the target line goes under the bars and their figures, which a white halo keeps legible
  if (chart.reference) {
    const rx = x(chart.reference.value);
    out.push(
      `<line x1="${rx}" y1="${TOP - 6}" x2="${rx}" y2="${gridBottom}" stroke="#000" ` +
        `stroke-dasharray="4 3"/>`,
      `<text x="${rx + 3}" y="${gridBottom + 10}" fill="#000">${
        escape(chart.reference.label)
      }</text>`,
    );
  }
  chart.rows.forEach((row, r) => {
    const y0 = TOP + r * groupHeight;
    out.push(
      `<text x="${LEFT - 6}" y="${y0 + (chart.series.length * BAR) / 2 + 4}" ` +
        `text-anchor="end" font-size="11">${escape(row)}</text>`,
    );
    chart.series.forEach((s, i) => {
      const y = y0 + i * BAR;
      const v = chart.values[r][i];
      if (v === null) {
        const note = chart.notes?.[r]?.[i] ?? "n/a";
        out.push(`<text x="${LEFT + 3}" y="${y + BAR - 2}" fill="#999">${escape(note)}</text>`);
        return;
      }
      const w = Math.max(1, x(v) - LEFT);
      out.push(
        `<rect x="${LEFT}" y="${y}" width="${w.toFixed(1)}" height="${
          BAR - 2
        }" fill="${s.color}"/>`,
        `<text x="${LEFT + w + 3}" y="${y + BAR - 2}">${escape(chart.format(v))}${
          chart.max !== undefined && v > chart.max ? " ▸" : ""
        }</text>`,
      );
    });
  });
  chart.series.forEach((s, i) => {
    const lx = LEFT + (i % 4) * 150, ly = legendY + Math.floor(i / 4) * 18;
    out.push(
      `<rect x="${lx}" y="${ly}" width="12" height="10" fill="${s.color}"/>`,
      `<text x="${lx + 16}" y="${ly + 9}">${escape(s.name)}</text>`,
    );
  });
  out.push("</svg>", "");
  return out.join("\n");
}
