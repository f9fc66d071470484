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
