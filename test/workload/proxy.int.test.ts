import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkHistory } from '../../src/checker/check.js';
import { startProxy, type RunningProxy } from '../../src/proxy/server.js';
import type { ProxyRuntimeConfig } from '../../src/proxy/config.js';
import { SqliteSourceOfTruth } from '../../src/workload/database.js';
import { runWorkload, workloadKeyNames, type WorkloadOptions } from '../../src/workload/runner.js';
import { scanCluster } from '../../src/workload/scan.js';
import { asciiRequest, getFreePort } from '../../src/util/net.js';
import { MemjsCacheClient } from '../../src/client/memjs-client.js';
import { TestServers } from '../helpers/servers.js';
import { runtimeConfig } from '../proxy/harness.js';

/** The workload through the real cachectl proxy in front of real memcached master and slave. */
const servers = new TestServers();
const proxies: RunningProxy[] = [];
let master: { host: string; port: number };
let slave: { host: string; port: number };

// The proxy tests' one-shard config (test/proxy/harness.ts), with this test's slave and read policy.
function config(masterAddr: { host: string; port: number }, readPolicy: ProxyRuntimeConfig['readPolicy'] = 'master'): ProxyRuntimeConfig {
  return runtimeConfig(masterAddr, slave, { readPolicy });
}

async function proxyTo(masterAddr: { host: string; port: number }, readPolicy: ProxyRuntimeConfig['readPolicy'] = 'master'): Promise<{ host: string; port: number }> {
  const p = await startProxy({ name: 'wl-test', host: '127.0.0.1', port: 0, adminHost: '127.0.0.1', adminPort: 0, adminToken: 't', config: config(masterAddr, readPolicy) });
  proxies.push(p);
  return { host: '127.0.0.1', port: p.port };
}

beforeAll(async () => {
  const [m, s] = await Promise.all([servers.memcached(), servers.memcached()]);
  master = { host: m.host, port: m.port };
  slave = { host: s.host, port: s.port };
});
afterAll(async () => {
  await Promise.all(proxies.map((p) => p.stop(500)));
  await servers.stopAll();
});

const options = (seed: number, proxy: { host: string; port: number }): WorkloadOptions => ({
  proxy: [proxy],
  clients: 8,
  durationMs: 2000,
  keys: 40,
  keyPrefix: `px:${seed}:`,
  distribution: 'zipfian',
  readRatio: 0.7,
  valueSize: 64,
  seed,
  mitigation: 'none',
  shortTtlSeconds: 30,
  timeoutMs: 1000,
});

describe('workload through the cachectl proxy', () => {
  it.each([21, 22, 23])('seed %i, no faults: zero anomalies, master and slave agree with the database', async (seed) => {
    const proxy = await proxyTo(master);
    const db = new SqliteSourceOfTruth(':memory:');
    const result = await runWorkload({ ...options(seed, proxy), database: db });
    expect(result.counts.ops).toBeGreaterThan(300);
    expect(result.counts.fail + result.counts.unknown).toBe(0);
    const scan = await scanCluster({ master, slave, keys: workloadKeyNames(result.keyPrefix, result.keyCount), database: db });
    const report = checkHistory(result.history, scan);
    expect(report.verdict.checks.filter((c) => c.ok === false)).toEqual([]);
    expect(report.divergence.judged && report.divergence.states.consistent).toBe(40);
    expect(report.lostUpdates.casStored).toBeGreaterThan(0);
    db.close();
  });

  it('a CAS token always comes from the master, even when the proxy serves reads from the slave', async () => {
    // Binary GET always carries a CAS, so the client fetches tokens with GETK and the proxy must
    // send that to the master: a slave token only "works" on the master while both CAS counters
    // happen to be in lockstep, and silently matches the wrong item once they drift.
    const proxy = await proxyTo(master, 'slave');
    const direct = { master: new MemjsCacheClient(master), slave: new MemjsCacheClient(slave) };
    const viaProxy = new MemjsCacheClient(proxy);
    try {
      await direct.slave.set('token-source', Buffer.from('on-slave'));
      await direct.slave.set('token-source', Buffer.from('on-slave-2')); // counters drift apart
      await direct.master.set('token-source', Buffer.from('on-master'));
      expect((await viaProxy.get('token-source'))!.value.toString()).toBe('on-slave-2');
      const viaGets = await viaProxy.gets('token-source');
      expect(viaGets!.value.toString()).toBe('on-master');
      expect(viaGets!.cas).toBe((await direct.master.gets('token-source'))!.cas);
      expect(await viaProxy.cas('token-source', Buffer.from('new'), viaGets!.cas)).toBe('stored');
    } finally {
      await Promise.all([direct.master.close(), direct.slave.close(), viaProxy.close()]);
    }
  });

  it('master unreachable: CAS fails definitely; client-short-ttl puts fresh values on the slave with a short TTL', async () => {
    const deadMaster = { host: '127.0.0.1', port: await getFreePort() };
    const proxy = await proxyTo(deadMaster);

    const none = await runWorkload({ ...options(31, proxy), keyPrefix: 'dead-none:', durationMs: undefined, ops: 400 });
    expect(none.counts.slaveWrites).toBe(0);
    expect(none.counts.unknown).toBe(0);
    const noneUpdates = none.history.ops.filter((o) => o.op === 'update');
    expect(noneUpdates.every((u) => u.outcome === 'fail')).toBe(true);
    expect(checkHistory(none.history).costs.hits).toBe(0);

    const mitigated = await runWorkload({ ...options(31, proxy), keyPrefix: 'dead-ttl:', durationMs: undefined, ops: 400, mitigation: 'client-short-ttl', slaveDirect: slave });
    expect(mitigated.counts.slaveWrites).toBeGreaterThan(0);
    const written = mitigated.history.ops.filter((o) => o.op === 'slave-write' && o.reply === 'stored');
    expect(written.length).toBeGreaterThan(0);
    const report = checkHistory(mitigated.history);
    // reads fall back to the slave, which now holds the new versions
    expect(report.costs.hits).toBeGreaterThan(0);
    expect(report.staleReads.count).toBe(0);
    // the slave copy expires: memcached's meta get reports the remaining TTL
    const ttlReply = await asciiRequest(slave.host, slave.port, `mg ${written[0].key} t v\r\n`, { terminator: /\r\n(?:EN\r\n)?$|VA [\s\S]*\r\n$/ });
    const ttl = Number(/ t(-?\d+)/.exec(ttlReply)?.[1]);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(30);
  });
});
