import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemjsCacheClient } from '../../src/client/memjs-client.js';
import { SqliteSourceOfTruth } from '../../src/workload/database.js';
import { KetamaRing } from '../../src/proxy/ketama.js';
import { scanCluster, scanShards } from '../../src/workload/scan.js';
import { encodeValue } from '../../src/workload/value.js';
import { getFreePort } from '../../src/util/net.js';
import { TestServers } from '../helpers/servers.js';
import { startMasterAndSlave } from './memcached-pair.js';

const servers = new TestServers();
let master: { host: string; port: number };
let slave: { host: string; port: number };

beforeAll(async () => {
  ({ master, slave } = await startMasterAndSlave(servers));
  const mc = new MemjsCacheClient(master);
  const sc = new MemjsCacheClient(slave);
  await mc.set('s:0', encodeValue('s:0', 3, 40));
  await sc.set('s:0', encodeValue('s:0', 3, 40));
  await mc.set('s:1', encodeValue('s:1', 5, 40));
  await sc.set('s:1', encodeValue('s:1', 4, 40));
  await sc.set('s:2', Buffer.from('garbage'));
  await Promise.all([mc.close(), sc.close()]);
});
afterAll(() => servers.stopAll());

describe('scanCluster reads master, slave and database directly', () => {
  it('reports each node\'s version, missing and corrupt values, and the database version', async () => {
    const db = new SqliteSourceOfTruth(':memory:');
    for (let i = 0; i < 5; i++) db.commitNext('s:1');
    const scan = await scanCluster({ master, slave, keys: ['s:0', 's:1', 's:2'], database: db });
    expect(scan.keys).toEqual([
      { key: 's:0', master: 3, slave: 3, db: 0 },
      { key: 's:1', master: 5, slave: 4, db: 5 },
      { key: 's:2', master: 'missing', slave: 'corrupt', db: 0 },
    ]);
    expect(scan.unreachable).toEqual({ master: false, slave: false });
    db.close();
  });

  it('a dead node is "unreachable" for every key, quickly, and the other node is still read', async () => {
    const dead = { host: '127.0.0.1', port: await getFreePort() };
    const keys = Array.from({ length: 2000 }, (_, i) => (i === 0 ? 's:0' : `none:${i}`));
    const started = Date.now();
    const scan = await scanCluster({ master: dead, slave, keys, timeoutMs: 300 });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(scan.unreachable).toEqual({ master: true, slave: false });
    expect(scan.errors.master).toMatch(/ECONNREFUSED|connect/);
    expect(scan.keys.every((k) => k.master === 'unreachable')).toBe(true);
    expect(scan.keys[0].slave).toBe(3);
    expect(scan.keys[1].slave).toBe('missing');
  });

  it('a sharded cluster: each key is read on the pair that owns it under the ketama map, in the order given', async () => {
    const [m2, s2] = await Promise.all([servers.memcached(), servers.memcached()]);
    const shards = [
      { name: 'shard-0', master, slave },
      { name: 'shard-1', master: { host: m2.host, port: m2.port }, slave: { host: s2.host, port: s2.port } },
    ];
    const ring = new KetamaRing(shards.map((s) => ({ name: s.name })));
    const keys = Array.from({ length: 40 }, (_, i) => `sh:${i}`);
    const clients = shards.map((s) => ({ m: new MemjsCacheClient(s.master), s: new MemjsCacheClient(s.slave) }));
    // every key written only on its owner, version = its index
    for (const [i, key] of keys.entries()) {
      const c = clients[ring.indexFor(key)];
      await c.m.set(key, encodeValue(key, i, 40));
      await c.s.set(key, encodeValue(key, i, 40));
    }
    await Promise.all(clients.flatMap((c) => [c.m.close(), c.s.close()]));
    expect(new Set(keys.map((k) => ring.indexFor(k))).size).toBe(2);
    const scan = await scanShards({ shards, keys });
    expect(scan.keys.map((k) => k.key)).toEqual(keys);
    expect(scan.keys.map((k) => [k.master, k.slave])).toEqual(keys.map((_, i) => [i, i]));
    // the unsharded scan of shard 0 alone calls the other shard's keys missing
    const naive = await scanCluster({ master, slave, keys });
    expect(naive.keys.filter((k) => k.master === 'missing').length).toBeGreaterThan(0);
  });
});
