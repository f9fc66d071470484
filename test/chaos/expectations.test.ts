import { describe, expect, it } from 'vitest';
import { evaluateExpectations, parseExpectation, parseExpectations } from '../../src/chaos/expectations.js';
import type { ChaosMetrics } from '../../src/chaos/types.js';
import { CachectlError } from '../../src/errors.js';

function metrics(over: Partial<ChaosMetrics> = {}): ChaosMetrics {
  return {
    staleReads: 0, staleReadsDuringFault: 0, staleReadsAfterHeal: 0, staleReadsAfterSwitch: 0, divergentKeys: 0,
    slaveStaleKeys: 0, masterStaleKeys: 0, lostUpdates: 0, missingAckedWrites: 0, hitRate: 0.9, dbReads: 10,
    divergentKeysAtHeal: 0, slaveStaleKeysAtHeal: 0, masterStaleKeysAtHeal: 0, failedWrites: 0, unknownOutcomes: 0, masterCasFailures: 0, slaveWritesDuringFault: 0, expiredShortTtlEntries: 0, shortTtlEntriesNotExpired: 0, mastersInUse: 1,
    operations: 100, ...over,
  };
}

describe('parseExpectation', () => {
  it('parses every operator', () => {
    for (const op of ['==', '!=', '<', '<=', '>', '>=']) {
      const e = parseExpectation(`staleReads ${op} 3`);
      expect(e).toMatchObject({ metric: 'staleReads', operator: op, value: 3 });
    }
  });
  it('accepts no spaces, decimals, percentages and a mitigation target', () => {
    expect(parseExpectation('divergentKeys<=5')).toMatchObject({ metric: 'divergentKeys', operator: '<=', value: 5 });
    expect(parseExpectation('hitRate >= 0.75')).toMatchObject({ value: 0.75 });
    expect(parseExpectation('hitRate >= 80%')).toMatchObject({ value: 0.8 });
    expect(parseExpectation('proxy-delete.staleReads == 0')).toMatchObject({ target: 'proxy-delete', metric: 'staleReads', rule: 'proxy-delete.staleReads == 0' });
  });
  it('matches metric names case-insensitively', () => {
    expect(parseExpectation('stalereads == 0').metric).toBe('staleReads');
  });
  it('rejects bad rules with a usage error naming the rule', () => {
    for (const bad of ['staleReads = 0', 'staleReads == abc', 'bogusMetric == 1', '', '== 0']) {
      let err: unknown;
      try {
        parseExpectation(bad);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(CachectlError);
      expect((err as CachectlError).exitCode).toBe(2);
      expect((err as CachectlError).message).toContain(bad.trim() === '' ? '""' : bad.split(' ')[0]);
    }
  });
});

describe('evaluateExpectations', () => {
  const runs = [
    { label: 'none', metrics: metrics({ staleReads: 12, divergentKeys: 4 }) },
    { label: 'proxy-delete', metrics: metrics({ staleReads: 0, hitRate: 0.6 }) },
  ];
  it('evaluates an untargeted rule on every run with the measured value', () => {
    const res = evaluateExpectations(parseExpectations(['staleReads == 0']), runs);
    expect(res.map((r) => [r.run, r.actual, r.passed])).toEqual([
      ['none', 12, false],
      ['proxy-delete', 0, true],
    ]);
    expect(res[0].message).toBe('none: expected staleReads == 0, measured 12');
  });
  it('evaluates a targeted rule only on its run', () => {
    const res = evaluateExpectations(parseExpectations(['proxy-delete.hitRate < 0.7']), runs);
    expect(res).toHaveLength(1);
    expect(res[0]).toMatchObject({ run: 'proxy-delete', actual: 0.6, passed: true });
  });
  it('fails a rule whose target names no run', () => {
    const res = evaluateExpectations(parseExpectations(['client-short-ttl.staleReads == 0']), runs);
    expect(res[0].passed).toBe(false);
    expect(res[0].message).toContain('no run named "client-short-ttl"');
  });
  it('compares floats with a tolerance', () => {
    const res = evaluateExpectations(parseExpectations(['hitRate == 0.3']), [{ label: 'x', metrics: metrics({ hitRate: 0.1 + 0.2 }) }]);
    expect(res[0].passed).toBe(true);
    const strict = evaluateExpectations(parseExpectations(['hitRate > 0.3']), [{ label: 'x', metrics: metrics({ hitRate: 0.1 + 0.2 }) }]);
    expect(strict[0].passed).toBe(false);
  });
});
