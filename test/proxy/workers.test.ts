import { describe, expect, it } from 'vitest';
import { mergeStats } from '../../src/proxy/cluster.js';
import { parseWorkers } from '../../src/proxy/cli.js';
import type { ProxyStatsView } from '../../src/proxy/stats.js';
import { PendingInvalidationLog } from '../../src/proxy/pending-log.js';

function view(over: Partial<ProxyStatsView>): ProxyStatsView {
  return {
    name: 'w',
    epoch: 3,
    uptimeSeconds: 1,
    connections: { current: 1, total: 2 },
    commands: {},
    nodes: [],
    replication: { replicated: 0, failures: 0, pendingInvalidations: 0, invalidationsLanded: 0, proxyDeletes: 0 },
    masterFailures: 0,
    failovers: 0,
    writesRefusedFenced: 0,
    memory: { rssBytes: 10, heapUsedBytes: 5, externalBytes: 1, arrayBuffersBytes: 1 },
    ...over,
  };
}

const node = (up: boolean, requests: number, consecutiveFailures = 0) =>
  ({ node: '127.0.0.1:1', role: 'master', shard: 's0', up, consecutiveFailures, inFlight: 1, requests, errors: 1, timeouts: 0, hits: requests, misses: 0 }) as const;

describe('--workers', () => {
  it('parses an integer or auto (one per core, at most 4), refuses anything else', () => {
    expect(parseWorkers(undefined)).toBe(1);
    expect(parseWorkers('3')).toBe(3);
    expect(parseWorkers('auto', 2)).toBe(2);
    expect(parseWorkers('auto', 16)).toBe(4);
    expect(parseWorkers('auto', 1)).toBe(1);
    for (const bad of ['0', '-1', '65', '1.5', 'two', '']) expect(() => parseWorkers(bad)).toThrow(/--workers must be an integer from 1 to 64 or "auto"/);
  });

  it('stats of all workers add up; a node is up only if every worker sees it up', () => {
    const a = view({ commands: { get: { requests: 3, errors: 0, timeouts: 0, hits: 2, misses: 1 } }, nodes: [node(true, 5)], replication: { replicated: 1, failures: 2, pendingInvalidations: 2, invalidationsLanded: 0, proxyDeletes: 1 } });
    const b = view({ commands: { get: { requests: 4, errors: 1, timeouts: 1, hits: 3, misses: 0 }, set: { requests: 1, errors: 0, timeouts: 0, hits: 0, misses: 0 } }, nodes: [node(false, 7, 4)], masterFailures: 2 });
    const m = mergeStats('proxy-0', 9, Date.now(), [a, b], 1);
    expect(m.epoch).toBe(9);
    expect(m.failovers).toBe(1);
    expect(m.connections).toEqual({ current: 2, total: 4 });
    expect(m.commands.get).toEqual({ requests: 7, errors: 1, timeouts: 1, hits: 5, misses: 1 });
    expect(m.commands.set.requests).toBe(1);
    expect(m.nodes).toHaveLength(1);
    expect(m.nodes[0]).toMatchObject({ up: false, requests: 12, errors: 2, consecutiveFailures: 4, inFlight: 2 });
    expect(m.replication).toEqual({ replicated: 1, failures: 2, pendingInvalidations: 2, invalidationsLanded: 0, proxyDeletes: 1 });
    expect(m.masterFailures).toBe(2);
    expect(m.memory.rssBytes).toBeGreaterThan(20); // both workers plus the primary itself
  });

  it('the pending log tells a watcher every owed key, the flush that replaces them, and each landing', () => {
    const log = new PendingInvalidationLog(undefined, 2);
    const seen: string[] = [];
    log.onChange = (op, id) => seen.push(`${op}${id}`);
    log.add('s0', Buffer.from('a'));
    log.add('s0', Buffer.from('a'));
    log.remove('s0', Buffer.from('a'));
    log.add('s0', Buffer.from('b'));
    log.add('s0', Buffer.from('c'));
    log.add('s0', Buffer.from('d')); // past maxKeys: collapses into one owed flush
    expect(seen).toEqual(['+s0 61', '-s0 61', '+s0 62', '+s0 63', '+s0 *', '-s0 62', '-s0 63']);
    expect(log.ids()).toEqual(['s0 *']);
  });
});
