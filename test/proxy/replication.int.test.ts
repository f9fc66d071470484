import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Toxiproxy, type Proxy as ToxiProxy } from 'toxiproxy-node-client';
import { getFreePort, waitUntil } from '../../src/util/net.js';
import { Op, encodeRequest, HEADER_LENGTH } from '../../src/protocol/binary.js';
import type { RunningProxy } from '../../src/proxy/server.js';
import { TestServers, adminJson, asciiSetup, exchange, peek, proxyFor, type Addr } from './harness.js';

/**
 * Replication and fault handling against real memcached master and slave, with the real
 * Toxiproxy server in between to cut the master or the slave off.
 */

const servers = new TestServers();
let master: Addr & { proc: { kill(): Promise<void> } };
let slave: Addr;
let toxi: Toxiproxy;
let toxiMaster: ToxiProxy;
let toxiSlave: ToxiProxy;
let viaMaster: Addr;
let viaSlave: Addr;
let proxy: RunningProxy | undefined;
const tmp = mkdtempSync(join(tmpdir(), 'cachectl-proxy-'));

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const ascii = async (p: RunningProxy, text: string, idleMs = 250): Promise<string> => (await exchange(p.port, [b(text)], { idleMs, maxMs: 4000 })).reply.toString('latin1');

beforeAll(async () => {
  const [m, s, t] = await Promise.all([servers.memcached(), servers.memcached(), servers.toxiproxy()]);
  master = m;
  slave = s;
  toxi = new Toxiproxy(t.url);
  const [pm, ps] = [await getFreePort(), await getFreePort()];
  toxiMaster = await toxi.createProxy({ name: 'master', listen: `127.0.0.1:${pm}`, upstream: `127.0.0.1:${master.port}` });
  toxiSlave = await toxi.createProxy({ name: 'slave', listen: `127.0.0.1:${ps}`, upstream: `127.0.0.1:${slave.port}` });
  viaMaster = { host: '127.0.0.1', port: pm };
  viaSlave = { host: '127.0.0.1', port: ps };
});

async function setEnabled(p: ToxiProxy, enabled: boolean): Promise<ToxiProxy> {
  return p.update({ enabled, listen: p.listen, upstream: p.upstream });
}

beforeEach(async () => {
  toxiMaster = await setEnabled(toxiMaster, true);
  toxiSlave = await setEnabled(toxiSlave, true);
  await Promise.all([asciiSetup(master.port, 'flush_all\r\n'), asciiSetup(slave.port, 'flush_all\r\n')]);
});

afterEach(async () => {
  await proxy?.stop(200);
  proxy = undefined;
});

afterAll(async () => {
  await servers.stopAll();
  rmSync(tmp, { recursive: true, force: true });
});

const fast = { timeoutMs: 300, downAfterFailures: 2, probeIntervalMs: 50 };

async function expectSlaveMatchesMaster(key: string): Promise<void> {
  expect(await peek(slave, key)).toEqual(await peek(master, key));
}

