import { AsciiConn, percentile } from './helpers.js';

/**
 * A bounded ASCII load (count AND time): `clients` connections, each alternating set and get on
 * `keys` keys, latencies recorded per op. Used by the resource tests and the soak script.
 */
export interface LoadResult {
  ops: number;
  errors: number;
  errorSamples: string[];
  getMs: number[];
  setMs: number[];
  /** [ms since start, latency] of every get, to look at latency over time */
  getTimeline: [number, number][];
}

export async function runLoad(o: { port: number; clients: number; durationMs: number; maxOps: number; keys: number; prefix: string; timeoutMs?: number; skipFirstMs?: number }): Promise<LoadResult> {
  const r: LoadResult = { ops: 0, errors: 0, errorSamples: [], getMs: [], setMs: [], getTimeline: [] };
  const started = Date.now();
  const end = started + o.durationMs;
  const skipUntil = started + (o.skipFirstMs ?? 0);
  const worker = async (w: number): Promise<void> => {
    let conn: AsciiConn | undefined;
    let i = 0;
    while (Date.now() < end && r.ops < o.maxOps) {
      try {
        conn ??= await AsciiConn.open(o.port);
        const key = `${o.prefix}${(w * 7919 + i++) % o.keys}`;
        const t0 = performance.now();
        const stored = await conn.request(`set ${key} 0 0 8\r\nv${String(i % 1e7).padStart(7, '0')}\r\n`, /\r\n$/, o.timeoutMs ?? 5000);
        const t1 = performance.now();
        const got = await conn.request(`get ${key}\r\n`, /(END|ERROR[^\r]*)\r\n$/, o.timeoutMs ?? 5000);
        const t2 = performance.now();
        r.ops += 2;
        if (Date.now() >= skipUntil) {
          r.setMs.push(t1 - t0);
          r.getMs.push(t2 - t1);
          r.getTimeline.push([Date.now() - started, t2 - t1]);
        }
        if (stored !== 'STORED\r\n') {
          r.errors++;
          if (r.errorSamples.length < 5) r.errorSamples.push(stored.trim());
        }
        if (!got.startsWith('VALUE ') && got !== 'END\r\n') {
          r.errors++;
          if (r.errorSamples.length < 5) r.errorSamples.push(got.trim());
        }
      } catch (err) {
        r.errors++;
        if (r.errorSamples.length < 5) r.errorSamples.push((err as Error).message);
        conn?.close();
        conn = undefined;
        await new Promise((res) => setTimeout(res, 20));
      }
    }
    conn?.close();
  };
  await Promise.all(Array.from({ length: o.clients }, (_, w) => worker(w)));
  return r;
}

export function latencySummary(ms: number[]): string {
  return `n=${ms.length} p50=${percentile(ms, 50).toFixed(2)}ms p99=${percentile(ms, 99).toFixed(2)}ms max=${ms.reduce((a, b) => Math.max(a, b), 0).toFixed(1)}ms`;
}
