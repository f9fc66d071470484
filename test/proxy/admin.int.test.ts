import { createConnection } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RunningProxy } from '../../src/proxy/server.js';
import { TestServers, adminJson, exchange, peek, proxyFor, type Addr } from './harness.js';

const servers = new TestServers();
let a: Addr;
let aSlave: Addr;
let c: Addr;
let proxy: RunningProxy;

beforeAll(async () => {
  [a, aSlave, c] = await Promise.all([servers.memcached(), servers.memcached(), servers.memcached()]);
});
afterEach(async () => {
  await proxy?.stop(200);
});
afterAll(async () => {
  await servers.stopAll();
});

const put = (body: unknown, token: string | null = 'test-token') =>
  adminJson(proxy, '/config', {
    method: 'PUT',
    headers: { 'content-type': 'application/json', ...(token !== null ? { authorization: `Bearer ${token}` } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

describe('admin API', () => {
  it('health, config, stats and metrics', async () => {
    proxy = await proxyFor(a, aSlave);
    await exchange(proxy.port, [Buffer.from('set k 0 0 1\r\nx\r\nget k\r\nget nope\r\n')]);
    expect((await adminJson(proxy, '/health')).body).toEqual({ status: 'ok', epoch: 1, name: 'proxy-test' });
    const cfg = (await adminJson(proxy, '/config')).body;
    expect(cfg).toMatchObject({ epoch: 1, readPolicy: 'master', mitigation: 'none', replication: 'sync', writesFenced: false });
    const stats = (await adminJson(proxy, '/stats')).body;
    expect(stats.commands.get).toMatchObject({ requests: 2, hits: 1, misses: 1, errors: 0 });
    expect(stats.nodes.map((n: { role: string }) => n.role)).toEqual(['master', 'slave']);
    expect(stats.replication).toMatchObject({ replicated: 1, failures: 0, pendingInvalidations: 0 });
    const metrics = await fetch(`http://127.0.0.1:${proxy.adminPort}/metrics`);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await metrics.text();
    expect(text).toMatch(/cachectl_proxy_command_hits_total\{proxy="proxy-test",command="get"\} 1/);
    expect(text).toMatch(/cachectl_proxy_pending_invalidations\{proxy="proxy-test"\} 0/);
    expect(text).toMatch(/# TYPE cachectl_proxy_node_up gauge/);
  });

  it('PUT /config needs the token (401), refuses stale epochs (409) and malformed bodies (400), changing nothing', async () => {
    proxy = await proxyFor(a, aSlave);
    expect((await put({ epoch: 2, mitigation: 'proxy-delete' }, null)).status).toBe(401);
    expect((await put({ epoch: 2, mitigation: 'proxy-delete' }, 'wrong')).status).toBe(401);
    const stale = await put({ epoch: 1, mitigation: 'proxy-delete' });
    expect(stale.status).toBe(409);
    expect(stale.body.message).toMatch(/stale epoch 1/);
    const bad = await put({ epoch: 5, mitigation: 'sometimes' });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/mitigation/);
    expect((await put('{not json')).status).toBe(400);
    expect((await put({ epoch: 5, unknownField: 1 })).status).toBe(400);
    expect((await adminJson(proxy, '/config')).body).toMatchObject({ epoch: 1, mitigation: 'none' });
    const ok = await put({ epoch: 2, mitigation: 'proxy-delete' });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ epoch: 2, mitigation: 'proxy-delete' });
    expect((await adminJson(proxy, '/health')).body.epoch).toBe(2);
  });

  it('writesFenced refuses every mutation with a clear server error, reads still work', async () => {
    proxy = await proxyFor(a, aSlave);
    await exchange(proxy.port, [Buffer.from('set f 0 0 1\r\nx\r\n')]);
    expect((await put({ epoch: 2, writesFenced: true })).status).toBe(200);
    const { reply } = await exchange(proxy.port, [Buffer.from('set f 0 0 1\r\ny\r\nincr f 1\r\ndelete f\r\nget f\r\n')]);
    expect(reply.toString()).toBe(
      'SERVER_ERROR cachectl: writes are fenced (a role switch is in progress), retry shortly\r\n'.repeat(3) + 'VALUE f 0 1\r\nx\r\nEND\r\n',
    );
    expect((await adminJson(proxy, '/stats')).body.writesRefusedFenced).toBe(3);
  });

  it('changing shards re-points backends live without dropping client connections', async () => {
    proxy = await proxyFor(a, aSlave);
    const sock = createConnection({ host: '127.0.0.1', port: proxy.port });
    await new Promise((r) => sock.once('connect', r));
    const ask = (text: string): Promise<string> =>
      new Promise((resolve) => {
        let got = '';
        const onData = (d: Buffer): void => {
          got += d.toString();
          if (/(STORED|END)\r\n$/.test(got)) {
            sock.off('data', onData);
            resolve(got);
          }
        };
        sock.on('data', onData);
        sock.write(text);
      });
    expect(await ask('set moved 0 0 1\r\na\r\n')).toBe('STORED\r\n');
    const res = await put({ epoch: 2, shards: [{ name: 'shard-0', master: { host: c.host, port: c.port }, slave: null }] });
    expect(res.status).toBe(200);
    expect(await ask('get moved\r\n')).toBe('END\r\n');
    expect(await ask('set moved 0 0 1\r\nc\r\n')).toBe('STORED\r\n');
    expect(await peek(c, 'moved')).toEqual({ value: 'c', flags: 0 });
    expect(await peek(a, 'moved')).toEqual({ value: 'a', flags: 0 });
    sock.destroy();
  });

  it('several shards: keys spread over both, each key lives on exactly one master', async () => {
    proxy = await proxyFor(a, null, {
      shards: [
        { name: 's0', master: { host: a.host, port: a.port }, slave: null },
        { name: 's1', master: { host: c.host, port: c.port }, slave: null },
      ],
    });
    let text = '';
    for (let i = 0; i < 40; i++) text += `set sk${i} 0 0 1\r\n${i % 10}\r\n`;
    await exchange(proxy.port, [Buffer.from(text)], { expectBytes: 40 * 8, idleMs: 3000 });
    let onA = 0;
    let onC = 0;
    for (let i = 0; i < 40; i++) {
      const [x, y] = await Promise.all([peek(a, `sk${i}`), peek(c, `sk${i}`)]);
      expect(Boolean(x) !== Boolean(y)).toBe(true);
      if (x) onA++;
      else onC++;
    }
    expect(onA).toBeGreaterThan(5);
    expect(onC).toBeGreaterThan(5);
  });
});