describe('replication: the slave receives the resulting state', () => {
  it('after every kind of mutation the slave holds exactly what the master holds', async () => {
    proxy = await proxyFor(viaMaster, viaSlave, fast);
    const steps: Array<[string, string, string]> = [
      ['set', 'set k 7 0 3\r\nabc\r\n', 'STORED\r\n'],
      ['append', 'append k 0 0 2\r\nde\r\n', 'STORED\r\n'],
      ['prepend', 'prepend k 0 0 1\r\nz\r\n', 'STORED\r\n'],
      ['replace', 'replace k 3 0 2\r\n10\r\n', 'STORED\r\n'],
      ['incr', 'incr k 5\r\n', '15\r\n'],
      ['decr', 'decr k 3\r\n', '12\r\n'],
      ['add', 'add n 1 0 1\r\nx\r\n', 'STORED\r\n'],
      ['touch', 'touch k 1000\r\n', 'TOUCHED\r\n'],
    ];
    for (const [name, cmd, reply] of steps) {
      expect(await ascii(proxy, cmd), name).toBe(reply);
      await expectSlaveMatchesMaster('k');
    }
    expect(await peek(slave, 'k')).toEqual({ value: '12', flags: 3 });
    const gets = await ascii(proxy, 'gets k\r\n');
    const unique = /VALUE k 3 2 (\d+)/.exec(gets)![1];
    expect(await ascii(proxy, `cas k 9 0 3 ${unique}\r\nnew\r\n`)).toBe('STORED\r\n');
    expect(await peek(slave, 'k')).toEqual({ value: 'new', flags: 9 });
    expect(await ascii(proxy, 'delete k\r\n')).toBe('DELETED\r\n');
    expect(await peek(slave, 'k')).toBeNull();
    expect(await ascii(proxy, 'flush_all\r\n')).toBe('OK\r\n');
    expect(await peek(slave, 'n')).toBeNull();
    const stats = (await adminJson(proxy, '/stats')).body;
    expect(stats.replication.failures).toBe(0);
    expect(stats.replication.replicated).toBeGreaterThanOrEqual(steps.length + 2);
  });

  it('binary quiet writes replicate too (setq then incrq)', async () => {
    proxy = await proxyFor(viaMaster, viaSlave, fast);
    const setq = encodeRequest({ opcode: Op.SetQ, key: b('q'), extras: Buffer.alloc(8), value: b('41') });
    const incr = Buffer.alloc(20);
    incr.writeBigUInt64BE(1n, 0);
    incr.writeUInt32BE(0xffffffff, 16);
    const incrq = encodeRequest({ opcode: Op.IncrementQ, key: b('q'), extras: incr });
    await exchange(proxy.port, [Buffer.concat([setq, incrq, encodeRequest({ opcode: Op.Noop })])], { expectBytes: HEADER_LENGTH });
    expect(await peek(slave, 'q')).toEqual({ value: '42', flags: 0 });
  });

  it('async replication: the slave catches up right after the reply', async () => {
    proxy = await proxyFor(viaMaster, viaSlave, { ...fast, replication: 'async' });
    expect(await ascii(proxy, 'set a 0 0 1\r\n1\r\n')).toBe('STORED\r\n');
    await waitUntil('slave has a', async () => (await peek(slave, 'a'))?.value === '1', { timeoutMs: 2000 });
  });

  it('two clients with the same gets token: exactly one STORED, one EXISTS; slave gets the winner', async () => {
    proxy = await proxyFor(viaMaster, viaSlave, fast);
    await ascii(proxy, 'set c 0 0 1\r\n0\r\n');
    const unique = /VALUE c 0 1 (\d+)/.exec(await ascii(proxy, 'gets c\r\n'))![1];
    const [r1, r2] = await Promise.all([ascii(proxy, `cas c 0 0 2 ${unique}\r\nc1\r\n`), ascii(proxy, `cas c 0 0 2 ${unique}\r\nc2\r\n`)]);
    expect([r1, r2].sort()).toEqual(['EXISTS\r\n', 'STORED\r\n']);
    const winner = r1 === 'STORED\r\n' ? 'c1' : 'c2';
    expect((await peek(master, 'c'))?.value).toBe(winner);
    expect((await peek(slave, 'c'))?.value).toBe(winner);
  });

  it('after a storm of writes on one key from several connections and a quiet moment, master equals slave', async () => {
    proxy = await proxyFor(viaMaster, viaSlave, fast);
    const storm = async (id: number): Promise<void> => {
      let text = '';
      for (let i = 0; i < 200; i++) text += i % 3 === 0 ? 'incr hot 1\r\n' : `set hot 0 0 ${String(id * 1000 + i).length}\r\n${id * 1000 + i}\r\n`;
      await exchange(proxy!.port, [b(text)], { idleMs: 100 });
    };
    await ascii(proxy, 'set hot 0 0 1\r\n0\r\n');
    await Promise.all([1, 2, 3, 4].map(storm));
    await new Promise((r) => setTimeout(r, 100));
    await expectSlaveMatchesMaster('hot');
  });
});

