import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemjsCacheClient } from '../../src/client/memjs-client.js';
import { CacheClientError } from '../../src/client/types.js';
import { getFreePort } from '../../src/util/net.js';
import { TestServers } from '../helpers/servers.js';

const servers = new TestServers();
let endpoint: { host: string; port: number };
const clients: MemjsCacheClient[] = [];
const client = (timeoutMs = 1000): MemjsCacheClient => {
  const c = new MemjsCacheClient(endpoint, { timeoutMs });
  clients.push(c);
  return c;
};

beforeAll(async () => {
  const mc = await servers.memcached();
  endpoint = { host: mc.host, port: mc.port };
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await servers.stopAll();
});

describe('MemjsCacheClient against real memcached', () => {
  it('gets returns a bigint token and cas with it stores exactly once', async () => {
    const c = client();
    expect(await c.set('k1', Buffer.from('one'), { flags: 7 })).toBe('stored');
    const first = await c.gets('k1');
    expect(first).not.toBeNull();
    expect(typeof first!.cas).toBe('bigint');
    expect(first!.cas).toBeGreaterThan(0n);
    expect(first!.flags).toBe(7);
    expect(first!.value.toString()).toBe('one');
    expect(await c.cas('k1', Buffer.from('two'), first!.cas)).toBe('stored');
    // The same (now stale) token again: EXISTS, value unchanged.
    expect(await c.cas('k1', Buffer.from('three'), first!.cas)).toBe('exists');
    const after = await c.gets('k1');
    expect(after!.value.toString()).toBe('two');
    expect(after!.cas).not.toBe(first!.cas);
  });

  it('two clients racing with one token: exactly one STORED', async () => {
    const a = client();
    const b = client();
    await a.set('race', Buffer.from('0'));
    const token = (await a.gets('race'))!.cas;
    const results = await Promise.all([a.cas('race', Buffer.from('a'), token), b.cas('race', Buffer.from('b'), token)]);
    expect(results.filter((r) => r === 'stored')).toHaveLength(1);
    expect(results.filter((r) => r === 'exists')).toHaveLength(1);
  });

  it('cas on a missing key is not_found, add on an existing key is not_stored, get of a miss is null', async () => {
    const c = client();
    expect(await c.cas('missing-key', Buffer.from('x'), 12345n)).toBe('not_found');
    expect(await c.get('missing-key')).toBeNull();
    expect(await c.add('added', Buffer.from('x'))).toBe('stored');
    expect(await c.add('added', Buffer.from('y'))).toBe('not_stored');
    expect((await c.get('added'))!.value.toString()).toBe('x');
  });

  it('tokens above 2^53 round-trip without precision loss (a token never seen is just stale)', async () => {
    const c = client();
    await c.set('big', Buffer.from('v'));
    const huge = 0xffff_ffff_ffff_fff0n;
    expect(await c.cas('big', Buffer.from('w'), huge)).toBe('exists');
    await expect(c.cas('big', Buffer.from('w'), 1n << 64n)).rejects.toThrow(RangeError);
  });

  it('delete and touch report whether the key existed; expiry removes the item', async () => {
    const c = client();
    await c.set('ttl', Buffer.from('v'), { expires: 100 });
    expect(await c.touch('ttl', 1)).toBe(true);
    expect(await c.touch('nope', 1)).toBe(false);
    expect(await c.delete('ttl')).toBe(true);
    expect(await c.delete('ttl')).toBe(false);
    await c.set('short', Buffer.from('v'), { expires: 1 });
    expect(await c.get('short')).not.toBeNull();
    await new Promise((r) => setTimeout(r, 2100));
    expect(await c.get('short')).toBeNull();
  });

  it('a refused connection fails fast and says the request was never applied', async () => {
    const port = await getFreePort();
    const c = new MemjsCacheClient({ host: '127.0.0.1', port }, { timeoutMs: 1000 });
    clients.push(c);
    const err = await c.cas('k', Buffer.from('v'), 5n).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CacheClientError);
    expect((err as CacheClientError).kind).toBe('refused');
    expect((err as CacheClientError).maybeApplied).toBe(false);
  });

  describe('a server that accepts and never answers', () => {
    let blackhole: Server;
    const sockets: Socket[] = [];
    let port: number;
    beforeAll(async () => {
      port = await getFreePort();
      blackhole = createServer((s) => {
        sockets.push(s);
        s.on('error', () => undefined);
      });
      await new Promise<void>((r) => blackhole.listen(port, '127.0.0.1', () => r()));
    });
    afterAll(async () => {
      sockets.forEach((s) => s.destroy());
      await new Promise<void>((r) => blackhole.close(() => r()));
    });

    it('times out within the deadline; a mutation is unknown (maybe applied), a read is not', async () => {
      const c = new MemjsCacheClient({ host: '127.0.0.1', port }, { timeoutMs: 200 });
      clients.push(c);
      const started = performance.now();
      const casErr = (await c.cas('k', Buffer.from('v'), 5n).catch((e: unknown) => e)) as CacheClientError;
      const elapsed = performance.now() - started;
      expect(casErr).toBeInstanceOf(CacheClientError);
      expect(casErr.kind).toBe('timeout');
      expect(casErr.maybeApplied).toBe(true);
      expect(elapsed).toBeGreaterThanOrEqual(190);
      expect(elapsed).toBeLessThan(1000);
      const getErr = (await c.get('k').catch((e: unknown) => e)) as CacheClientError;
      expect(getErr.kind).toBe('timeout');
      expect(getErr.maybeApplied).toBe(false);
    });

    it('every concurrent in-flight request ends with an outcome, none hangs', async () => {
      const c = new MemjsCacheClient({ host: '127.0.0.1', port }, { timeoutMs: 200 });
      clients.push(c);
      const results = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => c.set(`k${i}`, Buffer.from('v'))));
      expect(results.every((r) => r.status === 'rejected')).toBe(true);
    });
  });

  it('a request made after a timeout gets its own reply, never a late one', async () => {
    // A server that delays its first reply beyond the deadline, then answers everything.
    const port = await getFreePort();
    const mc = endpoint;
    let first = true;
    const relaySockets: Socket[] = [];
    const relay = createServer((inbound) => {
      relaySockets.push(inbound);
      const upstream = createConnection(mc.port, mc.host);
      relaySockets.push(upstream);
      inbound.on('error', () => upstream.destroy());
      upstream.on('error', () => inbound.destroy());
      inbound.on('data', (d) => upstream.write(d));
      upstream.on('data', (d) => {
        if (first) {
          first = false;
          setTimeout(() => inbound.writable && inbound.write(d), 400);
        } else inbound.write(d);
      });
    });
    await new Promise<void>((r) => relay.listen(port, '127.0.0.1', () => r()));
    try {
      const direct = client();
      await direct.set('late-a', Buffer.from('A'));
      await direct.set('late-b', Buffer.from('B'));
      const c = new MemjsCacheClient({ host: '127.0.0.1', port }, { timeoutMs: 150 });
      clients.push(c);
      const err = (await c.get('late-a').catch((e: unknown) => e)) as CacheClientError;
      expect(err.kind).toBe('timeout');
      const b = await c.get('late-b');
      expect(b!.value.toString()).toBe('B');
      await new Promise((r) => setTimeout(r, 400));
      expect((await c.get('late-b'))!.value.toString()).toBe('B');
    } finally {
      relaySockets.forEach((s) => s.destroy());
      await new Promise<void>((r) => relay.close(() => r()));
    }
  });
});
