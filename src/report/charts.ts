/**
 * Hand-written SVG timeline charts for the HTML report: one chart per metric, all sharing the
 * same x axis (seconds since start), with fault and switch windows shaded and labelled.
 * Output is static SVG markup (readable without JavaScript, printable); the report's small
 * inline script only adds a hover crosshair on top.
 */
import { formatAxis, linearScale, logScale, type LinearScale } from './scale.js';
import { el, escapeHtml, fmtCoord, linePath, stepAreaPath, stepPath, type Point } from './svg.js';
import type { ReportPhase, ReportSecond, ReportSeries, ReportWindow } from './types.js';

/** Chart geometry in viewBox units; the SVG scales to the page width. */
export const CHART = { width: 1000, height: 168, left: 58, right: 14, top: 22, bottom: 24 } as const;

/** Okabe–Ito: distinguishable with the common colour-vision deficiencies, and in greyscale print. */
const SERIES_COLORS: Record<string, string> = {
  none: '#D55E00',
  'proxy-delete': '#0072B2',
  'client-short-ttl': '#009E73',
};
const EXTRA_COLORS = ['#CC79A7', '#E69F00', '#56B4E9', '#7F7F7F', '#F0E442'];
const OP_COLORS = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#7F7F7F'];
const DASHES = ['', '6 4', '2 3', '10 3 2 3'];

export function seriesColor(label: string, index: number): string {
  return SERIES_COLORS[label] ?? EXTRA_COLORS[index % EXTRA_COLORS.length];
}

/** A line drawn in a chart: which series it belongs to, its look, and its per-second values. */
export interface ChartLine {
  series: string;
  /** legend / tooltip name, e.g. "read", "p99", "none · update" */
  name: string;
  color: string;
  dash: string;
  values: Array<{ second: number; value: number | null }>;
  /** step = per-second bucket (counts); line = point per second centre (rates, latency) */
  shape: 'step' | 'line';
  /** fill the area under it (single-series counts such as stale reads) */
  fill?: boolean;
}

export interface ChartSpec {
  id: string;
  title: string;
  /** shown after the title, e.g. "per second" */
  unit: string;
  lines: ChartLine[];
  yScale: 'linear' | 'log' | 'percent';
  /** a one-line explanation under the title */
  note?: string;
}

export interface TimeAxis {
  startSec: number;
  endSec: number;
}

/** The x extent every chart shares: from 0 to the last second with data or the last phase end. */
export function timeAxisFor(series: ReportSeries[]): TimeAxis {
  let end = 1;
  for (const s of series) {
    for (const p of s.perSecond) end = Math.max(end, p.second + 1);
    for (const p of s.phases) end = Math.max(end, p.endSec);
    for (const w of s.windows) end = Math.max(end, w.endSec);
  }
  return { startSec: 0, endSec: Math.ceil(end) };
}

/** Windows of all series merged by label (same seed and plan: they line up to within a second). */
export function mergedWindows(series: ReportSeries[]): ReportWindow[] {
  const byLabel = new Map<string, ReportWindow>();
  for (const s of series) {
    for (const w of s.windows) {
      const key = `${w.kind}\u0000${w.label}`;
      const prev = byLabel.get(key);
      if (!prev) byLabel.set(key, { ...w });
      else {
        prev.startSec = Math.min(prev.startSec, w.startSec);
        prev.endSec = Math.max(prev.endSec, w.endSec);
      }
    }
  }
  return [...byLabel.values()].sort((a, b) => a.startSec - b.startSec);
}

function opTypes(series: ReportSeries[]): string[] {
  const totals = new Map<string, number>();
  for (const s of series) for (const p of s.perSecond) for (const [op, n] of Object.entries(p.ops)) totals.set(op, (totals.get(op) ?? 0) + n);
  // Busiest first: the main op gets the solid line. Ops that never happened get no line.
  return [...totals.entries()].filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([op]) => op);
}

function valuesOf(s: ReportSeries, pick: (p: ReportSecond) => number | null): ChartLine['values'] {
  return s.perSecond.map((p) => ({ second: p.second, value: pick(p) }));
}

