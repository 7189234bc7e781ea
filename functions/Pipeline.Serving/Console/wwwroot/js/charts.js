// Line charts drawn as SVG (no chart library): loss curves of a run.
import { h, svg, number } from './dom.js';

/**
 * series: [{ name, tone, points: [{x, y}] }]. Scales to the data; y may be logarithmic when it spans orders of magnitude.
 */
export function lineChart(series, { xLabel = '', yLabel = '', height = 340, title = '' } = {}) {
  const width = 900;
  const margin = { top: 16, right: 16, bottom: 40, left: 60 };
  const points = series.flatMap(s => s.points).filter(p => Number.isFinite(p.x) && Number.isFinite(p.y));
  if (points.length === 0) return h('p.empty', 'No points yet.');

  const xs = points.map(p => p.x);
  const ys = points.map(p => p.y);
  let [xMin, xMax] = [Math.min(...xs), Math.max(...xs)];
  let [yMin, yMax] = [Math.min(...ys), Math.max(...ys)];
  if (xMin === xMax) { xMin -= 1; xMax += 1; }
  const logarithmic = yMin > 0 && yMax / yMin > 50;
  const ty = logarithmic ? Math.log10 : (v => v);
  let [lo, hi] = [ty(yMin), ty(yMax)];
  if (lo === hi) { lo -= 0.5; hi += 0.5; }
  const pad = (hi - lo) * 0.06;
  lo -= pad; hi += pad;

  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  const sx = x => margin.left + ((x - xMin) / (xMax - xMin)) * plotWidth;
  const sy = y => margin.top + (1 - (ty(y) - lo) / (hi - lo)) * plotHeight;

  const grid = [];
  for (let i = 0; i <= 4; i++) {
    const value = lo + ((hi - lo) * i) / 4;
    const y = margin.top + (1 - i / 4) * plotHeight;
    grid.push(svg('line', { x1: margin.left, x2: width - margin.right, y1: y, y2: y, class: 'grid' }));
    grid.push(svg('text', { x: margin.left - 8, y: y + 4, 'text-anchor': 'end', class: 'tick' }, number(logarithmic ? 10 ** value : value, 3)));
  }
  for (let i = 0; i <= 4; i++) {
    const value = xMin + ((xMax - xMin) * i) / 4;
    grid.push(svg('text', { x: sx(value), y: height - margin.bottom + 18, 'text-anchor': 'middle', class: 'tick' }, number(Math.round(value))));
  }

  const lines = series.map(s => {
    const valid = s.points.filter(p => Number.isFinite(p.x) && Number.isFinite(p.y));
    const path = valid.map((p, i) => `${i ? 'L' : 'M'}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join('');
    const last = valid.at(-1);
    return svg('g', { class: `series ${s.tone}` },
      svg('path', { d: path, class: 'line' }),
      last ? svg('circle', { cx: sx(last.x), cy: sy(last.y), r: 3.5, class: 'dot' }) : null);
  });

  const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img', 'aria-label': title || `${yLabel} by ${xLabel}` },
    grid,
    svg('line', { x1: margin.left, x2: margin.left, y1: margin.top, y2: height - margin.bottom, class: 'axis' }),
    svg('line', { x1: margin.left, x2: width - margin.right, y1: height - margin.bottom, y2: height - margin.bottom, class: 'axis' }),
    svg('text', { x: margin.left + plotWidth / 2, y: height - 6, 'text-anchor': 'middle', class: 'axis-label' }, xLabel),
    svg('text', { x: 14, y: margin.top + plotHeight / 2, 'text-anchor': 'middle', class: 'axis-label', transform: `rotate(-90 14 ${margin.top + plotHeight / 2})` },
      logarithmic ? `${yLabel} (log)` : yLabel),
    lines);

  return h('figure.chart-figure',
    chart,
    h('figcaption.legend', series.map(s => h(`span.legend-item.${s.tone}`, h('span.swatch'), s.name))));
}
