import { createConnection, type Socket } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startProxyCluster, type RunningCluster } from '../../src/proxy/cluster.js';
import type { ProxyRuntimeConfig } from '../../src/proxy/config.js';
import { getFreePort, waitUntil } from '../../src/util/net.js';
import { TestServers, exchange, peek, runtimeConfig, type Addr } from './harness.js';

/**
 * `cachectl proxy --workers N`: several worker processes on one client port must behave as one
 * proxy: one config/epoch, summed stats, replication and CAS correct whichever worker a
 * connection lands on, restarts, durable per-worker pending logs.
 */

const servers = new TestServers();
let master: Addr;
let slave: Addr;
let proxy: RunningCluster | undefined;
let dir: string;

beforeAll(async () => {
  [master, slave] = await Promise.all([servers.memcached(), servers.memcached()]);
  dir = mkdtempSync(join(tmpdir(), 'cachectl-workers-'));
});
afterEach(async () => {
  await proxy?.stop(500);
  proxy = undefined;
});
afterAll(async () => {
  await servers.stopAll();
  rmSync(dir, { recursive: true, force: true });
});

async function start(cfg: ProxyRuntimeConfig, workers = 2, pendingLogFile?: string): Promise<RunningCluster> {
  proxy = await startProxyCluster({ name: 'proxy-workers', host: '127.0.0.1', port: 0, adminHost: '127.0.0.1', adminPort: 0, adminToken: 'test-token', config: cfg, workers, pendingLogFile });
  return proxy;
}

