import type { HistoryOp, OpType } from '../workload/history.js';
import type { FinalScan, NodeVersion } from '../workload/scan.js';
import { summarizeDivergence, type DivergenceReport } from './divergence.js';
import { NumberList, percentileSorted, round, summarizeLatencies, type LatencySummary } from './stats.js';

/**
 * The consistency checker (DESIGN.md section 5). Input: a workload history and, optionally, the
 * final scan of master, slave and database. Output: a JSON-serialisable report with a verdict,
 * every number behind it, and the operations and keys that prove each anomaly.
 *
 * Stale read: a cache read returned version v although an update of that key with a version > v
 * had completed (database commit AND the writer's cache write, successful or not) before the read
 * began. Counting from the bare database commit instead would flag the window every cache-aside
 * writer has between its commit and its cache write, so fault-free runs would never be clean; reads
 * in that window are reported separately as `inWriteWindow` (not an anomaly).
 * Lost update: two CAS STORED from the same token on the same item version.
 * Acknowledged write missing: a cache write the master acknowledged (CAS or add STORED) whose version
 * the master no longer holds (nor a newer one) at the end.
 */

export interface CheckOptions {
  /** how many proving examples to list per anomaly (default 20) */
  maxExamples?: number;
}

export interface StaleReadProof {
  read: HistoryOp;
  /** the completed update that made the returned version obsolete (the newest one before the read began) */
  newerUpdate: { id: number; client: number; version: number; commitAt: number; complete: number; outcome: string; cacheResult?: string };
  /** ms between the database commit of the first newer version and the read's start */
  ageMs: number;
  /** newest completed version before the read began minus the version read */
  versionsBehind: number;
}

export interface LostUpdateProof {
  key: string;
  token: string;
  baseVersion?: number;
  /** the CAS operations that all got STORED with that token */
  ops: HistoryOp[];
}

export interface MissingWriteProof {
  key: string;
  ackedVersion: number;
  ack: HistoryOp;
  master: NodeVersion;
}

export interface CheckResult {
  name: 'stale-reads' | 'lost-updates' | 'missing-acked-writes' | 'divergence' | 'corrupt-reads' | 'impossible-reads';
  /** null when it could not be judged (e.g. no final scan) */
  ok: boolean | null;
  value: number;
  message: string;
}

export interface PerSecond {
  /** second since the run started: ops completing in [second, second+1) s */
  second: number;
  ops: number;
  reads: number;
  updates: number;
  cacheWrites: number;
  slaveWrites: number;
  ok: number;
  fails: number;
  unknowns: number;
  staleReads: number;
  hits: number;
  misses: number;
  hitRate: number | null;
  dbReads: number;
  readP50Ms: number;
  readP99Ms: number;
  updateP50Ms: number;
  updateP99Ms: number;
}

export interface CheckReport {
  verdict: { ok: boolean; summary: string; checks: CheckResult[] };
  totals: {
    ops: number;
    reads: number;
    updates: number;
    cacheWrites: number;
    slaveWrites: number;
    ok: number;
    fail: number;
    unknown: number;
    durationMs: number;
    /** logical ops (reads + updates) per second */
    opsPerSecond: number;
    keysTouched: number;
  };
  staleReads: {
    count: number;
    /** of cache-served reads */
    rate: number;
    cacheReads: number;
    maxAgeMs: number;
    p50AgeMs: number;
    p99AgeMs: number;
    maxVersionsBehind: number;
    meanVersionsBehind: number;
    keys: number;
    /** reads that returned an older version while a newer one was committed but its writer had not finished: inherent to cache-aside, not counted */
    inWriteWindow: number;
    examples: StaleReadProof[];
  };
  lostUpdates: { count: number; casStored: number; examples: LostUpdateProof[] };
  missingAckedWrites: { judged: boolean; count: number; keysJudged: number; keysUnjudged: number; examples: MissingWriteProof[] };
  divergence: (DivergenceReport & { judged: true }) | { judged: false };
  corruptReads: { count: number; examples: HistoryOp[] };
  impossibleReads: { count: number; examples: Array<{ read: HistoryOp; newestKnownVersion: number }> };
  costs: {
    hits: number;
    misses: number;
    cacheErrors: number;
    hitRate: number | null;
    dbReads: number;
    dbReadsPerSecond: number;
    dbCommits: number;
  };
  outcomes: Record<string, { ok: number; fail: number; unknown: number }>;
  latency: Partial<Record<OpType, LatencySummary>>;
  throughput: Partial<Record<OpType, number>>;
  perSecond: PerSecond[];
}

