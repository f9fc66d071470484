import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { KetamaRing } from '../../src/proxy/ketama.js';
import { asciiSafeKey, deleteKeys, flushKeys, listKeys, percentDecodeBytes } from '../../src/scale/node-keys.js';
import { reconcile, type ShardNodes } from '../../src/scale/reconcile.js';
import { asciiRequest } from '../../src/util/net.js';
import { TestServers } from '../helpers/servers.js';

/** The stale-read guard's building blocks against real memcached nodes. */

const servers = new TestServers();
type Node = { host: string; port: number };
let nodes: Node[] = [];

beforeAll(async () => {
  nodes = await Promise.all(Array.from({ length: 4 }, () => servers.memcached()));
});
afterAll(() => servers.stopAll());
beforeEach(async () => {
  await Promise.all(nodes.map((n) => flushKeys(n)));
});

async function setMany(n: Node, keys: string[], value = 'v'): Promise<void> {
  const body = keys.map((k) => `set ${k} 0 0 ${value.length}\r\n${value}\r\n`).join('');
  const reply = await asciiRequest(n.host, n.port, body + 'mn\r\n', { terminator: /MN\r\n$/, timeoutMs: 10_000 });
  expect(reply.split('STORED\r\n').length - 1).toBe(keys.length);
}

async function get(n: Node, key: string): Promise<string | null> {
  const reply = await asciiRequest(n.host, n.port, `get ${key}\r\n`, { terminator: /END\r\n$/ });
  const m = /^VALUE \S+ \d+ \d+\r\n(.*)\r\n/.exec(reply);
  return m ? m[1] : null;
}

describe('node keys', () => {
  it('lists every key a node holds, including ones metadump %-encodes, and deletes 5000 keys in one pipelined pass', async () => {
    const keys = Array.from({ length: 5000 }, (_, i) => `user:${i}:p%x/e`); // % and / come back %-encoded
    await setMany(nodes[0], keys);
    const listed = await listKeys(nodes[0]);
    expect(new Set(listed)).toEqual(new Set(keys));
    await deleteKeys(nodes[0], keys.slice(0, 4000));
    expect((await listKeys(nodes[0])).sort()).toEqual(keys.slice(4000).sort());
    expect(await get(nodes[0], keys[4500])).toBe('v');
    expect(await get(nodes[0], keys[10])).toBeNull();
  });

  it('decodes metadump bytes without failing on non-UTF-8, and skips keys ASCII cannot carry', async () => {
    expect(percentDecodeBytes('a%3Ab%25c%FF')).toBe('a:b%c\xff');
    expect(asciiSafeKey('ok:key')).toBe(true);
    expect(asciiSafeKey('has space')).toBe(false);
    expect(asciiSafeKey('x'.repeat(251))).toBe(false);
    await setMany(nodes[1], ['plain']);
    const { skipped } = await deleteKeys(nodes[1], ['plain', 'bad key']);
    expect(skipped).toEqual(['bad key']);
    expect(await get(nodes[1], 'plain')).toBeNull();
  });

  it('a node that is gone is a clear dependency error', async () => {
    await expect(listKeys({ host: '127.0.0.1', port: 1 }, 500)).rejects.toThrow(/cannot talk to memcached 127\.0\.0\.1:1/);
  });
});

describe('reconcile', () => {
  const names = ['shard-0', 'shard-1', 'shard-2'];
  const shards = (): ShardNodes[] => [
    { name: 'shard-0', nodes: [nodes[0], nodes[1]] },
    { name: 'shard-1', nodes: [nodes[2]] },
    { name: 'shard-2', nodes: [nodes[3]] },
  ];

  it('after a ring change, deletes exactly the keys that no longer belong on the scanned shard (master and slave), and at their home when asked', async () => {
    const before = new KetamaRing(names.slice(0, 2).map((name) => ({ name })));
    const after = new KetamaRing(names.map((name) => ({ name })));
    const keys = Array.from({ length: 900 }, (_, i) => `k:${i}`);
    const onShard0 = keys.filter((k) => before.serverFor(k) === 'shard-0');
    const moving = onShard0.filter((k) => after.serverFor(k) === 'shard-2');
    expect(moving.length).toBeGreaterThan(50);
    await setMany(nodes[0], onShard0, 'old'); // master
    await setMany(nodes[1], onShard0, 'old'); // slave
    await setMany(nodes[3], moving, 'new'); // copies already filled at the new home

    const report = await reconcile(after, shards(), ['shard-0'], { atSource: true, atHome: false });
    expect(report).toMatchObject({ scanned: onShard0.length, misplaced: moving.length, deletedAtSource: moving.length, deletedAtHome: 0, skipped: 0 });
    const left = new Set(await listKeys(nodes[0]));
    expect(moving.some((k) => left.has(k))).toBe(false);
    expect(left.size).toBe(onShard0.length - moving.length);
    expect((await listKeys(nodes[1])).length).toBe(onShard0.length - moving.length);
    expect((await listKeys(nodes[3])).length).toBe(moving.length); // untouched: atHome false

    // a second pass finds nothing; with atHome the copies at the new home go too
    await setMany(nodes[0], moving, 'old');
    const second = await reconcile(after, shards(), ['shard-0'], { atSource: false, atHome: true });
    expect(second).toMatchObject({ misplaced: moving.length, deletedAtSource: 0, deletedAtHome: moving.length });
    expect(await listKeys(nodes[3])).toEqual([]);
    expect((await listKeys(nodes[0])).length).toBe(onShard0.length); // atSource false: kept
  });
});
