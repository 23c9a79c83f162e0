/**
 * Grouped bar charts as plain SVG, for the benchmark page: no plotting
 * library, so the files are reproducible byte for byte from the results.
 */

export interface BarChart {
  title: string;
  /** Axis label with its unit, e.g. "cycles per byte". */
  yLabel: string;
  /** One group of bars per category, e.g. a message size. */
  categories: string[];
  /** One bar per series in every group; values[i] belongs to categories[i]. */
  series: { name: string; values: number[] }[];
  /** Logarithmic y axis, for values that span decades. */
  log?: boolean;
}

const WIDTH = 720;
const HEIGHT = 400;
const MARGIN = { left: 80, right: 20, top: 50, bottom: 70 };
const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b'];

const escape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Render `chart` as an SVG document. */
export function barChartSvg(chart: BarChart): string {
  const values = chart.series.flatMap((s) => s.values).filter((v) => Number.isFinite(v) && v > 0);
  const max = Math.max(...values);
  const min = Math.min(...values);
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;

  // Map a value to a bar height in pixels.
  // Linear axes step by 1, 2 or 5 times a power of ten, with five steps or fewer.
  const magnitude = 10 ** Math.floor(Math.log10(max / 5));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s * 5 >= max) ?? 10 * magnitude;
  const lo = chart.log ? 10 ** Math.floor(Math.log10(min)) : 0;
  const hi = chart.log ? 10 ** Math.ceil(Math.log10(max)) : step * Math.ceil(max / step);
  const scale = (v: number): number =>
    chart.log ? ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotH : (v / hi) * plotH;

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
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
      const v = s.values[i] ?? 0;
      const h = v > 0 ? Math.max(0, scale(v)) : 0;
      const x = x0 + j * barW;
      const y = MARGIN.top + plotH - h;
      out.push(
        `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${h.toFixed(1)}" ` +
          `fill="${COLORS[j % COLORS.length]}"><title>${escape(`${s.name}, ${category}: ${v}`)}</title></rect>`,
      );
    });
    out.push(
      `<text x="${(x0 + groupW * 0.4).toFixed(1)}" y="${MARGIN.top + plotH + 18}" text-anchor="middle">${escape(category)}</text>`,
    );
  });
  out.push(`<line x1="${MARGIN.left}" y1="${MARGIN.top + plotH}" x2="${WIDTH - MARGIN.right}" y2="${MARGIN.top + plotH}" stroke="black"/>`);

  // Legend below the axis.
  chart.series.forEach((s, j) => {
    const x = MARGIN.left + j * 180;
    const y = HEIGHT - 22;
    out.push(`<rect x="${x}" y="${y - 10}" width="12" height="12" fill="${COLORS[j % COLORS.length]}"/>`);
    out.push(`<text x="${x + 18}" y="${y}">${escape(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

function formatTick(v: number): string {
  if (v === 0) return '0';
  if (v >= 1000) return v.toLocaleString('en-US', { maximumFractionDigits: 0 });
  if (v >= 1) return String(Number(v.toFixed(2)));
  return String(Number(v.toPrecision(2)));
}
