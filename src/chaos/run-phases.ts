import { checkHistory, type CheckReport } from '../checker/check.js';
import { summarizeDivergence, type DivergenceReport } from '../checker/divergence.js';
import { CachectlError } from '../errors.js';
import type { ProxyRuntimeConfig } from '../proxy/config.js';
import type { Endpoint } from '../runtime/types.js';
import { systemClock, type Clock } from '../util/clock.js';
import { openSourceOfTruth } from '../workload/database.js';
import type { HistoryOp } from '../workload/history.js';
import { runWorkload, type WorkloadResult } from '../workload/runner.js';
import { scanCluster, type FinalScan } from '../workload/scan.js';
import { MemjsCacheClient } from '../client/memjs-client.js';
import { decodeValue } from '../workload/value.js';
import type { FaultGuard } from './guard.js';
import type { ScenarioRequest } from './request.js';
import type { ClusterSession } from './session.js';
import { TimelineRecorder } from './timeline.js';
import type { ChaosMetrics, ChaosSecond, MitigationName, MitigationRun, PhaseName, SwitchResult } from './types.js';

/**
 * One run of a scenario on the timeline warm-up -> fault -> heal -> settle -> verify, with the
 * workload running across all phases and the checker judging the history plus a final scan.
 * Scenarios (scenarios.ts) plug in what the fault is and what happens during and after it.
 */

export interface RunContext {
  session: ClusterSession;
  guard: FaultGuard;
  timeline: TimelineRecorder;
  signal: AbortSignal;
  request: ScenarioRequest;
  log: (line: string) => void;
  /** sleep that ends early (rejecting) when the scenario is interrupted */
  sleep: (ms: number) => Promise<void>;
  /** record a switch result on this run */
  setSwitch: (result: SwitchResult) => void;
  /** where the final scan reads master and slave (a switch changes it) */
  setScanRoles: (roles: { master: Endpoint; slave: Endpoint }) => void;
  /** facts for the findings */
  notes: string[];
  /** numbers the scenario measured itself (e.g. mastersInUse), merged into the metrics */
  extraMetrics: Partial<ChaosMetrics>;
}

export interface RunPlan {
  label: string;
  mitigation: MitigationName;
  /** settings every proxy gets for this run (on top of the original roles, unfenced, manual failover) */
  proxyPatch?: (current: ProxyRuntimeConfig, index: number, session: ClusterSession) => Partial<Omit<ProxyRuntimeConfig, 'epoch'>>;
  /** before the run's fresh state is set up (create extra links; register their cleanup) */
  prepare?: (session: ClusterSession, guard: FaultGuard) => Promise<void>;
  /** which proxies the workload's clients use (default: all, round-robin) */
  workloadProxies?: (session: ClusterSession) => Endpoint[];
  /** apply the fault; return the heal step (the guard also reverts everything at the end) */
  inject: (ctx: RunContext) => Promise<() => Promise<void>>;
  /** runs alongside the fault phase (a switch, a flapping loop); must finish by itself */
  duringFault?: (ctx: RunContext) => Promise<void>;
  /** right after the heal (rejoin a detached node) */
  afterHeal?: (ctx: RunContext) => Promise<void>;
  /** after the workload stopped, before the numbers are computed (a last look at the proxies) */
  afterRun?: (ctx: RunContext) => Promise<void>;
  /** scan the nodes right after the heal instead of just before it (a crashed node cannot be scanned before) */
  scanAfterHeal?: boolean;
  /** classify the run from its metrics */
  verdict: (m: ChaosMetrics, ctx: { switch?: SwitchResult }) => MitigationRun['verdict'];
  /** plain-language findings from the metrics */
  findings: (m: ChaosMetrics, ctx: { request: ScenarioRequest; notes: string[]; switch?: SwitchResult; check: CheckReport; proxyStats: unknown[] }) => string[];
}

/** Live progress (src/report's ProgressReporter fits): phases, per-second samples, run changes. */
export interface RunProgress {
  startRun(label: string, plan?: Array<{ name: PhaseName; ms: number }>): void;
  phase(name: PhaseName): void;
  second(sample: { ops: number; fails?: number; unknowns?: number }): void;
}

