import { randomBytes } from 'node:crypto';
import Docker from 'dockerode';
import type { CachectlConfig } from '../config/schema.js';
import { CachectlError, isCachectlError } from '../errors.js';
import { waitUntil } from '../util/net.js';
import { dockerEndpoint } from './index.js';
import { checkPortsFree, hostPort, nodeName, planPorts, portsForNewShard, proxyHealthy, removeToxiproxyLinks, shardIndices, shardPair, withoutShard } from './local-runtime.js';
import { memcachedHealthy, toxiproxyHealthy } from './processes.js';
import {
  bindHost,
  CLUSTER_LABEL,
  clusterLabels,
  COMPONENT_LABEL,
  containerCreateOptions,
  linkUpstream,
  memcachedSpec,
  networkName,
  planDockerCluster,
  type ContainerSpec,
  type DockerClusterPlan,
} from './docker-spec.js';
import { removeState, requireComponent, withComponentPatch, writeState } from './state.js';
import { createToxiproxyLinks } from './toxiproxy-links.js';
import type { ClusterState, ComponentState, Endpoint, Runtime, ToxiproxyLink, UpOptions } from './types.js';

/**
 * The `docker` runtime: the same topology as `local` (memcached master and slave, Toxiproxy with
 * one link per node, the cachectl proxies), as containers created through the Docker Engine API
 * (dockerode). Every container and network carries the label io.cachectl.cluster=<name>, so `down`
 * removes exactly this cluster's, even ones an interrupted `up` never recorded.
 */

const HEALTH_TIMEOUT_MS = 30_000;
const PROXY_HEALTH_TIMEOUT_MS = 60_000;
const STOP_GRACE_SECONDS = 3;
const PULL_TIMEOUT_MS = 300_000;

const IMAGE_FIELD = { memcached: 'docker.memcachedImage', toxiproxy: 'docker.toxiproxyImage', proxy: 'docker.proxyImage' } as const;

/** Images cachectl builds itself (never pulled from a registry). */
const BUILD_HINT = 'build it with `docker build -t <image> -f docker/Dockerfile .` in the cachectl checkout (or set docker.proxyImage)';

interface HttpError {
  statusCode?: number;
  json?: { message?: string };
  message?: string;
}

function statusOf(err: unknown): number | undefined {
  return (err as HttpError | undefined)?.statusCode;
}

function engineMessage(err: unknown): string {
  const e = err as HttpError;
  return e?.json?.message ?? e?.message ?? String(err);
}

function checkAborted(signal?: AbortSignal): void {
  if (signal?.aborted) {
    throw isCachectlError(signal.reason) ? signal.reason : new CachectlError('USAGE', 'interrupted: removed what was started');
  }
}

export class DockerRuntime implements Runtime {
  readonly name = 'docker' as const;
  private readonly docker: Docker;
  /** where the engine is, for error messages */
  readonly engineAddress: string;

  constructor(
    private readonly config: CachectlConfig,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    const where = dockerEndpoint(config, env);
    this.engineAddress = where.socketPath ? `unix://${where.socketPath}` : `tcp://${where.host}:${where.port}`;
    this.docker = where.socketPath ? new Docker({ socketPath: where.socketPath }) : new Docker({ host: where.host, port: where.port, protocol: 'http' });
  }

  // ----- Runtime ------------------------------------------------------------------------------