describe('read policy', () => {
  it('binary GETK is "gets": master only; GET follows the policy (slave here)', async () => {
    proxy = await proxyFor(viaMaster, viaSlave, { ...fast, readPolicy: 'slave' });
    await ascii(proxy, 'set p 0 0 6\r\nfresh!\r\n');
    await exchange(slave.port, [b('set p 0 0 5\r\nstale\r\n')], { idleMs: 2000, until: (r) => r.toString().endsWith('STORED\r\n') });
    const get = encodeRequest({ opcode: Op.Get, opaque: 1, key: b('p') });
    const getk = encodeRequest({ opcode: Op.GetK, opaque: 2, key: b('p') });
    const { reply } = await exchange(proxy.port, [Buffer.concat([get, getk])], { idleMs: 2000, expectBytes: 2 * (24 + 4) + 5 + 1 + 6 });
    const first = reply.subarray(0, 24 + reply.readUInt32BE(8));
    const second = reply.subarray(first.length);
    expect(first.subarray(28).toString()).toBe('stale');
    expect(second.subarray(24 + 4 + 1).toString()).toBe('fresh!');
    // ASCII: get by policy, gets from the master
    expect(await ascii(proxy, 'get p\r\n')).toBe('VALUE p 0 5\r\nstale\r\nEND\r\n');
    expect(await ascii(proxy, 'gets p\r\n')).toMatch(/^VALUE p 0 6 \d+\r\nfresh!\r\nEND\r\n$/);
  });

  it('balanced spreads plain reads over both nodes', async () => {
    proxy = await proxyFor(viaMaster, viaSlave, { ...fast, readPolicy: 'balanced' });
    await ascii(proxy, 'set q 0 0 1\r\n1\r\n');
    for (let i = 0; i < 10; i++) await ascii(proxy, 'get q\r\n');
    const nodes = (await adminJson(proxy, '/stats')).body.nodes as Array<{ role: string; hits: number }>;
    expect(nodes.find((n) => n.role === 'master')!.hits).toBe(5);
    expect(nodes.find((n) => n.role === 'slave')!.hits).toBe(5);
  });
});

