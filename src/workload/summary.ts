import type { WorkloadCommandResult } from './cli.js';
import type { SecondStats } from './runner.js';

/** Human rendering of a workload run: plain strings, no colour (the command adds it). */

const pct = (x: number | null | undefined): string => (x === null || x === undefined ? 'n/a' : `${(x * 100).toFixed(1)}%`);

export function progressBar(s: SecondStats, limit: { durationMs?: number; ops?: number }, width = 24): string {
  const fraction = limit.durationMs ? s.elapsedMs / limit.durationMs : limit.ops ? s.totalOps / limit.ops : 0;
  const filled = Math.max(0, Math.min(width, Math.round(fraction * width)));
  const hitRate = s.hits + s.misses > 0 ? s.hits / (s.hits + s.misses) : null;
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.min(100, Math.round(fraction * 100))).padStart(3)}%  ${s.totalOps} ops  ${s.ops} ops/s  hit ${pct(hitRate)}  fail ${s.fails}  unknown ${s.unknowns}   `;
}

export function formatWorkloadSummary(r: WorkloadCommandResult): {
  header: string;
  opsTable: { headers: string[]; rows: Array<Array<string | number>> };
  checkTable: { headers: string[]; rows: Array<Array<string | number>> };
} {
  const c = r.check;
  const header = [
    `workload: ${r.counts.ops} ops in ${(r.durationMs / 1000).toFixed(1)} s (${r.opsPerSecond} ops/s), stopped by ${r.stoppedBy}`,
    `target ${r.target} ${r.endpoints.join(', ')}; seed ${r.seed}; keys ${r.keys} as ${r.keyPrefix}<n>; mitigation ${r.mitigation}; database ${r.database}${r.historyFile ? `; history ${r.historyFile}` : ''}`,
    `hit rate ${pct(c.costs.hitRate)}, database reads ${c.costs.dbReads} (${c.costs.dbReadsPerSecond}/s), commits ${r.db.commits}`,
  ].join('\n');
  const opsTable = {
    headers: ['OP', 'COUNT', 'OK', 'FAIL', 'UNKNOWN', 'OPS/S', 'P50 MS', 'P99 MS', 'MAX MS'],
    rows: (['read', 'update', 'cas', 'add', 'slave-write'] as const)
      .filter((op) => c.latency[op])
      .map((op) => {
        const l = c.latency[op]!;
        const o = c.outcomes[op] ?? { ok: 0, fail: 0, unknown: 0 };
        return [op, l.count, o.ok, o.fail, o.unknown, c.throughput[op] ?? 0, l.p50Ms, l.p99Ms, l.maxMs];
      }),
  };
  const checkTable = {
    headers: ['CHECK', 'RESULT', 'VALUE', 'DETAIL'],
    rows: c.verdict.checks.map((k) => [k.name, k.ok === null ? 'not judged' : k.ok ? 'ok' : 'FAILED', k.value, k.message]),
  };
  return { header, opsTable, checkTable };
}
