import type { CheckReport } from '../checker/check.js';
import { KetamaRing } from '../proxy/ketama.js';
import type { HistoryOp } from '../workload/history.js';
import type { ScaleResult } from './scale.js';

/**
 * What a topology change cost a running workload, from its history and the changes' timelines:
 * hit rate before / during / after each change, the workload keys that moved, the database reads
 * the move caused, client errors and stale reads inside the change window. Pure (no I/O).
 *
 * Times: history times are ms since the run started; a change's wall-clock times are turned into
 * run time with the run's start (same machine, same clock).
 */

export type ScaleEventLike = Pick<ScaleResult, 'action' | 'shard' | 'shardsBefore' | 'shardsAfter' | 'timeline'> & { epoch?: number };

export interface HitRateWindow {
  /** ms since the run started */
  fromMs: number;
  toMs: number;
  reads: number;
  hits: number;
  hitRate: number | null;
  dbReads: number;
  /** logical operations (reads and updates) that failed or ended unknown */
  clientErrors: number;
}

export interface ScaleEventCost {
  action: 'add' | 'remove';
  shard: string;
  epoch?: number;
  /** run time (ms) of the first PUT /config, the last answer, and the end of the stale-read guard */
  switchStartMs: number;
  switchEndMs: number;
  settledMs: number;
  hitRate: {
    before: HitRateWindow;
    during: HitRateWindow;
    after: HitRateWindow;
    /** before.hitRate - during.hitRate (percentage points / 100); > 0 is a dip */
    dip: number | null;
    /** the worst second from the switch to the end of "during" */
    lowestSecond: { second: number; hitRate: number } | null;
  };
  keysMoved: {
    /** the workload's key space */
    keys: number;
    moved: number;
    fraction: number;
    /** 1 / shards after an add, 1 / shards before a remove: what ketama aims at */
    ideal: number;
  };
  /** database reads the move caused: first reads of moved keys after the switch that missed,
   *  minus what unmoved keys' first reads missed anyway (the baseline) */
  dbReadsCausedByMove: {
    movedKeysRead: number;
    movedFirstReadMisses: number;
    unmovedKeysRead: number;
    unmovedFirstReadMisses: number;
    baselineMissRate: number | null;
    attributable: number;
  };
  /** inside [switch start, settled + window] */
  clientErrors: number;
  staleReads: number;
}

export interface ScaleSecond {
  /** ops completing in [second-1, second) s since the start */
  second: number;
  reads: number;
  hits: number;
  hitRate: number | null;
  dbReads: number;
  clientErrors: number;
  staleReads: number;
  /** "add shard-2" when a switch started in this second */
  event?: string;
}

export interface ScaleCostReport {
  windowMs: number;
  events: ScaleEventCost[];
  totals: { reads: number; hitRate: number | null; clientErrors: number; staleReads: number; clientErrorsDuringChanges: number; staleReadsDuringChanges: number };
  perSecond: ScaleSecond[];
}

export interface ScaleCostInput {
  ops: readonly HistoryOp[];
  /** wall-clock ms when the run started (WorkloadResult.startedAtMs) */
  startedAtMs: number;
  durationMs: number;
  keyNames: readonly string[];
  events: readonly ScaleEventLike[];
  /** the checker's report on the same history: stale reads per second */
  check?: CheckReport;
  /** length of the "during" window after a switch starts (default 2000 ms) */
  windowMs?: number;
}

const isLogical = (op: HistoryOp): boolean => op.op === 'read' || op.op === 'update';
const isError = (op: HistoryOp): boolean => isLogical(op) && op.outcome !== 'ok';
const rate = (hits: number, reads: number): number | null => (reads ? hits / reads : null);

function windowOf(ops: readonly HistoryOp[], fromMs: number, toMs: number): HitRateWindow {
  let reads = 0;
  let hits = 0;
  let dbReads = 0;
  let clientErrors = 0;
  for (const op of ops) {
    if (op.invoke < fromMs || op.invoke >= toMs) continue;
    if (isError(op)) clientErrors++;
    if (op.op !== 'read' || op.outcome !== 'ok') continue;
    reads++;
    if (op.source === 'cache') hits++;
    if (op.dbRead) dbReads++;
  }
  return { fromMs: Math.round(fromMs), toMs: Math.round(toMs), reads, hits, hitRate: rate(hits, reads), dbReads, clientErrors };
}

