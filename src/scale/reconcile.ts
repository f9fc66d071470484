import { KetamaRing } from '../proxy/ketama.js';
import type { Endpoint } from '../runtime/types.js';
import { deleteKeys, listKeys } from './node-keys.js';

/**
 * Stale-read guard for topology changes. When a key moves to another shard, its old home keeps
 * the old copy; if the key later moves back (the new shard is removed again), that copy would be
 * served as a hit although the database moved on: a stale read. `reconcile` scans shards, finds the
 * keys that do not belong there under a ring, and deletes them at their source (the abandoned copy)
 * and/or at their home (a copy a half-switched set of proxies may have filled, or an older copy a
 * returning home still holds).
 */

export interface ShardNodes {
  /** shard name as the proxies know it ("shard-2") */
  name: string;
  /** direct memcached endpoints: master first, then the slave when there is one */
  nodes: Endpoint[];
}

export interface ReconcileOptions {
  /** delete misplaced keys on the scanned shard (the abandoned copies) */
  atSource: boolean;
  /** delete misplaced keys on the shard the ring says they belong to */
  atHome: boolean;
  timeoutMs?: number;
}

export interface ReconcileShardReport {
  shard: string;
  /** keys the shard's master held */
  scanned: number;
  /** of those, keys whose home under the ring is another shard */
  misplaced: number;
  /** misplaced keys on any of its nodes (master or slave), deleted there when atSource */
  deletedHere: number;
}

export interface ReconcileReport {
  scanned: number;
  misplaced: number;
  deletedAtSource: number;
  deletedAtHome: number;
  /** keys that could not be sent as ASCII commands (binary keys with spaces/control bytes) */
  skipped: number;
  shards: ReconcileShardReport[];
}

export async function reconcile(ring: KetamaRing, all: readonly ShardNodes[], scan: readonly string[], options: ReconcileOptions): Promise<ReconcileReport> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const byName = new Map(all.map((s) => [s.name, s]));
  const report: ReconcileReport = { scanned: 0, misplaced: 0, deletedAtSource: 0, deletedAtHome: 0, skipped: 0, shards: [] };
  const skipped = new Set<string>();
  for (const name of scan) {
    const shard = byName.get(name);
    if (!shard) continue;
    const perNode = await Promise.all(shard.nodes.map((n) => listKeys(n, timeoutMs)));
    const homeOf = (k: string): string => ring.serverFor(Buffer.from(k, 'latin1'));
    const masterMisplaced = (perNode[0] ?? []).filter((k) => homeOf(k) !== name);
    const union = new Set<string>();
    for (const keys of perNode) for (const k of keys) if (homeOf(k) !== name) union.add(k);
    const misplaced = [...union];
    let deletedHere = 0;
    if (options.atSource && misplaced.length) {
      const results = await Promise.all(shard.nodes.map((n) => deleteKeys(n, misplaced, timeoutMs)));
      for (const r of results) r.skipped.forEach((k) => skipped.add(k));
      deletedHere = misplaced.length;
    }
    if (options.atHome && misplaced.length) {
      const byHome = new Map<string, string[]>();
      for (const k of misplaced) {
        const home = homeOf(k);
        const list = byHome.get(home);
        if (list) list.push(k);
        else byHome.set(home, [k]);
      }
      for (const [home, keys] of byHome) {
        const target = byName.get(home);
        if (!target) continue;
        const results = await Promise.all(target.nodes.map((n) => deleteKeys(n, keys, timeoutMs)));
        for (const r of results) r.skipped.forEach((k) => skipped.add(k));
        report.deletedAtHome += keys.length;
      }
    }
    report.scanned += perNode[0]?.length ?? 0;
    report.misplaced += masterMisplaced.length;
    report.deletedAtSource += deletedHere;
    report.shards.push({ shard: name, scanned: perNode[0]?.length ?? 0, misplaced: masterMisplaced.length, deletedHere });
  }
  report.skipped = skipped.size;
  return report;
}
