import { existsSync } from 'node:fs';
import type { CachectlConfig } from '../config/schema.js';
import { endpointText } from '../client/memjs-client.js';
import { checkHistory, type CheckReport } from '../checker/check.js';
import { summarizeDivergence, type DivergenceReport } from '../checker/divergence.js';
import { CachectlError, usageError } from '../errors.js';
import { loadClusterState, memcachedNode, parseEndpoint, proxyEndpoints, toxiproxyLink } from '../runtime/cluster.js';
import type { ClusterState, Endpoint } from '../runtime/types.js';
import { SqliteSourceOfTruth } from './database.js';
import { readHistoryFile, writeHistoryFile, type HistoryMeta, type HistoryOp } from './history.js';
import { runWorkload, workloadKeyNames, type ClientMitigation, type SecondStats, type StopReason, type WorkloadOptions } from './runner.js';
import { scanShards, type FinalScan, type ShardNodes } from './scan.js';
import { HttpProxyAdmin } from '../chaos/proxy-admin.js';

/**
 * What `cachectl workload` and `cachectl check` call: resolve where things are (the running
 * cluster's state file, or explicit addresses), run, scan, judge, and return plain results.
 */

/** "10s", "500ms", "2m", "1h", or a bare number of seconds -> ms. */
export function parseDurationMs(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (!m) throw usageError(`cannot read duration ${JSON.stringify(text)}`, 'write it like 10s, 500ms, 2m or 1h');
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const ms = unit === 'ms' ? n : unit === 's' ? n * 1000 : unit === 'm' ? n * 60_000 : n * 3600_000;
  if (!(ms >= 1)) throw usageError(`duration ${JSON.stringify(text)} is too short`, 'use at least 1ms');
  return Math.round(ms);
}

/** The workload knobs are the runner's own (one definition, documented in WorkloadOptions). */
type WorkloadKnobs = Pick<
  WorkloadOptions,
  'clients' | 'durationMs' | 'ops' | 'keys' | 'keyPrefix' | 'distribution' | 'readRatio' | 'valueSize' | 'seed' | 'mitigation' | 'shortTtlSeconds' | 'timeoutMs' | 'opsPerSecond' | 'signal'
>;

export interface WorkloadCommandInput extends WorkloadKnobs {
  /** the loaded config: used to find the running cluster unless `servers` is given */
  config: CachectlConfig;
  /** explicit addresses instead of the cluster ("host:port") */
  servers?: string[];
  /** proxy (default) or master: what the clients talk to when using the cluster */
  target: 'proxy' | 'master';
  db?: string;
  historyFile?: string;
}

export interface WorkloadCommandResult {
  seed: number;
  keyPrefix: string;
  keys: number;
  target: string;
  endpoints: string[];
  slave?: string;
  mitigation: ClientMitigation;
  database: string;
  historyFile?: string;
  stoppedBy: StopReason;
  durationMs: number;
  opsPerSecond: number;
  counts: { ops: number; reads: number; updates: number; ok: number; fail: number; unknown: number; hits: number; misses: number; cacheWrites: number; slaveWrites: number };
  db: { reads: number; commits: number };
  /** what the final scan read (comma-separated per shard) */
  scan: { master: string; slave: string; keys: number; note?: string };
  check: CheckReport;
}

interface ResolvedTargets {
  endpoints: Endpoint[];
  target: 'proxy' | 'master' | 'servers';
  slaveDirect?: Endpoint;
  /** the pairs the final scan reads, directly (not through Toxiproxy) */
  scanShards: ShardNodes[];
  scanNote?: string;
}

/**
 * The master/slave pairs to scan, as the proxies route right now (after a manual switch or a
 * scale change the roles and shards differ from what `up` started), read directly: a Toxiproxy
 * listener in the proxy config is replaced by the node behind it, so a cut-off link still scans.
 */
export async function clusterScanShards(state: ClusterState): Promise<ShardNodes[]> {
  const direct = (a: Endpoint): Endpoint => state.toxiproxy.links.find((l) => l.listen.port === a.port && l.listen.host === a.host)?.upstream ?? a;
  const admin = state.components.find((c) => c.kind === 'proxy' && c.adminEndpoint);
  if (admin?.adminEndpoint) {
    try {
      const cfg = await new HttpProxyAdmin(admin.name, admin.adminEndpoint, state.adminToken).getConfig();
      return cfg.shards.map((s) => ({ name: s.name, master: direct(s.master), slave: s.slave ? direct(s.slave) : null }));
    } catch (err) {
      if (state.config.shards > 1) {
        throw new CachectlError('DEPENDENCY_UNREACHABLE', `cannot read the shard map from ${admin.name}: ${(err as Error).message}`, {
          hint: 'the scan of a sharded cluster needs a running proxy (see `cachectl status`)',
        });
      }
    }
  }
  return [{ name: 'shard-0', master: memcachedNode(state, 'master').endpoint, slave: memcachedNode(state, 'slave').endpoint }];
}