async function admin(path: string, init: RequestInit = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${proxy!.adminPort}${path}`, init);
  return { status: res.status, body: await res.json() };
}

const put = (body: unknown) =>
  admin('/config', { method: 'PUT', headers: { 'content-type': 'application/json', authorization: 'Bearer test-token' }, body: JSON.stringify(body) });

/** one ASCII request on a fresh connection (round robin spreads fresh connections over workers) */
async function ask(port: number, text: string, done: RegExp): Promise<string> {
  const { reply } = await exchange(port, [Buffer.from(text, 'latin1')], { idleMs: 3000, until: (r) => done.test(r.toString('latin1')) });
  return reply.toString('latin1');
}

/** a connection kept open, one request/reply at a time */
class Conn {
  private buf = '';
  private waiter: (() => void) | null = null;
  private constructor(private readonly sock: Socket) {
    sock.on('data', (d) => {
      this.buf += d.toString('latin1');
      this.waiter?.();
    });
  }
  static open(port: number): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const s = createConnection({ host: '127.0.0.1', port }, () => resolve(new Conn(s)));
      s.once('error', reject);
    });
  }
  async send(text: string, done: RegExp): Promise<string> {
    this.buf = '';
    this.sock.write(text);
    const deadline = Date.now() + 5000;
    while (!done.test(this.buf)) {
      if (Date.now() > deadline) throw new Error(`no complete reply to ${JSON.stringify(text)}: ${JSON.stringify(this.buf)}`);
      await new Promise<void>((r) => {
        this.waiter = r;
        setTimeout(r, 50);
      });
    }
    return this.buf;
  }
  close(): void {
    this.sock.destroy();
  }
}

describe('proxy --workers', () => {
  it('one config: PUT reaches every worker before 200, a stale PUT changes nothing anywhere', async () => {
    const p = await start(runtimeConfig(master, slave));
    const fence = await put({ epoch: 2, writesFenced: true });
    expect(fence.status).toBe(200);
    expect(fence.body.epoch).toBe(2);
    // every fresh connection, whichever worker takes it, already runs epoch 2 (writes fenced)
    for (let i = 0; i < 6; i++) {
      expect(await ask(p.port, 'set fenced-k 0 0 1\r\nx\r\n', /\r\n$/)).toMatch(/^SERVER_ERROR .*fenced/);
      expect((await admin('/config')).body.epoch).toBe(2);
    }
    const stale = await put({ epoch: 2, writesFenced: false });
    expect(stale.status).toBe(409);
    for (let i = 0; i < 4; i++) expect(await ask(p.port, 'set fenced-k 0 0 1\r\nx\r\n', /\r\n$/)).toMatch(/^SERVER_ERROR .*fenced/);
    const stats = (await admin('/stats')).body;
    expect(stats.epoch).toBe(2);
    expect(stats.workers.map((w: { epoch: number }) => w.epoch)).toEqual([2, 2]);
    expect((await put({ epoch: 3, writesFenced: false })).status).toBe(200);
    for (let i = 0; i < 4; i++) expect(await ask(p.port, 'set fenced-k 0 0 1\r\nx\r\n', /\r\n$/)).toBe('STORED\r\n');
  });

  it('stats and metrics add up every worker', async () => {
    const p = await start(runtimeConfig(master, slave));
    await ask(p.port, 'set sum-k 0 0 2\r\nhi\r\n', /\r\n$/);
    for (let i = 0; i < 8; i++) await ask(p.port, `get sum-k\r\nget sum-miss-${i}\r\n`, /END\r\n[^]*END\r\n$/);
    const stats = (await admin('/stats')).body;
    expect(stats.commands.get).toMatchObject({ requests: 16, hits: 8, misses: 8, errors: 0 });
    expect(stats.connections.total).toBe(9);
    expect(stats.replication).toMatchObject({ replicated: 1, failures: 0 });
    expect(stats.nodes.map((n: { role: string }) => n.role)).toEqual(['master', 'slave']);
    // round robin: both workers took connections, and the sum is what the workers report
    expect(stats.workers.every((w: { connections: { total: number } }) => w.connections.total > 0)).toBe(true);
    expect(stats.workers.reduce((s: number, w: { connections: { total: number } }) => s + w.connections.total, 0)).toBe(9);
    const metrics = await (await fetch(`http://127.0.0.1:${p.adminPort}/metrics`)).text();
    expect(metrics).toMatch(/cachectl_proxy_command_hits_total\{proxy="proxy-workers",command="get"\} 8/);
  });

  it('replication and CAS through several workers: the same token everywhere, exactly one cas wins', async () => {
    const p = await start(runtimeConfig(master, slave), 3);
    expect(await ask(p.port, 'set cas-k 0 0 4\r\nbase\r\n', /\r\n$/)).toBe('STORED\r\n');
    const conns = await Promise.all(Array.from({ length: 6 }, () => Conn.open(p.port)));
    try {
      const tokens = new Set<string>();
      for (const c of conns) {
        const r = await c.send('gets cas-k\r\n', /END\r\n$/);
        tokens.add(/^VALUE cas-k 0 4 (\d+)\r\nbase\r\nEND\r\n$/.exec(r)![1]);
      }
      expect(tokens.size).toBe(1);
      const token = [...tokens][0];
      const results = await Promise.all(conns.map((c, i) => c.send(`cas cas-k 0 0 3 ${token}\r\nv-${i}\r\n`, /\r\n$/)));
      expect(results.filter((r) => r === 'STORED\r\n')).toHaveLength(1);
      expect(results.filter((r) => r === 'EXISTS\r\n')).toHaveLength(5);
      const winner = `v-${results.indexOf('STORED\r\n')}`;
      expect((await peek(master, 'cas-k'))?.value).toBe(winner);
      expect((await peek(slave, 'cas-k'))?.value).toBe(winner);
    } finally {
      for (const c of conns) c.close();
    }
    const stats = (await admin('/stats')).body;
    expect(stats.workers.filter((w: { connections: { total: number } }) => w.connections.total > 0).length).toBeGreaterThanOrEqual(2);
  });

  it('a worker that dies is restarted with the current config', async () => {
    const p = await start(runtimeConfig(master, slave));
    expect((await put({ epoch: 7, readPolicy: 'slave' })).status).toBe(200);
    const [victim] = p.workerPids();
    process.kill(victim, 'SIGKILL');
    await waitUntil('the killed worker is replaced', async () => {
      const w = (await admin('/stats')).body.workers as { pid: number; up: boolean; epoch: number; restarts: number }[];
      return w.every((x) => x.up) && w[0].pid !== victim && w[0].restarts === 1;
    }, { timeoutMs: 15_000 });
    const stats = (await admin('/stats')).body;
    expect(stats.workers.map((w: { epoch: number }) => w.epoch)).toEqual([7, 7]);
    for (let i = 0; i < 4; i++) expect(await ask(p.port, `set restart-${i} 0 0 1\r\nx\r\n`, /\r\n$/)).toBe('STORED\r\n');
  });

  it('auto failover: the first worker to trip it asks the primary, every worker takes the one new epoch', async () => {
    const deadPort = await getFreePort();
    const p = await start(runtimeConfig({ host: '127.0.0.1', port: deadPort }, slave, { failover: 'auto', failoverThreshold: 2, downAfterFailures: 100, timeoutMs: 300 }));
    // failing writes on connections spread over both workers: each may ask; one promotion happens
    await Promise.all(Array.from({ length: 6 }, (_, i) => ask(p.port, `set fo-${i} 0 0 1\r\nx\r\nset fo-${i} 0 0 1\r\nx\r\nset fo-${i} 0 0 1\r\nx\r\n`, /(\r\n[^]*){3}$/)));
    await waitUntil('promotion applied', async () => (await admin('/config')).body.epoch === 2, { timeoutMs: 10_000 });
    const cfg = (await admin('/config')).body;
    expect(cfg.shards[0]).toEqual({ name: 'shard-0', master: { host: slave.host, port: slave.port }, slave: null });
    const stats = (await admin('/stats')).body;
    expect(stats.failovers).toBe(1);
    expect(stats.workers.map((w: { epoch: number }) => w.epoch)).toEqual([2, 2]);
    for (let i = 0; i < 4; i++) expect(await ask(p.port, `set after-fo-${i} 0 0 1\r\ny\r\n`, /\r\n$/)).toBe('STORED\r\n');
    expect((await peek(slave, 'after-fo-3'))?.value).toBe('y');
    expect((await admin('/config')).body.epoch).toBe(2);
  });

  it('pending invalidations: one durable log per worker, summed in stats, known to every worker', async () => {
    const deadSlave = await getFreePort();
    const log = join(dir, 'pending.log');
    const p = await start(runtimeConfig(master, { host: '127.0.0.1', port: deadSlave }, { downAfterFailures: 100, timeoutMs: 300 }), 2, log);
    for (let i = 0; i < 6; i++) expect(await ask(p.port, `set owed-${i} 0 0 1\r\nx\r\n`, /\r\n$/)).toBe('STORED\r\n');
    const stats = (await admin('/stats')).body;
    expect(stats.replication.pendingInvalidations).toBe(6);
    await proxy!.stop(500);
    proxy = undefined;
    const files = [`${log}.w0`, `${log}.w1`];
    expect(files.every((f) => existsSync(f))).toBe(true);
    const owed = files.flatMap((f) => readFileSync(f, 'latin1').split('\n').filter((l) => l.startsWith('+ ')));
    expect(owed.sort()).toEqual(Array.from({ length: 6 }, (_, i) => `+ shard-0 ${Buffer.from(`owed-${i}`).toString('hex')}`).sort());
    // restarted with the same log: each worker reloads its own file, the total is still owed
    const again = await start(runtimeConfig(master, { host: '127.0.0.1', port: deadSlave }, { downAfterFailures: 100, timeoutMs: 300 }), 2, log);
    expect((await admin('/stats')).body.replication.pendingInvalidations).toBe(6);
    // the slave comes back on that port: the owed deletes land, from both logs
    const back = await servers.memcached();
    await exchange(back.port, [Buffer.from('set owed-0 0 0 5\r\nstale\r\n')], { until: (r) => r.toString().endsWith('\r\n') });
    expect((await put({ epoch: 2, shards: [{ name: 'shard-0', master: { host: master.host, port: master.port }, slave: { host: '127.0.0.1', port: back.port } }] })).status).toBe(200);
    await waitUntil('owed deletes landed', async () => (await admin('/stats')).body.replication.pendingInvalidations === 0, { timeoutMs: 10_000 });
    expect(await peek(back, 'owed-0')).toBeNull();
    void again;
  });

  it('what one worker owes the slave is known to every other worker (they read those keys from the master)', async () => {
    const deadSlave = await getFreePort();
    const p = await start(runtimeConfig(master, { host: '127.0.0.1', port: deadSlave }, { downAfterFailures: 100, timeoutMs: 300 }), 2);
    for (let i = 0; i < 6; i++) expect(await ask(p.port, `set mirror-${i} 0 0 1\r\nx\r\n`, /\r\n$/)).toBe('STORED\r\n');
    const stats = (await admin('/stats')).body;
    expect(stats.replication.pendingInvalidations).toBe(6);
    // sync replication: STORED came after the other worker took the owed key in
    const owedOwn = stats.workers.map((w: { owedByOthers: number }) => w.owedByOthers);
    expect(owedOwn.reduce((a: number, b: number) => a + b, 0)).toBe(6);
    expect(owedOwn.every((n: number) => n > 0)).toBe(true);
    // a restarted worker learns what the others owe before it takes a client; what it owed lived
    // only in its memory here (no --pending-log), so the others forget it too
    process.kill(p.workerPids()[1], 'SIGKILL');
    await waitUntil('worker 1 is back', async () => (await admin('/stats')).body.workers.every((w: { up: boolean; restarts: number }) => w.up), { timeoutMs: 15_000 });
    const after = (await admin('/stats')).body;
    expect(after.workers.map((w: { owedByOthers: number }) => w.owedByOthers)).toEqual([0, owedOwn[1]]);
    expect(after.replication.pendingInvalidations).toBe(owedOwn[1]);
  });
});
