import { checkHistory, type CheckReport } from '../checker/check.js';
import type { CachectlConfig } from '../config/schema.js';
import { CachectlError } from '../errors.js';
import { KetamaRing } from '../proxy/ketama.js';
import { loadClusterState, proxyEndpoints } from '../runtime/cluster.js';
import { SqliteSourceOfTruth } from '../workload/database.js';
import { writeHistoryFile } from '../workload/history.js';
import { runWorkload, workloadKeyNames, type Distribution, type SecondStats } from '../workload/runner.js';
import { scanCluster, type FinalScan } from '../workload/scan.js';
import { scaleCost, type ScaleCostReport } from './cost.js';
import { directEndpoint, scaleAdd, scaleRemove, type ScaleOptions, type ScaleResult } from './scale.js';
import { HttpProxyAdmin } from '../chaos/proxy-admin.js';
import type { ClusterState, Endpoint } from '../runtime/types.js';

/**
 * `cachectl scale exercise`: the proof that scaling needs no client restart. A cache-aside CAS
 * workload runs through the proxies while the cluster gains a shard (`scale add`) and then loses
 * one (by default the same one, so its keys return to their old homes: the stale-read hazard).
 * The checker judges the history; the cost report says what the changes cost. The verdict fails
 * on any stale read and on any client error during a change.
 */

export interface ExerciseOptions {
  durationMs: number;
  clients: number;
  keys: number;
  readRatio: number;
  distribution: Distribution;
  valueSize: number;
  seed: number;
  timeoutMs: number;
  /** ms after the start (default 30% of the duration) */
  addAtMs?: number;
  /** ms after the start (default 65%); null = do not remove */
  removeAtMs?: number | null;
  /** the shard to remove (default: the one just added) */
  removeShard?: string;
  /** see ScaleOptions.staleGuard (false = negative control) */
  staleGuard?: boolean;
  drainMs?: number;
  /** "during" window of the cost report */
  windowMs?: number;
  /** write every operation to this file as JSON lines (as `cachectl workload --history`) */
  historyFile?: string;
  onProgress?: (line: string) => void;
  onSecond?: (s: SecondStats) => void;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
}

export interface ExerciseExpectation {
  name: string;
  ok: boolean;
  value: number;
  message: string;
}

export interface ExerciseResult {
  cluster: string;
  historyFile?: string;
  seed: number;
  keyPrefix: string;
  staleGuard: boolean;
  workload: {
    durationMs: number;
    opsPerSecond: number;
    counts: { ops: number; reads: number; updates: number; ok: number; fail: number; unknown: number; hits: number; misses: number };
    db: { reads: number; commits: number };
  };
  changes: ScaleResult[];
  /** a change that failed (the run goes on; the verdict fails) */
  changeErrors: string[];
  cost: ScaleCostReport;
  check: {
    verdict: CheckReport['verdict'];
    staleReads: Omit<CheckReport['staleReads'], 'examples'> & { examples: CheckReport['staleReads']['examples'] };
    divergence: CheckReport['divergence'];
  };
  verdict: { ok: boolean; expectations: ExerciseExpectation[] };
}

function sleepUntil(t0: number, atMs: number, signal?: AbortSignal): Promise<void> {
  const wait = Math.max(0, t0 + atMs - Date.now());
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, wait);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}

/**
 * The final scan of a sharded cluster: each key is read on the master and slave of the shard that
 * owns it under the proxies' current map (a plain master/slave scan would call every key of the
 * other shards missing). Undefined when the cluster runs no proxy.
 */
export async function scanByShard(state: ClusterState, keys: string[], db: SqliteSourceOfTruth, timeoutMs: number): Promise<FinalScan | undefined> {
  const admin = state.components.find((c) => c.kind === 'proxy');
  if (!admin) return undefined;
  const cfg = await new HttpProxyAdmin(admin.name, admin.adminEndpoint as Endpoint, state.adminToken).getConfig();
  const ring = new KetamaRing(cfg.shards.map((s) => ({ name: s.name })));
  const direct = (a: { host: string; port: number }): Endpoint => directEndpoint(state, a);
  const scans: FinalScan[] = [];
  for (const shard of cfg.shards) {
    const mine = keys.filter((k) => ring.serverFor(Buffer.from(k)) === shard.name);
    if (!mine.length) continue;
    scans.push(await scanCluster({ master: direct(shard.master), slave: direct(shard.slave ?? shard.master), keys: mine, database: db, timeoutMs }));
  }
  if (!scans.length) return undefined;
  return {
    scannedAtMs: Math.max(...scans.map((s) => s.scannedAtMs)),
    master: scans.map((s) => s.master).join(','),
    slave: scans.map((s) => s.slave).join(','),
    keys: scans.flatMap((s) => s.keys),
    unreachable: { master: scans.some((s) => s.unreachable.master), slave: scans.some((s) => s.unreachable.slave) },
    errors: { master: scans.find((s) => s.errors.master)?.errors.master, slave: scans.find((s) => s.errors.slave)?.errors.slave },
  };
}

