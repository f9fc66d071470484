import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KetamaRing } from '../../src/proxy/ketama.js';
import { startProxy, type RunningProxy } from '../../src/proxy/server.js';
import { findBinary, spawnManaged, type ManagedProcess } from '../../src/runtime/processes.js';
import { listKeys } from '../../src/scale/node-keys.js';
import { asciiRequest, getFreePort, isPortOpen, waitUntil } from '../../src/util/net.js';
import { TestServers } from '../helpers/servers.js';

/**
 * "Compatible in spirit" made checkable: twemproxy (Debian's nutcracker) with distribution ketama,
 * hash md5 and named servers places every key on the same memcached as cachectl's ketama ring,
 * and the cachectl proxy routes by that ring.
 */

const servers = new TestServers();
let dir: string | undefined;
let nutcracker: ManagedProcess | undefined;
let proxy: RunningProxy | undefined;

afterEach(async () => {
  await proxy?.stop(100);
  proxy = undefined;
  await nutcracker?.stop(2000);
  nutcracker = undefined;
  await servers.stopAll();
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

const NAMES = ['shard-0', 'shard-1', 'shard-2'];
const KEYS = Array.from({ length: 600 }, (_, i) => `user:${i}:profile`);

async function setAll(port: number): Promise<void> {
  const body = KEYS.map((k) => `set ${k} 0 0 1\r\nx\r\n`).join('');
  const reply = await asciiRequest('127.0.0.1', port, body + 'get user:0:profile\r\n', { terminator: /END\r\n$/, timeoutMs: 10_000 });
  expect(reply.split('STORED\r\n').length - 1).toBe(KEYS.length);
}

async function placement(nodes: Array<{ port: number }>): Promise<Map<string, string>> {
  const where = new Map<string, string>();
  for (const [i, n] of nodes.entries()) for (const k of await listKeys({ host: '127.0.0.1', port: n.port })) where.set(k, NAMES[i]);
  return where;
}

describe('ketama placement matches twemproxy (nutcracker)', () => {
  it.skipIf(!findBinary('nutcracker'))('nutcracker and the cachectl proxy put each of 600 keys on the server the ring names', async () => {
    const ring = new KetamaRing(NAMES.map((name) => ({ name })));
    const nodes = await Promise.all(NAMES.map(() => servers.memcached()));

    // twemproxy: named servers "host:port:weight name", so points hang off the name as in cachectl
    dir = mkdtempSync(join(tmpdir(), 'cachectl-ketama-'));
    const listen = await getFreePort();
    const stats = await getFreePort();
    const conf = join(dir, 'nutcracker.yml');
    writeFileSync(
      conf,
      [
        'pool:',
        `  listen: 127.0.0.1:${listen}`,
        '  hash: md5',
        '  distribution: ketama',
        '  auto_eject_hosts: false',
        '  timeout: 2000',
        '  servers:',
        ...nodes.map((n, i) => `    - 127.0.0.1:${n.port}:1 ${NAMES[i]}`),
        '',
      ].join('\n'),
    );
    nutcracker = spawnManaged(findBinary('nutcracker') as string, ['-c', conf, '-s', String(stats), '-a', '127.0.0.1', '-o', join(dir, 'nutcracker.log'), '-p', join(dir, 'nc.pid')], {});
    await waitUntil('nutcracker to listen', () => isPortOpen('127.0.0.1', listen, 200), { timeoutMs: 5000 });
    await setAll(listen);
    const viaTwemproxy = await placement(nodes);
    expect(viaTwemproxy.size).toBe(KEYS.length);
    for (const k of KEYS) expect(`${k} -> ${viaTwemproxy.get(k)}`).toBe(`${k} -> ${ring.serverFor(k)}`);
    // every server got a fair share (not all on one)
    for (const name of NAMES) expect([...viaTwemproxy.values()].filter((v) => v === name).length).toBeGreaterThan(KEYS.length / 6);

    // the cachectl proxy with the same three shards (no slaves) routes identically
    await Promise.all(nodes.map((n) => asciiRequest('127.0.0.1', n.port, 'flush_all\r\n')));
    proxy = await startProxy({
      name: 'proxy-ketama',
      host: '127.0.0.1',
      port: 0,
      adminHost: '127.0.0.1',
      adminPort: 0,
      adminToken: 'test-token',
      config: {
        epoch: 1,
        shards: nodes.map((n, i) => ({ name: NAMES[i], master: { host: '127.0.0.1', port: n.port }, slave: null })),
        readPolicy: 'master',
        mitigation: 'none',
        replication: 'sync',
        failover: 'manual',
        failoverThreshold: 3,
        timeoutMs: 1000,
        downAfterFailures: 3,
        probeIntervalMs: 100,
        writesFenced: false,
      },
    });
    await setAll(proxy.port);
    const viaCachectl = await placement(nodes);
    expect(viaCachectl).toEqual(viaTwemproxy);
  }, 30_000);
});
