import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Toxiproxy } from 'toxiproxy-node-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import type { CachectlConfig } from '../../src/config/schema.js';
import { isCachectlError } from '../../src/errors.js';
import {
  clusterStatus,
  downCluster,
  loadClusterState,
  memcachedNode,
  toxiproxyLink,
  toxiproxyUrl,
  upCluster,
} from '../../src/runtime/cluster.js';
import { LocalRuntime } from '../../src/runtime/local-runtime.js';
import { readState, writeState } from '../../src/runtime/state.js';
import type { ClusterState } from '../../src/runtime/types.js';
import { asciiRequest } from '../../src/util/net.js';
import { pidAlive } from '../helpers/cli.js';

/** The local runtime against the real memcached and Toxiproxy server, every port picked free. */

const FREE = { master: 0, slave: 0, toxiproxyApi: 0, toxiMaster: 0, toxiSlave: 0, proxy: 0, admin: 0 };

let dir: string;
let config: CachectlConfig;
const pidsSeen = new Set<number>();

function track(state: ClusterState): ClusterState {
  for (const c of state.components) if (c.pid) pidsSeen.add(c.pid);
  return state;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cachectl-int-'));
  config = validateConfig({ stateDir: join(dir, 'state'), name: 'int', ports: FREE, proxy: { instances: 0 } });
});

afterEach(async () => {
  if (readState(config.stateDir, config.name)) await downCluster(config);
  // Whatever happened in the test, nothing it started may outlive it.
  for (const pid of pidsSeen) if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
  pidsSeen.clear();
  rmSync(dir, { recursive: true, force: true });
});

