import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkHistory } from '../../src/checker/check.js';
import { SqliteSourceOfTruth } from '../../src/workload/database.js';
import { historyFromJsonLines, historyToJsonLines } from '../../src/workload/history.js';
import { runWorkload, workloadKeyNames, type WorkloadOptions } from '../../src/workload/runner.js';
import { scanCluster } from '../../src/workload/scan.js';
import { TestServers } from '../helpers/servers.js';
import { startMasterAndSlave } from './memcached-pair.js';

const servers = new TestServers();
let master: { host: string; port: number };
let slave: { host: string; port: number };

beforeAll(async () => {
  ({ master, slave } = await startMasterAndSlave(servers));
});
afterAll(async () => {
  await servers.stopAll();
});

const base = (seed: number): WorkloadOptions => ({
  proxy: [master],
  target: 'master',
  clients: 8,
  durationMs: 2000,
  keys: 50,
  keyPrefix: `it:${seed}:`,
  distribution: seed % 2 ? 'zipfian' : 'uniform',
  readRatio: 0.7,
  valueSize: 64,
  seed,
  mitigation: 'none',
  shortTtlSeconds: 5,
  timeoutMs: 1000,
});

describe('workload against real memcached, no faults', () => {
  it.each([1, 2, 3, 4, 5])('seed %i: many CAS conflicts, zero anomalies', async (seed) => {
    const db = new SqliteSourceOfTruth(':memory:');
    const seconds: number[] = [];
    const result = await runWorkload({ ...base(seed), database: db }, { onSecond: (s) => seconds.push(s.ops) });
    expect(result.stoppedBy).toBe('duration');
    expect(result.counts.ops).toBeGreaterThan(500);
    expect(result.counts.fail + result.counts.unknown).toBe(0);
    expect(seconds.length).toBeGreaterThanOrEqual(1);
    // hot keys with 8 writers: CAS conflicts must actually happen for this to test anything
    const casConflicts = result.history.ops.filter((o) => o.op === 'cas' && o.reply === 'exists').length;
    if (seed % 2 === 1) expect(casConflicts).toBeGreaterThan(0);
    const keys = workloadKeyNames(result.keyPrefix, result.keyCount);
    // Without a proxy nothing replicates: scan the master against itself to judge acked writes.
    const scan = await scanCluster({ master, slave: master, keys, database: db });
    const report = checkHistory(result.history, scan);
    expect(report.verdict.checks.filter((c) => c.ok === false)).toEqual([]);
    expect(report.verdict.ok).toBe(true);
    expect(report.lostUpdates.casStored).toBeGreaterThan(0);
    expect(report.missingAckedWrites.keysJudged).toBeGreaterThan(0);
    expect(report.totals.ops).toBe(result.counts.ops);
    expect(report.costs.hitRate).toBeGreaterThan(0.5);
    // the database ends at exactly the number of committed updates per key
    const committed = new Map<string, number>();
    for (const o of result.history.ops) if (o.op === 'update') committed.set(o.key, Math.max(committed.get(o.key) ?? 0, o.version!));
    for (const row of scan.keys) expect(row.db).toBe(committed.get(row.key) ?? 0);
    db.close();
  });

  it('client-short-ttl never writes the slave while the master answers; stops on an op count', async () => {
    const result = await runWorkload({ ...base(9), mitigation: 'client-short-ttl', slaveDirect: slave, durationMs: undefined, ops: 2000 });
    expect(result.stoppedBy).toBe('ops');
    expect(result.counts.ops).toBe(2000);
    expect(result.counts.slaveWrites).toBe(0);
  });

  it('an abort signal stops the run early, and the history survives a JSON-lines round trip', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 300);
    const started = Date.now();
    const result = await runWorkload({ ...base(11), durationMs: 20_000, signal: controller.signal });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(result.stoppedBy).toBe('abort');
    const text = historyToJsonLines(result.history.ops, result.history.meta);
    const back = historyFromJsonLines(text);
    expect(back.ops).toEqual(result.history.ops);
    expect(back.meta.seed).toBe(11);
  });
});
