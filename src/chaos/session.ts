import { rmSync } from 'node:fs';
import type { CachectlConfig } from '../config/schema.js';
import { clusterDir } from '../runtime/state.js';
import { linkFromProxyAddress, proxyAddressOfLink } from '../runtime/docker-spec.js';
import { CachectlError, isCachectlError } from '../errors.js';
import type { ProxyRuntimeConfig } from '../proxy/config.js';
import { downCluster, loadClusterState, memcachedNode, nodeName, proxyAdminEndpoints, proxyEndpoints, proxyName, toxiproxyLink, toxiproxyUrl, upCluster } from '../runtime/cluster.js';
import { runtimeForState } from '../runtime/index.js';
import type { ClusterState, Endpoint } from '../runtime/types.js';
import { waitUntil } from '../util/net.js';
import { flushNode } from './cluster-ops.js';
import { ToxiproxyFaultInjector, type NodeController } from './faults.js';
import { HttpProxyAdmin, type ProxyAdmin } from './proxy-admin.js';

/**
 * The cluster a chaos run works on: the running one (`cachectl up`), or, when none runs, an
 * ephemeral one on free ports that is taken down afterwards, so one command reproduces the
 * incident from a fresh clone.
 */

export interface SessionNeeds {
  proxies: number;
  /** proxy settings for an ephemeral cluster */
  proxy: Partial<CachectlConfig['proxy']>;
  shortTtlSeconds?: number;
  /** the shard the run targets: an ephemeral cluster gets at least shard + 1 pairs */
  shard?: number;
}

export class ClusterSession {
  /** the master/slave pair the run targets (`--shard`): direct(), link(), linkName(), originalShards() follow it */
  shard = 0;

  private constructor(
    public state: ClusterState,
    readonly config: CachectlConfig,
    readonly ephemeral: boolean,
    readonly injector: ToxiproxyFaultInjector,
    readonly admins: ProxyAdmin[],
    private readonly log: (line: string) => void,
  ) {}

  static async open(config: CachectlConfig, needs: SessionNeeds, log: (line: string) => void = () => undefined): Promise<ClusterSession> {
    let state: ClusterState | undefined;
    let ephemeral = false;
    let cfg = config;
    try {
      state = await loadClusterState(config);
    } catch (err) {
      if (!isCachectlError(err) || err.code !== 'STATE_NOT_FOUND') throw err;
    }
    if (state) {
      const have = proxyEndpoints(state).length;
      if (have < needs.proxies) {
        throw new CachectlError('USAGE', `this scenario needs ${needs.proxies} cachectl proxies, cluster "${state.name}" runs ${have}`, {
          hint: `run \`cachectl down\` then \`cachectl up --proxies ${needs.proxies}\`, or run the scenario with no cluster up (it starts its own)`,
        });
      }
      log(`using the running cluster "${state.name}" (${state.runtime} runtime)`);
    } else {
      // Free ports everywhere and a name of its own: never collides with a cluster a user runs.
      cfg = {
        ...config,
        name: `chaos-${process.pid}`,
        shortTtlSeconds: needs.shortTtlSeconds ?? config.shortTtlSeconds,
        shards: Math.max(config.shards, (needs.shard ?? 0) + 1),
        ports: { master: 0, slave: 0, toxiproxyApi: 0, toxiMaster: 0, toxiSlave: 0, proxy: 0, admin: 0 },
        proxy: { ...config.proxy, ...needs.proxy, instances: needs.proxies, failover: 'manual', adminToken: '' },
      };
      log(`no cluster "${config.name}" is up: starting an ephemeral one ("${cfg.name}", ${cfg.runtime} runtime, free ports); it is removed afterwards`);
      const up = await upCluster(cfg, { onProgress: (l) => log(`  ${l}`) });
      state = up.state;
      ephemeral = true;
    }
    const runtimeState = { current: state };
    const runtime = await runtimeForState(state);
    const nodes: NodeController = {
      kill: async (name) => {
        runtimeState.current = await runtime.killNode(runtimeState.current, name);
      },
      start: async (name) => {
        runtimeState.current = await runtime.startNode(runtimeState.current, name);
      },
      isRunning: (name) => runtime.isRunning(runtimeState.current, name),
    };
    const injector = new ToxiproxyFaultInjector(
      toxiproxyUrl(state),
      nodes,
      state.components.filter((c) => c.kind === 'memcached').map((c) => c.name),
    );
    const admins = proxyAdminEndpoints(state).map((ep, i) => new HttpProxyAdmin(proxyName(i), ep, state!.adminToken));
    const session = new ClusterSession(state, cfg, ephemeral, injector, admins, log);
    return session;
  }

  /** Take an ephemeral cluster down (a running user cluster is left as found, minus our changes). */
  private closed = false;

  async close(): Promise<void> {
    if (!this.ephemeral || this.closed) return;
    this.closed = true;
    this.log(`removing the ephemeral cluster "${this.config.name}"`);
    await downCluster(this.config);
    // Its logs too: every ephemeral cluster has a name of its own, so they would pile up.
    rmSync(clusterDir(this.config.stateDir, this.config.name), { recursive: true, force: true });
  }