export interface RunOptions {
  progress?: RunProgress;
  clock?: Clock;
  log?: (line: string) => void;
  /** scenario start (monotonic), for MitigationRun.offsetMs */
  scenarioStartMono: number;
}

function abortableSleep(clock: Clock, signal: AbortSignal): (ms: number) => Promise<void> {
  return async (ms) => {
    if (ms <= 0) {
      if (signal.aborted) throw signal.reason;
      return;
    }
    await clock.sleep(ms, signal);
  };
}

/** Stale-read proofs with read start times, from a full check (examples unbounded). */
function staleReadStarts(check: CheckReport): number[] {
  return check.staleReads.examples.map((p) => p.read.invoke);
}

function countIn(times: number[], from: number, to = Number.POSITIVE_INFINITY): number {
  let n = 0;
  for (const t of times) if (t >= from && t < to) n++;
  return n;
}

export interface ShortTtlCheck {
  /** keys whose last cache write was a short-TTL write straight to the slave */
  candidates: number;
  expired: number;
  stillPresent: string[];
}

/**
 * client-short-ttl: entries written straight to the slave must be gone once their TTL passed
 * (unless a later write through the proxy replaced them). Waits until the newest TTL has passed.
 */
async function checkShortTtlExpiry(ops: readonly HistoryOp[], slave: Endpoint, workloadStartWall: number, sleep: (ms: number) => Promise<void>): Promise<ShortTtlCheck> {
  const lastSlaveWrite = new Map<string, HistoryOp>();
  const lastProxyWrite = new Map<string, number>();
  for (const op of ops) {
    if (op.op === 'slave-write' && op.outcome === 'ok' && op.reply === 'stored') {
      const prev = lastSlaveWrite.get(op.key);
      if (!prev || prev.complete < op.complete) lastSlaveWrite.set(op.key, op);
    } else if ((op.op === 'cas' || op.op === 'add') && op.outcome !== 'fail') {
      lastProxyWrite.set(op.key, Math.max(lastProxyWrite.get(op.key) ?? 0, op.invoke));
    }
  }
  // Only keys no write through the proxy touched afterwards: those still carry the short TTL.
  const candidates = [...lastSlaveWrite.values()].filter((w) => (lastProxyWrite.get(w.key) ?? -1) < w.invoke);
  if (candidates.length === 0) return { candidates: 0, expired: 0, stillPresent: [] };
  // memcached expiry has 1 s granularity: allow TTL + 1.2 s after the write completed.
  const deadline = Math.max(...candidates.map((w) => workloadStartWall + w.complete + (w.ttl ?? 0) * 1000 + 1200));
  await sleep(Math.max(0, deadline - Date.now()));
  const client = new MemjsCacheClient(slave, { timeoutMs: 1000 });
  const stillPresent: string[] = [];
  try {
    for (const w of candidates) {
      const item = await client.get(w.key);
      if (item) {
        const d = decodeValue(w.key, item.value);
        // present with exactly the short-TTL version = did not expire
        if (d.ok && d.version === w.version) stillPresent.push(w.key);
      }
    }
  } finally {
    await client.close();
  }
  return { candidates: candidates.length, expired: candidates.length - stillPresent.length, stillPresent };
}

