import { describe, expect, it } from 'vitest';
import { KetamaRing } from '../../src/proxy/ketama.js';
import { scaleCost, type ScaleEventLike } from '../../src/scale/cost.js';
import { normaliseShardName, shardIndexFromName } from '../../src/scale/scale.js';
import type { HistoryOp } from '../../src/workload/history.js';

/**
 * The cost report on hand-built histories: every number is derived from ops we placed, so each
 * assertion says exactly what the report must compute.
 */

const START = 1_000_000; // wall-clock ms of the run start
const KEYS = Array.from({ length: 300 }, (_, i) => `k:${i}`);
const BEFORE = ['shard-0', 'shard-1'];
const AFTER = ['shard-0', 'shard-1', 'shard-2'];
const ringBefore = new KetamaRing(BEFORE.map((name) => ({ name })));
const ringAfter = new KetamaRing(AFTER.map((name) => ({ name })));
const MOVED = new Set(KEYS.filter((k) => ringBefore.serverFor(k) !== ringAfter.serverFor(k)));

let nextId = 1;
function read(key: string, at: number, hit: boolean, outcome: HistoryOp['outcome'] = 'ok'): HistoryOp {
  return { id: nextId++, client: 0, op: 'read', key, invoke: at, complete: at + 1, outcome, version: 1, source: hit ? 'cache' : 'db', ...(hit ? {} : { dbRead: true }) };
}

const addEvent: ScaleEventLike = {
  action: 'add',
  shard: 'shard-2',
  shardsBefore: BEFORE,
  shardsAfter: AFTER,
  epoch: 2,
  timeline: { startedAtMs: START + 2900, switchStartMs: START + 3000, switchEndMs: START + 3005, settledAtMs: START + 3500, finishedAtMs: START + 3600 },
};

/** Every key read once per second for 6 s; all hits, except that each moved key's first read after the switch (at 3 s) misses. */
function history(): HistoryOp[] {
  const ops: HistoryOp[] = [];
  for (let s = 0; s < 6; s++) {
    KEYS.forEach((k, i) => {
      const at = s * 1000 + (i * 1000) / KEYS.length;
      ops.push(read(k, at, !(s === 3 && MOVED.has(k))));
    });
  }
  return ops;
}

