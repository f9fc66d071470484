import { describe, expect, it } from 'vitest';
import { checkHistory } from '../../src/checker/check.js';
import type { CacheClient } from '../../src/client/types.js';
import { createProgress } from '../../src/report/progress.js';
import { runWorkload, type SecondStats } from '../../src/workload/runner.js';
import { FakeCacheStore } from '../checker/fake-cache.js';

/**
 * The live "stale reads so far" on the progress line comes from the workload runner's per-second
 * stats. It must count what the checker counts afterwards: here reads are served from a frozen
 * copy (a slave nobody updates) while writes keep going to the master store.
 */
async function run(freezeAfterMs: number | null): Promise<{ live: number; checker: number; seconds: SecondStats[] }> {
  const master = new FakeCacheStore(7);
  let frozen: Map<string, { value: Buffer; flags: number; cas: bigint }> | null = null;
  const timer = freezeAfterMs === null ? undefined : setTimeout(() => (frozen = new Map(master.items)), freezeAfterMs);
  const factory = (): CacheClient => {
    const base = master.client();
    return {
      ...base,
      get: async (key) => {
        if (!frozen) return base.get(key);
        await master.delay();
        const item = frozen.get(key);
        return item ? { value: Buffer.from(item.value), flags: item.flags, cas: item.cas } : null;
      },
    };
  };
  const seconds: SecondStats[] = [];
  const progress = createProgress({ enabled: false });
  const result = await runWorkload(
    { proxy: [{ host: 'fake', port: 1 }], clients: 3, durationMs: 2300, keys: 20, keyPrefix: 'live:', distribution: 'uniform', readRatio: 0.7, valueSize: 16, seed: 3, mitigation: 'none', shortTtlSeconds: 5, timeoutMs: 1000, opsPerSecond: 600, clientFactory: factory },
    {
      onSecond: (s) => {
        seconds.push(s);
        progress.second(s);
      },
    },
  );
  clearTimeout(timer);
  const check = checkHistory(result.history);
  return { live: seconds.reduce((n, s) => n + s.staleReads, 0), checker: check.staleReads.count, seconds };
}

describe('live stale reads (workload runner per-second stats)', () => {
  it('match the checker on a run whose reads come from a frozen replica', async () => {
    const { live, checker, seconds } = await run(400);
    expect(seconds.length).toBeGreaterThanOrEqual(2);
    expect(checker).toBeGreaterThan(0);
    // The ticks cover whole seconds; the reads after the last tick are only in the checker's total.
    expect(live).toBeGreaterThan(0);
    expect(live).toBeLessThanOrEqual(checker);
    expect(live).toBeGreaterThanOrEqual(checker * 0.5);
  });

  it('are zero when nothing is stale', async () => {
    const { live, checker } = await run(null);
    expect(checker).toBe(0);
    expect(live).toBe(0);
  });
});
