import { MemjsCacheClient, endpointText } from '../client/memjs-client.js';
import { KetamaRing } from '../proxy/ketama.js';
import type { CacheClient } from '../client/types.js';
import type { Endpoint } from '../runtime/types.js';
import { openSourceOfTruth, type SourceOfTruth } from './database.js';
import { decodeValue } from './value.js';

/**
 * The final scan: what master, slave and database each hold for every key, read directly
 * (not through the proxy). The checker judges divergence and acknowledged writes from it.
 */

/** A cache node's view of a key: its version, or why there is none. */
export type NodeVersion = number | 'missing' | 'unreachable' | 'corrupt';

export interface ScannedKey {
  key: string;
  master: NodeVersion;
  slave: NodeVersion;
  /** database version (0 = never written); absent when no database was given */
  db?: number;
}

export interface FinalScan {
  /** wall-clock ms when the scan finished */
  scannedAtMs: number;
  master: string;
  slave: string;
  keys: ScannedKey[];
  /** per node: nothing answered at all (the node was down for the whole scan) */
  unreachable: { master: boolean; slave: boolean };
  /** first error per node, to tell the user why */
  errors: { master?: string; slave?: string };
}

export interface ScanOptions {
  master: Endpoint;
  slave: Endpoint;
  keys: readonly string[];
  database?: string | SourceOfTruth;
  timeoutMs?: number;
  /** requests in flight per node (default 32) */
  concurrency?: number;
  /** after this many consecutive failures a node counts as unreachable for the rest of the scan (default 3) */
  giveUpAfterFailures?: number;
  clientFactory?: (endpoint: Endpoint, timeoutMs: number) => CacheClient;
}

async function scanNode(client: CacheClient, keys: readonly string[], concurrency: number, giveUpAfter: number): Promise<{ versions: NodeVersion[]; anyAnswer: boolean; firstError?: string }> {
  const versions: NodeVersion[] = new Array(keys.length).fill('unreachable');
  let next = 0;
  let consecutiveFailures = 0;
  let anyAnswer = false;
  let firstError: string | undefined;
  const worker = async (): Promise<void> => {
    while (next < keys.length && consecutiveFailures < giveUpAfter) {
      const i = next++;
      try {
        const item = await client.get(keys[i]);
        anyAnswer = true;
        consecutiveFailures = 0;
        if (!item) versions[i] = 'missing';
        else {
          const decoded = decodeValue(keys[i], item.value);
          versions[i] = decoded.ok ? decoded.version : 'corrupt';
        }
      } catch (err) {
        consecutiveFailures++;
        firstError ??= err instanceof Error ? err.message : String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, keys.length)) }, worker));
  return { versions, anyAnswer, firstError };
}

export async function scanCluster(options: ScanOptions): Promise<FinalScan> {
  const timeoutMs = options.timeoutMs ?? 1000;
  const factory = options.clientFactory ?? ((e: Endpoint, t: number) => new MemjsCacheClient(e, { timeoutMs: t }));
  const master = factory(options.master, timeoutMs);
  const slave = factory(options.slave, timeoutMs);
  const concurrency = options.concurrency ?? 32;
  const giveUp = options.giveUpAfterFailures ?? 3;
  try {
    const [m, s] = await Promise.all([scanNode(master, options.keys, concurrency, giveUp), scanNode(slave, options.keys, concurrency, giveUp)]);
    let dbVersions: Map<string, { version: number }> | undefined;
    if (options.database !== undefined) {
      const { db, owned } = openSourceOfTruth(options.database);
      try {
        dbVersions = db.readMany(options.keys);
      } finally {
        if (owned) db.close();
      }
    }
    const keys: ScannedKey[] = options.keys.map((key, i) => {
      const row: ScannedKey = { key, master: m.versions[i], slave: s.versions[i] };
      if (dbVersions) row.db = dbVersions.get(key)?.version ?? 0;
      return row;
    });
    const errors: FinalScan['errors'] = {};
    if (m.firstError) errors.master = m.firstError;
    if (s.firstError) errors.slave = s.firstError;
    return {
      scannedAtMs: Date.now(),
      master: endpointText(options.master),
      slave: endpointText(options.slave),
      keys,
      unreachable: { master: !m.anyAnswer && options.keys.length > 0, slave: !s.anyAnswer && options.keys.length > 0 },
      errors,
    };
  } finally {
    await Promise.all([master.close(), slave.close()]);
  }
}

/** One master/slave pair and the name the proxies' ketama ring knows it by. */
export interface ShardNodes {
  name: string;
  master: Endpoint;
  /** null: no replica (the master is scanned in its place, so the pair reads as consistent) */
  slave: Endpoint | null;
}

/**
 * The final scan of a sharded cluster: every key is read on the pair that owns it under the
 * proxies' ketama map (a plain master/slave scan would call every key of the other shards
 * missing). Keys come back in the order given; one shard is a plain scanCluster.
 */
export async function scanShards(options: Omit<ScanOptions, 'master' | 'slave'> & { shards: readonly ShardNodes[] }): Promise<FinalScan> {
  const { shards, keys, ...rest } = options;
  if (shards.length === 0) throw new RangeError('scanShards needs at least one shard');
  if (shards.length === 1) return scanCluster({ ...rest, keys, master: shards[0].master, slave: shards[0].slave ?? shards[0].master });
  const ring = new KetamaRing(shards.map((s) => ({ name: s.name })));
  const owned: string[][] = shards.map(() => []);
  for (const key of keys) owned[ring.indexFor(key)].push(key);
  const scans = await Promise.all(
    shards.map((s, i) => (owned[i].length ? scanCluster({ ...rest, keys: owned[i], master: s.master, slave: s.slave ?? s.master }) : undefined)),
  );
  const byKey = new Map<string, ScannedKey>();
  for (const scan of scans) for (const row of scan?.keys ?? []) byKey.set(row.key, row);
  const used = scans.filter((s): s is FinalScan => s !== undefined);
  return {
    scannedAtMs: Math.max(...used.map((s) => s.scannedAtMs)),
    master: used.map((s) => s.master).join(','),
    slave: used.map((s) => s.slave).join(','),
    keys: keys.map((key) => byKey.get(key) ?? { key, master: 'unreachable', slave: 'unreachable' }),
    // a node counts as unreachable when any shard's node answered nothing
    unreachable: { master: used.some((s) => s.unreachable.master), slave: used.some((s) => s.unreachable.slave) },
    errors: { master: used.find((s) => s.errors.master)?.errors.master, slave: used.find((s) => s.errors.slave)?.errors.slave },
  };
}
