import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Toxiproxy } from 'toxiproxy-node-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { configSchema, type CachectlConfig, type ConfigInput } from '../../src/config/schema.js';
import { CachectlError } from '../../src/errors.js';
import { clusterStatus, downCluster, upCluster } from '../../src/runtime/cluster.js';
import { DockerRuntime } from '../../src/runtime/docker-runtime.js';
import { CLUSTER_LABEL, clusterLabels, containerCreateOptions, planDockerCluster } from '../../src/runtime/docker-spec.js';
import { planPorts } from '../../src/runtime/local-runtime.js';
import { chooseRuntime } from '../../src/runtime/index.js';
import { readState } from '../../src/runtime/state.js';
import { scaleAdd, scaleRemove } from '../../src/scale/scale.js';
import type { ClusterState } from '../../src/runtime/types.js';
import { asciiRequest, isPortOpen } from '../../src/util/net.js';
import { acquireDockerEngine, proxyCommandBuilt, TEST_IMAGES } from './docker-test-env.js';

/**
 * The docker runtime against a real Docker Engine (the private one from scripts/docker-test-env.sh),
 * with images built offline from this machine's memcached, toxiproxy-server and node. Containers
 * use host networking, so all traffic stays on loopback.
 */

const engine = await acquireDockerEngine();
const skipReason = engine.available ? '' : ` (skipped: ${engine.reason})`;
const proxyReady = proxyCommandBuilt();

const stateDirs: string[] = [];
let clusterSeq = 0;

function testConfig(overrides: Partial<ConfigInput> = {}): CachectlConfig {
  const stateDir = mkdtempSync(join(tmpdir(), 'cachectl-docker-'));
  stateDirs.push(stateDir);
  return configSchema.parse({
    runtime: 'docker',
    stateDir,
    name: `dt-${process.pid}-${++clusterSeq}`,
    ports: { master: 0, slave: 0, toxiproxyApi: 0, toxiMaster: 0, toxiSlave: 0, proxy: 0, admin: 0 },
    memcached: { memoryMb: 16 },
    proxy: { instances: 0 },
    docker: { socketPath: engine.socketPath, network: 'host', ...TEST_IMAGES },
    ...overrides,
  });
}

/** DOCKER_HOST must not redirect the runtime away from the test engine. */
const env = { ...process.env, DOCKER_HOST: `unix://${engine.socketPath}` };

async function set(host: string, port: number, key: string, value: string): Promise<string> {
  return asciiRequest(host, port, `set ${key} 0 0 ${Buffer.byteLength(value)}\r\n${value}\r\n`, { timeoutMs: 3000 });
}

async function get(host: string, port: number, key: string): Promise<string | undefined> {
  const reply = await asciiRequest(host, port, `get ${key}\r\n`, { terminator: /END\r\n$/, timeoutMs: 3000 });
  const m = /^VALUE \S+ \d+ \d+\r\n([\s\S]*?)\r\nEND\r\n$/.exec(reply);
  return m?.[1];
}

async function clusterContainers(name: string): Promise<string[]> {
  const list = await engine.docker!.listContainers({ all: true, filters: { label: [`${CLUSTER_LABEL}=${name}`] } });
  return list.map((c) => c.Names[0]);
}

async function clusterNetworks(name: string): Promise<string[]> {
  const list = await engine.docker!.listNetworks({ filters: { label: [`${CLUSTER_LABEL}=${name}`] } });
  return list.map((n) => n.Name);
}

const started: CachectlConfig[] = [];

afterEach(async () => {
  // Clean up even when a test failed half-way: down by state file, then by label.
  for (const config of started.splice(0)) {
    await downCluster(config, { env }).catch(() => undefined);
    const state = readState(config.stateDir, config.name);
    if (state) await new DockerRuntime(config, env).down(state).catch(() => undefined);
  }
});

afterAll(async () => {
  for (const d of stateDirs) rmSync(d, { recursive: true, force: true });
  await engine.release();
});

