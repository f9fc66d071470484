import { describe, expect, it } from 'vitest';
import { StaleEpochError, type ProxyAdmin } from '../../src/chaos/proxy-admin.js';
import { runRejoin, runSwitch, type NodeOps, type SwitchProbe } from '../../src/chaos/switch.js';
import type { ProxyConfigUpdate, ProxyNodeAddr, ProxyRuntimeConfig } from '../../src/proxy/config.js';
import type { Clock } from '../../src/util/clock.js';

const MASTER: ProxyNodeAddr = { host: '127.0.0.1', port: 1001 };
const SLAVE: ProxyNodeAddr = { host: '127.0.0.1', port: 1002 };

/** In-memory proxy admin following the contract: epoch must grow, 409 otherwise. */
class FakeAdmin implements ProxyAdmin {
  readonly address: string;
  cfg: ProxyRuntimeConfig;
  failPuts = 0;
  failWhen?: (u: ProxyConfigUpdate) => boolean;
  loseReply = false;
  puts: ProxyConfigUpdate[] = [];
  constructor(readonly name: string, epoch = 1) {
    this.address = `127.0.0.1:${name.length}`;
    this.cfg = {
      epoch, shards: [{ name: 'shard-0', master: MASTER, slave: SLAVE }], readPolicy: 'balanced', mitigation: 'none', replication: 'sync',
      failover: 'manual', failoverThreshold: 3, timeoutMs: 100, downAfterFailures: 3, probeIntervalMs: 100, writesFenced: false,
    };
  }
  async getConfig(): Promise<ProxyRuntimeConfig> {
    return structuredClone(this.cfg);
  }
  async putConfig(u: ProxyConfigUpdate): Promise<ProxyRuntimeConfig> {
    if (this.failWhen?.(u) || this.failPuts > 0) {
      if (this.failPuts > 0) this.failPuts--;
      throw new Error('connection refused');
    }
    if (u.epoch <= this.cfg.epoch) throw new StaleEpochError(this.name, u.epoch, 'stale');
    this.puts.push(u);
    this.cfg = { ...this.cfg, ...structuredClone(u) };
    if (this.loseReply) {
      this.loseReply = false;
      throw new Error('socket hang up');
    }
    return structuredClone(this.cfg);
  }
  async stats(): Promise<unknown> {
    return {};
  }
}

const fastClock: Clock = { now: () => Date.now(), monotonic: () => performance.now(), sleep: async () => undefined };

function nodeOps(reachable: ProxyNodeAddr[]): NodeOps & { flushed: number[] } {
  const flushed: number[] = [];
  return {
    flushed,
    async flush(a) {
      if (!reachable.some((r) => r.port === a.port)) throw new Error('connection refused');
      flushed.push(a.port);
    },
  };
}

const okProbe: SwitchProbe = {
  casRoundTrip: async () => ({ ok: true, value: 'v2', message: 'cas ok' }),
  read: async () => 'v2',
};

const names = (a: ProxyNodeAddr): string => (a.port === 1001 ? 'master' : 'slave');