/** One key's updates, indexed for the stale-read sweep (typed arrays: no property loads in the hot loop). */
interface KeyUpdates {
  /** updates sorted by completion */
  byComplete: HistoryOp[];
  completeAt: Float64Array;
  /** newest version among byComplete[0..i], and where it is */
  prefixMaxVersion: Float64Array;
  prefixMaxIndex: Int32Array;
  /** database commit times, ascending, and the newest version committed up to each */
  commitAt: Float64Array;
  prefixMaxCommitted: Float64Array;
  /** versions ascending, and the earliest commit of that version or any newer one */
  versions: Float64Array;
  suffixMinCommit: Float64Array;
  /** the first version this history committed: older ones existed before the run */
  firstVersion: number;
}

/** The per-second series covers at most this many seconds (runs are capped far below it). */
const MAX_SERIES_SECONDS = 1_000_000;

/** One key's cache-served reads, unpacked into typed arrays during the first pass (sequential memory). */
class KeyReads {
  readonly ops: HistoryOp[] = [];
  readonly invoke = new NumberList(8);
  readonly complete = new NumberList(8);
  readonly version = new NumberList(8);
  add(op: HistoryOp): void {
    this.ops.push(op);
    this.invoke.push(op.invoke);
    this.complete.push(op.complete);
    this.version.push(op.version as number);
  }
}

/** Index of the last element < x in an ascending array; -1 if none. */
function lastBelow(arr: Float64Array, x: number): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

const commitTime = (u: HistoryOp): number => u.commitAt ?? u.invoke;

function indexUpdates(updates: HistoryOp[]): KeyUpdates {
  const n = updates.length;
  // Histories are recorded at completion, so these sorts mostly see sorted input (cheap).
  const byComplete = updates.slice().sort((a, b) => a.complete - b.complete);
  const completeAt = new Float64Array(n);
  const prefixMaxVersion = new Float64Array(n);
  const prefixMaxIndex = new Int32Array(n);
  let best = -1;
  let bestIdx = -1;
  for (let i = 0; i < n; i++) {
    const u = byComplete[i];
    completeAt[i] = u.complete;
    const v = u.version ?? -1;
    if (v > best) {
      best = v;
      bestIdx = i;
    }
    prefixMaxVersion[i] = best;
    prefixMaxIndex[i] = bestIdx;
  }
  const pairs = updates.map((u): [number, number] => [commitTime(u), u.version ?? -1]);
  const byCommit = pairs.slice().sort((a, b) => a[0] - b[0]);
  const commitAt = new Float64Array(n);
  const prefixMaxCommitted = new Float64Array(n);
  best = -1;
  for (let i = 0; i < n; i++) {
    commitAt[i] = byCommit[i][0];
    best = Math.max(best, byCommit[i][1]);
    prefixMaxCommitted[i] = best;
  }
  const byVersion = pairs.sort((a, b) => a[1] - b[1]);
  const versions = new Float64Array(n);
  const suffixMinCommit = new Float64Array(n);
  let min = Infinity;
  for (let i = n - 1; i >= 0; i--) {
    versions[i] = byVersion[i][1];
    min = Math.min(min, byVersion[i][0]);
    suffixMinCommit[i] = min;
  }
  return { byComplete, completeAt, prefixMaxVersion, prefixMaxIndex, commitAt, prefixMaxCommitted, versions, suffixMinCommit, firstVersion: n ? versions[0] : 0 };
}