  async up(input: CachectlConfig, options: UpOptions = {}): Promise<ClusterState> {
    const progress = options.onProgress ?? (() => undefined);
    await this.ensureEngine();
    const wantProxy = input.proxy.instances > 0;
    await this.ensureImage(input.docker.memcachedImage, 'docker.memcachedImage', true, progress);
    await this.ensureImage(input.docker.toxiproxyImage, 'docker.toxiproxyImage', true, progress);
    if (wantProxy) await this.ensureImage(input.docker.proxyImage, 'docker.proxyImage', false, progress);
    await this.refuseLeftovers(input.name);

    const plan = await planPorts(input);
    await checkPortsFree(plan);
    const config = plan.config;
    const adminToken = config.proxy.adminToken || randomBytes(24).toString('hex');
    const dockerPlan = planDockerCluster(plan, adminToken);

    const state: ClusterState = {
      version: 1,
      name: config.name,
      runtime: 'docker',
      createdAt: new Date().toISOString(),
      config,
      components: [],
      toxiproxy: { api: dockerPlan.toxiproxyApi, links: [] },
      adminToken,
      docker: { networkName: dockerPlan.networkName, label: `${CLUSTER_LABEL}=${config.name}`, engine: this.engineAddress },
    };
    // Written after every step, so `cachectl down` can clean up even if this process dies mid-way.
    const record = (c: ComponentState): void => {
      state.components.push(c);
      writeState(state);
    };

    try {
      if (dockerPlan.network === 'bridge') {
        const network = await this.docker.createNetwork({
          Name: dockerPlan.networkName,
          Driver: 'bridge',
          CheckDuplicate: true,
          Labels: clusterLabels(config.name),
        });
        state.docker = { ...state.docker!, networkId: network.id };
        writeState(state);
        progress(`network ${dockerPlan.networkName} created`);
      }
      for (const planned of dockerPlan.components) {
        checkAborted(options.signal);
        const spec = dockerPlan.specs.find((s) => s.component === planned.name) as ContainerSpec;
        const started = await this.createAndStart(spec, planned, dockerPlan);
        record(started);
        await this.waitHealthy(state, started);
        if (started.kind === 'toxiproxy') {
          state.toxiproxy.links = dockerPlan.links;
          await createToxiproxyLinks(state.toxiproxy.api, state.toxiproxy.links, { listenHost: dockerPlan.linkListenHost });
          writeState(state);
          progress(`toxiproxy ready on ${hostPort(state.toxiproxy.api)} (container ${spec.containerName}) with links ${state.toxiproxy.links.map((l) => `${l.name}@${l.listen.port}`).join(', ')}`);
        } else {
          progress(`${started.kind === 'proxy' ? 'cachectl ' : 'memcached '}${started.name} ready on ${hostPort(started.endpoint)} (container ${spec.containerName})`);
        }
      }
      checkAborted(options.signal);
    } catch (err) {
      progress(`up failed: removing the containers already created for "${config.name}"`);
      await this.down(state).catch(() => undefined);
      removeState(config.stateDir, config.name);
      if (isCachectlError(err)) throw err;
      throw new CachectlError('DEPENDENCY_FAILED', `cachectl up on Docker failed: ${engineMessage(err)}`, {
        hint: `check the engine at ${this.engineAddress} (docker ps -a --filter label=${CLUSTER_LABEL}=${config.name})`,
        cause: err,
      });
    }
    return state;
  }

  /** Remove this cluster's containers and network: the ones the state names and any other carrying its label. */
  async down(state: ClusterState): Promise<void> {
    this.checkSameEngine(state);
    await this.ensureEngine();
    const ids = new Set(state.components.map((c) => c.containerId).filter((id): id is string => Boolean(id)));
    const labelled = await this.docker.listContainers({ all: true, filters: { label: [`${CLUSTER_LABEL}=${state.name}`] } });
    for (const c of labelled) ids.add(c.Id);
    // Proxies first (they talk to the rest), then Toxiproxy, then memcached: like the local runtime.
    const kindOf = new Map<string, string>();
    for (const c of state.components) if (c.containerId) kindOf.set(c.containerId, c.kind);
    for (const c of labelled) kindOf.set(c.Id, c.Labels?.['io.cachectl.kind'] ?? 'memcached');
    for (const kind of ['proxy', 'toxiproxy', 'memcached']) {
      await Promise.all([...ids].filter((id) => (kindOf.get(id) ?? 'memcached') === kind).map((id) => this.removeContainer(id)));
    }
    const networks = await this.docker.listNetworks({ filters: { label: [`${CLUSTER_LABEL}=${state.name}`] } });
    const netIds = new Set(networks.map((n) => n.Id));
    if (state.docker?.networkId) netIds.add(state.docker.networkId);
    for (const id of netIds) {
      try {
        await this.docker.getNetwork(id).remove();
      } catch (err) {
        if (statusOf(err) !== 404) throw this.engineError(err, `removing network ${id}`);
      }
    }
  }

  async isRunning(state: ClusterState, name: string): Promise<boolean> {
    this.checkSameEngine(state);
    const c = this.component(state, name);
    if (!c.containerId) return false;
    try {
      const info = await this.docker.getContainer(c.containerId).inspect();
      return info.State.Running === true && info.Config.Labels?.[CLUSTER_LABEL] === state.name;
    } catch (err) {
      if (statusOf(err) === 404) return false;
      throw this.engineError(err, `inspecting container ${c.containerName ?? c.containerId}`);
    }
  }

