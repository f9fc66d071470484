import type { ExerciseResult } from './exercise.js';
import type { ScaleResult } from './scale.js';

/** The human summary of a scale result (the command prints it; --json prints the result itself). */
export function scaleSummaryLines(r: ScaleResult): string[] {
  const pct = (x: number | null): string => (x === null ? 'n/a' : `${(x * 100).toFixed(1)}%`);
  const verb = r.action === 'add' ? 'added' : 'removed';
  return [
    `${r.shard} ${verb}: shards [${r.shardsBefore.join(', ')}] -> [${r.shardsAfter.join(', ')}] at epoch ${r.epoch}`,
    `proxies moved:   ${r.proxies.map((p) => `${p.proxy} ${p.fromEpoch}->${p.toEpoch}`).join(', ')} (within ${r.switchWindowMs} ms, then ${r.drainMs} ms drain)`,
    `keys moved:      ${r.cachedKeys.moved} of ${r.cachedKeys.scanned} cached keys (${pct(r.cachedKeys.movedFraction)}); the ring moves ${pct(r.expectedMovedFraction)} of all keys`,
    `stale-read guard:`,
    ...r.staleGuard.description.map((d) => `  - ${d}`),
    ...(r.staleGuard.skippedKeys ? [`  ! ${r.staleGuard.skippedKeys} binary keys could not be deleted in ASCII and were skipped`] : []),
    `${r.action === 'add' ? 'new' : 'stopped'} pair:      ${r.nodes.map((n) => `${n.name} ${n.address} (link ${n.link})`).join(', ')}`,
  ];
}

/** The human summary of `cachectl scale exercise`. */
export function exerciseSummaryLines(r: ExerciseResult): string[] {
  const pct = (x: number | null): string => (x === null ? 'n/a' : `${(x * 100).toFixed(1)}%`);
  const lines = [
    `workload: ${r.workload.counts.ops} ops in ${(r.workload.durationMs / 1000).toFixed(1)} s (${r.workload.opsPerSecond} ops/s), seed ${r.seed}, stale-read guard ${r.staleGuard ? 'on' : 'OFF (negative control)'}`,
    '',
  ];
  for (const e of r.cost.events) {
    const h = e.hitRate;
    lines.push(`${e.action} ${e.shard} at ${(e.switchStartMs / 1000).toFixed(2)} s${e.epoch !== undefined ? ` (epoch ${e.epoch})` : ''}:`);
    lines.push(`  hit rate   before ${pct(h.before.hitRate)}  during ${pct(h.during.hitRate)}  after ${pct(h.after.hitRate)}  (dip ${h.dip === null ? 'n/a' : `${(Math.abs(h.dip) < 0.0005 ? 0 : h.dip * 100).toFixed(1)} points`}${h.lowestSecond ? `, lowest second ${h.lowestSecond.second}: ${pct(h.lowestSecond.hitRate)}` : ''})`);
    lines.push(`  keys moved ${e.keysMoved.moved} of ${e.keysMoved.keys} (${pct(e.keysMoved.fraction)}; ideal ${pct(e.keysMoved.ideal)})`);
    lines.push(`  db reads caused by the move: ${e.dbReadsCausedByMove.attributable} (first reads of moved keys that missed: ${e.dbReadsCausedByMove.movedFirstReadMisses} of ${e.dbReadsCausedByMove.movedKeysRead}; unmoved keys missed ${pct(e.dbReadsCausedByMove.baselineMissRate)})`);
    lines.push(`  client errors ${e.clientErrors}, stale reads ${e.staleReads} in the change window`);
  }
  lines.push('');
  lines.push(`hit rate per second: ${r.cost.perSecond.map((s) => `${s.event ? '|' : ''}${s.hitRate === null ? '-' : Math.round(s.hitRate * 100)}`).join(' ')}   (| = a change started)`);
  lines.push(`stale reads: ${r.check.staleReads.count} · client errors: ${r.cost.totals.clientErrors} (${r.cost.totals.clientErrorsDuringChanges} during changes) · db reads: ${r.workload.db.reads}`);
  for (const x of r.verdict.expectations) lines.push(`${x.ok ? 'PASS' : 'FAIL'} ${x.name}: ${x.message}`);
  return lines;
}
