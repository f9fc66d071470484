import type { ContainerCreateOptions } from 'dockerode';
import type { CachectlConfig } from '../config/schema.js';
import { LocalRuntime, type Plan } from './local-runtime.js';
import type { ClusterState, ComponentKind, ComponentState, Endpoint, ToxiproxyLink } from './types.js';

/**
 * What the docker runtime creates, as plain data (no I/O): one container spec per component, the
 * endpoints users reach from the host, and the Toxiproxy links. Kept pure so a unit test can check
 * that docker/compose.yaml describes the same topology for the default config.
 *
 * Networking:
 * - `bridge` (the default for users): a per-cluster network; each container is reachable by its
 *   component name ("master", "toxiproxy", ...) inside it and listens on 0.0.0.0; every port is
 *   published on the host's loopback under the same number, so host-side endpoints are 127.0.0.1.
 * - `host` (tests here): containers share the host's network namespace and bind loopback only,
 *   exactly like the local runtime.
 */

export const CLUSTER_LABEL = 'io.cachectl.cluster';
export const COMPONENT_LABEL = 'io.cachectl.component';
export const KIND_LABEL = 'io.cachectl.kind';

const LOOPBACK = '127.0.0.1';
const ANY = '0.0.0.0';
/** Where the proxy container keeps its durable pending-invalidation log (survives stop/start). */
export const CONTAINER_PENDING_DIR = '/tmp';

export interface PublishedPort {
  /** host address the port is published on (bridge mode only) */
  hostIp: string;
  /** container port = host port */
  port: number;
}

export interface ContainerSpec {
  component: string;
  kind: ComponentKind;
  /** docker container name, unique per cluster on one engine */
  containerName: string;
  /** name other containers use on the bridge network (= component name) */
  alias: string;
  image: string;
  /** command arguments (the image's entrypoint stays: memcached's and toxiproxy's official ones, docker/Dockerfile's) */
  cmd: string[];
  env: Record<string, string>;
  /** ports to publish in bridge mode */
  ports: PublishedPort[];
  labels: Record<string, string>;
}

export interface DockerClusterPlan {
  network: CachectlConfig['docker']['network'];
  /** network name in bridge mode; "host" in host mode */
  networkName: string;
  specs: ContainerSpec[];
  /** components as recorded in the state (host-reachable endpoints; container ids filled in at `up`) */
  components: ComponentState[];
  toxiproxyApi: Endpoint;
  /** links as recorded in the state: listen is host-reachable, upstream is what Toxiproxy dials */
  links: ToxiproxyLink[];
  /** the address Toxiproxy binds its links to inside its container */
  linkListenHost: string;
}

export function containerName(cluster: string, component: string): string {
  return `cachectl-${cluster}-${component}`;
}

export function networkName(cluster: string): string {
  return `cachectl-${cluster}`;
}

export function clusterLabels(cluster: string, component?: string, kind?: ComponentKind): Record<string, string> {
  return {
    [CLUSTER_LABEL]: cluster,
    ...(component ? { [COMPONENT_LABEL]: component } : {}),
    ...(kind ? { [KIND_LABEL]: kind } : {}),
  };
}

/** The memcached command line (after the image's entrypoint), same flags as the local runtime. */
export function memcachedCommand(config: CachectlConfig, bindHost: string, port: number): string[] {
  const m = config.memcached;
  return [
    'memcached',
    '-l', bindHost,
    '-p', String(port),
    '-U', '0',
    '-m', String(m.memoryMb),
    '-I', m.maxItemSize,
    '-t', String(m.threads),
    '-c', String(m.maxConnections),
  ];
}

/** Address containers bind inside: all interfaces on a bridge network, loopback on the host's. */
export function bindHost(config: CachectlConfig): string {
  return config.docker.network === 'bridge' ? ANY : LOOPBACK;
}

/** One memcached node's container (also used when `cachectl scale add` adds a pair). */
export function memcachedSpec(config: CachectlConfig, name: string, port: number): ContainerSpec {
  const bridge = config.docker.network === 'bridge';
  return {
    component: name,
    kind: 'memcached',
    containerName: containerName(config.name, name),
    alias: name,
    image: config.docker.memcachedImage,
    cmd: memcachedCommand(config, bindHost(config), port),
    env: {},
    ports: bridge ? [{ hostIp: LOOPBACK, port }] : [],
    labels: clusterLabels(config.name, name, 'memcached'),
  };
}

/** What Toxiproxy dials for a node: its service name on a bridge network, loopback on the host's. */
export function linkUpstream(config: CachectlConfig, node: ComponentState): Endpoint {
  return config.docker.network === 'bridge' ? { host: node.name, port: node.endpoint.port } : { ...node.endpoint };
}

/**
 * The address a cachectl proxy uses for a Toxiproxy link. The state records links as users reach
 * them from the host (127.0.0.1:port); proxies inside bridge-networked containers reach the same
 * link as toxiproxy:port. Code that sends backend addresses to proxies (scale, switch) should
 * send this, and map proxy-side addresses back with linkFromProxyAddress.
 */
export function proxyAddressOfLink(state: ClusterState, link: ToxiproxyLink): Endpoint {
  return state.runtime === 'docker' && state.config.docker.network === 'bridge' ? { host: 'toxiproxy', port: link.listen.port } : { ...link.listen };
}

/** The link behind a proxy-side address (either view), or undefined. */
export function linkFromProxyAddress(state: ClusterState, addr: Endpoint): ToxiproxyLink | undefined {
  return state.toxiproxy.links.find((l) => {
    const view = proxyAddressOfLink(state, l);
    return l.listen.port === addr.port && (view.host === addr.host || l.listen.host === addr.host || addr.host === 'localhost');
  });
}