function emptyBucket(second: number): PerSecond & { readLat: NumberList; updateLat: NumberList } {
  return {
    second,
    ops: 0,
    reads: 0,
    updates: 0,
    cacheWrites: 0,
    slaveWrites: 0,
    ok: 0,
    fails: 0,
    unknowns: 0,
    staleReads: 0,
    hits: 0,
    misses: 0,
    hitRate: null,
    dbReads: 0,
    readP50Ms: 0,
    readP99Ms: 0,
    updateP50Ms: 0,
    updateP99Ms: 0,
    readLat: new NumberList(256),
    updateLat: new NumberList(64),
  };
}

export function checkHistory(history: readonly HistoryOp[] | { ops: readonly HistoryOp[] }, finalScan?: FinalScan, options: CheckOptions = {}): CheckReport {
  const ops: readonly HistoryOp[] = Array.isArray(history) ? history : (history as { ops: readonly HistoryOp[] }).ops;
  const maxExamples = options.maxExamples ?? 20;

  // ---- one pass: group by key, outcomes, latencies, per-second counts ----
  const updatesByKey = new Map<string, HistoryOp[]>();
  const cacheReadsByKey = new Map<string, KeyReads>();
  const latencies: Partial<Record<OpType, NumberList>> = {};
  const outcomes: Record<string, { ok: number; fail: number; unknown: number }> = {};
  const buckets: Array<ReturnType<typeof emptyBucket>> = [];
  const bucket = (t: number): ReturnType<typeof emptyBucket> => {
    // clamped: a garbage timestamp must not allocate millions of empty seconds
    const s = Math.min(MAX_SERIES_SECONDS, Math.max(0, Math.floor(t / 1000) || 0));
    for (let i = buckets.length; i <= s; i++) buckets.push(emptyBucket(i));
    return buckets[s];
  };
  // key -> token -> the CAS writes STORED with it (nested maps: no string building per op)
  const casStored = new Map<string, Map<string, HistoryOp[]>>();
  const ackedMaxByKey = new Map<string, HistoryOp>();
  const corrupt: HistoryOp[] = [];
  const keys = new Set<string>();
  let corruptCount = 0;
  let start = Infinity;
  let end = -Infinity;
  let reads = 0;
  let updates = 0;
  let cacheWrites = 0;
  let slaveWrites = 0;
  let hits = 0;
  let misses = 0;
  let cacheErrors = 0;
  let dbReads = 0;
  let casStoredCount = 0;
  const totalOutcomes = { ok: 0, fail: 0, unknown: 0 };
  // Reads and updates are the logical ops: counted in the totals and in their second's outcome tally.
  const countLogicalOp = (b: ReturnType<typeof emptyBucket>, outcome: HistoryOp['outcome']): void => {
    totalOutcomes[outcome]++;
    b.ops++;
    if (outcome === 'ok') b.ok++;
    else if (outcome === 'fail') b.fails++;
    else b.unknowns++;
  };

  for (const op of ops) {
    keys.add(op.key);
    if (op.invoke < start) start = op.invoke;
    if (op.complete > end) end = op.complete;
    const o = (outcomes[op.op] ??= { ok: 0, fail: 0, unknown: 0 });
    o[op.outcome]++;
    const latency = op.complete - op.invoke;
    (latencies[op.op] ??= new NumberList(1024)).push(latency);
    const b = bucket(op.complete);
    switch (op.op) {
      case 'read': {
        reads++;
        countLogicalOp(b, op.outcome);
        b.reads++;
        b.readLat.push(latency);
        if (op.dbRead) {
          dbReads++;
          b.dbReads++;
        }
        if (op.source === 'cache') {
          hits++;
          b.hits++;
          if (op.corrupt) {
            corruptCount++;
            if (corrupt.length < maxExamples) corrupt.push(op);
          } else if (op.version !== undefined) {
            let reads = cacheReadsByKey.get(op.key);
            if (!reads) cacheReadsByKey.set(op.key, (reads = new KeyReads()));
            reads.add(op);
          }
        } else if (op.outcome === 'ok') {
          misses++;
          b.misses++;
        } else cacheErrors++;
        break;
      }
      case 'update': {
        updates++;
        countLogicalOp(b, op.outcome);
        b.updates++;
        b.updateLat.push(latency);
        let list = updatesByKey.get(op.key);
        if (!list) updatesByKey.set(op.key, (list = []));
        list.push(op);
        break;
      }
      case 'cas':
      case 'add': {
        cacheWrites++;
        b.cacheWrites++;
        if (op.outcome === 'unknown') b.unknowns++;
        if (op.outcome === 'ok' && op.reply === 'stored' && op.node !== 'slave' && op.version !== undefined) {
          const prev = ackedMaxByKey.get(op.key);
          if (!prev || (prev.version ?? -1) < op.version) ackedMaxByKey.set(op.key, op);
          if (op.op === 'cas' && op.token !== undefined) {
            casStoredCount++;
            let byToken = casStored.get(op.key);
            if (!byToken) casStored.set(op.key, (byToken = new Map()));
            const group = byToken.get(op.token);
            if (group) group.push(op);
            else byToken.set(op.token, [op]);
          }
        }
        break;
      }
      case 'slave-write':
        slaveWrites++;
        b.slaveWrites++;
        break;
    }
  }
  if (ops.length === 0) {
    start = 0;
    end = 0;
  }
  const durationMs = Math.max(0, end - start);
  const durationS = durationMs / 1000;

  // ---- stale reads, impossible reads ----
  const staleExamples: StaleReadProof[] = [];
  const impossibleExamples: Array<{ read: HistoryOp; newestKnownVersion: number }> = [];
  let staleCount = 0;
  let impossibleCount = 0;
  let inWriteWindow = 0;
  let cacheReads = 0;
  let sumBehind = 0;
  let maxBehind = 0;
  const ages = new NumberList(64);
  const staleKeys = new Set<string>();
  for (const [key, reads] of cacheReadsByKey) {
    cacheReads += reads.ops.length;
    const ups = updatesByKey.get(key);
    if (!ups || ups.length === 0) continue;
    const idx = indexUpdates(ups);
    const baseline = idx.firstVersion - 1;
    const invokes = reads.invoke.toArray();
    const completes = reads.complete.toArray();
    const readVersions = reads.version.toArray();
    for (let r = 0; r < invokes.length; r++) {
      const v = readVersions[r];
      const invoke = invokes[r];
      // newest version committed before the read began (and, only when needed, before it ended)
      const ci = lastBelow(idx.commitAt, invoke);
      const committedAtStart = Math.max(baseline, ci >= 0 ? idx.prefixMaxCommitted[ci] : -1);
      if (v > committedAtStart) {
        // impossible: newer than anything committed by the time the read finished
        const ce = lastBelow(idx.commitAt, completes[r]);
        const newestCommitted = Math.max(baseline, ce >= 0 ? idx.prefixMaxCommitted[ce] : -1);
        if (v > newestCommitted) {
          impossibleCount++;
          if (impossibleExamples.length < maxExamples) impossibleExamples.push({ read: reads.ops[r], newestKnownVersion: newestCommitted });
        }
        continue;
      }
      const i = lastBelow(idx.completeAt, invoke);
      const newestCompleted = i >= 0 ? idx.prefixMaxVersion[i] : -1;
      if (newestCompleted > v) {
        staleCount++;
        staleKeys.add(key);
        const behind = newestCompleted - v;
        sumBehind += behind;
        if (behind > maxBehind) maxBehind = behind;
        // the first commit of any version newer than v
        const vi = lastBelow(idx.versions, v + 1) + 1;
        const firstNewerCommit = vi < idx.versions.length ? idx.suffixMinCommit[vi] : invoke;
        const age = Math.max(0, invoke - firstNewerCommit);
        ages.push(age);
        bucket(completes[r]).staleReads++;
        if (staleExamples.length < maxExamples) {
          const u = idx.byComplete[idx.prefixMaxIndex[i]];
          staleExamples.push({
            read: reads.ops[r],
            newerUpdate: { id: u.id, client: u.client, version: u.version ?? 0, commitAt: commitTime(u), complete: u.complete, outcome: u.outcome, cacheResult: u.cacheResult },
            ageMs: round(age),
            versionsBehind: behind,
          });
        }
      } else if (ci >= 0 && idx.prefixMaxCommitted[ci] > v) inWriteWindow++;
    }
  }
  const ageArr = ages.toArray().sort();

  // ---- lost updates ----
  const lostExamples: LostUpdateProof[] = [];
  let lostCount = 0;
  for (const byToken of casStored.values()) {
    for (const sameToken of byToken.values()) {
      if (sameToken.length < 2) continue;
      // one token on different item versions is a restarted node reusing CAS ids, not a lost update
      const byBase = new Map<number | undefined, HistoryOp[]>();
      for (const op of sameToken) {
        const group = byBase.get(op.baseVersion);
        if (group) group.push(op);
        else byBase.set(op.baseVersion, [op]);
      }
      for (const group of byBase.values()) {
        if (group.length < 2) continue;
        lostCount += group.length - 1;
        if (lostExamples.length < maxExamples) lostExamples.push({ key: group[0].key, token: group[0].token ?? '', baseVersion: group[0].baseVersion, ops: group });
      }
    }
  }

  // ---- acknowledged writes missing from the master, divergence ----
  let missingAckedWrites: CheckReport['missingAckedWrites'] = { judged: false, count: 0, keysJudged: 0, keysUnjudged: ackedMaxByKey.size, examples: [] };
  let divergence: CheckReport['divergence'] = { judged: false };
  if (finalScan) {
    const masterByKey = new Map<string, NodeVersion>();
    for (const row of finalScan.keys) masterByKey.set(row.key, row.master);
    const examples: MissingWriteProof[] = [];
    let count = 0;
    let judged = 0;
    let unjudged = 0;
    for (const [key, ack] of ackedMaxByKey) {
      const master = masterByKey.get(key);
      if (master === undefined || master === 'unreachable') {
        unjudged++;
        continue;
      }
      judged++;
      const acked = ack.version as number;
      if (typeof master !== 'number' || master < acked) {
        count++;
        if (examples.length < maxExamples) examples.push({ key, ackedVersion: acked, ack, master });
      }
    }
    missingAckedWrites = { judged: judged > 0 || unjudged === 0, count, keysJudged: judged, keysUnjudged: unjudged, examples };
    divergence = { judged: true, ...summarizeDivergence(finalScan, maxExamples) };
  }

  // ---- per second ----
  const perSecond: PerSecond[] = buckets.map((b) => {
    const readLat = b.readLat.toArray().sort();
    const updateLat = b.updateLat.toArray().sort();
    const { readLat: _r, updateLat: _u, ...rest } = b;
    return {
      ...rest,
      hitRate: b.hits + b.misses > 0 ? round(b.hits / (b.hits + b.misses), 4) : null,
      readP50Ms: round(percentileSorted(readLat, 50)),
      readP99Ms: round(percentileSorted(readLat, 99)),
      updateP50Ms: round(percentileSorted(updateLat, 50)),
      updateP99Ms: round(percentileSorted(updateLat, 99)),
    };
  });

  const latency: CheckReport['latency'] = {};
  const throughput: CheckReport['throughput'] = {};
  for (const [op, list] of Object.entries(latencies) as Array<[OpType, NumberList]>) {
    latency[op] = summarizeLatencies(list.toArray());
    throughput[op] = durationS > 0 ? round(list.length / durationS, 1) : 0;
  }

  // ---- verdict ----
  const checks: CheckResult[] = [
    {
      name: 'stale-reads',
      ok: staleCount === 0,
      value: staleCount,
      message:
        staleCount === 0
          ? `no stale reads in ${cacheReads} cache reads`
          : `${staleCount} stale reads on ${staleKeys.size} keys (up to ${maxBehind} versions behind, max age ${round(ageArr.length ? ageArr[ageArr.length - 1] : 0, 1)} ms)`,
    },
    {
      name: 'lost-updates',
      ok: lostCount === 0,
      value: lostCount,
      message: lostCount === 0 ? `no lost updates in ${casStoredCount} stored CAS writes` : `${lostCount} lost updates: several CAS writes STORED from one token`,
    },
    missingAckedWrites.judged
      ? {
          name: 'missing-acked-writes',
          ok: missingAckedWrites.count === 0,
          value: missingAckedWrites.count,
          message:
            missingAckedWrites.count === 0
              ? `the master holds every acknowledged write (${missingAckedWrites.keysJudged} keys judged${missingAckedWrites.keysUnjudged ? `, ${missingAckedWrites.keysUnjudged} unreachable` : ''})`
              : `${missingAckedWrites.count} keys lost an acknowledged write on the master`,
        }
      : { name: 'missing-acked-writes', ok: null, value: 0, message: finalScan ? 'not judged: the master was unreachable in the final scan' : 'not judged: no final scan' },
    divergence.judged
      ? {
          name: 'divergence',
          ok: divergence.divergent === 0,
          value: divergence.divergent,
          message:
            divergence.divergent === 0
              ? `master and slave agree${divergence.againstDatabase ? ' with the database' : ''} on all ${divergence.keys - divergence.unreachable} reachable keys`
              : `${divergence.divergent} of ${divergence.keys} keys diverge (${divergence.stale} stale: slave ${divergence.states['slave-stale']}, master ${divergence.states['master-stale']}, both ${divergence.states['both-stale']}; missing: master ${divergence.states['master-missing']}, slave ${divergence.states['slave-missing']})`,
        }
      : { name: 'divergence', ok: null, value: 0, message: 'not judged: no final scan' },
    { name: 'corrupt-reads', ok: corruptCount === 0, value: corruptCount, message: corruptCount === 0 ? 'every cached value decoded to its own key' : `${corruptCount} reads returned bytes that are not this key's value` },
    {
      name: 'impossible-reads',
      ok: impossibleCount === 0,
      value: impossibleCount,
      message: impossibleCount === 0 ? 'no read returned a version the database never committed' : `${impossibleCount} reads returned a version newer than any committed (leftovers of another run with the same key prefix and another database?)`,
    },
  ];
  const failed = checks.filter((c) => c.ok === false);
  const verdict = {
    ok: failed.length === 0,
    summary: failed.length === 0 ? `consistent: ${checks.filter((c) => c.ok === true).length} checks passed` : `INCONSISTENT: ${failed.map((c) => `${c.name} ${c.value}`).join(', ')}`,
    checks,
  };

  return {
    verdict,
    totals: {
      ops: reads + updates,
      reads,
      updates,
      cacheWrites,
      slaveWrites,
      ok: totalOutcomes.ok,
      fail: totalOutcomes.fail,
      unknown: totalOutcomes.unknown,
      durationMs: round(durationMs),
      opsPerSecond: durationS > 0 ? round((reads + updates) / durationS, 1) : 0,
      keysTouched: keys.size,
    },
    staleReads: {
      count: staleCount,
      rate: cacheReads > 0 ? round(staleCount / cacheReads, 6) : 0,
      cacheReads,
      maxAgeMs: round(ageArr.length ? ageArr[ageArr.length - 1] : 0),
      p50AgeMs: round(percentileSorted(ageArr, 50)),
      p99AgeMs: round(percentileSorted(ageArr, 99)),
      maxVersionsBehind: maxBehind,
      meanVersionsBehind: staleCount > 0 ? round(sumBehind / staleCount) : 0,
      keys: staleKeys.size,
      inWriteWindow,
      examples: staleExamples,
    },
    lostUpdates: { count: lostCount, casStored: casStoredCount, examples: lostExamples },
    missingAckedWrites,
    divergence,
    corruptReads: { count: corruptCount, examples: corrupt },
    impossibleReads: { count: impossibleCount, examples: impossibleExamples },
    costs: {
      hits,
      misses,
      cacheErrors,
      hitRate: hits + misses > 0 ? round(hits / (hits + misses), 4) : null,
      dbReads,
      dbReadsPerSecond: durationS > 0 ? round(dbReads / durationS, 1) : 0,
      dbCommits: updates,
    },
    outcomes,
    latency,
    throughput,
    perSecond,
  };
}