async function resolveTargets(input: WorkloadCommandInput): Promise<ResolvedTargets> {
  if (input.servers && input.servers.length > 0) {
    const endpoints = input.servers.map(parseEndpoint);
    return {
      endpoints,
      target: 'servers',
      scanShards: [{ name: 'server', master: endpoints[0], slave: null }],
      scanNote: 'explicit --servers: the final scan reads the first server only (no slave known), so divergence is not meaningful',
    };
  }
  const state = await loadClusterState(input.config);
  const master = memcachedNode(state, 'master').endpoint;
  const slave = memcachedNode(state, 'slave').endpoint;
  let slaveDirect = slave;
  try {
    // Through the slave's Toxiproxy link when there is one, so slave faults hit these writes too.
    slaveDirect = toxiproxyLink(state, 'slave').listen;
  } catch {
    // no link: talk to the node itself
  }
  if (input.target === 'master') return { endpoints: [master], target: 'master', slaveDirect, scanShards: [{ name: 'shard-0', master, slave }] };
  const proxies = proxyEndpoints(state);
  if (proxies.length === 0) {
    throw new CachectlError('USAGE', `cluster "${state.name}" runs no cachectl proxy`, {
      hint: 'start it with `cachectl up --proxies 1`, or run against memcached directly with --target master',
    });
  }
  return { endpoints: proxies, target: 'proxy', slaveDirect, scanShards: await clusterScanShards(state) };
}

export async function runWorkloadCommand(input: WorkloadCommandInput, hooks: { onSecond?(s: SecondStats): void } = {}): Promise<WorkloadCommandResult> {
  if (input.mitigation === 'client-short-ttl' && input.servers?.length) {
    throw usageError('client-short-ttl needs the slave, which --servers does not name', 'run against the cluster (leave out --servers)');
  }
  const targets = await resolveTargets(input);
  const db = new SqliteSourceOfTruth(input.db ?? ':memory:');
  try {
    const result = await runWorkload(
      {
        proxy: targets.endpoints,
        target: targets.target === 'servers' ? 'server' : targets.target,
        slaveDirect: targets.slaveDirect,
        clients: input.clients,
        durationMs: input.durationMs,
        ops: input.ops,
        keys: input.keys,
        keyPrefix: input.keyPrefix,
        distribution: input.distribution,
        readRatio: input.readRatio,
        valueSize: input.valueSize,
        seed: input.seed,
        mitigation: input.mitigation,
        shortTtlSeconds: input.shortTtlSeconds,
        timeoutMs: input.timeoutMs,
        database: db,
        opsPerSecond: input.opsPerSecond,
        signal: input.signal,
      },
      hooks,
    );
    if (input.historyFile) await writeHistoryFile(input.historyFile, result.history.ops, { ...result.history.meta, database: input.db ?? ':memory:' });
    const scan = await scanShards({ shards: targets.scanShards, keys: workloadKeyNames(result.keyPrefix, result.keyCount), database: db, timeoutMs: Math.max(500, input.timeoutMs) });
    const scanInfo = { master: scan.master, slave: scan.slave, keys: scan.keys.length, ...(targets.scanNote ? { note: targets.scanNote } : {}) };
    const check = checkHistory(result.history, scan);
    return {
      seed: result.seed,
      keyPrefix: result.keyPrefix,
      keys: result.keyCount,
      target: targets.target,
      endpoints: targets.endpoints.map(endpointText),
      ...(input.mitigation === 'client-short-ttl' && targets.slaveDirect ? { slave: endpointText(targets.slaveDirect) } : {}),
      mitigation: input.mitigation,
      database: input.db ?? ':memory:',
      ...(input.historyFile ? { historyFile: input.historyFile } : {}),
      stoppedBy: result.stoppedBy,
      durationMs: Math.round(result.durationMs),
      opsPerSecond: Math.round(result.opsPerSecond),
      counts: result.counts,
      db: result.db,
      scan: scanInfo,
      check,
    };
  } finally {
    db.close();
  }
}

export interface CheckCommandInput {
  config: CachectlConfig;
  master?: string;
  slave?: string;
  /** key count: keys are `${prefix}0..N-1` */
  keys?: number;
  prefix?: string;
  db?: string;
  /** a history written by `cachectl workload --history`: judge it too (its keys are the range) */
  history?: string;
  /** with a history: skip the scan of master and slave (judge the history alone) */
  noScan?: boolean;
  maxDivergent: number;
  timeoutMs: number;
}

export interface CheckCommandResult {
  master?: string;
  slave?: string;
  database?: string;
  prefix: string;
  keys: number;
  maxDivergent: number;
  withinBudget: boolean;
  /** absent when the scan was skipped (--history with --no-scan) */
  divergence?: DivergenceReport;
  /** with --history: the checker's full report on it (and on the scan) */
  history?: { file: string; ops: number; report: CheckReport };
  /** why the result is not within budget, one line each */
  failures: string[];
}

