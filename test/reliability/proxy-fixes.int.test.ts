import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestServers } from '../helpers/servers.js';
import { startProxy, type RunningProxy } from '../../src/proxy/server.js';
import { getFreePort } from '../../src/util/net.js';
import type { ProxyRuntimeConfig } from '../../src/proxy/config.js';
import { runtimeConfig } from '../proxy/harness.js';
import { asciiOnce, rawExchange, type Addr } from './helpers.js';

/** Regression tests for the proxy bugs the fuzzer found (each named after the bug). */

const servers = new TestServers();
let master: Addr;
let slave: Addr;
let proxy: RunningProxy;

beforeAll(async () => {
  [master, slave] = await Promise.all([servers.memcached(), servers.memcached()]);
  proxy = await startProxy({
    name: 'fixes',
    host: '127.0.0.1',
    port: 0,
    adminHost: '127.0.0.1',
    adminPort: 0,
    adminToken: 't',
    config: runtimeConfig(master, slave, { timeoutMs: 1000 }),
  });
});

afterAll(async () => {
  await proxy?.stop(200);
  await servers.stopAll();
});

function binaryFrame(opcode: number, key: string, extras: Buffer, value: Buffer, opaque: number): Buffer {
  const k = Buffer.from(key);
  const head = Buffer.alloc(24);
  head[0] = 0x80;
  head[1] = opcode;
  head.writeUInt16BE(k.length, 2);
  head[4] = extras.length;
  head.writeUInt32BE(extras.length + k.length + value.length, 8);
  head.writeUInt32BE(opaque, 12);
  return Buffer.concat([head, extras, k, value]);
}

describe('proxy fixes found by fuzzing and the fault matrix', () => {
  it('flush_all pipelined after a noreply set leaves the slave empty too (slave flush used to overtake the set copy)', async () => {
    for (let i = 0; i < 20; i++) {
      const key = `flushorder${i}`;
      const { reply } = await rawExchange(proxy.port, [Buffer.from(`set ${key} 0 0 1 noreply\r\nx\r\nflush_all\r\n`)], { idleMs: 100 });
      expect(reply.toString()).toBe('OK\r\n');
      const onSlave = await asciiOnce(slave.port, `get ${key}\r\n`, /END\r\n$/);
      const onMaster = await asciiOnce(master.port, `get ${key}\r\n`, /END\r\n$/);
      expect(onMaster).toBe('END\r\n');
      expect(onSlave, `slave kept ${key} after flush_all (round ${i})`).toBe('END\r\n');
    }
  });

  it('a GAT with trailing body bytes is answered and the connection closed like memcached, without breaking the shared master connection', async () => {
    const before = (await (await fetch(`http://127.0.0.1:${proxy.adminPort}/stats`)).json()) as { nodes: { errors: number }[] };
    const errorsBefore = before.nodes.reduce((n, x) => n + x.errors, 0);
    const gat = binaryFrame(0x1d, 'gat-trailing', Buffer.from([0, 0, 0, 0]), Buffer.from('zz'), 7);
    const noop = binaryFrame(0x0a, '', Buffer.alloc(0), Buffer.alloc(0), 8);
    // another client's requests on the same shared backend connection, at the same moment
    const others = Array.from({ length: 20 }, (_, i) => asciiOnce(proxy.port, `set other${i} 0 0 1\r\nv\r\n`, /\r\n$/));
    const bad = await rawExchange(proxy.port, [Buffer.concat([gat, noop])], { idleMs: 200 });
    expect(await Promise.all(others)).toEqual(Array.from({ length: 20 }, () => 'STORED\r\n'));
    // the GAT is answered (not found), then the connection closes and the noop is never run
    expect(bad.reply.length).toBe(24 + 'Not found'.length);
    expect(bad.reply[1]).toBe(0x1d);
    expect(bad.reply.readUInt16BE(6)).toBe(0x0001);
    expect(bad.closed).toBe(true);
    const after = (await (await fetch(`http://127.0.0.1:${proxy.adminPort}/stats`)).json()) as { nodes: { errors: number }[] };
    expect(after.nodes.reduce((n, x) => n + x.errors, 0), 'backend errors after the malformed GAT').toBe(errorsBefore);
  });

  it('a binary GETK (the CAS token fetch) is served by the master even when plain reads go to the slave', async () => {
    const other = await proxyWith({ readPolicy: 'slave' });
    try {
      await asciiOnce(master.port, 'set tokenkey 0 0 6\r\nmaster\r\n');
      await asciiOnce(slave.port, 'set tokenkey 0 0 5\r\nslave\r\n');
      const getk = await rawExchange(other.port, [binaryFrame(0x0c, 'tokenkey', Buffer.alloc(0), Buffer.alloc(0), 1)], { idleMs: 150 });
      const get = await rawExchange(other.port, [binaryFrame(0x00, 'tokenkey', Buffer.alloc(0), Buffer.alloc(0), 2)], { idleMs: 150 });
      expect(getk.reply.subarray(24 + 4 + 8).toString(), 'GETK value').toBe('master');
      expect(get.reply.subarray(24 + 4).toString(), 'plain GET follows the read policy').toBe('slave');
    } finally {
      await other.stop(100);
    }
  });

  it('proxy-delete also invalidates the slave when the token fetch (gets) fails on the master', async () => {
    const deadPort = await getFreePort();
    const other = await proxyWith({ mitigation: 'proxy-delete', shards: [{ name: 'shard-0', master: { host: '127.0.0.1', port: deadPort }, slave: { host: '127.0.0.1', port: slave.port } }] });
    try {
      await asciiOnce(slave.port, 'set pdkey 0 0 3\r\nold\r\n');
      const reply = await asciiOnce(other.port, 'gets pdkey\r\n');
      expect(reply).toMatch(/^SERVER_ERROR /);
      let onSlave = '';
      for (let i = 0; i < 20 && onSlave !== 'END\r\n'; i++) {
        await new Promise((r) => setTimeout(r, 25));
        onSlave = await asciiOnce(slave.port, 'get pdkey\r\n', /END\r\n$/);
      }
      expect(onSlave, 'the slave still serves the old value the client is about to replace').toBe('END\r\n');
    } finally {
      await other.stop(100);
    }
  });
});

