/**
 * Synthetic chaos results for the UNIT tests only (shape checks, escaping, maths). The check
 * report comes from the real checker on a small history with a planted stale read. The browser
 * test renders a real recorded run instead (test/report/fixtures/*.json).
 */
import type { ChaosMetrics, ChaosRunResult, ChaosSecond, MitigationName, MitigationRun } from '../../src/chaos/types.js';
import { checkHistory } from '../../src/checker/check.js';
import type { HistoryOp } from '../../src/workload/history.js';

/** A history over `seconds` seconds: reads and updates of one key, plus `stale` planted stale reads in the fault window. */
export function plantedHistory(key: string, seconds: number, stale: number): HistoryOp[] {
  const ops: HistoryOp[] = [];
  let id = 1;
  let version = 0;
  for (let ms = 0; ms < seconds * 1000; ms += 250) {
    version++;
    ops.push({ id: id++, client: 1, op: 'update', key, invoke: ms, complete: ms + 3, commitAt: ms + 1, outcome: 'ok', version, cacheResult: 'stored', node: 'proxy' });
    ops.push({ id: id++, client: 2, op: 'read', key, invoke: ms + 100, complete: ms + 101, outcome: 'ok', version, source: 'cache', node: 'proxy' });
  }
  // Stale reads: version 1 returned long after newer versions committed.
  for (let i = 0; i < stale; i++) {
    ops.push({ id: id++, client: 3, op: 'read', key, invoke: 4600 + i * 10, complete: 4601 + i * 10, outcome: 'ok', version: 1, source: 'cache', node: 'slave' });
  }
  return ops.sort((a, b) => a.invoke - b.invoke);
}

// `as`: the metric list grows as scenarios learn to measure more; the report must not care.
const METRICS = {
  staleReads: 0,
  staleReadsDuringFault: 0,
  staleReadsAfterHeal: 0,
  staleReadsAfterSwitch: 0,
  divergentKeys: 0,
  slaveStaleKeys: 0,
  masterStaleKeys: 0,
  lostUpdates: 0,
  missingAckedWrites: 0,
  hitRate: 0.9,
  dbReads: 100,
  failedWrites: 0,
  unknownOutcomes: 0,
  masterCasFailures: 0,
  slaveWritesDuringFault: 0,
  expiredShortTtlEntries: 0,
  shortTtlEntriesNotExpired: 0,
  mastersInUse: 1,
  operations: 1000,
} as ChaosMetrics;

export function syntheticRun(mitigation: MitigationName, opts: { stale?: number; key?: string; seconds?: number } = {}): MitigationRun {
  const seconds = opts.seconds ?? 12;
  const perSecond: ChaosSecond[] = [];
  for (let s = 0; s < seconds; s++) {
    const fault = s >= 4 && s < 8;
    perSecond.push({
      second: s,
      phase: s < 4 ? 'warm-up' : fault ? 'fault' : s < 9 ? 'heal' : 'settle',
      reads: 80,
      staleReads: fault ? (opts.stale ?? 0) : 0,
      hits: 72,
      misses: 8,
      dbReads: 8,
      writes: 20,
      failedWrites: fault ? 20 : 0,
      unknownOutcomes: fault ? 1 : 0,
    });
  }
  const stale = (opts.stale ?? 0) * 4;
  return {
    label: mitigation,
    mitigation,
    offsetMs: 0,
    durationMs: seconds * 1000,
    timeline: {
      startedAt: '2026-11-26T21:00:00.000Z',
      phases: [
        { name: 'warm-up', startMs: 0, endMs: 4000, plannedMs: 4000 },
        { name: 'fault', startMs: 4000, endMs: 8000, plannedMs: 4000 },
        { name: 'heal', startMs: 8000, endMs: 9000, plannedMs: 1000 },
        { name: 'settle', startMs: 9000, endMs: 12000, plannedMs: 3000 },
      ],
      events: [
        { atMs: 0, kind: 'workload-start', message: 'workload started' },
        { atMs: 4010, kind: 'fault-apply', message: 'master link disabled', subject: 'master', details: { kind: 'partition' } },
        { atMs: 7990, kind: 'fault-revert', message: 'master link enabled', subject: 'master' },
      ],
    },
    metrics: { ...METRICS, staleReads: stale, staleReadsDuringFault: stale },
    check: checkHistory(plantedHistory(opts.key ?? 'k1', seconds, stale)),
    perSecond,
    findings: stale ? [`${stale} stale reads served by the slave`] : [],
    verdict: stale ? 'incident-reproduced' : 'consistent',
  };
}

export function syntheticChaos(mitigations: MitigationName[], opts: { stale?: number; key?: string; failRule?: boolean } = {}): ChaosRunResult {
  const runs = mitigations.map((m) => syntheticRun(m, { stale: m === 'none' ? (opts.stale ?? 3) : 0, key: opts.key }));
  return {
    kind: 'chaos-run',
    version: 1,
    scenario: 'master-down',
    title: 'chaos master-down (partition)',
    seed: 42,
    replay: 'cachectl chaos master-down --fault partition --seed 42',
    config: {
      fault: 'partition',
      mitigations,
      warmupMs: 4000,
      faultMs: 4000,
      healMs: 1000,
      settleMs: 3000,
      clients: 4,
      keys: 50,
      readRatio: 0.8,
      readPolicy: 'slave',
      shortTtlSeconds: 5,
      proxyTimeoutMs: 200,
      opsPerSecond: 0,
      proxies: 1,
      cluster: { name: 'test', runtime: 'local', ephemeral: true },
    },
    runs,
    expectations: opts.failRule
      ? [
          { rule: 'staleReads == 0', run: runs[0].label, metric: 'staleReads', operator: '==', expected: 0, actual: runs[0].metrics.staleReads, passed: runs[0].metrics.staleReads === 0, message: `staleReads is ${runs[0].metrics.staleReads}, expected == 0` },
          { rule: 'hitRate >= 0.5', run: runs[0].label, metric: 'hitRate', operator: '>=', expected: 0.5, actual: 0.9, passed: true, message: 'hitRate is 0.9' },
        ]
      : [],
    verdict: opts.failRule && runs[0].metrics.staleReads > 0 ? 'fail' : 'pass',
    summary: ['Incident reproduced.'],
    startedAt: '2026-11-26T21:00:00.000Z',
    durationMs: 12_500 * mitigations.length,
    interrupted: false,
  };
}