async function checkShards(input: CheckCommandInput): Promise<ShardNodes[]> {
  if (input.master || input.slave) {
    if (!input.master || !input.slave) throw usageError('give both --master and --slave, or neither (to use the running cluster)', 'e.g. --master 127.0.0.1:11311 --slave 127.0.0.1:11312');
    return [{ name: 'shard-0', master: parseEndpoint(input.master), slave: parseEndpoint(input.slave) }];
  }
  return clusterScanShards(await loadClusterState(input.config));
}

export async function runCheckCommand(input: CheckCommandInput): Promise<CheckCommandResult> {
  if (!Number.isInteger(input.maxDivergent) || input.maxDivergent < 0) throw usageError(`--max-divergent must be a whole number >= 0, got ${input.maxDivergent}`, 'pass e.g. --max-divergent 0');
  if (input.noScan && !input.history) throw usageError('--no-scan only makes sense with --history', 'pass --history FILE, or drop --no-scan');
  let prefix = input.prefix ?? '';
  let keys: string[];
  let history: { meta: HistoryMeta; ops: HistoryOp[] } | undefined;
  if (input.history) {
    history = await readHistoryFile(input.history);
    const metaPrefix = typeof history.meta.keyPrefix === 'string' ? history.meta.keyPrefix : undefined;
    const metaKeys = typeof history.meta.keys === 'number' ? history.meta.keys : undefined;
    if (input.keys !== undefined) keys = workloadKeyNames(input.prefix ?? metaPrefix ?? '', input.keys);
    else if (metaPrefix !== undefined && metaKeys !== undefined) keys = workloadKeyNames(metaPrefix, metaKeys);
    else keys = [...new Set(history.ops.map((o) => o.key))].sort();
    prefix = input.prefix ?? metaPrefix ?? '';
    // compare against the database the history was recorded with, when it was a file that still exists
    const metaDb = history.meta.database;
    if (!input.db && typeof metaDb === 'string' && metaDb !== ':memory:' && metaDb !== 'instance' && existsSync(metaDb)) input = { ...input, db: metaDb };
  } else if (input.keys !== undefined) {
    if (!Number.isInteger(input.keys) || input.keys < 1 || input.keys > 10_000_000) throw usageError(`--keys must be 1..10000000, got ${input.keys}`, 'pass the key count the workload used, e.g. --keys 1000');
    if (!input.prefix) throw usageError('--keys needs the key --prefix the workload printed (e.g. wl:1a2b3c4d:)', 'pass --prefix, or --db FILE to check every key the database knows');
    keys = workloadKeyNames(prefix, input.keys);
  } else if (input.db) {
    const db = new SqliteSourceOfTruth(input.db);
    try {
      keys = db.keys(prefix);
    } finally {
      db.close();
    }
    if (keys.length === 0) throw usageError(`the database ${input.db} has no keys${prefix ? ` under the prefix ${JSON.stringify(prefix)}` : ''}`, 'check the --db path and --prefix');
  } else {
    throw usageError('say which keys to check', 'pass --prefix P --keys N (as the workload printed), --db FILE to check every key in the database, or --history FILE');
  }

  let scan: FinalScan | undefined;
  if (!input.noScan) {
    scan = await scanShards({ shards: await checkShards(input), keys, database: input.db, timeoutMs: input.timeoutMs });
    for (const role of ['master', 'slave'] as const) {
      if (scan.unreachable[role]) {
        throw new CachectlError('DEPENDENCY_UNREACHABLE', `the ${role} at ${scan[role]} did not answer: ${scan.errors[role] ?? 'no reply'}`, {
          hint: input.history ? 'check `cachectl status`, or judge the history alone with --no-scan' : 'check `cachectl status`; divergence cannot be judged while a node is down',
          details: { role, endpoint: scan[role] },
        });
      }
    }
  }
  const divergence = scan ? summarizeDivergence(scan) : undefined;
  const failures: string[] = [];
  if (divergence && divergence.divergent > input.maxDivergent) failures.push(`${divergence.divergent} divergent keys, budget ${input.maxDivergent}`);
  if (divergence && divergence.unreachable > 0) failures.push(`${divergence.unreachable} keys could not be read`);
  let historyResult: CheckCommandResult['history'];
  if (history && input.history) {
    const report = checkHistory(history.ops, scan);
    historyResult = { file: input.history, ops: history.ops.length, report };
    // divergence is judged against the budget above; every other check must pass
    for (const c of report.verdict.checks) if (c.ok === false && c.name !== 'divergence') failures.push(`${c.name}: ${c.message}`);
  }
  return {
    ...(scan ? { master: scan.master, slave: scan.slave } : {}),
    ...(input.db ? { database: input.db } : {}),
    prefix,
    keys: keys.length,
    maxDivergent: input.maxDivergent,
    withinBudget: failures.length === 0,
    ...(divergence ? { divergence } : {}),
    ...(historyResult ? { history: historyResult } : {}),
    failures,
  };
}
