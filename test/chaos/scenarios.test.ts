import { describe, expect, it } from 'vitest';
import { defaultRequest } from '../../src/chaos/request.js';
import { masterFault, plansFor } from '../../src/chaos/scenarios.js';

describe('master-down faults', () => {
  const req = (fault: 'partition' | 'crash' | 'reply-lost' | 'slow') => ({ ...defaultRequest('master-down'), fault, proxyTimeoutMs: 200 });
  it('maps each fault kind to what the issue describes, on the master link only', () => {
    expect(masterFault(req('partition'), 'master', 'master')).toEqual({ kind: 'link-down', link: 'master' });
    expect(masterFault(req('crash'), 'master', 'master')).toEqual({ kind: 'crash', node: 'master' });
    // replies cut (downstream only): requests still reach the master and are applied
    expect(masterFault(req('reply-lost'), 'master', 'master')).toMatchObject({ kind: 'limit-data', link: 'master', direction: 'downstream' });
    // slower than the proxy's timeout
    const slow = masterFault(req('slow'), 'master', 'master');
    expect(slow).toMatchObject({ kind: 'latency', link: 'master', direction: 'downstream' });
    expect((slow as { latencyMs: number }).latencyMs).toBeGreaterThan(200);
  });
  it('plans one run per mitigation on the same request; auto-failover is one run', () => {
    const all = { ...defaultRequest('master-down'), mitigations: ['none', 'proxy-delete', 'client-short-ttl'] as const };
    expect(plansFor({ ...all, mitigations: [...all.mitigations] }).map((p) => [p.label, p.mitigation])).toEqual([
      ['none', 'none'],
      ['proxy-delete', 'proxy-delete'],
      ['client-short-ttl', 'client-short-ttl'],
    ]);
    expect(plansFor(defaultRequest('auto-failover')).map((p) => p.label)).toEqual(['auto']);
    // a crash cannot be scanned before the node restarts: scan right after the heal
    expect(plansFor({ ...defaultRequest('master-down'), fault: 'crash' })[0].scanAfterHeal).toBe(true);
    expect(plansFor(defaultRequest('master-down'))[0].scanAfterHeal).toBe(false);
  });
  it('the defaults keep --mitigation all under the 90 s budget with room for setup', () => {
    const d = defaultRequest('master-down');
    expect(3 * (d.warmupMs + d.faultMs + d.healMs + d.settleMs)).toBeLessThanOrEqual(60_000);
    expect(d.readPolicy).toBe('balanced');
  });
});