/** Everything the docker runtime will create for a port plan. */
export function planDockerCluster(plan: Plan, adminToken: string): DockerClusterPlan {
  const config = plan.config;
  const cluster = config.name;
  const bridge = config.docker.network === 'bridge';
  const bind = bindHost(config);
  const specs: ContainerSpec[] = [];
  const components: ComponentState[] = [];
  const publish = (hostIp: string, port: number): PublishedPort[] => (bridge ? [{ hostIp, port }] : []);

  for (const n of plan.nodes) {
    specs.push(memcachedSpec(config, n.name, n.port));
    components.push({ name: n.name, kind: 'memcached', role: n.role, shard: n.shard, endpoint: { host: LOOPBACK, port: n.port }, startedAt: '' });
  }

  const toxiproxyApi: Endpoint = { host: LOOPBACK, port: config.ports.toxiproxyApi };
  specs.push({
    component: 'toxiproxy',
    kind: 'toxiproxy',
    containerName: containerName(cluster, 'toxiproxy'),
    alias: 'toxiproxy',
    image: config.docker.toxiproxyImage,
    cmd: [`-host=${bind}`, `-port=${toxiproxyApi.port}`],
    env: {},
    ports: [...publish(LOOPBACK, toxiproxyApi.port), ...plan.nodes.flatMap((n) => publish(LOOPBACK, n.toxiPort))],
    labels: clusterLabels(cluster, 'toxiproxy', 'toxiproxy'),
  });
  components.push({ name: 'toxiproxy', kind: 'toxiproxy', endpoint: toxiproxyApi, startedAt: '' });

  const links: ToxiproxyLink[] = plan.nodes.map((n) => ({
    name: n.name,
    node: n.name,
    listen: { host: LOOPBACK, port: n.toxiPort },
    upstream: { host: bridge ? n.name : LOOPBACK, port: n.port },
  }));

  // The proxies reach Toxiproxy by service name on the bridge, by loopback on the host network.
  const containerView: ClusterState = {
    version: 1,
    name: cluster,
    runtime: 'docker',
    createdAt: '',
    config,
    // the memcached nodes: proxyArgs derives the shard list from them
    components: components.filter((c) => c.kind === 'memcached'),
    toxiproxy: { api: toxiproxyApi, links: links.map((l) => ({ ...l, listen: { host: bridge ? 'toxiproxy' : LOOPBACK, port: l.listen.port } })) },
    adminToken,
  };
  const argsBuilder = new LocalRuntime(config);
  for (const p of plan.proxies) {
    const name = `proxy-${p.index}`;
    // Users reach the proxy where the config says (published there in bridge mode).
    const endpoint: Endpoint = { host: config.proxy.host, port: p.port };
    const adminEndpoint: Endpoint = { host: config.proxy.adminHost, port: p.adminPort };
    const inside: ComponentState = {
      name,
      kind: 'proxy',
      endpoint: { host: bridge ? ANY : endpoint.host, port: p.port },
      adminEndpoint: { host: bridge ? ANY : adminEndpoint.host, port: p.adminPort },
      startedAt: '',
    };
    // Same flags as the local runtime (one source for the proxy command's interface); only the
    // pending-invalidation log moves to a path inside the container.
    const args = argsBuilder.proxyArgs(containerView, inside);
    const pending = args.indexOf('--pending-log');
    if (pending >= 0) args[pending + 1] = `${CONTAINER_PENDING_DIR}/${name}.pending`;
    specs.push({
      component: name,
      kind: 'proxy',
      containerName: containerName(cluster, name),
      alias: name,
      image: config.docker.proxyImage,
      cmd: args,
      env: { CACHECTL_ADMIN_TOKEN: adminToken, NO_COLOR: '1' },
      ports: [...publish(endpoint.host, p.port), ...publish(adminEndpoint.host, p.adminPort)],
      labels: clusterLabels(cluster, name, 'proxy'),
    });
    components.push({ name, kind: 'proxy', endpoint, adminEndpoint, startedAt: '' });
  }

  return {
    network: config.docker.network,
    networkName: bridge ? networkName(cluster) : 'host',
    specs,
    components,
    toxiproxyApi,
    links,
    linkListenHost: bind,
  };
}

/** The Engine API body (POST /containers/create) for one spec. */
export function containerCreateOptions(spec: ContainerSpec, plan: Pick<DockerClusterPlan, 'network' | 'networkName'>, stopTimeoutSeconds: number): ContainerCreateOptions {
  const bridge = plan.network === 'bridge';
  const exposed: Record<string, object> = {};
  const bindings: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
  for (const p of spec.ports) {
    exposed[`${p.port}/tcp`] = {};
    bindings[`${p.port}/tcp`] = [{ HostIp: p.hostIp, HostPort: String(p.port) }];
  }
  return {
    name: spec.containerName,
    Image: spec.image,
    Cmd: spec.cmd,
    Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
    Labels: spec.labels,
    ...(bridge ? { ExposedPorts: exposed } : {}),
    HostConfig: {
      NetworkMode: plan.networkName,
      ...(bridge ? { PortBindings: bindings } : {}),
      RestartPolicy: { Name: 'no' },
    },
    ...(bridge ? { NetworkingConfig: { EndpointsConfig: { [plan.networkName]: { Aliases: [spec.alias] } } } } : {}),
    StopTimeout: stopTimeoutSeconds,
  };
}