/** The six timeline charts the issue asks for, for one or several (side-by-side) series. */
export function buildChartSpecs(series: ReportSeries[]): ChartSpec[] {
  const multi = series.length > 1;
  const ops = opTypes(series);
  const specs: ChartSpec[] = [];

  const throughput: ChartLine[] = [];
  series.forEach((s, si) => {
    ops.forEach((op, oi) => {
      throughput.push({
        series: s.label,
        name: multi ? `${s.label} · ${op}` : op,
        color: multi ? seriesColor(s.label, si) : OP_COLORS[oi % OP_COLORS.length],
        dash: multi ? DASHES[oi % DASHES.length] : '',
        values: valuesOf(s, (p) => p.ops[op] ?? 0),
        shape: 'step',
      });
    });
  });
  specs.push({ id: 'throughput', title: 'Throughput by operation', unit: 'ops/s', lines: throughput, yScale: 'linear' });

  const errors: ChartLine[] = [];
  series.forEach((s, si) => {
    errors.push({
      series: s.label,
      name: multi ? `${s.label} · errors` : 'errors',
      color: multi ? seriesColor(s.label, si) : '#D55E00',
      dash: '',
      values: valuesOf(s, (p) => p.errors),
      shape: 'step',
    });
    errors.push({
      series: s.label,
      name: multi ? `${s.label} · unknown` : 'unknown outcome',
      color: multi ? seriesColor(s.label, si) : '#8B6BB1',
      dash: '5 3',
      values: valuesOf(s, (p) => p.unknowns),
      shape: 'step',
    });
  });
  specs.push({
    id: 'errors',
    title: 'Errors and unknown outcomes',
    unit: 'per second',
    lines: errors,
    yScale: 'linear',
    note: 'unknown = timed out: the write may or may not have happened',
  });

  specs.push({
    id: 'stale',
    title: 'Stale reads',
    unit: 'per second',
    yScale: 'linear',
    note: 'a read returned an older version than one already committed in the database',
    lines: series.map((s, si) => ({
      series: s.label,
      name: multi ? s.label : 'stale reads',
      color: multi ? seriesColor(s.label, si) : '#D55E00',
      dash: '',
      values: valuesOf(s, (p) => p.staleReads),
      shape: 'step' as const,
      fill: !multi,
    })),
  });

  specs.push({
    id: 'hit-rate',
    title: 'Cache hit rate',
    unit: '%',
    yScale: 'percent',
    lines: series.map((s, si) => ({
      series: s.label,
      name: multi ? s.label : 'hit rate',
      color: multi ? seriesColor(s.label, si) : '#009E73',
      dash: '',
      values: valuesOf(s, (p) => (p.hitRate === null ? null : p.hitRate * 100)),
      shape: 'line' as const,
    })),
  });

  specs.push({
    id: 'db-reads',
    title: 'Database reads',
    unit: 'per second',
    yScale: 'linear',
    note: 'cache misses that fell through to the source of truth',
    lines: series.map((s, si) => ({
      series: s.label,
      name: multi ? s.label : 'database reads',
      color: multi ? seriesColor(s.label, si) : '#0072B2',
      dash: '',
      values: valuesOf(s, (p) => p.dbReads),
      shape: 'step' as const,
    })),
  });

  const latencyOps = [...new Set(series.flatMap((s) => s.perSecond.flatMap((p) => Object.keys(p.latency ?? {}))))];
  if (latencyOps.length) {
    // One chart per op: read and update latencies differ by an order of magnitude (a CAS is gets + cas).
    for (const op of latencyOps) {
      const lines: ChartLine[] = [];
      series.forEach((s, si) => {
        lines.push({
          series: s.label,
          name: multi ? `${s.label} · p50` : 'p50',
          color: multi ? seriesColor(s.label, si) : '#0072B2',
          dash: '',
          values: valuesOf(s, (p) => p.latency?.[op]?.p50Ms ?? null),
          shape: 'line',
        });
        lines.push({
          series: s.label,
          name: multi ? `${s.label} · p99` : 'p99',
          color: multi ? seriesColor(s.label, si) : '#CC79A7',
          dash: '5 3',
          values: valuesOf(s, (p) => p.latency?.[op]?.p99Ms ?? null),
          shape: 'line',
        });
      });
      specs.push({ id: `latency-${op.replace(/[^a-z0-9]+/gi, '-')}`, title: `Latency of ${op}s, p50 / p99`, unit: 'ms, log scale', lines, yScale: 'log' });
    }
  } else {
    const latency: ChartLine[] = [];
    series.forEach((s, si) => {
      latency.push({
        series: s.label,
        name: multi ? `${s.label} · p50` : 'p50',
        color: multi ? seriesColor(s.label, si) : '#0072B2',
        dash: '',
        values: valuesOf(s, (p) => p.p50Ms),
        shape: 'line',
      });
      latency.push({
        series: s.label,
        name: multi ? `${s.label} · p99` : 'p99',
        color: multi ? seriesColor(s.label, si) : '#CC79A7',
        dash: '5 3',
        values: valuesOf(s, (p) => p.p99Ms),
        shape: 'line',
      });
    });
    specs.push({ id: 'latency', title: 'Latency p50 / p99', unit: 'ms, log scale', lines: latency, yScale: 'log' });
  }
  return specs;
}

