import type { CachectlConfig } from '../config/schema.js';
import { CachectlError } from '../errors.js';
import { loadClusterState, proxyAdminEndpoints, proxyEndpoints, proxyName, toxiproxyUrl } from '../runtime/cluster.js';
import { runtimeForState } from '../runtime/index.js';
import type { ClusterState } from '../runtime/types.js';
import { linkFromProxyAddress, proxyAddressOfLink } from '../runtime/docker-spec.js';
import { asciiSwitchProbe, flushNode } from './cluster-ops.js';
import { ToxiproxyFaultInjector, type ResetReport } from './faults.js';
import { HttpProxyAdmin, sameAddr } from './proxy-admin.js';
import { runRejoin, runSwitch, type FlushPolicy } from './switch.js';
import type { SwitchResult } from './types.js';

/** `cachectl chaos reset` and `cachectl switch`: one library call each. */

function injectorFor(state: ClusterState, runtime: Awaited<ReturnType<typeof runtimeForState>>): ToxiproxyFaultInjector {
  let current = state;
  return new ToxiproxyFaultInjector(
    toxiproxyUrl(state),
    {
      kill: async (n) => {
        current = await runtime.killNode(current, n);
      },
      start: async (n) => {
        current = await runtime.startNode(current, n);
      },
      isRunning: (n) => runtime.isRunning(current, n),
    },
    state.components.filter((c) => c.kind === 'memcached').map((c) => c.name),
  );
}

export interface ChaosResetResult extends ResetReport {
  cluster: string;
  /** proxies that pointed at a removed chaos link and were put back on the original roles */
  proxiesRestored: string[];
  /** proxies still fencing writes (a switch did not finish): run `cachectl switch` again */
  proxiesFenced: string[];
}

export async function resetChaos(config: CachectlConfig): Promise<ChaosResetResult> {
  const state = await loadClusterState(config);
  const runtime = await runtimeForState(state);
  const report = await injectorFor(state, runtime).resetAll();
  const admins = proxyAdminEndpoints(state).map((ep, i) => new HttpProxyAdmin(proxyName(i), ep, state.adminToken));
  const links = state.toxiproxy.links.map((l) => proxyAddressOfLink(state, l));
  const proxiesRestored: string[] = [];
  const proxiesFenced: string[] = [];
  const masterLink = state.toxiproxy.links.find((l) => l.node === 'master');
  const slaveLink = state.toxiproxy.links.find((l) => l.node === 'slave');
  for (const admin of admins) {
    const cfg = await admin.getConfig().catch(() => null);
    if (!cfg) continue;
    const known = (a: { host: string; port: number } | null): boolean => a === null || links.some((l) => sameAddr(l, a));
    if (masterLink && slaveLink && cfg.shards.some((s) => !known(s.master) || !known(s.slave))) {
      // Left pointing at a chaos link that no longer exists (an interrupted auto-failover run).
      await admin.putConfig({ epoch: cfg.epoch + 1, shards: [{ name: cfg.shards[0].name, master: proxyAddressOfLink(state, masterLink), slave: proxyAddressOfLink(state, slaveLink) }], failover: state.config.proxy.failover });
      proxiesRestored.push(admin.name);
    }
    if (cfg.writesFenced) proxiesFenced.push(admin.name);
  }
  return { cluster: state.name, ...report, proxiesRestored, proxiesFenced };
}

export interface SwitchCommandOptions {
  rejoin?: boolean;
  flushNewMaster?: FlushPolicy;
  shard?: number;
  log?: (line: string) => void;
}