describe.skipIf(!engine.available)(`docker runtime on a real engine${skipReason}`, () => {
  let config: CachectlConfig;
  let state: ClusterState;

  beforeAll(() => {
    console.info(`[docker tests] engine ${engine.socketPath}${engine.startedHere ? ' (started by this test file)' : ''}; images ${Object.values(TEST_IMAGES).join(', ')}`);
  });

  it('up creates labelled master, slave and toxiproxy containers with the local runtime\'s names and endpoints; status reads them; down removes them all, twice', async () => {
    config = testConfig();
    started.push(config);
    const up = await upCluster(config, { env });
    state = up.state;
    expect(up.runtime).toBe('docker');
    expect(up.alreadyRunning).toBe(false);
    expect(state.components.map((c) => c.name)).toEqual(['master', 'slave', 'toxiproxy']);
    for (const c of state.components) {
      expect(c.containerId).toMatch(/^[0-9a-f]{64}$/);
      expect(c.containerName).toBe(`cachectl-${config.name}-${c.name}`);
      expect(c.endpoint.host).toBe('127.0.0.1');
      expect(c.endpoint.port).toBeGreaterThan(0);
    }
    expect(state.docker).toEqual({ networkName: 'host', label: `${CLUSTER_LABEL}=${config.name}`, engine: `unix://${engine.socketPath}` });
    expect((await clusterContainers(config.name)).sort()).toEqual(
      ['master', 'slave', 'toxiproxy'].map((n) => `/cachectl-${config.name}-${n}`).sort(),
    );
    // The state file on disk is what later commands read.
    expect(readState(config.stateDir, config.name)?.components.map((c) => c.containerId)).toEqual(state.components.map((c) => c.containerId));

    // up again: says it is running and changes nothing
    const again = await upCluster(config, { env });
    expect(again.alreadyRunning).toBe(true);
    expect(again.state.components.map((c) => c.containerId)).toEqual(state.components.map((c) => c.containerId));

    const status = await clusterStatus(config, { env });
    expect(status.runtime).toBe('docker');
    expect(status.healthy).toBe(true);
    const byName = Object.fromEntries(status.components.map((c) => [c.name, c]));
    expect(byName.master.version).toMatch(/^1\.6\./);
    expect(byName.master.containerId).toBe(state.components[0].containerId);
    expect(byName.slave.items).toBe(0);
    expect(byName.toxiproxy.links?.map((l) => [l.name, l.enabled])).toEqual([
      ['master', true],
      ['slave', true],
    ]);

    // A command pointed at another engine refuses instead of "cleaning up" nothing and dropping the state.
    const elsewhere = await downCluster(config, { env: { ...env, DOCKER_HOST: 'unix:///run/cachectl-other-engine.sock' } }).catch((e: unknown) => e);
    expect((elsewhere as CachectlError).code).toBe('STATE_CONFLICT');
    expect((elsewhere as CachectlError).hint).toContain(`DOCKER_HOST=unix://${engine.socketPath}`);
    expect(readState(config.stateDir, config.name)).toBeDefined();

    const down = await downCluster(config, { env });
    expect(down.wasRunning).toBe(true);
    expect(down.stopped.map((s) => s.containerId)).toEqual(state.components.map((c) => c.containerId));
    expect(await clusterContainers(config.name)).toEqual([]);
    expect(await clusterNetworks(config.name)).toEqual([]);
    for (const c of state.components) expect(await isPortOpen('127.0.0.1', c.endpoint.port)).toBe(false);
    expect(readState(config.stateDir, config.name)).toBeUndefined();
    // down is safe twice: at the cluster level (no state) and at the runtime level (state of removed containers)
    expect((await downCluster(config, { env })).wasRunning).toBe(false);
    await new DockerRuntime(config, env).down(state);
  });

  it('a value written through the Toxiproxy master link lands in the master container; disabling the link cuts it off', async () => {
    config = testConfig();
    started.push(config);
    state = (await upCluster(config, { env })).state;
    const master = state.components.find((c) => c.name === 'master')!;
    const slave = state.components.find((c) => c.name === 'slave')!;
    const link = state.toxiproxy.links.find((l) => l.name === 'master')!;
    expect(link.upstream).toEqual(master.endpoint);

    expect(await set(link.listen.host, link.listen.port, 'k1', 'through-toxiproxy')).toBe('STORED\r\n');
    expect(await get(master.endpoint.host, master.endpoint.port, 'k1')).toBe('through-toxiproxy');
    expect(await get(slave.endpoint.host, slave.endpoint.port, 'k1')).toBeUndefined();

    const toxi = new Toxiproxy(`http://${state.toxiproxy.api.host}:${state.toxiproxy.api.port}`);
    const proxy = await toxi.get('master');
    await proxy.update({ enabled: false, listen: proxy.listen, upstream: proxy.upstream });
    expect(await isPortOpen(link.listen.host, link.listen.port)).toBe(false);
    // The master itself still has the value: a partition, not a crash.
    expect(await get(master.endpoint.host, master.endpoint.port, 'k1')).toBe('through-toxiproxy');
  });

  it('kill -9 of the master container stops it; startNode brings it back on the same port, empty', async () => {
    config = testConfig();
    started.push(config);
    state = (await upCluster(config, { env })).state;
    const runtime = new DockerRuntime(config, env);
    const master = state.components.find((c) => c.name === 'master')!;
    expect(await set(master.endpoint.host, master.endpoint.port, 'before-crash', 'v1')).toBe('STORED\r\n');

    state = await runtime.killNode(state, 'master');
    expect(await runtime.isRunning(state, 'master')).toBe(false);
    expect(await runtime.isRunning(state, 'slave')).toBe(true);
    expect(await isPortOpen(master.endpoint.host, master.endpoint.port)).toBe(false);
    const info = await engine.docker!.getContainer(master.containerId!).inspect();
    expect(info.State.ExitCode).toBe(137); // SIGKILL, not a graceful stop
    const statusDown = await clusterStatus(config, { env });
    expect(statusDown.healthy).toBe(false);
    expect(statusDown.components.find((c) => c.name === 'master')?.error).toBe('not running');

    state = await runtime.startNode(state, 'master');
    expect(await runtime.isRunning(state, 'master')).toBe(true);
    expect(state.components.find((c) => c.name === 'master')!.containerId).toBe(master.containerId);
    expect(await get(master.endpoint.host, master.endpoint.port, 'before-crash')).toBeUndefined();
    // Toxiproxy reaches the restarted master again through the same link.
    const link = state.toxiproxy.links.find((l) => l.name === 'master')!;
    expect(await set(link.listen.host, link.listen.port, 'after-restart', 'v2')).toBe('STORED\r\n');
    expect(await get(master.endpoint.host, master.endpoint.port, 'after-restart')).toBe('v2');
    // The state file follows the restart.
    expect(readState(config.stateDir, config.name)?.components.find((c) => c.name === 'master')?.startedAt).toBe(
      state.components.find((c) => c.name === 'master')!.startedAt,
    );
  });

  it('a graceful stop and start of the toxiproxy container gives its links back', async () => {
    config = testConfig();
    started.push(config);
    state = (await upCluster(config, { env })).state;
    const runtime = new DockerRuntime(config, env);
    state = await runtime.stopNode(state, 'toxiproxy');
    expect(await runtime.isRunning(state, 'toxiproxy')).toBe(false);
    state = await runtime.startNode(state, 'toxiproxy');
    const link = state.toxiproxy.links.find((l) => l.name === 'slave')!;
    const slave = state.components.find((c) => c.name === 'slave')!;
    expect(await set(link.listen.host, link.listen.port, 'via-slave-link', 'x')).toBe('STORED\r\n');
    expect(await get(slave.endpoint.host, slave.endpoint.port, 'via-slave-link')).toBe('x');
  });

  it('bridge mode: the engine accepts the network and container bodies (created and inspected, never started: no traffic)', async () => {
    const cluster = `dtb-${process.pid}`;
    const bridgeConfig = configSchema.parse({ runtime: 'docker', name: cluster, proxy: { instances: 1 }, docker: { network: 'bridge', ...TEST_IMAGES } });
    const plan = planDockerCluster(await planPorts(bridgeConfig), 'token');
    const docker = engine.docker!;
    const network = await docker.createNetwork({ Name: plan.networkName, Driver: 'bridge', Labels: clusterLabels(cluster) });
    try {
      for (const spec of plan.specs) {
        const created = await docker.createContainer(containerCreateOptions(spec, plan, 3));
        const info = await created.inspect();
        expect(info.Name).toBe(`/cachectl-${cluster}-${spec.component}`);
        expect(info.HostConfig.NetworkMode).toBe(plan.networkName);
        expect(info.NetworkSettings.Networks[plan.networkName]?.Aliases).toContain(spec.component);
        expect(Object.keys(info.HostConfig.PortBindings ?? {}).sort()).toEqual(spec.ports.map((p) => `${p.port}/tcp`).sort());
        for (const p of spec.ports) expect(info.HostConfig.PortBindings[`${p.port}/tcp`]).toEqual([{ HostIp: '127.0.0.1', HostPort: String(p.port) }]);
        expect(info.State.Running).toBe(false);
      }
    } finally {
      // down removes them by label, network included
      await new DockerRuntime(bridgeConfig, env).down({ version: 1, name: cluster, runtime: 'docker', createdAt: '', config: bridgeConfig, components: [], toxiproxy: { api: plan.toxiproxyApi, links: [] }, adminToken: '', docker: { networkId: network.id, label: `${CLUSTER_LABEL}=${cluster}`, engine: `unix://${engine.socketPath}` } });
    }
    expect(await clusterContainers(cluster)).toEqual([]);
    expect(await clusterNetworks(cluster)).toEqual([]);
  });

  it('up refuses when the engine already has containers of a cluster with that name (e.g. its state file was deleted), naming them', async () => {
    config = testConfig();
    started.push(config);
    const stray = await engine.docker!.createContainer({ name: `cachectl-${config.name}-master`, Image: TEST_IMAGES.memcachedImage, Labels: clusterLabels(config.name, 'master', 'memcached') });
    try {
      const err = await upCluster(config, { env }).catch((e: unknown) => e);
      expect((err as CachectlError).code).toBe('STATE_CONFLICT');
      expect((err as CachectlError).message).toContain(`cachectl-${config.name}-master`);
      expect((err as CachectlError).hint).toContain('docker rm -f');
      expect(await clusterContainers(config.name)).toEqual([`/cachectl-${config.name}-master`]);
    } finally {
      await stray.remove({ force: true });
    }
  });

  it('--runtime auto picks docker when the engine answers', async () => {
    const choice = await chooseRuntime(testConfig({ runtime: 'auto' }), env);
    expect(choice.chosen).toBe('docker');
    expect(choice.reason).toContain(engine.socketPath);
  });

  it('a missing image is an exit-3 error naming the image and what to do, and leaves nothing behind', async () => {
    config = testConfig({ proxy: { instances: 1 }, docker: { socketPath: engine.socketPath, network: 'host', ...TEST_IMAGES, proxyImage: 'cachectl-test/no-such-proxy:none' } });
    started.push(config);
    const err = await upCluster(config, { env }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CachectlError);
    expect((err as CachectlError).exitCode).toBe(3);
    expect((err as CachectlError).message).toContain('cachectl-test/no-such-proxy:none');
    expect((err as CachectlError).message).toContain('docker.proxyImage');
    expect((err as CachectlError).hint).toContain('docker/Dockerfile');

    // A registry image that cannot be pulled (a registry on a closed loopback port: no traffic leaves the machine).
    const pullConfig = testConfig({ docker: { socketPath: engine.socketPath, network: 'host', ...TEST_IMAGES, memcachedImage: '127.0.0.1:1/cachectl-missing:none' } });
    started.push(pullConfig);
    const pullErr = await upCluster(pullConfig, { env }).catch((e: unknown) => e);
    expect((pullErr as CachectlError).exitCode).toBe(3);
    expect((pullErr as CachectlError).message).toContain('127.0.0.1:1/cachectl-missing:none');
    expect((pullErr as CachectlError).message).toContain('could not be pulled');
    expect(await clusterContainers(config.name)).toEqual([]);
    expect(await clusterContainers(pullConfig.name)).toEqual([]);
  });

  it('an up that fails half-way (a container that cannot start) removes every container it created and writes no state', async () => {
    // The memcached image has no `proxy` executable: the proxy container is created but cannot start.
    config = testConfig({ proxy: { instances: 1 }, docker: { socketPath: engine.socketPath, network: 'host', ...TEST_IMAGES, proxyImage: TEST_IMAGES.memcachedImage } });
    started.push(config);
    const err = await upCluster(config, { env }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CachectlError);
    expect((err as CachectlError).exitCode).toBe(3);
    expect((err as CachectlError).message).toContain(`cachectl-${config.name}-proxy-0`);
    expect(await clusterContainers(config.name)).toEqual([]);
    expect(readState(config.stateDir, config.name)).toBeUndefined();
  });

  it.skipIf(!proxyReady)(`a write through the cachectl proxy container reaches the master and slave containers${proxyReady ? '' : ' (skipped: dist/commands/proxy.js is not built yet)'}`, async () => {
    config = testConfig({ proxy: { instances: 1 } });
    started.push(config);
    state = (await upCluster(config, { env })).state;
    expect(state.components.map((c) => c.name)).toEqual(['master', 'slave', 'toxiproxy', 'proxy-0']);
    const proxy = state.components.find((c) => c.name === 'proxy-0')!;
    const master = state.components.find((c) => c.name === 'master')!;
    const slave = state.components.find((c) => c.name === 'slave')!;
    expect(proxy.containerName).toBe(`cachectl-${config.name}-proxy-0`);
    expect(await set(proxy.endpoint.host, proxy.endpoint.port, 'via-proxy', 'replicated')).toBe('STORED\r\n');
    expect(await get(master.endpoint.host, master.endpoint.port, 'via-proxy')).toBe('replicated');
    expect(await get(slave.endpoint.host, slave.endpoint.port, 'via-proxy')).toBe('replicated');
    const status = await clusterStatus(config, { env });
    expect(status.components.find((c) => c.name === 'proxy-0')?.healthy).toBe(true);

    // kill -9 and restart of the proxy container: it serves again on the same endpoint
    const runtime = new DockerRuntime(config, env);
    state = await runtime.killNode(state, 'proxy-0');
    expect(await runtime.isRunning(state, 'proxy-0')).toBe(false);
    expect(await isPortOpen(proxy.endpoint.host, proxy.endpoint.port)).toBe(false);
    state = await runtime.startNode(state, 'proxy-0');
    expect(await get(proxy.endpoint.host, proxy.endpoint.port, 'via-proxy')).toBe('replicated');
  });

  it.skipIf(!proxyReady)('cachectl scale add/remove on Docker: a new pair of memcached containers behind new Toxiproxy links takes keys, and goes away again', async () => {
    config = testConfig({ proxy: { instances: 1 } });
    started.push(config);
    state = (await upCluster(config, { env })).state;
    const proxy = state.components.find((c) => c.name === 'proxy-0')!;
    const added = await scaleAdd(config, { env, drainMs: 200 });
    expect(added.shardsAfter).toEqual(['shard-0', 'shard-1']);
    state = readState(config.stateDir, config.name)!;
    const newMaster = state.components.find((c) => c.name === 'shard-1-master')!;
    const newSlave = state.components.find((c) => c.name === 'shard-1-slave')!;
    expect(newMaster.containerName).toBe(`cachectl-${config.name}-shard-1-master`);
    expect((await clusterContainers(config.name)).length).toBe(6);
    const keys = Array.from({ length: 40 }, (_, i) => `scaled-${i}`);
    for (const k of keys) expect(await set(proxy.endpoint.host, proxy.endpoint.port, k, k)).toBe('STORED\r\n');
    const onNew = [];
    for (const k of keys) if ((await get(newMaster.endpoint.host, newMaster.endpoint.port, k)) === k) onNew.push(k);
    expect(onNew.length).toBeGreaterThan(0); // consistent hashing gives the new pair a share
    expect(onNew.length).toBeLessThan(keys.length);
    for (const k of onNew) expect(await get(newSlave.endpoint.host, newSlave.endpoint.port, k)).toBe(k);
    expect((await clusterStatus(config, { env })).healthy).toBe(true);

    const removed = await scaleRemove(config, 'shard-1', { env, drainMs: 200 });
    expect(removed.shardsAfter).toEqual(['shard-0']);
    expect((await clusterContainers(config.name)).length).toBe(4);
    expect(readState(config.stateDir, config.name)!.toxiproxy.links.map((l) => l.name)).toEqual(['master', 'slave']);
  });
});

describe('docker runtime without an engine', () => {
  it('an unreachable engine is an exit-3 error naming the socket and what to do', async () => {
    const socketPath = join(tmpdir(), `cachectl-no-engine-${process.pid}.sock`);
    const config = configSchema.parse({ runtime: 'docker', stateDir: join(tmpdir(), 'cachectl-unused'), docker: { socketPath } });
    const noDockerHost = { ...process.env };
    delete noDockerHost.DOCKER_HOST;
    const err = await new DockerRuntime(config, noDockerHost).up(config).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CachectlError);
    expect((err as CachectlError).code).toBe('DEPENDENCY_UNREACHABLE');
    expect((err as CachectlError).exitCode).toBe(3);
    expect((err as CachectlError).message).toContain(socketPath);
    expect((err as CachectlError).hint).toMatch(/start Docker|--runtime local/);
    const choice = await chooseRuntime({ ...config, runtime: 'auto' }, noDockerHost);
    expect(choice.chosen).toBe('local');
  });
});
