import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { configSchema, type ConfigInput } from '../../src/config/schema.js';
import { planDockerCluster, CLUSTER_LABEL, COMPONENT_LABEL, KIND_LABEL, containerName, containerCreateOptions } from '../../src/runtime/docker-spec.js';
import { planPorts } from '../../src/runtime/local-runtime.js';
import { DockerRuntime } from '../../src/runtime/docker-runtime.js';
import { CachectlError } from '../../src/errors.js';

/**
 * docker/compose.yaml must describe what `cachectl up --runtime docker` creates for the default
 * config: same services, container names, images, commands, published ports, labels and links.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface ComposeService {
  image: string;
  container_name: string;
  command: string[];
  ports: string[];
  labels: Record<string, string>;
  environment?: Record<string, string>;
  build?: { context: string; dockerfile: string };
  networks: string[];
}

const compose = parse(readFileSync(`${ROOT}docker/compose.yaml`, 'utf8'), { merge: true }) as {
  services: Record<string, ComposeService>;
  networks: Record<string, { name: string; labels: Record<string, string> }>;
};
const toxiproxyConfig = JSON.parse(readFileSync(`${ROOT}docker/toxiproxy.json`, 'utf8')) as Array<{ name: string; listen: string; upstream: string; enabled: boolean }>;

async function dockerPlan(input: Partial<ConfigInput> = {}) {
  // Default fixed ports: planPorts picks no free port, so this does no I/O.
  const config = configSchema.parse({ runtime: 'docker', ...input });
  return planDockerCluster(await planPorts(config), 'token');
}

describe('docker/compose.yaml is in step with the docker runtime (default config)', () => {
  it('has exactly the services the runtime creates, with the same container names, images, commands, ports and labels', async () => {
    const plan = await dockerPlan();
    expect(Object.keys(compose.services).sort()).toEqual(plan.specs.map((s) => s.component).sort());
    for (const spec of plan.specs) {
      const service = compose.services[spec.component];
      expect(service.container_name, spec.component).toBe(spec.containerName);
      expect(service.image, spec.component).toBe(spec.image);
      expect(service.ports, spec.component).toEqual(spec.ports.map((p) => `${p.hostIp}:${p.port}:${p.port}`));
      expect(service.labels, spec.component).toEqual(spec.labels);
      expect(Object.keys(service.environment ?? {}).sort(), spec.component).toEqual(Object.keys(spec.env).sort());
      expect(service.networks).toEqual(['cachectl']);
      if (spec.kind === 'toxiproxy') {
        // compose creates the links from a config file; the runtime creates the same ones via the API
        expect(service.command.filter((a) => !a.startsWith('-config='))).toEqual(spec.cmd);
      } else {
        expect(service.command, spec.component).toEqual(spec.cmd);
      }
    }
    expect(compose.services['proxy-0'].build).toEqual({ context: '..', dockerfile: 'docker/Dockerfile' });
    expect(compose.networks.cachectl).toEqual({ name: plan.networkName, labels: { [CLUSTER_LABEL]: 'default' } });
  });

  it('toxiproxy.json creates the same links as the runtime, bound inside the container', async () => {
    const plan = await dockerPlan();
    expect(toxiproxyConfig).toEqual(
      plan.links.map((l) => ({
        name: l.name,
        listen: `${plan.linkListenHost}:${l.listen.port}`,
        upstream: `${l.upstream.host}:${l.upstream.port}`,
        enabled: true,
      })),
    );
  });
});

describe('docker runtime plan', () => {
  it('bridge (the users\' default): services by name, bind 0.0.0.0 inside, publish on loopback', async () => {
    const plan = await dockerPlan();
    expect(plan.network).toBe('bridge');
    expect(plan.networkName).toBe('cachectl-default');
    const proxy = plan.specs.find((s) => s.component === 'proxy-0')!;
    expect(proxy.cmd).toEqual(expect.arrayContaining(['--master', 'toxiproxy:21311', '--slave', 'toxiproxy:21312', '--host', '0.0.0.0']));
    expect(plan.links.map((l) => `${l.upstream.host}:${l.upstream.port}`)).toEqual(['master:11311', 'slave:11312']);
    // what users reach from the host
    expect(plan.components.map((c) => `${c.name}@${c.endpoint.host}:${c.endpoint.port}`)).toEqual([
      'master@127.0.0.1:11311',
      'slave@127.0.0.1:11312',
      'toxiproxy@127.0.0.1:8474',
      'proxy-0@127.0.0.1:21211',
    ]);
    expect(plan.components.find((c) => c.name === 'proxy-0')?.adminEndpoint).toEqual({ host: '127.0.0.1', port: 21280 });
  });

  it('host (tests here): loopback binds like the local runtime, nothing published', async () => {
    const plan = await dockerPlan({ docker: { network: 'host' } });
    expect(plan.networkName).toBe('host');
    for (const spec of plan.specs) expect(spec.ports).toEqual([]);
    expect(plan.specs.find((s) => s.component === 'master')!.cmd.slice(0, 5)).toEqual(['memcached', '-l', '127.0.0.1', '-p', '11311']);
    expect(plan.specs.find((s) => s.component === 'toxiproxy')!.cmd).toEqual(['-host=127.0.0.1', '-port=8474']);
    expect(plan.specs.find((s) => s.component === 'proxy-0')!.cmd).toEqual(expect.arrayContaining(['--master', '127.0.0.1:21311', '--host', '127.0.0.1']));
    expect(plan.links.map((l) => l.upstream)).toEqual([
      { host: '127.0.0.1', port: 11311 },
      { host: '127.0.0.1', port: 11312 },
    ]);
  });

  it('shards and several proxies: one container per component, names as in the local runtime, labelled with cluster, component and kind', async () => {
    const plan = await dockerPlan({ name: 'big', shards: 2, proxy: { instances: 2 } });
    expect(plan.specs.map((s) => s.component)).toEqual(['master', 'slave', 'shard-1-master', 'shard-1-slave', 'toxiproxy', 'proxy-0', 'proxy-1']);
    for (const s of plan.specs) {
      expect(s.containerName).toBe(containerName('big', s.component));
      expect(s.labels).toEqual({ [CLUSTER_LABEL]: 'big', [COMPONENT_LABEL]: s.component, [KIND_LABEL]: s.kind });
    }
    expect(plan.specs.find((s) => s.component === 'shard-1-master')!.cmd).toContain('11411');
    expect(plan.specs.find((s) => s.component === 'proxy-1')!.cmd).toEqual(expect.arrayContaining(['--port', '21212', '--admin-port', '21281']));
    expect(plan.specs.find((s) => s.component === 'proxy-1')!.env).toEqual({ CACHECTL_ADMIN_TOKEN: 'token', NO_COLOR: '1' });
  });
});

describe('container create bodies', () => {
  it('bridge: joins the cluster network under the component name and publishes each port on loopback under the same number', async () => {
    const plan = await dockerPlan();
    const toxiproxy = plan.specs.find((s) => s.component === 'toxiproxy')!;
    const body = containerCreateOptions(toxiproxy, plan, 3);
    expect(body.name).toBe('cachectl-default-toxiproxy');
    expect(body.HostConfig?.NetworkMode).toBe('cachectl-default');
    expect(body.NetworkingConfig).toEqual({ EndpointsConfig: { 'cachectl-default': { Aliases: ['toxiproxy'] } } });
    expect(body.HostConfig?.PortBindings).toEqual({
      '8474/tcp': [{ HostIp: '127.0.0.1', HostPort: '8474' }],
      '21311/tcp': [{ HostIp: '127.0.0.1', HostPort: '21311' }],
      '21312/tcp': [{ HostIp: '127.0.0.1', HostPort: '21312' }],
    });
    expect(Object.keys(body.ExposedPorts ?? {})).toEqual(['8474/tcp', '21311/tcp', '21312/tcp']);
    expect(body.Labels).toEqual({ [CLUSTER_LABEL]: 'default', [COMPONENT_LABEL]: 'toxiproxy', [KIND_LABEL]: 'toxiproxy' });
    const proxy = containerCreateOptions(plan.specs.find((s) => s.component === 'proxy-0')!, plan, 3);
    expect(proxy.Env).toEqual(['CACHECTL_ADMIN_TOKEN=token', 'NO_COLOR=1']);
  });

  it('host: the host network, nothing published, no aliases', async () => {
    const plan = await dockerPlan({ docker: { network: 'host' } });
    const body = containerCreateOptions(plan.specs[0], plan, 3);
    expect(body.HostConfig?.NetworkMode).toBe('host');
    expect(body.HostConfig?.PortBindings).toBeUndefined();
    expect(body.NetworkingConfig).toBeUndefined();
    expect(body.ExposedPorts).toBeUndefined();
  });
});

describe('live scaling on a bridge network', () => {
  it('is refused with UNSUPPORTED and what to do instead, before touching the engine', async () => {
    const config = configSchema.parse({ runtime: 'docker', docker: { socketPath: '/nonexistent/docker.sock' } });
    const runtime = new DockerRuntime(config, {});
    const state = { version: 1, name: 'default', runtime: 'docker', createdAt: '', config, components: [], toxiproxy: { api: { host: '127.0.0.1', port: 8474 }, links: [] }, adminToken: '' } as const;
    const err = await runtime.addShard(structuredClone(state) as never).catch((e: unknown) => e);
    expect((err as CachectlError).code).toBe('UNSUPPORTED');
    expect((err as CachectlError).hint).toContain('docker.network: host');
    expect(((await runtime.removeShard(structuredClone(state) as never, 1).catch((e: unknown) => e)) as CachectlError).code).toBe('UNSUPPORTED');
  });
});