describe('proxy fixes found by the fault matrix', () => {
  it('reads skip a slave that still owes an invalidation for the key (it came back holding an old value)', async () => {
    const other = await proxyWith({ readPolicy: 'slave' });
    try {
      await asciiOnce(master.port, 'set oweskey 0 0 3\r\nnew\r\n');
      await asciiOnce(slave.port, 'set oweskey 0 0 3\r\nold\r\n');
      // the slave missed the write: the proxy owes it a delete (as after a failed replication)
      other.engine.pending.add('shard-0', Buffer.from('oweskey'));
      const reply = await asciiOnce(other.port, 'get oweskey\r\n', /END\r\n$/);
      expect(reply, 'served by the master while the slave owes the delete').toBe('VALUE oweskey 0 3\r\nnew\r\nEND\r\n');
      // once the owed delete lands, reads follow the policy again (slave: now a miss)
      let after = '';
      for (let i = 0; i < 40 && other.engine.pending.size > 0; i++) await new Promise((r) => setTimeout(r, 25));
      after = await asciiOnce(other.port, 'get oweskey\r\n', /END\r\n$/);
      expect(other.engine.pending.size).toBe(0);
      expect(after).toBe('END\r\n');
    } finally {
      await other.stop(100);
    }
  });
});

async function proxyWith(over: Partial<ProxyRuntimeConfig>): Promise<RunningProxy> {
  return startProxy({
    name: 'fixes-2',
    host: '127.0.0.1',
    port: 0,
    adminHost: '127.0.0.1',
    adminPort: 0,
    adminToken: 't',
    config: runtimeConfig(master, slave, { timeoutMs: 300, ...over }),
  });
}