  async stopNode(state: ClusterState, name: string): Promise<ClusterState> {
    this.checkSameEngine(state);
    const c = this.component(state, name);
    await this.ensureEngine();
    if (c.containerId) {
      try {
        await this.docker.getContainer(c.containerId).stop({ t: STOP_GRACE_SECONDS });
      } catch (err) {
        // 304: already stopped; 404: gone
        if (statusOf(err) !== 304 && statusOf(err) !== 404) throw this.engineError(err, `stopping ${c.containerName}`);
      }
      await this.waitStopped(state, c);
    }
    return this.updated(state, name, {});
  }

  async killNode(state: ClusterState, name: string): Promise<ClusterState> {
    this.checkSameEngine(state);
    const c = this.component(state, name);
    await this.ensureEngine();
    if (c.containerId) {
      try {
        await this.docker.getContainer(c.containerId).kill({ signal: 'SIGKILL' });
      } catch (err) {
        // 409: not running; 404: gone
        if (statusOf(err) !== 409 && statusOf(err) !== 404) throw this.engineError(err, `killing ${c.containerName}`);
      }
      await this.waitStopped(state, c);
    }
    return this.updated(state, name, {});
  }

  /** Start the stopped or killed container again (memcached comes back empty; Toxiproxy gets its links back). */
  async startNode(state: ClusterState, name: string): Promise<ClusterState> {
    const c = this.component(state, name);
    if (await this.isRunning(state, name)) return state;
    if (!c.containerId) {
      throw new CachectlError('STATE_CONFLICT', `component "${name}" of cluster "${state.name}" has no container recorded`, {
        hint: 'run `cachectl down` then `cachectl up` again',
      });
    }
    try {
      await this.docker.getContainer(c.containerId).start();
    } catch (err) {
      if (statusOf(err) === 404) {
        throw new CachectlError('STATE_CONFLICT', `the container ${c.containerName} of "${name}" no longer exists (removed outside cachectl?)`, {
          hint: 'run `cachectl down` then `cachectl up` again',
          details: { container: c.containerName, containerId: c.containerId },
        });
      }
      if (statusOf(err) !== 304) throw this.engineError(err, `starting ${c.containerName}`);
    }
    const next = this.updated(state, name, { startedAt: new Date().toISOString() });
    const restarted = this.component(next, name);
    await this.waitHealthy(next, restarted);
    if (restarted.kind === 'toxiproxy') {
      // Toxiproxy keeps its proxies in memory only.
      const bind = next.config.docker.network === 'bridge' ? '0.0.0.0' : undefined;
      await createToxiproxyLinks(next.toxiproxy.api, next.toxiproxy.links, { listenHost: bind });
    }
    return next;
  }

  /**
   * One more master/slave pair (`cachectl scale add`): two memcached containers plus a Toxiproxy
   * link in front of each; both nodes start empty. On a bridge network the new links are reachable
   * by the proxies (toxiproxy:port) but not published on the host: Docker cannot publish ports on a
   * running container.
   */
  async addShard(input: ClusterState, options: UpOptions = {}): Promise<{ state: ClusterState; shard: number }> {
    const progress = options.onProgress ?? (() => undefined);
    this.checkSameEngine(input);
    this.refuseLiveScalingOnBridge(input);
    await this.ensureEngine();
    await this.ensureImage(input.config.docker.memcachedImage, 'docker.memcachedImage', true, progress);
    const state: ClusterState = structuredClone(input);
    const shard = Math.max(...shardIndices(state)) + 1;
    const ports = await portsForNewShard(state, shard);
    if (!ports.documented) progress(`shard ${shard}: the documented ports are taken, using free ports`);
    const bridge = state.config.docker.network === 'bridge';
    const plan = { network: state.config.docker.network, networkName: state.docker?.networkName ?? (bridge ? networkName(state.name) : 'host') };
    const started: ComponentState[] = [];
    const links: ToxiproxyLink[] = [];
    try {
      for (const role of ['master', 'slave'] as const) {
        const name = nodeName(role, shard);
        const port = role === 'master' ? ports.master : ports.slave;
        const planned: ComponentState = { name, kind: 'memcached', role, shard, endpoint: { host: '127.0.0.1', port }, startedAt: '' };
        const c = await this.createAndStart(memcachedSpec(state.config, name, port), planned, plan);
        started.push(c);
        state.components.push(c);
        writeState(state); // recorded at once, so `cachectl down` removes it even if we die mid-way
        await this.waitHealthy(state, c);
        progress(`memcached ${name} ready on ${hostPort(c.endpoint)} (container ${c.containerName})`);
      }
      for (const c of started) {
        links.push({ name: c.name, node: c.name, listen: { host: '127.0.0.1', port: c.role === 'master' ? ports.toxiMaster : ports.toxiSlave }, upstream: linkUpstream(state.config, c) });
      }
      await createToxiproxyLinks(state.toxiproxy.api, links, { listenHost: bindHost(state.config) });
      state.toxiproxy.links.push(...links);
      state.config = { ...state.config, shards: shardIndices(state).length };
      writeState(state);
      progress(`toxiproxy links ${links.map((l) => `${l.name}@${l.listen.port}`).join(', ')} ready${bridge ? ' (reachable from the proxies; not published on the host)' : ''}`);
      return { state, shard };
    } catch (err) {
      progress(`adding shard ${shard} failed: removing what was started`);
      await removeToxiproxyLinks(state.toxiproxy.api, links.map((l) => l.name)).catch(() => undefined);
      await Promise.all(started.map((c) => this.removeContainer(c.containerId as string).catch(() => undefined)));
      // containers created but not recorded (start failed) carry the component label
      for (const role of ['master', 'slave'] as const) await this.removeByComponent(state.name, nodeName(role, shard));
      const names = new Set(started.map((c) => c.name));
      writeState({ ...input, components: input.components.filter((c) => !names.has(c.name)) });
      throw err;
    }
  }