describe('master failure', () => {
  it('master cut off: writes, gets, incr and add fail with SERVER_ERROR, never STORED, and nothing runs on the slave', async () => {
    proxy = await proxyFor(viaMaster, viaSlave, fast);
    await ascii(proxy, 'set k 0 0 3\r\nold\r\nset n 0 0 1\r\n5\r\n');
    toxiMaster = await setEnabled(toxiMaster, false);
    const replies = await ascii(proxy, 'set k 0 0 3\r\nnew\r\ngets k\r\nincr n 1\r\nadd fresh 0 0 1\r\nx\r\ncas k 0 0 1 1\r\ny\r\n', 1500);
    const lines = replies.split('\r\n').filter(Boolean);
    expect(lines).toHaveLength(5);
    for (const l of lines) expect(l).toMatch(/^SERVER_ERROR cachectl: master 127\.0\.0\.1:\d+ /);
    expect(replies).not.toMatch(/STORED/);
    expect(await peek(slave, 'k')).toEqual({ value: 'old', flags: 0 });
    expect(await peek(slave, 'n')).toEqual({ value: '5', flags: 0 });
    expect(await peek(slave, 'fresh')).toBeNull();
    // plain reads fall back to the slave (this is the incident's stale read)
    expect(await ascii(proxy, 'get k\r\n', 800)).toBe('VALUE k 0 3\r\nold\r\nEND\r\n');
    const stats = (await adminJson(proxy, '/stats')).body;
    expect(stats.masterFailures).toBeGreaterThanOrEqual(4);
    expect(stats.nodes.find((n: { role: string }) => n.role === 'master').up).toBe(false);
    // master back: the probe brings it up and writes work again
    toxiMaster = await setEnabled(toxiMaster, true);
    await waitUntil('master probed back', async () => (await adminJson(proxy!, '/stats')).body.nodes[0].up === true, { timeoutMs: 3000 });
    expect(await ascii(proxy, 'set k 0 0 3\r\nnew\r\n')).toBe('STORED\r\n');
    expect(await peek(slave, 'k')).toEqual({ value: 'new', flags: 0 });
  });

  it('binary clients get status 0x0086 with their opaque when the master is down', async () => {
    proxy = await proxyFor(viaMaster, viaSlave, fast);
    toxiMaster = await setEnabled(toxiMaster, false);
    const set = encodeRequest({ opcode: Op.Set, opaque: 4242, key: b('k'), extras: Buffer.alloc(8), value: b('v') });
    const { reply } = await exchange(proxy.port, [set], { expectBytes: HEADER_LENGTH, maxMs: 3000 });
    expect(reply[0]).toBe(0x81);
    expect(reply.readUInt16BE(6)).toBe(0x0086);
    expect(reply.readUInt32BE(12)).toBe(4242);
  });

  it('proxy-delete: a failed master write deletes the key on the slave', async () => {
    proxy = await proxyFor(viaMaster, viaSlave, { ...fast, mitigation: 'proxy-delete' });
    await ascii(proxy, 'set k 0 0 3\r\nold\r\n');
    toxiMaster = await setEnabled(toxiMaster, false);
    // a slow slave link: the delete takes ~150 ms to arrive
    const slowDelete = await toxiSlave.addToxic({ name: 'slow-delete', type: 'latency', stream: 'upstream', toxicity: 1, attributes: { latency: 150, jitter: 0 } });
    try {
      expect(await ascii(proxy, 'set k 0 0 3\r\nnew\r\n', 800)).toMatch(/^SERVER_ERROR /);
      // sync replication: the error is sent only once the slave delete landed, so a read that
      // starts after the client saw the error cannot get the old slave value
      expect(await peek(slave, 'k')).toBeNull();
    } finally {
      await slowDelete.remove();
    }
    expect((await adminJson(proxy, '/stats')).body.replication.proxyDeletes).toBe(1);
  });

  it('proxy-delete while the slave is briefly down too: the delete waits in the durable log and lands later', async () => {
    const log = join(tmp, 'pending-1.log');
    proxy = await proxyFor(viaMaster, viaSlave, { ...fast, mitigation: 'proxy-delete' }, { pendingLogFile: log });
    await ascii(proxy, 'set k 0 0 3\r\nold\r\n');
    toxiMaster = await setEnabled(toxiMaster, false);
    toxiSlave = await setEnabled(toxiSlave, false);
    expect(await ascii(proxy, 'set k 0 0 3\r\nnew\r\n', 800)).toMatch(/^SERVER_ERROR /);
    await waitUntil('invalidation pending', async () => (await adminJson(proxy!, '/stats')).body.replication.pendingInvalidations === 1, { timeoutMs: 2000 });
    expect(readFileSync(log, 'latin1')).toContain(`+ shard-0 ${b('k').toString('hex')}`);
    expect(await peek(slave, 'k')).toEqual({ value: 'old', flags: 0 });
    toxiSlave = await setEnabled(toxiSlave, true);
    await waitUntil('slave key deleted', async () => (await peek(slave, 'k')) === null, { timeoutMs: 4000 });
    await waitUntil('log drained', async () => (await adminJson(proxy!, '/stats')).body.replication.pendingInvalidations === 0, { timeoutMs: 2000 });
    expect((await adminJson(proxy, '/stats')).body.replication.invalidationsLanded).toBe(1);
  });

  it('the pending log survives a proxy restart and is retried by the next proxy', async () => {
    const log = join(tmp, 'pending-2.log');
    proxy = await proxyFor(viaMaster, viaSlave, { ...fast, mitigation: 'proxy-delete' }, { pendingLogFile: log });
    await ascii(proxy, 'set k 0 0 3\r\nold\r\n');
    toxiMaster = await setEnabled(toxiMaster, false);
    toxiSlave = await setEnabled(toxiSlave, false);
    await ascii(proxy, 'set k 0 0 3\r\nnew\r\n', 800);
    await waitUntil('invalidation pending', async () => (await adminJson(proxy!, '/stats')).body.replication.pendingInvalidations === 1, { timeoutMs: 2000 });
    await proxy.stop(100);
    toxiSlave = await setEnabled(toxiSlave, true);
    proxy = await proxyFor(viaMaster, viaSlave, fast, { pendingLogFile: log });
    await waitUntil('slave key deleted by the new proxy', async () => (await peek(slave, 'k')) === null, { timeoutMs: 4000 });
  });

  it('auto failover: after the threshold this proxy alone promotes the slave (new epoch)', async () => {
    proxy = await proxyFor(viaMaster, viaSlave, { ...fast, failover: 'auto', failoverThreshold: 2 });
    toxiMaster = await setEnabled(toxiMaster, false);
    await ascii(proxy, 'set a 0 0 1\r\n1\r\n', 800);
    await ascii(proxy, 'set a 0 0 1\r\n2\r\n', 800);
    const cfg = (await adminJson(proxy, '/config')).body;
    expect(cfg.epoch).toBe(2);
    expect(cfg.shards[0].master.port).toBe(viaSlave.port);
    expect(cfg.shards[0].slave).toBeNull();
    expect(await ascii(proxy, 'set a 0 0 1\r\n3\r\n')).toBe('STORED\r\n');
    expect(await peek(slave, 'a')).toEqual({ value: '3', flags: 0 });
  });

  it('manual failover (default) never promotes', async () => {
    proxy = await proxyFor(viaMaster, viaSlave, fast);
    toxiMaster = await setEnabled(toxiMaster, false);
    for (let i = 0; i < 4; i++) await ascii(proxy, 'set a 0 0 1\r\n1\r\n', 500);
    expect((await adminJson(proxy, '/config')).body.shards[0].master.port).toBe(viaMaster.port);
  });

  it('master killed mid-request: every in-flight request gets an error, right opaque, right order, within the timeout', async () => {
    // this test kills the master process: a fresh master for it alone
    const m2 = await servers.memcached();
    proxy = await proxyFor(m2, viaSlave, { ...fast, timeoutMs: 1000 });
    const toxic = await toxi.createProxy({ name: 'slow-master', listen: `127.0.0.1:${await getFreePort()}`, upstream: `127.0.0.1:${m2.port}` });
    await proxy.stop(100);
    const [host, port] = toxic.listen.split(':');
    proxy = await proxyFor({ host, port: Number(port) }, viaSlave, { ...fast, timeoutMs: 1000 });
    await toxic.addToxic({ name: 'lag', type: 'latency', stream: 'downstream', toxicity: 1, attributes: { latency: 400, jitter: 0 } });
    const reqs = [1, 2, 3, 4, 5].map((o) => encodeRequest({ opcode: Op.Get, opaque: o, key: b(`k${o}`) }));
    const started = Date.now();
    const pending = exchange(proxy.port, [Buffer.concat(reqs)], { expectBytes: 5 * HEADER_LENGTH, idleMs: 2500, maxMs: 3000 });
    await new Promise((r) => setTimeout(r, 100));
    await m2.proc.kill();
    const { reply } = await pending;
    const opaques: number[] = [];
    for (let at = 0; at + HEADER_LENGTH <= reply.length; at += HEADER_LENGTH + reply.readUInt32BE(at + 8)) {
      expect(reply.readUInt16BE(at + 6)).not.toBe(0);
      opaques.push(reply.readUInt32BE(at + 12));
    }
    expect(opaques).toEqual([1, 2, 3, 4, 5]);
    expect(Date.now() - started).toBeLessThan(1000 + 500);
    await toxic.remove();
  });
});

