import { createConnection } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Toxiproxy } from 'toxiproxy-node-client';
import { getFreePort, waitUntil } from '../../src/util/net.js';
import { startMemcached, type ManagedProcess } from '../../src/runtime/processes.js';
import type { RunningProxy } from '../../src/proxy/server.js';
import { TestServers, exchange, peek, proxyFor, type Addr } from './harness.js';

/** Backend faults through the real Toxiproxy: replies split anywhere, truncated replies, restarts, stalled clients. */

const servers = new TestServers();
let master: Addr;
let slave: Addr;
let toxi: Toxiproxy;
let proxy: RunningProxy | undefined;
const extra: ManagedProcess[] = [];

beforeAll(async () => {
  const [m, s, t] = await Promise.all([servers.memcached(), servers.memcached(), servers.toxiproxy()]);
  master = m;
  slave = s;
  toxi = new Toxiproxy(t.url);
});
afterEach(async () => {
  await proxy?.stop(200);
  proxy = undefined;
  await toxi.reset();
});
afterAll(async () => {
  await Promise.all(extra.map((p) => p.stop(2000)));
  await servers.stopAll();
});

async function toxiFor(name: string, upstream: Addr): Promise<{ addr: Addr; proxy: Awaited<ReturnType<Toxiproxy['createProxy']>> }> {
  const port = await getFreePort();
  const p = await toxi.createProxy({ name, listen: `127.0.0.1:${port}`, upstream: `127.0.0.1:${upstream.port}` });
  return { addr: { host: '127.0.0.1', port }, proxy: p };
}

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

describe('backend faults', () => {
  it('backend replies sliced into tiny pieces (inside values, before END) reach the client intact', async () => {
    const t = await toxiFor('sliced', master);
    try {
      await t.proxy.addToxic({ name: 'slice', type: 'slicer', stream: 'downstream', toxicity: 1, attributes: { average_size: 3, size_variation: 2, delay: 0 } });
      proxy = await proxyFor(t.addr, slave);
      const value = 'x\r\nEND\r\n'.repeat(300);
      const text = `set s 5 0 ${value.length}\r\n${value}\r\nget s\r\ngets s\r\nget nope\r\n`;
      const { reply } = await exchange(proxy.port, [b(text)], { idleMs: 1500, maxMs: 8000 });
      const r = reply.toString('latin1');
      expect(r.startsWith(`STORED\r\nVALUE s 5 ${value.length}\r\n${value}\r\nEND\r\nVALUE s 5 ${value.length} `)).toBe(true);
      expect(r.endsWith(`\r\n${value}\r\nEND\r\nEND\r\n`)).toBe(true);
    } finally {
      await t.proxy.remove();
    }
  });

  it('a truncated backend reply fails only the requests it carried; the backend is reconnected', async () => {
    const t = await toxiFor('truncating', master);
    try {
      await exchange(master.port, [b(`set big 0 0 5000\r\n${'y'.repeat(5000)}\r\n`)], { idleMs: 50 });
      expect((await peek(master, 'big'))?.value.length).toBe(5000);
      // no slave: a plain get would otherwise (rightly) fall back to it
      proxy = await proxyFor(t.addr, null, { timeoutMs: 1000, downAfterFailures: 5 });
      // the connection to the master dies after 2000 bytes of replies: inside the value
      await t.proxy.addToxic({ name: 'cut', type: 'limit_data', stream: 'downstream', toxicity: 1, attributes: { bytes: 2000 } });
      const first = (await exchange(proxy.port, [b('get big\r\n')], { idleMs: 1500, maxMs: 4000 })).reply.toString();
      expect(first).toMatch(/^SERVER_ERROR cachectl: master /);
      await t.proxy.getToxic('cut').then((x) => x.remove());
      const second = (await exchange(proxy.port, [b('get big\r\n')], { idleMs: 300, maxMs: 4000 })).reply.toString();
      expect(second).toBe(`VALUE big 0 5000\r\n${'y'.repeat(5000)}\r\nEND\r\n`);
    } finally {
      await t.proxy.remove();
    }
  });

  it('backend restarted empty: the proxy reconnects and serves from the new process', async () => {
    const port = await getFreePort();
    let mc = await startMemcached({ port });
    extra.push(mc);
    proxy = await proxyFor({ host: '127.0.0.1', port }, null, { timeoutMs: 300, downAfterFailures: 2, probeIntervalMs: 50 });
    expect((await exchange(proxy.port, [b('set r 0 0 1\r\n1\r\n')])).reply.toString()).toBe('STORED\r\n');
    await mc.kill();
    mc = await startMemcached({ port });
    extra.push(mc);
    await waitUntil('proxy serves again', async () => (await exchange(proxy!.port, [b('get r\r\n')], { idleMs: 200 })).reply.toString() === 'END\r\n', { timeoutMs: 5000, intervalMs: 100 });
    expect((await exchange(proxy.port, [b('set r 0 0 1\r\n2\r\nget r\r\n')])).reply.toString()).toBe('STORED\r\nVALUE r 0 1\r\n2\r\nEND\r\n');
  });

  it('a client that stalls half-way through a header is closed after the idle timeout', async () => {
    proxy = await proxyFor(master, slave, {}, { clientIdleTimeoutMs: 300 });
    const sock = createConnection({ host: '127.0.0.1', port: proxy.port });
    await new Promise((r) => sock.once('connect', r));
    sock.write(Buffer.from([0x80, 0x00, 0x00]));
    const closedAfter = await new Promise<number>((resolve) => {
      const t0 = Date.now();
      sock.once('close', () => resolve(Date.now() - t0));
      sock.resume();
    });
    expect(closedAfter).toBeLessThan(2000);
    await waitUntil('connection forgotten', async () => (await fetch(`http://127.0.0.1:${proxy!.adminPort}/stats`).then((r) => r.json() as Promise<{ connections: { current: number } }>)).connections.current === 0, { timeoutMs: 2000 });
  });

  it('a client that disconnects mid-request leaves nothing behind', async () => {
    proxy = await proxyFor(master, slave);
    for (let i = 0; i < 20; i++) {
      const sock = createConnection({ host: '127.0.0.1', port: proxy.port });
      await new Promise((r) => sock.once('connect', r));
      sock.write(b(`set half${i} 0 0 100\r\nonly-part-of-the-value`));
      sock.destroy();
    }
    await waitUntil('all client connections closed', async () => (await fetch(`http://127.0.0.1:${proxy!.adminPort}/stats`).then((r) => r.json() as Promise<{ connections: { current: number } }>)).connections.current === 0, { timeoutMs: 2000 });
    expect((await exchange(proxy.port, [b('get half0\r\n')])).reply.toString()).toBe('END\r\n');
  });
});