/** Live memcached processes started with `-p <port>` (any parent), from /proc. */
function memcachedProcessesOnPort(port: number): number[] {
  const found: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const args = readFileSync(`/proc/${d}/cmdline`, 'latin1').split('\0');
      const i = args.indexOf('-p');
      if (/memcached$/.test(args[0]) && i >= 0 && args[i + 1] === String(port) && pidAlive(Number(d))) found.push(Number(d));
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

const get = (port: number, key: string): Promise<string> => asciiRequest('127.0.0.1', port, `get ${key}\r\n`, { terminator: /END\r\n$/ });

describe('local runtime', () => {
  it('up starts healthy master, slave and Toxiproxy links; a value set through the master link lands on the master only', async () => {
    const up = await upCluster(config);
    const state = track(up.state);
    expect(up.alreadyRunning).toBe(false);
    expect(state.components.map((c) => c.name)).toEqual(['master', 'slave', 'toxiproxy']);
    // Free ports were picked and written into the recorded config.
    expect(Object.values(state.config.ports).slice(0, 5).every((p) => p > 0)).toBe(true);
    expect(await loadClusterState(config)).toEqual(state);

    const status = await clusterStatus(config);
    expect(status.healthy).toBe(true);
    expect(status.components.find((c) => c.name === 'master')).toMatchObject({ healthy: true, version: expect.stringMatching(/^1\.6\./), items: 0 });

    const link = toxiproxyLink(state, 'master');
    const master = memcachedNode(state, 'master');
    const slave = memcachedNode(state, 'slave');
    expect(link.upstream).toEqual(master.endpoint);
    expect(memcachedProcessesOnPort(master.endpoint.port)).toEqual([master.pid]);
    expect(await asciiRequest('127.0.0.1', link.listen.port, 'set via-toxi 0 0 5\r\nhello\r\n')).toBe('STORED\r\n');
    expect(await get(master.endpoint.port, 'via-toxi')).toBe('VALUE via-toxi 0 5\r\nhello\r\nEND\r\n');
    expect(await get(slave.endpoint.port, 'via-toxi')).toBe('END\r\n');

    const after = await clusterStatus(config);
    expect(after.components.find((c) => c.name === 'master')).toMatchObject({ items: 1, hitRatio: 1 });
  });

  it('disabling the Toxiproxy master proxy makes its endpoint refuse, and status shows it', async () => {
    const state = track((await upCluster(config)).state);
    const link = toxiproxyLink(state, 'master');
    const proxy = await new Toxiproxy(toxiproxyUrl(state)).get('master');
    await proxy.update({ enabled: false, listen: proxy.listen, upstream: proxy.upstream });
    await expect(asciiRequest('127.0.0.1', link.listen.port, 'version\r\n', { timeoutMs: 1000 })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    const status = await clusterStatus(config);
    const toxi = status.components.find((c) => c.name === 'toxiproxy');
    expect(toxi?.links?.find((l) => l.name === 'master')?.enabled).toBe(false);
    // The master itself is untouched: only the path to it is cut.
    expect(await asciiRequest('127.0.0.1', memcachedNode(state, 'master').endpoint.port, 'version\r\n')).toMatch(/^VERSION /);
    await proxy.update({ enabled: true, listen: proxy.listen, upstream: proxy.upstream });
    expect(await asciiRequest('127.0.0.1', link.listen.port, 'version\r\n')).toMatch(/^VERSION /);
  });

  it('kill and start a node: same port, new pid, empty cache; stop/start Toxiproxy restores its links', async () => {
    const runtime = new LocalRuntime(config);
    let state = track((await upCluster(config)).state);
    const master = memcachedNode(state, 'master');
    await asciiRequest('127.0.0.1', master.endpoint.port, 'set k 0 0 1\r\nv\r\n');

    state = await runtime.killNode(state, 'master');
    expect(pidAlive(master.pid as number)).toBe(false);
    expect(await runtime.isRunning(state, 'master')).toBe(false);
    expect(memcachedProcessesOnPort(master.endpoint.port)).toEqual([]);
    expect((await clusterStatus(config)).healthy).toBe(false);

    state = track(await runtime.startNode(state, 'master'));
    const restarted = memcachedNode(state, 'master');
    expect(restarted.endpoint).toEqual(master.endpoint);
    expect(restarted.pid).not.toBe(master.pid);
    expect(await get(restarted.endpoint.port, 'k')).toBe('END\r\n');
    expect((await loadClusterState(config)).components[0].pid).toBe(restarted.pid);

    const link = toxiproxyLink(state, 'master');
    const toxiPid = state.components.find((c) => c.name === 'toxiproxy')?.pid as number;
    state = await runtime.stopNode(state, 'toxiproxy');
    expect(pidAlive(toxiPid)).toBe(false);
    expect(await runtime.isRunning(state, 'toxiproxy')).toBe(false);
    state = track(await runtime.startNode(state, 'toxiproxy'));
    expect(await asciiRequest('127.0.0.1', link.listen.port, 'version\r\n')).toMatch(/^VERSION /);
    expect((await clusterStatus(config)).healthy).toBe(true);
  });

  it('down stops exactly the recorded pids, removes the state, is safe twice; a reused pid is never signalled', async () => {
    const state = track((await upCluster(config)).state);
    const pids = state.components.map((c) => c.pid as number);
    // Simulate pid reuse: the recorded slave pid now belongs to an unrelated process.
    const stranger = spawn('sleep', ['30'], { stdio: 'ignore' });
    const slavePid = pids[1];
    process.kill(slavePid, 'SIGKILL');
    const tampered: ClusterState = structuredClone(state);
    tampered.components[1].pid = stranger.pid;
    writeState(tampered);
    try {
      const down = await downCluster(config);
      expect(down.wasRunning).toBe(true);
      expect(pids.filter(pidAlive)).toEqual([]);
      expect(pidAlive(stranger.pid as number)).toBe(true);
      expect(readState(config.stateDir, config.name)).toBeUndefined();
      expect(await downCluster(config)).toMatchObject({ wasRunning: false });
    } finally {
      stranger.kill('SIGKILL');
    }
  });

  it('a failure half-way through up stops what was started and leaves no state', async () => {
    const fake = join(dir, 'broken-toxiproxy');
    writeFileSync(fake, '#!/bin/sh\necho "broken on purpose" >&2\nexit 1\n');
    chmodSync(fake, 0o755);
    const seen: string[] = [];
    const err = await upCluster(config, { env: { ...process.env, CACHECTL_TOXIPROXY_SERVER_BIN: fake }, onProgress: (l) => seen.push(l) }).catch((e: unknown) => e);
    expect(isCachectlError(err)).toBe(true);
    expect((err as { exitCode: number }).exitCode).toBeGreaterThanOrEqual(3);
    expect(String((err as Error).message)).toContain('toxiproxy-server');
    // memcached master and slave had started; both processes must be gone again. (Checked by
    // command line, not by port: on a busy machine another test may bind the freed port at once.)
    const started = seen.filter((l) => l.startsWith('memcached')).map((l) => Number(/:(\d+)$/.exec(l)?.[1]));
    expect(started).toHaveLength(2);
    for (const port of started) expect(memcachedProcessesOnPort(port)).toEqual([]);
    expect(readState(config.stateDir, config.name)).toBeUndefined();
    expect(existsSync(join(config.stateDir, 'int', 'logs', 'toxiproxy.log'))).toBe(true);
  });

  it('two shards: four memcached nodes, each behind its own Toxiproxy link', async () => {
    config = validateConfig({ ...config, shards: 2 });
    const state = track((await upCluster(config)).state);
    expect(state.components.map((c) => c.name)).toEqual(['master', 'slave', 'shard-1-master', 'shard-1-slave', 'toxiproxy']);
    const link = toxiproxyLink(state, 'shard-1-slave');
    expect(link.upstream).toEqual(memcachedNode(state, 'slave', 1).endpoint);
    expect(await asciiRequest('127.0.0.1', link.listen.port, 'version\r\n')).toMatch(/^VERSION /);
  });
});