  /** Remove a pair's Toxiproxy links and containers (`cachectl scale remove`, after the proxies moved off it). */
  async removeShard(input: ClusterState, shard: number, options: UpOptions = {}): Promise<ClusterState> {
    const progress = options.onProgress ?? (() => undefined);
    this.checkSameEngine(input);
    this.refuseLiveScalingOnBridge(input);
    const { names, nodes } = shardPair(input, shard);
    await this.ensureEngine();
    const links = input.toxiproxy.links.filter((l) => names.has(l.node));
    await removeToxiproxyLinks(input.toxiproxy.api, links.map((l) => l.name));
    progress(`toxiproxy links ${links.map((l) => l.name).join(', ')} removed`);
    await Promise.all(nodes.map((c) => (c.containerId ? this.removeContainer(c.containerId) : Promise.resolve())));
    progress(`memcached ${nodes.map((c) => `${c.name} (container ${c.containerName})`).join(', ')} removed`);
    const next = withoutShard(input, { names, nodes });
    writeState(next);
    return next;
  }

  /**
   * On a bridge network the proxies reach links as toxiproxy:port while `cachectl scale` hands them
   * (and scans) the host-side addresses, and new link ports cannot be published on the running
   * Toxiproxy container: refuse clearly rather than half-work. Host networking scales live.
   */
  private refuseLiveScalingOnBridge(state: ClusterState): void {
    if (state.config.docker.network !== 'bridge') return;
    throw new CachectlError('UNSUPPORTED', `the docker runtime cannot change the shard count of a running cluster on a bridge network (its Toxiproxy container publishes the link ports when it is created)`, {
      hint: 'choose the shard count at `cachectl up --shards N`, use docker.network: host, or the local runtime to scale live',
      details: { network: 'bridge' },
    });
  }

  private async removeByComponent(cluster: string, component: string): Promise<void> {
    const list = await this.docker
      .listContainers({ all: true, filters: { label: [`${CLUSTER_LABEL}=${cluster}`, `${COMPONENT_LABEL}=${component}`] } })
      .catch(() => []);
    await Promise.all(list.map((c) => this.removeContainer(c.Id).catch(() => undefined)));
  }

  // ----- engine -------------------------------------------------------------------------------

  /** A cluster started on one engine is never looked for (or "cleaned up") on another. */
  private checkSameEngine(state: ClusterState): void {
    const recorded = state.docker?.engine;
    if (recorded && recorded !== this.engineAddress) {
      throw new CachectlError('STATE_CONFLICT', `cluster "${state.name}" was started on the Docker Engine at ${recorded}, but this command talks to ${this.engineAddress}`, {
        hint: `run it with DOCKER_HOST=${recorded}`,
        details: { recorded, current: this.engineAddress },
      });
    }
  }

  /** The engine answers, or a clear exit-3 error naming where we looked and what to do. */
  async ensureEngine(): Promise<void> {
    try {
      await this.docker.ping();
    } catch (err) {
      throw new CachectlError('DEPENDENCY_UNREACHABLE', `no Docker Engine answers at ${this.engineAddress}: ${engineMessage(err)}`, {
        hint: 'start Docker (e.g. `sudo systemctl start docker` or Docker Desktop), point DOCKER_HOST or docker.socketPath at a running engine, or use --runtime local',
        details: { engine: this.engineAddress },
        cause: err,
      });
    }
  }

