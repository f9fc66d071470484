import { afterAll, describe, expect, it } from 'vitest';
import { checkHistory } from '../../src/checker/check.js';
import { startMemcached, type ManagedProcess } from '../../src/runtime/processes.js';
import { getFreePort } from '../../src/util/net.js';
import { SqliteSourceOfTruth } from '../../src/workload/database.js';
import { runWorkload, workloadKeyNames } from '../../src/workload/runner.js';
import { scanCluster } from '../../src/workload/scan.js';

/**
 * A real crash in the middle of a run (kill -9, restart empty on the same port): every operation
 * still ends with an outcome, nothing is counted as acknowledged that was not, and the checker
 * shows the acknowledged writes the restarted node no longer holds.
 */
const procs: ManagedProcess[] = [];
afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop(1000)));
});

describe('workload across a memcached crash', () => {
  it('ends every op honestly and the checker names the acknowledged writes the crash lost', async () => {
    const port = await getFreePort();
    procs.push(await startMemcached({ port }));
    const node = { host: '127.0.0.1', port };
    const db = new SqliteSourceOfTruth(':memory:');
    const run = runWorkload({
      proxy: [node],
      target: 'master',
      clients: 8,
      durationMs: 2500,
      keys: 20_000,
      keyPrefix: 'crash:',
      distribution: 'uniform',
      readRatio: 0.5,
      valueSize: 64,
      seed: 3,
      mitigation: 'none',
      shortTtlSeconds: 5,
      timeoutMs: 300,
      database: db,
    });
    await new Promise((r) => setTimeout(r, 800));
    const killedAtWall = Date.now();
    await procs[0].kill();
    await new Promise((r) => setTimeout(r, 400));
    procs.push(await startMemcached({ port }));
    const result = await run;
    expect(result.stoppedBy).toBe('duration');
    // errors happened while it was down, and every op completed with an outcome
    expect(result.counts.fail + result.counts.unknown).toBeGreaterThan(0);
    expect(result.history.ops.every((o) => o.complete >= o.invoke && ['ok', 'fail', 'unknown'].includes(o.outcome))).toBe(true);
    // no write is "stored" unless the server said so
    expect(result.history.ops.filter((o) => o.reply === 'stored' && o.outcome !== 'ok')).toEqual([]);
    const scan = await scanCluster({ master: node, slave: node, keys: workloadKeyNames('crash:', 20_000), database: db });
    const report = checkHistory(result.history, scan, { maxExamples: 1000 });
    // 20000 keys, ~1.3 s after the restart at a few thousand ops/s: many keys written before the
    // crash are never touched again, so the empty node lacks writes it had acknowledged
    expect(report.missingAckedWrites.count).toBeGreaterThan(0);
    for (const proof of report.missingAckedWrites.examples) {
      // only writes acknowledged before the crash can be gone
      expect(proof.ack.complete).toBeLessThan(killedAtWall - result.startedAtMs + 50);
      expect(proof.master === 'missing' || (typeof proof.master === 'number' && proof.master < proof.ackedVersion)).toBe(true);
    }
    expect(report.lostUpdates.count).toBe(0);
    expect(report.impossibleReads.count).toBe(0);
    db.close();
  });
});