function yScaleFor(spec: ChartSpec, y0: number, y1: number): LinearScale {
  if (spec.yScale === 'percent') return linearScale([0, 100], [y0, y1], { nice: true, targetTicks: 4 });
  const values = spec.lines.flatMap((l) => l.values.map((v) => v.value)).filter((v): v is number => v !== null && Number.isFinite(v));
  if (spec.yScale === 'log') {
    const positive = values.filter((v) => v > 0);
    const lo = positive.length ? Math.min(...positive) : 0.1;
    const hi = positive.length ? Math.max(...positive) : 1;
    return logScale([lo, hi], [y0, y1], 0.01);
  }
  const max = values.length ? Math.max(...values) : 0;
  // Counts per second are whole numbers: an empty or tiny chart gets 0..4, never 0.25 steps.
  return linearScale([0, Math.max(max, 4)], [y0, y1], { nice: true, targetTicks: 4 });
}

function tickLabel(spec: ChartSpec, v: number): string {
  if (spec.yScale === 'log') return v >= 1 ? formatAxis(v) : String(v);
  return formatAxis(v);
}

function xTicks(axis: TimeAxis): number[] {
  const span = axis.endSec - axis.startSec;
  // Steps people count in: 1, 2, 5, 10, 15, 30, 60 s...
  const steps = [1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1800, 3600];
  const step = steps.find((s) => span / s <= 12) ?? Math.ceil(span / 12);
  const ticks: number[] = [];
  for (let t = Math.ceil(axis.startSec / step) * step; t <= axis.endSec && ticks.length < 100; t += step) ticks.push(t);
  return ticks;
}

export function formatSeconds(sec: number): string {
  if (sec < 60) return `${sec}s`;
  const m = Math.floor(sec / 60);
  const s = sec % 60;
  return s === 0 ? `${m}m` : `${m}m${String(s).padStart(2, '0')}`;
}

/** The x scale shared by every chart and the phase strip. */
export function xScaleFor(axis: TimeAxis): LinearScale {
  return linearScale([axis.startSec, axis.endSec], [CHART.left, CHART.width - CHART.right]);
}

function windowRects(windows: ReportWindow[], x: LinearScale, top: number, bottom: number, withLabels: boolean): string {
  return windows
    .map((w) => {
      const x0 = x(Math.max(w.startSec, x.domain[0]));
      const x1 = x(Math.min(Math.max(w.endSec, w.startSec + 0.2), x.domain[1]));
      const width = Math.max(1.5, x1 - x0);
      const rect = el('rect', { class: `window window-${w.kind}`, x: x0, y: top, width, height: bottom - top }, el('title', {}, escapeHtml(`${w.label}: ${w.startSec.toFixed(1)}s – ${w.endSec.toFixed(1)}s`)));
      const edges =
        el('line', { class: `window-edge window-${w.kind}`, x1: x0, x2: x0, y1: top, y2: bottom }) +
        el('line', { class: `window-edge window-${w.kind}`, x1: x0 + width, x2: x0 + width, y1: top, y2: bottom });
      const label = withLabels ? el('text', { class: `window-label window-${w.kind}`, x: x0 + 3, y: top - 5 }, escapeHtml(w.label)) : '';
      return `<g class="window-group" data-kind="${escapeHtml(w.kind)}">${rect}${edges}${label}</g>`;
    })
    .join('');
}

