import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkHistory } from '../../src/checker/check.js';
import { classifyKey, summarizeDivergence } from '../../src/checker/divergence.js';
import { SqliteSourceOfTruth } from '../../src/workload/database.js';
import type { HistoryOp } from '../../src/workload/history.js';
import { runWorkload, workloadKeyNames } from '../../src/workload/runner.js';
import type { FinalScan, NodeVersion } from '../../src/workload/scan.js';
import { decodeValue } from '../../src/workload/value.js';
import { FakeCacheStore } from './fake-cache.js';

/** A clean history from the real runner over an in-memory CAS store, plus its honest final scan. */
async function cleanRun(seed: number, ops = 300, keys = 5): Promise<{ ops: HistoryOp[]; scan: FinalScan }> {
  const store = new FakeCacheStore(seed);
  const db = new SqliteSourceOfTruth(':memory:');
  const result = await runWorkload({
    proxy: [{ host: 'fake', port: 1 }],
    clients: 4,
    ops,
    keys,
    keyPrefix: 'k',
    distribution: 'zipfian',
    readRatio: 0.6,
    valueSize: 32,
    seed,
    mitigation: 'none',
    shortTtlSeconds: 5,
    timeoutMs: 1000,
    database: db,
    clientFactory: () => store.client(),
  });
  const names = workloadKeyNames('k', keys);
  const dbVersions = db.readMany(names);
  const scan: FinalScan = {
    scannedAtMs: Date.now(),
    master: 'fake:1',
    slave: 'fake:2',
    unreachable: { master: false, slave: false },
    errors: {},
    keys: names.map((key) => {
      const item = store.items.get(key);
      let v: NodeVersion = 'missing';
      if (item) {
        const d = decodeValue(key, item.value);
        v = d.ok ? d.version : 'corrupt';
      }
      return { key, master: v, slave: v, db: dbVersions.get(key)!.version };
    }),
  };
  db.close();
  return { ops: result.history.ops, scan };
}

let nextId = 1_000_000;
const op = (o: Partial<HistoryOp> & Pick<HistoryOp, 'op' | 'key' | 'invoke' | 'complete'>): HistoryOp => ({ id: nextId++, client: 0, outcome: 'ok', ...o });