export async function runPhases(plan: RunPlan, session: ClusterSession, guard: FaultGuard, signal: AbortSignal, request: ScenarioRequest, options: RunOptions): Promise<MitigationRun> {
  const clock = options.clock ?? systemClock;
  const log = options.log ?? (() => undefined);
  const sleep = abortableSleep(clock, signal);
  const offsetMs = Math.round(clock.monotonic() - options.scenarioStartMono);

  // ---- fresh state: no faults, both nodes empty, proxies on the original roles, a new database ----
  await session.injector.resetAll();
  if (plan.prepare) await plan.prepare(session, guard);
  await session.flushBoth();
  await session.configureProxies((cur, i) => ({
    shards: session.originalShards(),
    readPolicy: request.readPolicy,
    mitigation: plan.mitigation === 'proxy-delete' ? 'proxy-delete' : 'none',
    timeoutMs: request.proxyTimeoutMs,
    failover: 'manual',
    writesFenced: false,
    ...(plan.proxyPatch ? plan.proxyPatch(cur, i, session) : {}),
  }));
  await session.waitProxiesHealthy();
  const { db } = openSourceOfTruth(':memory:');
  options.progress?.startRun(plan.label, [
    { name: 'warm-up', ms: request.warmupMs },
    { name: 'fault', ms: request.faultMs },
    { name: 'heal', ms: request.healMs },
    { name: 'settle', ms: request.settleMs },
    { name: 'verify', ms: 1000 },
  ]);

  const timeline = new TimelineRecorder(clock, (ev) => log(`  [${(ev.atMs / 1000).toFixed(1)}s] ${ev.message}`));
  guard.useTimeline(timeline);
  let switchResult: SwitchResult | undefined;
  let scanRoles = { master: session.direct('master'), slave: session.direct('slave') };
  const notes: string[] = [];
  const ctx: RunContext = {
    session,
    guard,
    timeline,
    signal,
    request,
    log,
    sleep,
    setSwitch: (r) => (switchResult = r),
    setScanRoles: (r) => (scanRoles = r),
    notes,
    extraMetrics: {},
  };
  const phaseStartMs: Partial<Record<PhaseName, number>> = {};
  const keyPrefix = `chaos:${request.seed}:${plan.label}:`;
  const total = request.warmupMs + request.faultMs + request.healMs + request.settleMs;
  const stopWorkload = new AbortController();
  const onOuterAbort = (): void => stopWorkload.abort();
  signal.addEventListener('abort', onOuterAbort, { once: true });

  let workload: WorkloadResult;
  let healDivergence: DivergenceReport | undefined;
  let faultWindow = { from: 0, to: 0 };
  try {
    timeline.event('workload-start', `workload: ${request.clients} clients, ${request.keys} keys, read ratio ${request.readRatio}, seed ${request.seed}`);
    const workloadPromise = runWorkload({
      proxy: plan.workloadProxies ? plan.workloadProxies(session) : session.proxyClientEndpoints,
      slaveDirect: session.link('slave'),
      clients: request.clients,
      // the phases stop it; the duration is only a backstop
      durationMs: total + 120_000,
      keys: request.keys,
      keyPrefix,
      distribution: 'uniform',
      readRatio: request.readRatio,
      valueSize: 64,
      seed: request.seed,
      ...(request.opsPerSecond ? { opsPerSecond: request.opsPerSecond } : {}),
      mitigation: plan.mitigation === 'client-short-ttl' ? 'client-short-ttl' : 'none',
      shortTtlSeconds: request.shortTtlSeconds,
      // above the proxy's backend timeout, so the proxy's clear error arrives first
      timeoutMs: Math.max(1000, request.proxyTimeoutMs * 4),
      database: db,
      signal: stopWorkload.signal,
    }, { onSecond: options.progress ? (s) => options.progress?.second(s) : undefined });
    // If the workload dies early (a bug, the proxy gone), stop waiting on the phases.
    let workloadFailed: unknown;
    workloadPromise.catch((err: unknown) => {
      workloadFailed = err;
    });
    const phase = async (name: PhaseName, ms: number, body?: () => Promise<void>): Promise<void> => {
      timeline.startPhase(name, ms);
      options.progress?.phase(name);
      phaseStartMs[name] = timeline.elapsed();
      const started = clock.monotonic();
      if (body) await body();
      await sleep(ms - (clock.monotonic() - started));
      if (workloadFailed) throw workloadFailed;
    };

    let heal: (() => Promise<void>) | undefined;
    await phase('warm-up', request.warmupMs);
    let during: Promise<void> | undefined;
    await phase('fault', request.faultMs, async () => {
      faultWindow.from = timeline.elapsed();
      heal = await plan.inject(ctx);
      if (plan.duringFault) {
        during = plan.duringFault(ctx);
        // Awaited after the fault phase; until then a rejection must not count as unhandled.
        during.catch(() => undefined);
      }
    });
    if (during) await during;
    const keysForScan = Array.from({ length: request.keys }, (_, i) => `${keyPrefix}${i}`);
    const scanAtHeal = async (): Promise<void> => {
      const s = await scanCluster({ master: scanRoles.master, slave: scanRoles.slave, keys: keysForScan, database: db, timeoutMs: 500, giveUpAfterFailures: 2 });
      healDivergence = summarizeDivergence(s, 0);
      timeline.event('note', `at the heal: ${healDivergence.divergent} divergent keys (master stale ${healDivergence.states['master-stale'] + healDivergence.states['both-stale']}, slave stale ${healDivergence.states['slave-stale'] + healDivergence.states['both-stale']}, master missing ${healDivergence.states['master-missing']}, slave missing ${healDivergence.states['slave-missing']})`);
    };
    await phase('heal', request.healMs, async () => {
      if (!plan.scanAfterHeal) await scanAtHeal();
      await heal?.();
      faultWindow.to = timeline.elapsed();
      if (plan.scanAfterHeal) await scanAtHeal();
      if (plan.afterHeal) await plan.afterHeal(ctx);
    });
    await phase('settle', request.settleMs);
    timeline.startPhase('verify', 0);
    options.progress?.phase('verify');
    stopWorkload.abort();
    workload = await workloadPromise;
    timeline.event('workload-stop', `workload stopped: ${workload.counts.ops} operations (${Math.round(workload.opsPerSecond)} ops/s)`);
  } finally {
    signal.removeEventListener('abort', onOuterAbort);
    stopWorkload.abort();
  }

  if (plan.afterRun) await plan.afterRun(ctx);

  // ---- verify: final scan of master, slave and database, then the checker ----
  await session.waitProxiesHealthy().catch(() => undefined);
  const keys = Array.from({ length: request.keys }, (_, i) => `${keyPrefix}${i}`);
  let scan: FinalScan;
  try {
    scan = await scanCluster({ master: scanRoles.master, slave: scanRoles.slave, keys, database: db, timeoutMs: 1000 });
  } finally {
    // the database is needed by the scan only
  }
  let shortTtl: ShortTtlCheck | undefined;
  if (plan.mitigation === 'client-short-ttl') {
    shortTtl = await checkShortTtlExpiry(workload.history.ops, session.direct('slave'), workload.startedAtMs, sleep);
  }
  db.close();
  const fullCheck = checkHistory(workload.history.ops, scan, { maxExamples: 1_000_000 });
  const proxyStats = await Promise.all(session.admins.map((a) => a.stats().catch((err: unknown) => ({ error: (err as Error).message }))));
  timeline.endPhase();
  const snapshot = timeline.snapshot();

  // History times are ms since the workload started; move them onto the timeline.
  const shift = workload.startedAtMs - timeline.startedAtWall;
  const staleStarts = staleReadStarts(fullCheck).map((t) => t + shift);
  const switchDoneAt = switchResult?.completedAtMs;
  const updates = workload.history.ops.filter((o) => o.op === 'update');
  const failedUpdates = updates.filter((o) => o.outcome === 'fail').length;
  const unknownUpdates = updates.filter((o) => o.outcome === 'unknown').length;
  const slaveWritesDuringFault = workload.history.ops.filter(
    (o) => o.op === 'slave-write' && o.outcome === 'ok' && o.invoke + shift >= faultWindow.from && o.invoke + shift < (faultWindow.to || Number.POSITIVE_INFINITY),
  ).length;
  const div = fullCheck.divergence.judged ? fullCheck.divergence : null;

  let missingAcked = fullCheck.missingAckedWrites.count;
  if (switchResult?.newMasterFlushed && switchDoneAt !== undefined) {
    // A flush during the switch drops entries on purpose (they reload from the database: a cost,
    // not a loss). A write is lost when the master ends older than it, or when it was
    // acknowledged after the switch and is missing.
    missingAcked = fullCheck.missingAckedWrites.examples.filter((p) => typeof p.master === 'number' || p.ack.complete + shift >= switchDoneAt).length;
    const dropped = fullCheck.missingAckedWrites.count - missingAcked;
    if (dropped > 0) notes.push(`${dropped} keys acknowledged before the switch were dropped by flushing the new master (they reload from the database: a cost, not a loss).`);
  }

  const metrics: ChaosMetrics = {
    staleReads: fullCheck.staleReads.count,
    staleReadsDuringFault: countIn(staleStarts, faultWindow.from, faultWindow.to || Number.POSITIVE_INFINITY),
    staleReadsAfterHeal: faultWindow.to ? countIn(staleStarts, faultWindow.to) : 0,
    staleReadsAfterSwitch: switchDoneAt !== undefined ? countIn(staleStarts, switchDoneAt) : 0,
    divergentKeys: div ? div.divergent : 0,
    divergentKeysAtHeal: healDivergence?.divergent ?? 0,
    slaveStaleKeysAtHeal: healDivergence ? healDivergence.states['slave-stale'] + healDivergence.states['both-stale'] : 0,
    masterStaleKeysAtHeal: healDivergence ? healDivergence.states['master-stale'] + healDivergence.states['both-stale'] : 0,
    slaveStaleKeys: div ? div.states['slave-stale'] + div.states['both-stale'] : 0,
    masterStaleKeys: div ? div.states['master-stale'] + div.states['both-stale'] : 0,
    lostUpdates: fullCheck.lostUpdates.count,
    missingAckedWrites: missingAcked,
    hitRate: fullCheck.costs.hitRate ?? 0,
    dbReads: fullCheck.costs.dbReads,
    failedWrites: failedUpdates,
    unknownOutcomes: unknownUpdates,
    masterCasFailures: failedUpdates + unknownUpdates,
    slaveWritesDuringFault,
    expiredShortTtlEntries: shortTtl?.expired ?? 0,
    shortTtlEntriesNotExpired: shortTtl?.stillPresent.length ?? 0,
    mastersInUse: 1,
    operations: fullCheck.totals.ops,
    ...ctx.extraMetrics,
  };
  if (shortTtl) {
    notes.push(
      shortTtl.candidates === 0
        ? 'no short-TTL entry was left on the slave to check for expiry'
        : `${shortTtl.expired} of ${shortTtl.candidates} short-TTL entries on the slave expired on time (TTL ${request.shortTtlSeconds}s)${shortTtl.stillPresent.length ? `; still present: ${shortTtl.stillPresent.slice(0, 5).join(', ')}` : ''}`,
    );
  }

  const perSecond: ChaosSecond[] = fullCheck.perSecond.map((s) => {
    const second = Math.floor((s.second * 1000 + shift) / 1000);
    return {
      second,
      phase: timelinePhaseAt(snapshot.phases, s.second * 1000 + shift + 500),
      reads: s.reads,
      staleReads: s.staleReads,
      hits: s.hits,
      misses: s.misses,
      dbReads: s.dbReads,
      writes: s.updates,
      failedWrites: s.fails,
      unknownOutcomes: s.unknowns,
    };
  });

  // Keep the stored report small: the full proof list was only needed for the phase counts.
  const check = trimCheck(fullCheck, 20);
  const findings = plan.findings(metrics, { request, notes, switch: switchResult, check, proxyStats });
  const ctxForVerdict = { switch: switchResult };
  return {
    label: plan.label,
    mitigation: plan.mitigation,
    offsetMs,
    durationMs: Math.round(timeline.elapsed()),
    timeline: { ...snapshot, phases: snapshot.phases },
    metrics,
    check,
    perSecond,
    findings,
    verdict: plan.verdict(metrics, ctxForVerdict),
    ...(switchResult ? { switch: switchResult } : {}),
    proxyStats,
  };
}

function timelinePhaseAt(phases: { name: PhaseName; startMs: number; endMs: number }[], t: number): PhaseName | null {
  for (const p of phases) if (t >= p.startMs && t < p.endMs) return p.name;
  return null;
}

function trimCheck(c: CheckReport, max: number): CheckReport {
  return {
    ...c,
    staleReads: { ...c.staleReads, examples: c.staleReads.examples.slice(0, max) },
    lostUpdates: { ...c.lostUpdates, examples: c.lostUpdates.examples.slice(0, max) },
    missingAckedWrites: { ...c.missingAckedWrites, examples: c.missingAckedWrites.examples.slice(0, max) },
    divergence: c.divergence.judged ? { ...c.divergence, examples: c.divergence.examples.slice(0, max) } : c.divergence,
    corruptReads: { ...c.corruptReads, examples: c.corruptReads.examples.slice(0, max) },
    impossibleReads: { ...c.impossibleReads, examples: c.impossibleReads.examples.slice(0, max) },
  };
}

export function assertNever(x: never): never {
  throw new CachectlError('INTERNAL', `unexpected ${String(x)}`);
}