describe('runSwitch', () => {
  it('fences, promotes the slave, attaches the flushed old master, unfences: one epoch everywhere', async () => {
    const proxies = [new FakeAdmin('p0', 3), new FakeAdmin('p1', 5)];
    const ops = nodeOps([MASTER, SLAVE]);
    const res = await runSwitch({ proxies, nodeOps: ops, probe: okProbe, clock: fastClock, nodeName: names });
    expect(res.outcome).toBe('switched');
    expect(res.ok).toBe(true);
    expect(res.fromEpoch).toBe(5);
    expect(res.toEpoch).toBe(8);
    for (const p of proxies) {
      expect(p.cfg.epoch).toBe(8);
      expect(p.cfg.shards[0].master).toEqual(SLAVE);
      expect(p.cfg.shards[0].slave).toEqual(MASTER);
      expect(p.cfg.writesFenced).toBe(false);
      // fence first, then promote while fenced, then unfence
      expect(p.puts.map((u) => [u.epoch, u.writesFenced])).toEqual([[6, true], [7, true], [8, false]]);
    }
    // the old master was reachable: it is flushed, the new master keeps its (in sync) data
    expect(ops.flushed).toEqual([1001]);
    expect(res.newMaster).toBe('slave (127.0.0.1:1002)');
    expect(res.steps.map((s) => s.step)).toEqual(['read-configs', 'fence', 'flush-old-master', 'promote', 'unfence', 'verify']);
  });

  it('an unreachable old master stays detached and the new master is flushed (its data may be stale)', async () => {
    const proxies = [new FakeAdmin('p0'), new FakeAdmin('p1')];
    const ops = nodeOps([SLAVE]);
    const res = await runSwitch({ proxies, nodeOps: ops, probe: okProbe, clock: fastClock });
    expect(res.outcome).toBe('switched');
    expect(res.oldMasterDetached).toBe(true);
    expect(res.newMasterFlushed).toBe(true);
    expect(ops.flushed).toEqual([1002]);
    for (const p of proxies) expect(p.cfg.shards[0]).toMatchObject({ master: SLAVE, slave: null });
  });

  it('refuses to start when a proxy does not answer or the proxies disagree, changing nothing', async () => {
    const a = new FakeAdmin('p0');
    const b = new FakeAdmin('p1');
    b.getConfig = async () => {
      throw new Error('ECONNREFUSED');
    };
    await expect(runSwitch({ proxies: [a, b], nodeOps: nodeOps([MASTER, SLAVE]), clock: fastClock })).rejects.toThrow(/p1 does not answer.*nothing was changed/);
    expect(a.puts).toEqual([]);

    const c = new FakeAdmin('p0');
    const d = new FakeAdmin('p1');
    d.cfg.shards[0] = { name: 'shard-0', master: SLAVE, slave: null };
    await expect(runSwitch({ proxies: [c, d], nodeOps: nodeOps([MASTER, SLAVE]), clock: fastClock })).rejects.toThrow(/disagree/);
  });

  it('rolls back to the old roles, unfenced, on one epoch when promotion fails on a proxy', async () => {
    const proxies = [new FakeAdmin('p0'), new FakeAdmin('p1')];
    proxies[1].failWhen = (u) => u.shards !== undefined && u.shards[0].master.port === SLAVE.port;
    const res = await runSwitch({ proxies, nodeOps: nodeOps([MASTER, SLAVE]), probe: okProbe, clock: fastClock });
    expect(res.outcome).toBe('rolled-back');
    expect(res.ok).toBe(false);
    for (const p of proxies) {
      expect(p.cfg.shards[0]).toMatchObject({ master: MASTER, slave: SLAVE });
      expect(p.cfg.writesFenced).toBe(false);
    }
    // p0 was promoted then rolled back; p1 never was; both end on the rollback epoch
    expect(proxies[0].cfg.epoch).toBe(proxies[1].cfg.epoch);
    expect(res.steps.at(-1)?.step).toBe('rollback');
  });

  it('a lost reply followed by 409 counts as applied when the proxy holds the change', async () => {
    const proxies = [new FakeAdmin('p0'), new FakeAdmin('p1')];
    proxies[0].loseReply = true;
    const res = await runSwitch({ proxies, nodeOps: nodeOps([MASTER, SLAVE]), probe: okProbe, clock: fastClock });
    expect(res.outcome).toBe('switched');
    expect(proxies[0].cfg.epoch).toBe(proxies[1].cfg.epoch);
  });

  it('reports a failed verification (CAS does not work) as not ok', async () => {
    const proxies = [new FakeAdmin('p0')];
    const res = await runSwitch({
      proxies, nodeOps: nodeOps([MASTER, SLAVE]), clock: fastClock,
      probe: { casRoundTrip: async () => ({ ok: false, value: 'x', message: 'cas answered SERVER_ERROR' }), read: async () => null },
    });
    expect(res.outcome).toBe('switched');
    expect(res.ok).toBe(false);
    expect(res.verification.casWorks).toBe(false);
  });
});

describe('runRejoin', () => {
  it('flushes the detached node and attaches it as slave everywhere', async () => {
    const proxies = [new FakeAdmin('p0', 8), new FakeAdmin('p1', 8)];
    for (const p of proxies) p.cfg.shards[0] = { name: 'shard-0', master: SLAVE, slave: null };
    const ops = nodeOps([MASTER, SLAVE]);
    const res = await runRejoin({ proxies, nodeOps: ops, probe: okProbe, clock: fastClock, node: MASTER });
    expect(res.ok).toBe(true);
    expect(ops.flushed).toEqual([1001]);
    for (const p of proxies) expect(p.cfg).toMatchObject({ epoch: 9, shards: [{ master: SLAVE, slave: MASTER }] });
  });
  it('keeps the node detached while it is unreachable', async () => {
    const proxies = [new FakeAdmin('p0', 8)];
    proxies[0].cfg.shards[0] = { name: 'shard-0', master: SLAVE, slave: null };
    const res = await runRejoin({ proxies, nodeOps: nodeOps([SLAVE]), clock: fastClock, node: MASTER });
    expect(res.ok).toBe(false);
    expect(res.oldMasterDetached).toBe(true);
    expect(proxies[0].cfg.shards[0].slave).toBeNull();
  });
});