/** One chart as SVG markup. */
export function renderChart(spec: ChartSpec, axis: TimeAxis, windows: ReportWindow[]): string {
  const { width, height, top, bottom, left, right } = CHART;
  const x = xScaleFor(axis);
  const plotBottom = height - bottom;
  const y = yScaleFor(spec, plotBottom, top);
  const parts: string[] = [];

  parts.push(windowRects(windows, x, top, plotBottom, true));

  // Horizontal gridlines and y labels.
  for (const t of y.ticks) {
    const yy = y(t);
    parts.push(el('line', { class: 'grid', x1: left, x2: width - right, y1: yy, y2: yy }));
    parts.push(el('text', { class: 'tick tick-y', x: left - 6, y: yy + 3.5, 'text-anchor': 'end' }, escapeHtml(tickLabel(spec, t))));
  }
  // x axis.
  parts.push(el('line', { class: 'axis', x1: left, x2: width - right, y1: plotBottom, y2: plotBottom }));
  for (const t of xTicks(axis)) {
    const xx = x(t);
    parts.push(el('line', { class: 'axis', x1: xx, x2: xx, y1: plotBottom, y2: plotBottom + 4 }));
    parts.push(el('text', { class: 'tick tick-x', x: xx, y: plotBottom + 15, 'text-anchor': 'middle' }, formatSeconds(t)));
  }

  const secWidth = x(1) - x(0);
  for (const line of spec.lines) {
    const clampLog = (v: number | null): number | null => (v === null ? null : spec.yScale === 'log' ? y(Math.max(v, y.domain[0])) : y(v));
    const pts: Point[] = line.values.map((v) => ({
      x: line.shape === 'step' ? x(v.second) : x(v.second + 0.5),
      y: clampLog(v.value),
    }));
    const d = line.shape === 'step' ? stepPath(pts, secWidth) : linePath(pts);
    if (line.fill) {
      const area = stepAreaPath(pts, secWidth, plotBottom);
      if (area) parts.push(el('path', { class: 'area', d: area, fill: line.color }));
    }
    // A lone point in a line chart has no length: draw a dot so it is visible.
    const dots =
      line.shape === 'line' && pts.filter((p) => p.y !== null).length === 1
        ? pts.filter((p) => p.y !== null).map((p) => el('circle', { cx: p.x, cy: p.y as number, r: 2.5, fill: line.color })).join('')
        : '';
    parts.push(
      el(
        'path',
        {
          class: 'series-line',
          d: d || `M${fmtCoord(left)} ${fmtCoord(plotBottom)}`,
          stroke: line.color,
          'stroke-dasharray': line.dash || undefined,
          'data-series': line.series,
          'data-name': line.name,
          fill: 'none',
        },
        el('title', {}, escapeHtml(line.name)),
      ) + dots,
    );
  }
  parts.push(el('line', { class: 'crosshair', x1: left, x2: left, y1: top, y2: plotBottom, visibility: 'hidden' }));

  return el(
    'svg',
    {
      class: 'chart-svg',
      viewBox: `0 0 ${width} ${height}`,
      role: 'img',
      'aria-label': `${spec.title} (${spec.unit}) over time`,
      'data-chart': spec.id,
      'data-x0': x.range[0],
      'data-x1': x.range[1],
      'data-t0': axis.startSec,
      'data-t1': axis.endSec,
    },
    parts.join(''),
  );
}

const PHASE_CLASS: Record<string, string> = { fault: 'phase-fault', switch: 'phase-switch', heal: 'phase-heal' };

/** The strip above the charts naming each phase, with event ticks. */
export function renderPhaseStrip(phases: ReportPhase[], events: Array<{ atSec: number; label: string }>, axis: TimeAxis): string {
  const x = xScaleFor(axis);
  const h = 40;
  const parts: string[] = [];
  phases.forEach((p, i) => {
    const x0 = x(Math.max(p.startSec, axis.startSec));
    const x1 = x(Math.min(p.endSec, axis.endSec));
    const w = Math.max(1, x1 - x0);
    const cls = PHASE_CLASS[p.name] ?? (i % 2 ? 'phase-b' : 'phase-a');
    parts.push(
      el(
        'g',
        { class: 'phase', 'data-phase': p.name },
        el('rect', { class: `phase-rect ${cls}`, x: x0, y: 4, width: w, height: 20, rx: 3 }, el('title', {}, escapeHtml(`${p.name}: ${p.startSec.toFixed(1)}s – ${p.endSec.toFixed(1)}s`))) +
          // Labels only where they fit (about 6.5 units per character at this size).
          (w > p.name.length * 6.6 + 8 ? el('text', { class: 'phase-label', x: x0 + w / 2, y: 18, 'text-anchor': 'middle' }, escapeHtml(p.name)) : ''),
      ),
    );
  });
  for (const e of events) {
    const xx = x(Math.min(Math.max(e.atSec, axis.startSec), axis.endSec));
    parts.push(
      el('g', { class: 'event' }, el('path', { d: `M${fmtCoord(xx)} 26 l-4 7 h8 z`, class: 'event-mark' }) + el('title', {}, escapeHtml(`${e.atSec.toFixed(1)}s: ${e.label}`))),
    );
  }
  return el('svg', { class: 'phase-svg', viewBox: `0 0 ${CHART.width} ${h}`, role: 'img', 'aria-label': 'phases of the run' }, parts.join(''));
}
