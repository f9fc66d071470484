import { createConnection } from 'node:net';
import { TestServers } from '../helpers/servers.js';
import { startProxy, type ProxyOptions, type RunningProxy } from '../../src/proxy/server.js';
import type { ProxyRuntimeConfig } from '../../src/proxy/config.js';

export interface Addr {
  host: string;
  port: number;
}

export function runtimeConfig(master: Addr, slave: Addr | null, over: Partial<ProxyRuntimeConfig> = {}): ProxyRuntimeConfig {
  return {
    epoch: 1,
    shards: [{ name: 'shard-0', master: { host: master.host, port: master.port }, slave: slave ? { host: slave.host, port: slave.port } : null }],
    readPolicy: 'master',
    mitigation: 'none',
    replication: 'sync',
    failover: 'manual',
    failoverThreshold: 3,
    timeoutMs: 500,
    downAfterFailures: 3,
    probeIntervalMs: 100,
    writesFenced: false,
    ...over,
  };
}

export async function proxyFor(master: Addr, slave: Addr | null, over: Partial<ProxyRuntimeConfig> = {}, extra: Partial<ProxyOptions> = {}): Promise<RunningProxy> {
  return startProxy({
    name: 'proxy-test',
    host: '127.0.0.1',
    port: 0,
    adminHost: '127.0.0.1',
    adminPort: 0,
    adminToken: 'test-token',
    config: runtimeConfig(master, slave, over),
    ...extra,
  });
}

/**
 * The differential setup: a reference memcached, and the proxy in front of another master + slave
 * pair, so the same bytes can go to both and the replies be compared.
 */
export async function startReferenceAndProxy(servers: TestServers): Promise<{ reference: Addr; master: Addr; slave: Addr; proxy: RunningProxy }> {
  const [reference, master, slave] = await Promise.all([servers.memcached(), servers.memcached(), servers.memcached()]);
  return { reference, master, slave, proxy: await proxyFor(master, slave) };
}

export interface Exchange {
  reply: Buffer;
  closed: boolean;
}

/**
 * Open a connection, write `chunks` (one write each, a tick apart), collect the reply until
 * `expectBytes` arrived (then a short grace) or the connection stays quiet for `idleMs`.
 */
export function exchange(
  port: number,
  chunks: Buffer[],
  opts: { expectBytes?: number; idleMs?: number; maxMs?: number; until?: (reply: Buffer) => boolean } = {},
): Promise<Exchange> {
  // generous: on a loaded 2-core machine a reply can take longer than a short idle gap
  const idleMs = opts.idleMs ?? 150;
  return new Promise((resolve, reject) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    const parts: Buffer[] = [];
    let size = 0;
    let closed = false;
    let idle: NodeJS.Timeout | undefined;
    const finish = (): void => {
      clearTimeout(idle);
      clearTimeout(hard);
      sock.destroy();
      resolve({ reply: Buffer.concat(parts), closed });
    };
    const armIdle = (ms: number): void => {
      clearTimeout(idle);
      idle = setTimeout(finish, ms);
    };
    const hard = setTimeout(finish, opts.maxMs ?? 5000);
    sock.on('data', (d) => {
      parts.push(d);
      size += d.length;
      if (opts.until?.(Buffer.concat(parts))) return finish();
      if (opts.expectBytes !== undefined && size >= opts.expectBytes) armIdle(15);
      else armIdle(idleMs);
    });
    sock.on('end', () => {
      closed = true;
      finish();
    });
    sock.on('error', (e) => {
      if ((e as NodeJS.ErrnoException).code === 'ECONNRESET') {
        closed = true;
        return finish();
      }
      reject(e);
    });
    sock.on('connect', async () => {
      for (const c of chunks) {
        if (sock.destroyed) break;
        sock.write(c);
        if (chunks.length > 1) await new Promise((r) => setImmediate(r));
      }
      armIdle(idleMs);
    });
  });
}

/** A direct ASCII get on one node: the value or null. */
export async function peek(node: Addr, key: string): Promise<{ value: string; flags: number } | null> {
  const { reply } = await exchange(node.port, [Buffer.from(`get ${key}\r\n`)], { idleMs: 2000, until: (r) => r.toString('latin1').endsWith('END\r\n') });
  const m = /^VALUE \S+ (\d+) (\d+)\r\n/.exec(reply.toString('latin1'));
  if (!m) return null;
  const start = m[0].length;
  return { value: reply.subarray(start, start + Number(m[2])).toString('latin1'), flags: Number(m[1]) };
}

export async function adminJson(proxy: RunningProxy, path: string, init: RequestInit = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${proxy.adminPort}${path}`, init);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Prometheus text
  }
  return { status: res.status, body };
}

/** ASCII setup text, then wait until it was all answered (a trailing `version` marks the end). */
export async function asciiSetup(port: number, text: string): Promise<void> {
  await exchange(port, [Buffer.from(`${text}version\r\n`, 'latin1')], { idleMs: 3000, until: (r) => /VERSION [^\r]*\r\n$/.test(r.toString('latin1')) });
}

export { TestServers };