export async function switchCluster(config: CachectlConfig, options: SwitchCommandOptions = {}): Promise<SwitchResult> {
  const state = await loadClusterState(config);
  const admins = proxyAdminEndpoints(state).map((ep, i) => new HttpProxyAdmin(proxyName(i), ep, state.adminToken));
  if (admins.length === 0) throw new CachectlError('USAGE', `cluster "${state.name}" runs no cachectl proxy: nothing to switch`, { hint: 'start the cluster with proxies (`cachectl up`)' });
  const nodeName = (a: { host: string; port: number }): string => linkFromProxyAddress(state, a)?.node ?? `${a.host}:${a.port}`;
  const common = {
    proxies: admins,
    // Proxies may know a link by another name (toxiproxy:port on a Docker bridge): flush what this host reaches.
    nodeOps: { flush: (addr: { host: string; port: number }) => flushNode(linkFromProxyAddress(state, addr)?.listen ?? addr) },
    probe: asciiSwitchProbe(proxyEndpoints(state)),
    nodeName,
    shardIndex: options.shard ?? 0,
    log: options.log,
  };
  if (options.rejoin) {
    const cfg = await admins[0].getConfig();
    const shard = cfg.shards[options.shard ?? 0];
    if (!shard) throw new CachectlError('USAGE', `no shard ${options.shard}`);
    if (shard.slave) throw new CachectlError('USAGE', `shard ${shard.name} already has a slave (${nodeName(shard.slave)}): nothing to rejoin`, { hint: 'run `cachectl switch` to swap roles' });
    // The detached node is the other link of this shard.
    const suffix = (options.shard ?? 0) === 0 ? '' : `shard-${options.shard}-`;
    const candidates = state.toxiproxy.links.filter((l) => (l.node === `${suffix}master` || l.node === `${suffix}slave`) && linkFromProxyAddress(state, shard.master) !== l);
    if (candidates.length !== 1) throw new CachectlError('STATE_CONFLICT', 'cannot tell which node is detached', { hint: 'see `cachectl status`' });
    return runRejoin({ ...common, node: proxyAddressOfLink(state, candidates[0]) });
  }
  // Ctrl-C half-way must not leave the fleet fenced (every write refused) or split over epochs
  const before = await Promise.all(admins.map((a) => a.getConfig().catch(() => null)));
  const onSignal = (signal: NodeJS.Signals): void => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.once('SIGINT', () => process.exit(130));
    options.log?.(`${signal} received: putting every proxy back on one epoch, unfenced (Ctrl-C again to force)`);
    void settleInterruptedSwitch(admins, before, options.shard ?? 0, options.log).finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await runSwitch({ ...common, flushNewMaster: options.flushNewMaster ?? 'auto' });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/**
 * After an interrupted switch: if every proxy already agrees on the shard's roles, keep them and
 * unfence; otherwise put everyone back on the roles they had before the switch, unfenced. Always
 * under one new epoch (max seen + 1), re-read and retried until all proxies report it.
 */
export async function settleInterruptedSwitch(
  admins: HttpProxyAdmin[],
  before: (Awaited<ReturnType<HttpProxyAdmin['getConfig']>> | null)[],
  shardIndex: number,
  log?: (line: string) => void,
): Promise<boolean> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const now = await Promise.all(admins.map((a) => a.getConfig().catch(() => null)));
    const live = now.filter((c): c is NonNullable<typeof c> => c !== null);
    if (live.length === 0) return false;
    const first = live[0].shards[shardIndex];
    const agree = live.every((c) => sameAddr(c.shards[shardIndex]?.master, first?.master) && sameAddr(c.shards[shardIndex]?.slave, first?.slave));
    const settled = agree && live.length === admins.length && new Set(live.map((c) => c.epoch)).size === 1 && live.every((c) => !c.writesFenced);
    if (settled) {
      log?.(`switch interrupted: every proxy on epoch ${live[0].epoch}, unfenced`);
      return true;
    }
    const epoch = Math.max(...live.map((c) => c.epoch)) + 1;
    await Promise.all(
      admins.map((a, i) => {
        const shards = agree ? undefined : (before[i] ?? before.find((b) => b !== null))?.shards;
        return a.putConfig({ epoch, writesFenced: false, ...(shards ? { shards } : {}) }).catch(() => undefined);
      }),
    );
  }
  log?.('switch interrupted: could not put every proxy on one epoch; run `cachectl switch` again or `cachectl chaos reset`');
  return false;
}