describe('checker on hand-written histories', () => {
  const k = 'key-a';
  const update1 = op({ op: 'update', key: k, invoke: 0, complete: 10, version: 1, commitAt: 2, cacheResult: 'stored' });
  const cas1 = op({ op: 'cas', key: k, invoke: 3, complete: 9, version: 1, token: '5', baseVersion: 0, reply: 'stored', parent: update1.id });
  const update2 = op({ op: 'update', key: k, invoke: 20, complete: 30, version: 2, commitAt: 21, cacheResult: 'failed', outcome: 'fail' });

  it('a clean history reports nothing', () => {
    const read = op({ op: 'read', key: k, invoke: 12, complete: 13, version: 1, source: 'cache' });
    const report = checkHistory([update1, cas1, read]);
    expect(report.verdict.ok).toBe(true);
    expect(report.staleReads.count).toBe(0);
    expect(report.lostUpdates.count).toBe(0);
    expect(report.verdict.checks.find((c) => c.name === 'divergence')!.ok).toBeNull();
  });

  it('catches a stale read with its proof: the read, the newer update, age and versions behind', () => {
    const stale = op({ op: 'read', key: k, invoke: 1500, complete: 1501, version: 1, source: 'cache' });
    const report = checkHistory([update1, cas1, update2, stale]);
    expect(report.verdict.ok).toBe(false);
    expect(report.staleReads.count).toBe(1);
    const proof = report.staleReads.examples[0];
    expect(proof.read.id).toBe(stale.id);
    expect(proof.newerUpdate.id).toBe(update2.id);
    expect(proof.versionsBehind).toBe(1);
    expect(proof.ageMs).toBe(1500 - 21);
    expect(report.perSecond[1].staleReads).toBe(1);
    expect(report.verdict.summary).toContain('stale-reads 1');
  });

  it('a read during the writer\'s own window (committed, cache write not done yet) is not stale', () => {
    const during = op({ op: 'read', key: k, invoke: 25, complete: 26, version: 1, source: 'cache' });
    const report = checkHistory([update1, cas1, update2, during]);
    expect(report.staleReads.count).toBe(0);
    expect(report.staleReads.inWriteWindow).toBe(1);
  });

  it('reads served by the database are never stale', () => {
    const fromDb = op({ op: 'read', key: k, invoke: 40, complete: 41, version: 1, source: 'db', dbRead: true });
    expect(checkHistory([update1, cas1, update2, fromDb]).staleReads.count).toBe(0);
  });

  it('catches a lost update: two CAS STORED from one token, both ops named', () => {
    const casB = op({ ...cas1, id: nextId++, client: 1, version: 2, invoke: 4, complete: 8 });
    const report = checkHistory([update1, cas1, casB]);
    expect(report.lostUpdates.count).toBe(1);
    expect(report.lostUpdates.examples[0].ops.map((o) => o.id).sort()).toEqual([cas1.id, casB.id].sort());
    expect(report.lostUpdates.examples[0].token).toBe('5');
    expect(report.verdict.ok).toBe(false);
  });

  it('the same token on different item versions (a restarted master reusing CAS ids) is not a lost update', () => {
    const later = op({ ...cas1, id: nextId++, baseVersion: 3, version: 4, invoke: 100, complete: 101 });
    expect(checkHistory([update1, cas1, later]).lostUpdates.count).toBe(0);
  });

  const scanOf = (rows: Array<{ key: string; master: NodeVersion; slave: NodeVersion; db?: number }>): FinalScan => ({
    scannedAtMs: 0,
    master: 'm',
    slave: 's',
    keys: rows,
    unreachable: { master: false, slave: false },
    errors: {},
  });

  it('catches an acknowledged write missing from the master at the end', () => {
    const report = checkHistory([update1, cas1], scanOf([{ key: k, master: 'missing', slave: 1, db: 1 }]));
    expect(report.missingAckedWrites.count).toBe(1);
    expect(report.missingAckedWrites.examples[0]).toMatchObject({ key: k, ackedVersion: 1, master: 'missing' });
    expect(report.missingAckedWrites.examples[0].ack.id).toBe(cas1.id);
    const older = checkHistory([update1, cas1], scanOf([{ key: k, master: 0, slave: 1, db: 1 }]));
    expect(older.missingAckedWrites.count).toBe(1);
    const fine = checkHistory([update1, cas1], scanOf([{ key: k, master: 1, slave: 1, db: 1 }]));
    expect(fine.missingAckedWrites.count).toBe(0);
    expect(fine.verdict.ok).toBe(true);
  });

  it('an unreachable master leaves acknowledged writes unjudged, not missing', () => {
    const report = checkHistory([update1, cas1], scanOf([{ key: k, master: 'unreachable', slave: 1, db: 1 }]));
    expect(report.missingAckedWrites.count).toBe(0);
    expect(report.missingAckedWrites.keysUnjudged).toBe(1);
    expect(report.verdict.checks.find((c) => c.name === 'missing-acked-writes')!.ok).toBeNull();
  });

  it('catches divergence per key and names the keys', () => {
    const scan = scanOf([
      { key: 'a', master: 3, slave: 3, db: 3 },
      { key: 'b', master: 3, slave: 2, db: 3 },
      { key: 'c', master: 2, slave: 3, db: 3 },
      { key: 'd', master: 'missing', slave: 'missing', db: 3 },
      { key: 'e', master: 3, slave: 'missing', db: 3 },
      { key: 'f', master: 1, slave: 1, db: 3 },
      { key: 'g', master: 4, slave: 4, db: 3 },
      { key: 'h', master: 'unreachable', slave: 3, db: 3 },
    ]);
    const report = checkHistory([], scan);
    expect(report.divergence.judged).toBe(true);
    if (!report.divergence.judged) return;
    expect(report.divergence.states).toMatchObject({ consistent: 2, 'slave-stale': 1, 'master-stale': 1, 'slave-missing': 1, 'both-stale': 1, ahead: 1, unreachable: 1 });
    expect(report.divergence.divergent).toBe(5);
    expect(report.divergence.stale).toBe(3);
    expect(report.divergence.examples.map((e) => `${e.key}:${e.state}`)).toEqual(['b:slave-stale', 'c:master-stale', 'e:slave-missing', 'f:both-stale', 'g:ahead']);
    expect(report.verdict.ok).toBe(false);
  });

  it('without a database, the newest cached copy is the truth', () => {
    expect(classifyKey({ key: 'x', master: 5, slave: 4 })).toBe('slave-stale');
    expect(classifyKey({ key: 'x', master: 4, slave: 5 })).toBe('master-stale');
    expect(classifyKey({ key: 'x', master: 'missing', slave: 5 })).toBe('master-missing');
    expect(summarizeDivergence(scanOf([{ key: 'x', master: 5, slave: 5 }])).divergent).toBe(0);
  });

  it('catches corrupt and impossible reads', () => {
    const corrupt = op({ op: 'read', key: k, invoke: 11, complete: 12, source: 'cache', corrupt: true, error: 'value belongs to key "other"' });
    const future = op({ op: 'read', key: k, invoke: 11, complete: 12, version: 7, source: 'cache' });
    const report = checkHistory([update1, cas1, corrupt, future]);
    expect(report.corruptReads.count).toBe(1);
    expect(report.corruptReads.examples[0].id).toBe(corrupt.id);
    expect(report.impossibleReads.count).toBe(1);
    expect(report.impossibleReads.examples[0].read.id).toBe(future.id);
  });

  it('reports costs, latency percentiles and a per-second series', () => {
    const ops: HistoryOp[] = [];
    for (let i = 0; i < 100; i++) ops.push(op({ op: 'read', key: 'z', invoke: i * 20, complete: i * 20 + (i % 10) + 1, version: 0, source: i % 4 === 0 ? 'db' : 'cache', dbRead: i % 4 === 0 }));
    const report = checkHistory(ops);
    expect(report.costs).toMatchObject({ hits: 75, misses: 25, dbReads: 25, hitRate: 0.75 });
    expect(report.latency.read).toMatchObject({ count: 100, p50Ms: 5, maxMs: 10 });
    expect(report.perSecond).toHaveLength(2);
    expect(report.perSecond[0]).toMatchObject({ second: 0, reads: 50 });
    expect(report.perSecond.reduce((s, b) => s + b.dbReads, 0)).toBe(25);
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  });
});

