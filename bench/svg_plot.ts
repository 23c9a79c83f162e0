/**
 * Grouped bar charts as plain SVG, for the benchmark page: no plotting
 * library, so the files are reproducible byte for byte from the results.
 */

export interface BarChart {
  title: string;
  /** Axis label with its unit, e.g. "cycles per byte". */
  yLabel: string;
  /** One group of bars per category, e.g. a message size; a newline starts a second label line. */
  categories: string[];
  /** One bar per series in every group, in the same order as `categories`. */
  series: BarSeries[];
  /** Logarithmic y axis, for values that span decades. */
  log?: boolean;
  /** A dashed horizontal line across the plot, e.g. at 1 for ratios. */
  reference?: { value: number; label: string };
}

export interface BarSeries {
  name: string;
  /** values[i] belongs to categories[i]; null (or a value that is not positive and finite) draws no bar. */
  values: (number | null)[];
  /** Optional [low, high] per category; with low < high the bar spans low to high instead of rising from the axis. */
  ranges?: (readonly [number, number] | null)[];
  /** Text drawn at the axis in place of a missing bar, e.g. "n/a", so that it does not read as zero. */
  missing?: string;
}

const WIDTH = 720;
/** Height with one line of category labels and one row of legend. */
const BASE_HEIGHT = 400;
const MARGIN = { left: 80, right: 20, top: 50, bottom: 70 };
const LEGEND_ITEM_WIDTH = 180;
const LEGEND_ROW_HEIGHT = 18;
const LABEL_LINE_HEIGHT = 14;
const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];

const escape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const isDrawn = (v: number | null | undefined): v is number => v !== null && v !== undefined && Number.isFinite(v) && v > 0;

