import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemjsCacheClient } from '../../src/client/memjs-client.js';
import { SqliteSourceOfTruth } from '../../src/workload/database.js';
import { scanCluster } from '../../src/workload/scan.js';
import { encodeValue } from '../../src/workload/value.js';
import { getFreePort } from '../../src/util/net.js';
import { TestServers } from '../helpers/servers.js';

const servers = new TestServers();
let master: { host: string; port: number };
let slave: { host: string; port: number };

beforeAll(async () => {
  const [m, s] = await Promise.all([servers.memcached(), servers.memcached()]);
  master = { host: m.host, port: m.port };
  slave = { host: s.host, port: s.port };
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
});
