/**
 * The small amount of chart maths the report needs: linear scales with "nice" round ticks,
 * and number formatting for axes and tables. Pure functions, unit tested.
 */

export interface LinearScale {
  (value: number): number;
  domain: [number, number];
  range: [number, number];
  ticks: number[];
}

/** A step of 1, 2, 2.5 or 5 times a power of ten, so ticks land on numbers people read easily. */
export function niceStep(span: number, targetTicks: number): number {
  if (!(span > 0) || !Number.isFinite(span)) return 1;
  const raw = span / Math.max(1, targetTicks);
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  const fraction = raw / power;
  const nice = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 2.5 ? 2.5 : fraction <= 5 ? 5 : 10;
  return nice * power;
}

/** Round ticks covering [min, max]; the domain is widened to the outer ticks. */
export function niceTicks(min: number, max: number, targetTicks = 4): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  if (min === max) {
    if (min === 0) return [0, 1];
    const pad = Math.abs(min) * 0.5;
    return niceTicks(min - pad, max + pad, targetTicks);
  }
  if (min > max) [min, max] = [max, min];
  const step = niceStep(max - min, targetTicks);
  const start = Math.floor(min / step + 1e-9) * step;
  const end = Math.ceil(max / step - 1e-9) * step;
  const ticks: number[] = [];
  // Guard the loop by count: floats plus a pathological range must not spin.
  for (let i = 0, v = start; v <= end + step * 1e-6 && i < 1000; i++, v = start + i * step) {
    ticks.push(Number(v.toPrecision(12)));
  }
  return ticks;
}

/** A linear scale from data to pixels. With nice=true the domain snaps out to round ticks. */
export function linearScale(
  domain: [number, number],
  range: [number, number],
  opts: { nice?: boolean; targetTicks?: number } = {},
): LinearScale {
  let [d0, d1] = domain;
  let ticks: number[];
  if (opts.nice) {
    ticks = niceTicks(d0, d1, opts.targetTicks ?? 4);
    d0 = ticks[0];
    d1 = ticks[ticks.length - 1];
  } else {
    if (d0 === d1) d1 = d0 + 1;
    ticks = niceTicks(d0, d1, opts.targetTicks ?? 4).filter((t) => t >= Math.min(d0, d1) - 1e-9 && t <= Math.max(d0, d1) + 1e-9);
  }
  const [r0, r1] = range;
  const k = (r1 - r0) / (d1 - d0);
  const scale = ((v: number) => r0 + (v - d0) * k) as LinearScale;
  scale.domain = [d0, d1];
  scale.range = [r0, r1];
  scale.ticks = ticks;
  return scale;
}

/** 1234 -> "1,234"; 12345 -> "12.3k"; 0.5 -> "0.5": short enough for an axis label. */
export function formatAxis(value: number): string {
  const abs = Math.abs(value);
  if (abs >= 1e6) return trimZeros((value / 1e6).toFixed(abs >= 1e7 ? 0 : 1)) + 'M';
  if (abs >= 1e4) return trimZeros((value / 1e3).toFixed(abs >= 1e5 ? 0 : 1)) + 'k';
  if (abs >= 1000) return Math.round(value).toLocaleString('en-US');
  if (abs === 0) return '0';
  if (abs < 1) return trimZeros(value.toFixed(abs < 0.01 ? 3 : 2));
  return trimZeros(value.toFixed(abs < 10 ? 1 : 0));
}

/** A number in a table: integers with separators, fractions to 3 significant digits. */
export function formatNumber(value: number | null | undefined): string {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  if (!Number.isFinite(value)) return value > 0 ? '∞' : '-∞';
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  const abs = Math.abs(value);
  if (abs >= 100) return Math.round(value).toLocaleString('en-US');
  return String(Number(value.toPrecision(3)));
}

export function formatPercent(ratio: number | null | undefined): string {
  if (ratio === null || ratio === undefined || Number.isNaN(ratio)) return '–';
  const pct = ratio * 100;
  return `${pct >= 99.95 || pct === 0 ? pct.toFixed(0) : pct.toFixed(1)}%`;
}

/** 83_450 -> "1m 23s"; 950 -> "950 ms". */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const totalSec = ms / 1000;
  if (totalSec < 60) return `${trimZeros(totalSec.toFixed(1))} s`;
  const m = Math.floor(totalSec / 60);
  const s = Math.round(totalSec - m * 60);
  return `${m}m ${String(s).padStart(2, '0')}s`;
}

function trimZeros(s: string): string {
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

/**
 * A log10 scale for latency: one slow second (a 500 ms timeout) must not flatten the sub-ms
 * normal. Values at or below the floor are drawn at the floor. Ticks at powers of ten.
 */
export function logScale(domain: [number, number], range: [number, number], floor = 0.01): LinearScale {
  const lo = Math.max(floor, Math.min(domain[0], domain[1]));
  const hi = Math.max(lo * 10, domain[0], domain[1]);
  const e0 = Math.floor(Math.log10(lo) + 1e-9);
  const e1 = Math.ceil(Math.log10(hi) - 1e-9);
  const ticks: number[] = [];
  for (let e = e0; e <= e1 && ticks.length < 40; e++) ticks.push(Number(Math.pow(10, e).toPrecision(12)));
  const [r0, r1] = range;
  const k = (r1 - r0) / (e1 - e0 || 1);
  const scale = ((v: number) => r0 + (Math.log10(Math.max(Math.pow(10, e0), v)) - e0) * k) as LinearScale;
  scale.domain = [Math.pow(10, e0), Math.pow(10, e1)];
  scale.range = [r0, r1];
  scale.ticks = ticks;
  return scale;
}