export function scaleCost(input: ScaleCostInput): ScaleCostReport {
  const windowMs = input.windowMs ?? 2000;
  const rel = (wallMs: number): number => wallMs - input.startedAtMs;
  const ops = input.ops;
  const reads = ops.filter((o) => o.op === 'read' && o.outcome === 'ok').sort((a, b) => a.invoke - b.invoke);
  const readsByKey = new Map<string, HistoryOp[]>();
  for (const r of reads) {
    const list = readsByKey.get(r.key);
    if (list) list.push(r);
    else readsByKey.set(r.key, [r]);
  }
  const staleBySecond = new Map<number, number>();
  for (const s of input.check?.perSecond ?? []) staleBySecond.set(s.second, s.staleReads);
  /** stale reads completing in [fromMs, toMs), at one-second resolution (the checker's series) */
  const staleIn = (fromMs: number, toMs: number): number => {
    let n = 0;
    for (const [second, count] of staleBySecond) if (second * 1000 + 1000 > fromMs && second * 1000 < toMs) n += count;
    return n;
  };
  const sorted = [...input.events].sort((a, b) => a.timeline.switchStartMs - b.timeline.switchStartMs);
  const events: ScaleEventCost[] = sorted.map((e, i) => {
    const start = rel(e.timeline.switchStartMs);
    const end = rel(e.timeline.switchEndMs);
    const settled = rel(e.timeline.settledAtMs);
    // the baseline starts after the previous change settled, so its own dip is not counted twice
    const prevEnd = i > 0 ? rel(sorted[i - 1].timeline.settledAtMs) : 0;
    const nextStart = i + 1 < sorted.length ? rel(sorted[i + 1].timeline.switchStartMs) : input.durationMs;
    const duringEnd = Math.min(Math.max(start + windowMs, settled), nextStart);
    const before = windowOf(ops, Math.max(prevEnd, start - windowMs, 0), start);
    const during = windowOf(ops, start, duringEnd);
    const after = windowOf(ops, duringEnd, nextStart);
    let lowest: { second: number; hitRate: number } | null = null;
    for (let t = Math.floor(start / 1000) * 1000; t < duringEnd; t += 1000) {
      const w = windowOf(ops, t, t + 1000);
      if (w.hitRate !== null && (lowest === null || w.hitRate < lowest.hitRate)) lowest = { second: t / 1000 + 1, hitRate: w.hitRate };
    }
    const ringBefore = new KetamaRing(e.shardsBefore.map((name) => ({ name })));
    const ringAfter = new KetamaRing(e.shardsAfter.map((name) => ({ name })));
    let moved = 0;
    const m = { movedKeysRead: 0, movedFirstReadMisses: 0, unmovedKeysRead: 0, unmovedFirstReadMisses: 0 };
    for (const key of input.keyNames) {
      const k = Buffer.from(key);
      const didMove = ringBefore.serverFor(k) !== ringAfter.serverFor(k);
      if (didMove) moved++;
      const first = (readsByKey.get(key) ?? []).find((r) => r.invoke >= start && r.invoke < nextStart);
      if (!first) continue;
      const missed = first.source === 'db' ? 1 : 0;
      if (didMove) {
        m.movedKeysRead++;
        m.movedFirstReadMisses += missed;
      } else {
        m.unmovedKeysRead++;
        m.unmovedFirstReadMisses += missed;
      }
    }
    const baselineMissRate = m.unmovedKeysRead ? m.unmovedFirstReadMisses / m.unmovedKeysRead : null;
    const attributable = Math.max(0, Math.round(m.movedFirstReadMisses - (baselineMissRate ?? 0) * m.movedKeysRead));
    const shardsForIdeal = e.action === 'add' ? e.shardsAfter.length : e.shardsBefore.length;
    return {
      action: e.action,
      shard: e.shard,
      ...(e.epoch !== undefined ? { epoch: e.epoch } : {}),
      switchStartMs: Math.round(start),
      switchEndMs: Math.round(end),
      settledMs: Math.round(settled),
      hitRate: {
        before,
        during,
        after,
        dip: before.hitRate !== null && during.hitRate !== null ? before.hitRate - during.hitRate : null,
        lowestSecond: lowest,
      },
      keysMoved: { keys: input.keyNames.length, moved, fraction: input.keyNames.length ? moved / input.keyNames.length : 0, ideal: 1 / shardsForIdeal },
      dbReadsCausedByMove: { ...m, baselineMissRate, attributable },
      clientErrors: windowOf(ops, start, duringEnd).clientErrors,
      staleReads: staleIn(start, duringEnd),
    };
  });

  const seconds = Math.max(1, Math.ceil(input.durationMs / 1000));
  const perSecond: ScaleSecond[] = [];
  for (let s = 0; s < seconds; s++) {
    const w = windowOf(ops, s * 1000, (s + 1) * 1000);
    const ev = sorted.filter((e) => Math.floor(rel(e.timeline.switchStartMs) / 1000) === s).map((e) => `${e.action} ${e.shard}`);
    perSecond.push({
      second: s + 1,
      reads: w.reads,
      hits: w.hits,
      hitRate: w.hitRate,
      dbReads: w.dbReads,
      clientErrors: w.clientErrors,
      staleReads: staleBySecond.get(s) ?? 0,
      ...(ev.length ? { event: ev.join(', ') } : {}),
    });
  }
  // the run's last partial second is often empty (the clients stopped): don't show it as a gap
  while (perSecond.length > 1 && perSecond[perSecond.length - 1].reads === 0 && perSecond[perSecond.length - 1].clientErrors === 0 && !perSecond[perSecond.length - 1].event) perSecond.pop();
  const all = windowOf(ops, -Infinity, Infinity);
  return {
    windowMs,
    events,
    totals: {
      reads: all.reads,
      hitRate: all.hitRate,
      clientErrors: all.clientErrors,
      staleReads: input.check?.staleReads.count ?? 0,
      clientErrorsDuringChanges: events.reduce((n, e) => n + e.clientErrors, 0),
      staleReadsDuringChanges: events.reduce((n, e) => n + e.staleReads, 0),
    },
    perSecond,
  };
}