  /** The image is present, or pulled when it comes from a registry; otherwise exit 3 naming it. */
  private async ensureImage(image: string, field: string, pullable: boolean, progress: (line: string) => void): Promise<void> {
    try {
      await this.docker.getImage(image).inspect();
      return;
    } catch (err) {
      if (statusOf(err) !== 404) throw this.engineError(err, `looking up image ${image}`);
    }
    if (!pullable) {
      throw new CachectlError('BINARY_MISSING', `the Docker image ${image} (${field}) is not on the engine at ${this.engineAddress}`, {
        hint: BUILD_HINT.replace('<image>', image),
        details: { image, field, engine: this.engineAddress },
      });
    }
    progress(`pulling ${image} (${field}) ...`);
    try {
      await this.pull(image);
    } catch (err) {
      throw new CachectlError('BINARY_MISSING', `the Docker image ${image} (${field}) is not on the engine and could not be pulled: ${engineMessage(err)}`, {
        hint: `pull it where a registry is reachable (docker pull ${image}), load it (docker load), or set ${field} to an image the engine has`,
        details: { image, field, engine: this.engineAddress },
        cause: err,
      });
    }
  }

  private async pull(image: string): Promise<void> {
    const stream = (await this.docker.pull(image)) as NodeJS.ReadableStream;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no progress within ${PULL_TIMEOUT_MS} ms`)), PULL_TIMEOUT_MS);
      this.docker.modem.followProgress(stream, (err: Error | null, events: Array<{ error?: string }>) => {
        clearTimeout(timer);
        const failed = events?.find((e) => e.error);
        if (err) reject(err);
        else if (failed) reject(new Error(failed.error));
        else resolve();
      });
    });
  }

  /** Containers left by an earlier cluster of the same name (e.g. its state file was deleted) would clash. */
  private async refuseLeftovers(cluster: string): Promise<void> {
    const left = await this.docker.listContainers({ all: true, filters: { label: [`${CLUSTER_LABEL}=${cluster}`] } });
    if (left.length === 0) {
      // A network with no container left is debris of an interrupted up or down: ours, by label.
      const networks = await this.docker.listNetworks({ filters: { label: [`${CLUSTER_LABEL}=${cluster}`] } });
      for (const n of networks) await this.docker.getNetwork(n.Id).remove().catch(() => undefined);
      return;
    }
    const names = left.map((c) => (c.Names[0] ?? c.Id).replace(/^\//, ''));
    throw new CachectlError('STATE_CONFLICT', `Docker already has containers of a cluster named "${cluster}": ${names.join(', ')}`, {
      hint: `remove them with \`docker rm -f ${names.join(' ')}\` (or \`cachectl down --name ${cluster}\` from where it was started), or pick another --name`,
      details: { cluster, containers: names },
    });
  }

  private engineError(err: unknown, doing: string): CachectlError {
    if (isCachectlError(err)) return err;
    const code = (err as NodeJS.ErrnoException)?.code;
    const unreachable = code === 'ECONNREFUSED' || code === 'ENOENT' || code === 'EACCES';
    return new CachectlError(unreachable ? 'DEPENDENCY_UNREACHABLE' : 'DEPENDENCY_FAILED', `Docker Engine at ${this.engineAddress} failed while ${doing}: ${engineMessage(err)}`, {
      hint: unreachable ? 'is the engine running and is its socket readable by you?' : 'see `docker logs` of the container, or the engine log',
      details: { engine: this.engineAddress },
      cause: err,
    });
  }

  // ----- containers ---------------------------------------------------------------------------

  private async createAndStart(spec: ContainerSpec, planned: ComponentState, plan: Pick<DockerClusterPlan, 'network' | 'networkName'>): Promise<ComponentState> {
    let container: Docker.Container;
    try {
      container = await this.docker.createContainer(containerCreateOptions(spec, plan, STOP_GRACE_SECONDS));
    } catch (err) {
      if (statusOf(err) === 409) {
        throw new CachectlError('STATE_CONFLICT', `a container named ${spec.containerName} already exists on the engine`, {
          hint: `remove it (docker rm -f ${spec.containerName}) or pick another --name`,
          details: { container: spec.containerName },
          cause: err,
        });
      }
      throw this.engineError(err, `creating container ${spec.containerName} from ${spec.image}`);
    }
    const created: ComponentState = { ...planned, containerId: container.id, containerName: spec.containerName, startedAt: new Date().toISOString() };
    try {
      await container.start();
    } catch (err) {
      // Not recorded, but labelled: the caller's cleanup (down) removes it by label.
      const field = IMAGE_FIELD[spec.kind];
      throw new CachectlError('DEPENDENCY_FAILED', `container ${spec.containerName} (image ${spec.image}) could not start: ${engineMessage(err)}`, {
        hint: `check that ${field} names the right image (it must run \`${spec.cmd.slice(0, 2).join(' ')} ...\`)${spec.kind === 'proxy' ? '; build it from docker/Dockerfile' : ''}`,
        details: { container: spec.containerName, image: spec.image, field, engine: this.engineAddress },
        cause: err,
      });
    }
    return created;
  }

  private async removeContainer(id: string): Promise<void> {
    try {
      await this.docker.getContainer(id).remove({ force: true, v: true });
    } catch (err) {
      // 404: already gone (down is safe twice); 409: removal already in progress
      if (statusOf(err) !== 404 && statusOf(err) !== 409) throw this.engineError(err, `removing container ${id}`);
    }
  }

  private async logTail(c: ComponentState, lines = 8): Promise<string> {
    if (!c.containerId) return '';
    try {
      const buf = (await this.docker.getContainer(c.containerId).logs({ stdout: true, stderr: true, tail: lines })) as unknown as Buffer;
      // Multiplexed stream: 8-byte frame headers before each chunk.
      const text: string[] = [];
      for (let i = 0; i + 8 <= buf.length; ) {
        const size = buf.readUInt32BE(i + 4);
        text.push(buf.subarray(i + 8, i + 8 + size).toString('utf8'));
        i += 8 + size;
      }
      const joined = text.join('').trim();
      return joined ? `\n  last lines of docker logs ${c.containerName}:\n  ${joined.split('\n').join('\n  ')}` : '';
    } catch {
      return '';
    }
  }

  /** Until the component answers on its endpoint; a container that exits fails fast with its log. */
  private async waitHealthy(state: ClusterState, c: ComponentState): Promise<void> {
    const check = async (): Promise<boolean> => {
      switch (c.kind) {
        case 'memcached':
          return (await memcachedHealthy(c.endpoint.host, c.endpoint.port)) !== undefined;
        case 'toxiproxy':
          return (await toxiproxyHealthy(c.endpoint.host, c.endpoint.port)) !== undefined;
        case 'proxy':
          return proxyHealthy(c.adminEndpoint as Endpoint);
      }
    };
    const timeoutMs = c.kind === 'proxy' ? PROXY_HEALTH_TIMEOUT_MS : HEALTH_TIMEOUT_MS;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await check()) return;
      const info = await this.docker.getContainer(c.containerId as string).inspect().catch(() => undefined);
      if (!info?.State.Running) {
        throw new CachectlError('DEPENDENCY_FAILED', `container ${c.containerName} (${c.name}) exited with code ${info?.State.ExitCode ?? '?'} before it was healthy${await this.logTail(c)}`, {
          hint: `see \`docker logs ${c.containerName}\`; if a port is taken pick another or use --free-ports`,
          details: { component: c.name, container: c.containerName },
        });
      }
      if (Date.now() >= deadline) {
        const where = c.kind === 'proxy' ? `http://${hostPort(c.adminEndpoint as Endpoint)}/health` : hostPort(c.endpoint);
        throw new CachectlError('TIMEOUT', `container ${c.containerName} (${c.name}) did not answer on ${where} within ${timeoutMs} ms${await this.logTail(c)}`, {
          hint: `see \`docker logs ${c.containerName}\``,
          details: { component: c.name, container: c.containerName, timeoutMs },
        });
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  private async waitStopped(state: ClusterState, c: ComponentState): Promise<void> {
    await waitUntil(`container ${c.containerName} to stop`, async () => !(await this.isRunning(state, c.name)), {
      timeoutMs: (STOP_GRACE_SECONDS + 10) * 1000,
      hint: `see \`docker inspect ${c.containerName}\``,
    });
  }

  // ----- state --------------------------------------------------------------------------------

  private component(state: ClusterState, name: string): ComponentState {
    return requireComponent(state, name);
  }

  private updated(state: ClusterState, name: string, patch: Partial<ComponentState>): ClusterState {
    const next = withComponentPatch(state, name, patch);
    writeState(next);
    return next;
  }
}