  get proxyClientEndpoints(): Endpoint[] {
    return proxyEndpoints(this.state);
  }

  /** Direct address of a memcached node (not through Toxiproxy): for flushes and the final scan. */
  direct(role: 'master' | 'slave'): Endpoint {
    return memcachedNode(this.state, role, this.shard).endpoint;
  }

  /** Component name of the targeted pair's node ("master", "shard-2-master"...). */
  nodeName(role: 'master' | 'slave'): string {
    return nodeName(role, this.shard);
  }

  /** Target shard `shard`; a clear usage error (naming the shards there are) when the cluster has no such pair. */
  useShard(shard: number): void {
    const have = [...new Set(this.state.components.filter((c) => c.kind === 'memcached').map((c) => c.shard ?? 0))].sort((a, b) => a - b);
    if (!have.includes(shard)) {
      throw new CachectlError('USAGE', `cluster "${this.state.name}" has no shard ${shard}`, { hint: `its shards are ${have.join(', ')}; pick one with --shard, or add one with \`cachectl scale add\`` });
    }
    this.shard = shard;
  }

  /** A node's Toxiproxy link as seen from this host (workload clients, flushes). */
  link(role: 'master' | 'slave'): Endpoint {
    return toxiproxyLink(this.state, nodeName(role, this.shard)).listen;
  }

  /** The same link as the proxies reach it (differs on a Docker bridge network: toxiproxy:port). */
  proxyLink(role: 'master' | 'slave'): Endpoint {
    return proxyAddressOfLink(this.state, toxiproxyLink(this.state, nodeName(role, this.shard)));
  }

  /** On a Docker bridge, extra links must listen on every interface of the Toxiproxy container. */
  get bridgeNetwork(): boolean {
    return this.state.runtime === 'docker' && this.state.config.docker.network === 'bridge';
  }

  /** Node operations on addresses the proxies use, mapped to what this host can reach. */
  readonly nodeOps = {
    flush: async (addr: Endpoint): Promise<void> => {
      const link = linkFromProxyAddress(this.state, addr);
      await flushNode(link ? link.listen : addr);
    },
  };

  linkName(role: 'master' | 'slave'): string {
    return toxiproxyLink(this.state, nodeName(role, this.shard)).name;
  }

  private readonly aliases: Array<{ addr: Endpoint; name: string }> = [];

  /** Name an extra address (a chaos link in front of a node) after the node it reaches. */
  addAlias(addr: Endpoint, name: string): void {
    this.aliases.push({ addr, name });
  }

  /** "master"/"slave" for an address the proxies use (a link) or a direct node address. */
  nodeNameOf(addr: Endpoint): string {
    const alias = this.aliases.find((a) => a.addr.port === addr.port && a.addr.host === addr.host);
    if (alias) return alias.name;
    const viaLink = linkFromProxyAddress(this.state, addr);
    if (viaLink) return viaLink.node;
    for (const role of ['master', 'slave'] as const) {
      const l = this.link(role);
      const d = this.direct(role);
      if ((l.port === addr.port && l.host === addr.host) || (d.port === addr.port && d.host === addr.host)) return role;
    }
    for (const l of this.state.toxiproxy.links) if (l.listen.port === addr.port) return l.name;
    return `${addr.host}:${addr.port}`;
  }

  async configs(): Promise<ProxyRuntimeConfig[]> {
    return Promise.all(this.admins.map((a) => a.getConfig()));
  }

  /** Put every proxy on one new epoch with these settings; returns the epoch. */
  async configureProxies(patch: (current: ProxyRuntimeConfig, index: number) => Partial<Omit<ProxyRuntimeConfig, 'epoch'>>): Promise<number> {
    const current = await this.configs();
    const epoch = Math.max(...current.map((c) => c.epoch)) + 1;
    await Promise.all(this.admins.map((a, i) => a.putConfig({ epoch, ...patch(current[i], i) })));
    return epoch;
  }

  /** The roles `up` configured: shard 0 master = master link, slave = slave link. */
  originalShards(): ProxyRuntimeConfig['shards'] {
    return [{ name: `shard-${this.shard}`, master: this.proxyLink('master'), slave: this.proxyLink('slave') }];
  }

  async flushBoth(): Promise<void> {
    await Promise.all([flushNode(this.direct('master')), flushNode(this.direct('slave'))]);
  }

  /** Wait until every proxy sees every node it routes to as up (after a fault, probing brings them back). */
  async waitProxiesHealthy(timeoutMs = 10_000): Promise<void> {
    await waitUntil(
      'every proxy to see its nodes up',
      async () => {
        const stats = (await Promise.all(this.admins.map((a) => a.stats()))) as Array<{ nodes?: Array<{ up: boolean; role: string }> }>;
        return stats.every((s) => (s.nodes ?? []).filter((n) => n.role !== 'detached').every((n) => n.up));
      },
      { timeoutMs, intervalMs: 50, hint: 'see the proxy logs in the state directory; `cachectl chaos reset` clears leftover faults' },
    );
  }
}
