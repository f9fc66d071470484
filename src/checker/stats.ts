/** Small numeric helpers for the checker: percentiles over typed arrays (sorted in place). */

export interface LatencySummary {
  count: number;
  meanMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

/** Nearest-rank percentile of an ascending array; 0 for an empty one. */
export function percentileSorted(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))];
}

export function round(n: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export function summarizeLatencies(values: Float64Array): LatencySummary {
  if (values.length === 0) return { count: 0, meanMs: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0 };
  values.sort();
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  return {
    count: values.length,
    meanMs: round(sum / values.length),
    p50Ms: round(percentileSorted(values, 50)),
    p90Ms: round(percentileSorted(values, 90)),
    p99Ms: round(percentileSorted(values, 99)),
    p999Ms: round(percentileSorted(values, 99.9)),
    maxMs: round(values[values.length - 1]),
  };
}

/** A growable Float64Array (cheap to sort, no per-number boxing). */
export class NumberList {
  private buf: Float64Array;
  length = 0;
  constructor(initial = 16) {
    this.buf = new Float64Array(initial);
  }
  push(v: number): void {
    if (this.length === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.length++] = v;
  }
  toArray(): Float64Array {
    return this.buf.subarray(0, this.length);
  }
}