describe('slave failure', () => {
  it('slave cut off: the master result still returns within the timeout, the divergence is counted and invalidated later', async () => {
    proxy = await proxyFor(viaMaster, viaSlave, { ...fast, timeoutMs: 1000 });
    await ascii(proxy, 'set k 0 0 3\r\nold\r\n');
    expect(await peek(slave, 'k')).toEqual({ value: 'old', flags: 0 });
    const before = (await adminJson(proxy, '/stats')).body.replication.failures;
    toxiSlave = await setEnabled(toxiSlave, false);
    const t0 = Date.now();
    expect(await ascii(proxy, 'set k 0 0 3\r\nnew\r\n', 1500)).toBe('STORED\r\n');
    expect(Date.now() - t0).toBeLessThan(1000 + 1500);
    const stats = (await adminJson(proxy, '/stats')).body;
    expect(stats.replication.failures - before).toBe(1);
    expect(stats.replication.pendingInvalidations).toBe(1);
    expect(await peek(slave, 'k')).toEqual({ value: 'old', flags: 0 });
    toxiSlave = await setEnabled(toxiSlave, true);
    await waitUntil('stale slave copy invalidated', async () => (await peek(slave, 'k')) === null, { timeoutMs: 4000 });
  });

  it('black-holed slave (accepts, never reads): writes keep answering within the timeout, queues stay bounded', async () => {
    const held: Socket[] = [];
    const hole: Server = createServer((s) => {
      s.pause();
      held.push(s);
    });
    const port = await new Promise<number>((r) => hole.listen(0, '127.0.0.1', () => r((hole.address() as { port: number }).port)));
    try {
      proxy = await proxyFor(viaMaster, { host: '127.0.0.1', port }, { ...fast, replication: 'sync' });
      const value = 'v'.repeat(1000);
      let text = '';
      for (let i = 0; i < 300; i++) text += `set k${i} 0 0 ${value.length}\r\n${value}\r\n`;
      const t0 = Date.now();
      const { reply } = await exchange(proxy.port, [b(text)], { expectBytes: 300 * 8, idleMs: 2000, maxMs: 5000 });
      expect(reply.toString().split('STORED\r\n').length - 1).toBe(300);
      expect(Date.now() - t0).toBeLessThan(3 * fast.timeoutMs + 1000);
      const stats = (await adminJson(proxy, '/stats')).body;
      expect(stats.replication.failures).toBe(300);
      expect(stats.replication.pendingInvalidations).toBe(300);
      // nothing is left queued for the hole: everything timed out and was failed at once
      expect(stats.nodes[1].inFlight).toBe(0);
    } finally {
      for (const s of held) s.destroy();
      hole.close();
    }
  });
});