/** Render `chart` as an SVG document. */
export function barChartSvg(chart: BarChart): string {
  const ranged = chart.series.flatMap((s) => (s.ranges ?? []).flatMap((r) => (r === null ? [] : [...r])));
  const values = [...chart.series.flatMap((s) => s.values), ...ranged].filter(isDrawn);
  if (values.length === 0) throw new RangeError(`chart "${chart.title}" has no positive finite value to draw`);
  const max = Math.max(...values);
  const min = Math.min(...values);
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const legendPerRow = Math.max(1, Math.floor(plotW / LEGEND_ITEM_WIDTH));
  const legendRows = Math.ceil(chart.series.length / legendPerRow);
  const labelLines = Math.max(1, ...chart.categories.map((c) => c.split('\n').length));
  const extra = (legendRows - 1) * LEGEND_ROW_HEIGHT + (labelLines - 1) * LABEL_LINE_HEIGHT;
  const height = BASE_HEIGHT + extra;
  const plotH = BASE_HEIGHT - MARGIN.top - MARGIN.bottom;

  // Map a value to a bar height in pixels.
  // Linear axes step by 1, 2 or 5 times a power of ten, with five steps or fewer.
  const magnitude = 10 ** Math.floor(Math.log10(max / 5));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s * 5 >= max) ?? 10 * magnitude;
  const lo = chart.log ? 10 ** Math.floor(Math.log10(min)) : 0;
  const hi = chart.log ? 10 ** Math.ceil(Math.log10(max)) : step * Math.ceil(max / step);
  const scale = (v: number): number =>
    chart.log ? ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotH : (v / hi) * plotH;

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${height}" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="24" text-anchor="middle" font-size="15">${escape(chart.title)}</text>`,
    `<text transform="translate(18,${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escape(chart.yLabel)}</text>`,
  ];

  // Grid lines and y tick labels.
  const ticks = chart.log
    ? Array.from({ length: Math.round(Math.log10(hi / lo)) + 1 }, (_, i) => lo * 10 ** i)
    : Array.from({ length: Math.round(hi / step) + 1 }, (_, i) => step * i);
  for (const t of ticks) {
    const y = MARGIN.top + plotH - scale(t);
    out.push(`<line x1="${MARGIN.left}" y1="${y.toFixed(1)}" x2="${WIDTH - MARGIN.right}" y2="${y.toFixed(1)}" stroke="#ddd"/>`);
    out.push(`<text x="${MARGIN.left - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end">${formatTick(t)}</text>`);
  }

  const groupW = plotW / chart.categories.length;
  const barW = (groupW * 0.8) / chart.series.length;
  chart.categories.forEach((category, i) => {
    const x0 = MARGIN.left + i * groupW + groupW * 0.1;
    chart.series.forEach((s, j) => {
      const bar = barOf(s, i, scale);
      const x = x0 + j * barW;
      if (bar === undefined) {
        if (s.missing !== undefined) {
          const attributes = `x="${(x + barW / 2).toFixed(1)}" y="${MARGIN.top + plotH - 4}" text-anchor="middle" font-size="10"`;
          out.push(`<text ${attributes} fill="${COLORS[j % COLORS.length]}">${escape(s.missing)}</text>`);
        }
        return;
      }
      const y = MARGIN.top + plotH - bar.top;
      const name = category.replace(/\n/g, ' ');
      out.push(
        `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(bar.top - bar.bottom).toFixed(1)}" ` +
          `fill="${COLORS[j % COLORS.length]}"><title>${escape(`${s.name}, ${name}: ${bar.text}`)}</title></rect>`,
      );
    });
    category.split('\n').forEach((line, k) => {
      const y = MARGIN.top + plotH + 18 + k * LABEL_LINE_HEIGHT;
      out.push(`<text x="${(x0 + groupW * 0.4).toFixed(1)}" y="${y}" text-anchor="middle">${escape(line)}</text>`);
    });
  });
  out.push(`<line x1="${MARGIN.left}" y1="${MARGIN.top + plotH}" x2="${WIDTH - MARGIN.right}" y2="${MARGIN.top + plotH}" stroke="black"/>`);
  const reference = chart.reference;
  if (reference !== undefined && isDrawn(reference.value) && reference.value >= lo && reference.value <= hi) {
    const y = (MARGIN.top + plotH - scale(reference.value)).toFixed(1);
    out.push(`<line x1="${MARGIN.left}" y1="${y}" x2="${WIDTH - MARGIN.right}" y2="${y}" stroke="black" stroke-dasharray="6,4"/>`);
    // A white outline keeps the label readable where it crosses a bar.
    out.push(
      `<text x="${WIDTH - MARGIN.right - 4}" y="${(Number(y) - 4).toFixed(1)}" text-anchor="end" ` +
        `stroke="white" stroke-width="3" paint-order="stroke">${escape(reference.label)}</text>`,
    );
  }

  // Legend below the axis, legendPerRow items a row.
  chart.series.forEach((s, j) => {
    const x = MARGIN.left + (j % legendPerRow) * LEGEND_ITEM_WIDTH;
    const y = height - 22 - (legendRows - 1 - Math.floor(j / legendPerRow)) * LEGEND_ROW_HEIGHT;
    out.push(`<rect x="${x}" y="${y - 10}" width="12" height="12" fill="${COLORS[j % COLORS.length]}"/>`);
    out.push(`<text x="${x + 18}" y="${y}">${escape(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** Place the bar of series `s` in category `i` as pixel heights above the axis; undefined when it draws none. */
function barOf(s: BarSeries, i: number, scale: (v: number) => number): { bottom: number; top: number; text: string } | undefined {
  const range = s.ranges?.[i];
  if (range !== null && range !== undefined && isDrawn(range[0]) && isDrawn(range[1]) && range[0] < range[1]) {
    return { bottom: Math.max(0, scale(range[0])), top: Math.max(0, scale(range[1])), text: `${range[0]} to ${range[1]}` };
  }
  const v = s.values[i];
  if (!isDrawn(v)) return undefined;
  return { bottom: 0, top: Math.max(0, scale(v)), text: String(v) };
}

function formatTick(v: number): string {
  if (v === 0) return '0';
  if (v >= 1000) return v.toLocaleString('en-US', { maximumFractionDigits: 0 });
  if (v >= 1) return String(Number(v.toFixed(2)));
  return String(Number(v.toPrecision(2)));
}