describe('checker properties over runs of the real workload logic', () => {
  it('clean histories (any seed, any interleaving) report no anomaly', async () => {
    let conflicts = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 0xffffffff }), async (seed) => {
        const { ops, scan } = await cleanRun(seed);
        const report = checkHistory(ops, scan);
        expect(report.verdict.checks.filter((c) => c.ok === false)).toEqual([]);
        expect(report.lostUpdates.casStored).toBeGreaterThan(0);
        conflicts += ops.filter((o) => o.reply === 'exists' || o.cacheResult === 'superseded').length;
      }),
      { numRuns: 25 },
    );
    // the interleavings really raced: CAS conflicts and superseded writes happened
    expect(conflicts).toBeGreaterThan(25);
  });

  it('every planted anomaly is caught, with the planted operation or key as proof', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 0xffffffff }), fc.nat(), fc.constantFrom('stale', 'lost', 'missing', 'divergence'), async (seed, pickRaw, kind) => {
        const { ops, scan } = await cleanRun(seed);
        const maxExamples = 10_000;
        if (kind === 'stale') {
          const updates = ops.filter((o) => o.op === 'update' && (o.version ?? 0) >= 1);
          fc.pre(updates.length > 0);
          const u = updates[pickRaw % updates.length];
          const planted = op({ op: 'read', key: u.key, invoke: u.complete + 0.5, complete: u.complete + 1, version: u.version! - 1, source: 'cache' });
          const report = checkHistory([...ops, planted], scan, { maxExamples });
          expect(report.staleReads.count).toBeGreaterThanOrEqual(1);
          expect(report.staleReads.examples.map((e) => e.read.id)).toContain(planted.id);
          expect(report.verdict.ok).toBe(false);
        } else if (kind === 'lost') {
          const stored = ops.filter((o) => o.op === 'cas' && o.reply === 'stored');
          fc.pre(stored.length > 0);
          const c = stored[pickRaw % stored.length];
          const twin = { ...c, id: nextId++, client: c.client + 100 };
          const report = checkHistory([...ops, twin], scan, { maxExamples });
          expect(report.lostUpdates.count).toBe(1);
          expect(report.lostUpdates.examples[0].ops.map((o) => o.id)).toEqual([c.id, twin.id]);
        } else if (kind === 'missing') {
          const acked = scan.keys.filter((r) => typeof r.master === 'number' && ops.some((o) => o.key === r.key && (o.op === 'cas' || o.op === 'add') && o.reply === 'stored'));
          fc.pre(acked.length > 0);
          const row = acked[pickRaw % acked.length];
          const damaged: FinalScan = { ...scan, keys: scan.keys.map((r) => (r.key === row.key ? { ...r, master: 'missing' as const } : r)) };
          const report = checkHistory(ops, damaged, { maxExamples });
          expect(report.missingAckedWrites.count).toBe(1);
          expect(report.missingAckedWrites.examples[0].key).toBe(row.key);
        } else {
          const cached = scan.keys.filter((r) => typeof r.slave === 'number' && (r.db ?? 0) >= 1);
          fc.pre(cached.length > 0);
          const row = cached[pickRaw % cached.length];
          const damaged: FinalScan = { ...scan, keys: scan.keys.map((r) => (r.key === row.key ? { ...r, slave: (r.db as number) - 1 } : r)) };
          const report = checkHistory(ops, damaged, { maxExamples });
          expect(report.divergence.judged && report.divergence.states['slave-stale']).toBe(1);
          expect(report.divergence.judged && report.divergence.examples[0].key).toBe(row.key);
        }
      }),
      { numRuns: 40 },
    );
  });
});