export async function runScaleExercise(config: CachectlConfig, options: ExerciseOptions): Promise<ExerciseResult> {
  const progress = options.onProgress ?? (() => undefined);
  const state = await loadClusterState(config);
  const proxies = proxyEndpoints(state);
  if (proxies.length === 0) {
    throw new CachectlError('USAGE', `cluster "${state.name}" runs no cachectl proxy`, { hint: 'scaling moves proxies; start the cluster with `cachectl up --proxies 1` (or more)' });
  }
  const addAtMs = options.addAtMs ?? Math.round(options.durationMs * 0.3);
  const removeAtMs = options.removeAtMs === undefined ? Math.round(options.durationMs * 0.65) : options.removeAtMs;
  if (addAtMs >= options.durationMs || (removeAtMs !== null && (removeAtMs <= addAtMs || removeAtMs >= options.durationMs))) {
    throw new CachectlError('USAGE', `the changes must happen inside the run, add before remove: duration ${options.durationMs} ms, add at ${addAtMs} ms, remove at ${removeAtMs ?? 'never'} ms`, {
      hint: 'e.g. --duration 12s --add-at 4s --remove-at 8s',
    });
  }
  const scaleOptions: ScaleOptions = { onProgress: progress, env: options.env, staleGuard: options.staleGuard, drainMs: options.drainMs };
  const db = new SqliteSourceOfTruth(':memory:');
  const changes: ScaleResult[] = [];
  const changeErrors: string[] = [];
  try {
    const t0 = Date.now();
    progress(`workload: ${options.clients} clients, ${options.keys} keys, ${options.durationMs} ms, seed ${options.seed}; add at ${addAtMs} ms${removeAtMs !== null ? `, remove at ${removeAtMs} ms` : ''}`);
    const run = runWorkload(
      {
        proxy: proxies,
        clients: options.clients,
        durationMs: options.durationMs,
        keys: options.keys,
        distribution: options.distribution,
        readRatio: options.readRatio,
        valueSize: options.valueSize,
        seed: options.seed,
        mitigation: 'none',
        shortTtlSeconds: 300,
        timeoutMs: options.timeoutMs,
        database: db,
        signal: options.signal,
      },
      { onSecond: options.onSecond },
    );
    const orchestrate = (async (): Promise<void> => {
      await sleepUntil(t0, addAtMs, options.signal);
      if (options.signal?.aborted) return;
      let added: ScaleResult | undefined;
      try {
        added = await scaleAdd(config, scaleOptions);
        changes.push(added);
      } catch (err) {
        changeErrors.push(`scale add: ${(err as Error).message}`);
        return;
      }
      if (removeAtMs === null) return;
      await sleepUntil(t0, removeAtMs, options.signal);
      if (options.signal?.aborted) return;
      try {
        changes.push(await scaleRemove(config, options.removeShard ?? added.shard, scaleOptions));
      } catch (err) {
        changeErrors.push(`scale remove: ${(err as Error).message}`);
      }
    })();
    const [result] = await Promise.all([run, orchestrate]);
    const keyNames = workloadKeyNames(result.keyPrefix, result.keyCount);
    if (options.historyFile) await writeHistoryFile(options.historyFile, result.history.ops, { ...result.history.meta, scaleChanges: changes.map((c) => ({ action: c.action, shard: c.shard, epoch: c.epoch, timeline: c.timeline })) });
    const finalState = await loadClusterState(config);
    const scan = await scanByShard(finalState, keyNames, db, Math.max(500, options.timeoutMs)).catch(() => undefined);
    const check = checkHistory(result.history, scan);
    const cost = scaleCost({
      ops: result.history.ops,
      startedAtMs: result.startedAtMs,
      durationMs: result.durationMs,
      keyNames,
      events: changes,
      check,
      windowMs: options.windowMs,
    });
    const expectations: ExerciseExpectation[] = [
      { name: 'changes-applied', ok: changeErrors.length === 0, value: changeErrors.length, message: changeErrors.length ? changeErrors.join('; ') : `${changes.length} change(s) applied` },
      { name: 'no-stale-reads', ok: check.staleReads.count === 0, value: check.staleReads.count, message: `${check.staleReads.count} stale read(s) in the whole run` },
      { name: 'no-client-errors-during-changes', ok: cost.totals.clientErrorsDuringChanges === 0, value: cost.totals.clientErrorsDuringChanges, message: `${cost.totals.clientErrorsDuringChanges} client error(s) inside change windows (${cost.totals.clientErrors} in the whole run)` },
    ];
    return {
      cluster: state.name,
      ...(options.historyFile ? { historyFile: options.historyFile } : {}),
      seed: options.seed,
      keyPrefix: result.keyPrefix,
      staleGuard: options.staleGuard !== false,
      workload: {
        durationMs: Math.round(result.durationMs),
        opsPerSecond: Math.round(result.opsPerSecond),
        counts: {
          ops: result.counts.ops,
          reads: result.counts.reads,
          updates: result.counts.updates,
          ok: result.counts.ok,
          fail: result.counts.fail,
          unknown: result.counts.unknown,
          hits: result.counts.hits,
          misses: result.counts.misses,
        },
        db: result.db,
      },
      changes,
      changeErrors,
      cost,
      check: { verdict: check.verdict, staleReads: check.staleReads, divergence: check.divergence },
      verdict: { ok: expectations.every((e) => e.ok), expectations },
    };
  } finally {
    db.close();
  }
}
