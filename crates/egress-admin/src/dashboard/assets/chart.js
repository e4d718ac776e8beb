// Line charts drawn as inline SVG: one line per series over a fixed time window.

const SVG = 'http://www.w3.org/2000/svg';

function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c);
  return el;
}

function niceMax(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  // Multiples of 4 (or 1 and 2) keep the four grid steps on round values.
  const step = [1, 2, 4, 8, 10].find((s) => s * power >= value);
  return step * power;
}

/**
 * A chart of `series` ([{ label, points: [{ t (ms), v }] }]) from `start` to `end` (ms).
 * `format` writes a value for the axis and the tooltips.
 */
export function lineChart({ title, series, start, end, format }) {
  const width = 640;
  const height = 220;
  const pad = { left: 64, right: 12, top: 12, bottom: 28 };
  const max = niceMax(Math.max(0, ...series.flatMap((s) => s.points.map((p) => p.v))));
  const x = (t) => pad.left + ((t - start) / (end - start)) * (width - pad.left - pad.right);
  const y = (v) => height - pad.bottom - (v / max) * (height - pad.top - pad.bottom);
  const chart = svg('svg', {
    viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img',
    'aria-label': `${title}: ${series.length} series over the last hour, peak ${format(max)} on the axis`,
  });
  chart.append(svg('title', {}, title));
  // Small counts get one grid line per unit, so no axis label repeats after rounding.
  const ticks = max >= 4 ? 4 : max;
  for (let i = 0; i <= ticks; i += 1) {
    const v = (max / ticks) * i;
    chart.append(
      svg('line', { x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v), class: 'grid' }),
      svg('text', { x: pad.left - 6, y: y(v) + 4, class: 'axis', 'text-anchor': 'end' }, format(v)));
  }
  for (let minutes = 60; minutes >= 0; minutes -= 15) {
    const t = end - minutes * 60_000;
    chart.append(svg('text', { x: x(t), y: height - 8, class: 'axis', 'text-anchor': 'middle' },
      minutes ? `-${minutes} min` : 'now'));
  }
  series.forEach((s, i) => {
    const points = s.points.filter((p) => p.t >= start);
    if (!points.length) return;
    const d = points.map((p, j) => `${j ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ');
    chart.append(svg('path', { d, class: `line series-${i % 8}` }, svg('title', {}, s.label)));
    const lastPoint = points[points.length - 1];
    chart.append(svg('circle', { cx: x(lastPoint.t), cy: y(lastPoint.v), r: 3, class: `dot series-${i % 8}` },
      svg('title', {}, `${s.label}: ${format(lastPoint.v)} now`)));
  });
  return chart;
}

/** The legend of a chart: which colour is which series. */
export function legend(labels) {
  const list = document.createElement('ul');
  list.className = 'legend';
  labels.forEach((label, i) => {
    const item = document.createElement('li');
    const swatch = document.createElement('span');
    swatch.className = `swatch series-${i % 8}`;
    item.append(swatch, label);
    list.append(item);
  });
  return list;
}
