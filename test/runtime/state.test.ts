import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../../src/config/load.js';
import { CachectlError } from '../../src/errors.js';
import {
  endpointRows,
  findComponent,
  formatEndpoint,
  loadClusterState,
  memcachedNode,
  nodeName,
  parseEndpoint,
  proxyAdminEndpoints,
  proxyEndpoints,
  toxiproxyLink,
} from '../../src/runtime/cluster.js';
import { chooseRuntime, dockerEndpoint } from '../../src/runtime/index.js';
import { readState, removeState, stateFilePath, writeState } from '../../src/runtime/state.js';
import type { ClusterState } from '../../src/runtime/types.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'cachectl-state-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function sampleState(): ClusterState {
  const config = validateConfig({ stateDir: dir, name: 'unit' });
  const ep = (port: number) => ({ host: '127.0.0.1', port });
  return {
    version: 1,
    name: 'unit',
    runtime: 'local',
    createdAt: '2026-01-01T00:00:00.000Z',
    config,
    components: [
      { name: 'master', kind: 'memcached', role: 'master', shard: 0, endpoint: ep(11311), pid: 101, startedAt: '' },
      { name: 'slave', kind: 'memcached', role: 'slave', shard: 0, endpoint: ep(11312), pid: 102, startedAt: '' },
      { name: 'toxiproxy', kind: 'toxiproxy', endpoint: ep(8474), pid: 103, startedAt: '' },
      { name: 'proxy-0', kind: 'proxy', endpoint: ep(21211), adminEndpoint: ep(21280), pid: 104, startedAt: '' },
      { name: 'proxy-1', kind: 'proxy', endpoint: ep(21212), adminEndpoint: ep(21281), pid: 105, startedAt: '' },
    ],
    toxiproxy: {
      api: ep(8474),
      links: [
        { name: 'master', node: 'master', listen: ep(21311), upstream: ep(11311) },
        { name: 'slave', node: 'slave', listen: ep(21312), upstream: ep(11312) },
      ],
    },
    adminToken: 'secret',
  };
}

describe('state file', () => {
  it('round-trips atomically, leaves no temp file, and is private to the user', () => {
    const state = sampleState();
    const file = writeState(state);
    expect(file).toBe(join(dir, 'unit.state.json'));
    expect(stateFilePath(dir, 'unit')).toBe(file);
    expect(readState(dir, 'unit')).toEqual(state);
    expect(readdirSync(dir)).toEqual(['unit.state.json']);
    expect(readFileSync(file, 'utf8')).toContain('"adminToken": "secret"');
    removeState(dir, 'unit');
    removeState(dir, 'unit');
    expect(existsSync(file)).toBe(false);
    expect(readState(dir, 'unit')).toBeUndefined();
  });

  it('a corrupt or foreign state file is an error that says what to do, never ignored', () => {
    writeFileSync(join(dir, 'unit.state.json'), '{"version": 1, "name": ');
    expect(() => readState(dir, 'unit')).toThrow(/not valid JSON/);
    writeFileSync(join(dir, 'unit.state.json'), '{"version": 7}');
    try {
      readState(dir, 'unit');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(CachectlError);
      expect((err as CachectlError).code).toBe('STATE_CONFLICT');
      expect((err as CachectlError).hint).toContain('delete');
    }
  });

  it('loadClusterState says to run `cachectl up` first when there is no cluster', async () => {
    const config = validateConfig({ stateDir: dir, name: 'nothing' });
    await expect(loadClusterState(config)).rejects.toMatchObject({ code: 'STATE_NOT_FOUND', exitCode: 2, hint: expect.stringContaining('cachectl up') });
  });
});

describe('finding things in a cluster state', () => {
  it('endpoints of proxies, admin APIs, memcached nodes and Toxiproxy links', () => {
    const s = sampleState();
    expect(proxyEndpoints(s)).toEqual([{ host: '127.0.0.1', port: 21211 }, { host: '127.0.0.1', port: 21212 }]);
    expect(proxyAdminEndpoints(s).map((e) => e.port)).toEqual([21280, 21281]);
    expect(memcachedNode(s, 'slave').pid).toBe(102);
    expect(toxiproxyLink(s, 'master').listen.port).toBe(21311);
    expect(() => memcachedNode(s, 'master', 3)).toThrow(/no component "shard-3-master"/);
    expect(() => toxiproxyLink(s, 'nope')).toThrow(CachectlError);
    try {
      findComponent(s, 'nope');
      expect.unreachable();
    } catch (err) {
      expect((err as CachectlError).hint).toBe('pick one of: master, slave, toxiproxy, proxy-0, proxy-1');
    }
  });

  it('names, addresses and the endpoint table', () => {
    expect(nodeName('master')).toBe('master');
    expect(nodeName('slave', 2)).toBe('shard-2-slave');
    expect(parseEndpoint('127.0.0.1:11311')).toEqual({ host: '127.0.0.1', port: 11311 });
    expect(parseEndpoint('[::1]:11311')).toEqual({ host: '::1', port: 11311 });
    expect(formatEndpoint({ host: '::1', port: 1 })).toBe('[::1]:1');
    expect(() => parseEndpoint('localhost')).toThrow(/host:port/);
    const rows = endpointRows(sampleState());
    expect(rows.map((r) => r.component)).toEqual(['master', 'slave', 'toxiproxy', 'proxy-0', 'proxy-1', 'toxiproxy/master', 'toxiproxy/slave']);
    expect(rows.find((r) => r.component === 'proxy-1')?.note).toBe('admin http://127.0.0.1:21281');
    expect(rows.find((r) => r.component === 'toxiproxy/slave')?.note).toBe('-> slave 127.0.0.1:11312');
  });
});

describe('runtime picker', () => {
  it('auto falls back to local, and says why, when no Docker Engine answers', async () => {
    const config = validateConfig({ runtime: 'auto', docker: { socketPath: join(dir, 'no-docker.sock') } });
    const choice = await chooseRuntime(config, {});
    expect(choice.chosen).toBe('local');
    expect(choice.runtime.name).toBe('local');
    expect(choice.reason).toBe(`auto: no Docker Engine answers at ${join(dir, 'no-docker.sock')}, using local processes`);
  });

  it('DOCKER_HOST wins over the configured socket', () => {
    const config = validateConfig({});
    expect(dockerEndpoint(config, {})).toEqual({ socketPath: '/var/run/docker.sock' });
    expect(dockerEndpoint(config, { DOCKER_HOST: 'unix:///run/x.sock' })).toEqual({ socketPath: '/run/x.sock' });
    expect(dockerEndpoint(config, { DOCKER_HOST: 'tcp://127.0.0.1:2376' })).toEqual({ host: '127.0.0.1', port: 2376 });
  });
});