describe('scale cost report', () => {
  it('measures the hit-rate dip, the keys moved and the database reads the move caused', () => {
    const report = scaleCost({ ops: history(), startedAtMs: START, durationMs: 6000, keyNames: KEYS, events: [addEvent], windowMs: 1000 });
    const e = report.events[0];
    expect(e.switchStartMs).toBe(3000);
    expect(e.keysMoved.moved).toBe(MOVED.size);
    expect(e.keysMoved.fraction).toBeCloseTo(MOVED.size / KEYS.length, 10);
    expect(e.keysMoved.ideal).toBeCloseTo(1 / 3, 10);
    expect(Math.abs(e.keysMoved.fraction - 1 / 3)).toBeLessThan(0.12);

    expect(e.hitRate.before.hitRate).toBe(1);
    // "during" = [3000, max(3000 + 1000, settled 3500)) = exactly second 4, where moved keys missed
    expect(e.hitRate.during.reads).toBe(KEYS.length);
    expect(e.hitRate.during.hitRate).toBeCloseTo(1 - MOVED.size / KEYS.length, 10);
    expect(e.hitRate.dip).toBeCloseTo(MOVED.size / KEYS.length, 10);
    expect(e.hitRate.lowestSecond).toEqual({ second: 4, hitRate: e.hitRate.during.hitRate });
    expect(e.hitRate.after.hitRate).toBe(1);

    expect(e.dbReadsCausedByMove).toMatchObject({
      movedKeysRead: MOVED.size,
      movedFirstReadMisses: MOVED.size,
      unmovedKeysRead: KEYS.length - MOVED.size,
      unmovedFirstReadMisses: 0,
      baselineMissRate: 0,
      attributable: MOVED.size,
    });
    expect(report.perSecond.map((s) => s.event ?? '')).toEqual(['', '', '', 'add shard-2', '', '']);
    expect(report.perSecond[3].dbReads).toBe(MOVED.size);
  });

  it('subtracts the baseline: misses unmoved keys also had are not blamed on the move', () => {
    const ops = history();
    // half of the unmoved keys also miss on their first read after the switch (e.g. evictions)
    const unmoved = KEYS.filter((k) => !MOVED.has(k));
    const missing = new Set(unmoved.filter((_, i) => i % 2 === 0));
    for (const op of ops) {
      if (op.invoke >= 3000 && op.invoke < 4000 && missing.has(op.key)) {
        op.source = 'db';
        op.dbRead = true;
      }
    }
    const e = scaleCost({ ops, startedAtMs: START, durationMs: 6000, keyNames: KEYS, events: [addEvent], windowMs: 1000 }).events[0];
    expect(e.dbReadsCausedByMove.baselineMissRate).toBeCloseTo(missing.size / unmoved.length, 10);
    expect(e.dbReadsCausedByMove.attributable).toBe(Math.round(MOVED.size - (missing.size / unmoved.length) * MOVED.size));
  });

  it('counts client errors inside the change window, and only there, as caused by the change', () => {
    const ops = history();
    ops.push(read('k:1', 3200, false, 'fail'), read('k:2', 5500, false, 'unknown'));
    ops.push({ id: nextId++, client: 1, op: 'update', key: 'k:3', invoke: 3300, complete: 3310, outcome: 'fail', version: 2, commitAt: 3301, cacheResult: 'failed' });
    // a failed CAS attempt inside a successful update is not a client error
    ops.push({ id: nextId++, client: 1, op: 'cas', key: 'k:4', invoke: 3400, complete: 3401, outcome: 'fail', reply: 'not_found', parent: 1 });
    const report = scaleCost({ ops, startedAtMs: START, durationMs: 6000, keyNames: KEYS, events: [addEvent], windowMs: 1000 });
    expect(report.events[0].clientErrors).toBe(2);
    expect(report.totals.clientErrorsDuringChanges).toBe(2);
    expect(report.totals.clientErrors).toBe(3);
  });

  it('takes stale reads per second from the checker and attributes those inside a change window', () => {
    const check = {
      staleReads: { count: 7 },
      perSecond: [
        { second: 1, staleReads: 2 },
        { second: 3, staleReads: 5 },
      ],
    } as unknown as Parameters<typeof scaleCost>[0]['check'];
    const report = scaleCost({ ops: history(), startedAtMs: START, durationMs: 6000, keyNames: KEYS, events: [addEvent], windowMs: 1000, check });
    expect(report.totals.staleReads).toBe(7);
    expect(report.events[0].staleReads).toBe(5);
    expect(report.perSecond.map((s) => s.staleReads)).toEqual([0, 2, 0, 5, 0, 0]);
  });

  it('a second change: its baseline starts after the first one settled', () => {
    const remove: ScaleEventLike = {
      action: 'remove',
      shard: 'shard-2',
      shardsBefore: AFTER,
      shardsAfter: BEFORE,
      timeline: { startedAtMs: START + 4900, switchStartMs: START + 5000, switchEndMs: START + 5002, settledAtMs: START + 5100, finishedAtMs: START + 5200 },
    };
    const report = scaleCost({ ops: history(), startedAtMs: START, durationMs: 6000, keyNames: KEYS, events: [remove, addEvent], windowMs: 1000 });
    expect(report.events.map((e) => e.action)).toEqual(['add', 'remove']);
    expect(report.events[0].hitRate.after.toMs).toBe(5000);
    // the last windowMs before the switch...
    expect(report.events[1].hitRate.before.fromMs).toBe(4000);
    // ...but never reaching back into the previous change (settled at 3500)
    const wide = scaleCost({ ops: history(), startedAtMs: START, durationMs: 6000, keyNames: KEYS, events: [remove, addEvent], windowMs: 2500 });
    expect(wide.events[1].hitRate.before.fromMs).toBe(3500);
    expect(wide.events[0].hitRate.during.toMs).toBe(5000);
    expect(report.events[1].keysMoved.moved).toBe(MOVED.size);
    expect(report.events[1].keysMoved.ideal).toBeCloseTo(1 / 3, 10);
  });
});

describe('shard names', () => {
  it('accepts shard-N, N and node names, and reads the index back', () => {
    expect(normaliseShardName('shard-2')).toBe('shard-2');
    expect(normaliseShardName(' 3 ')).toBe('shard-3');
    expect(normaliseShardName('shard-4-slave')).toBe('shard-4');
    expect(normaliseShardName('master')).toBe('shard-0');
    expect(normaliseShardName('blue')).toBe('blue');
    expect(shardIndexFromName('shard-12')).toBe(12);
    expect(shardIndexFromName('blue')).toBeUndefined();
  });
});
