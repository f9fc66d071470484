import type { CachectlConfig } from '../config/schema.js';
import { CachectlError } from '../errors.js';
import { loadClusterState, proxyAdminEndpoints, proxyEndpoints, proxyName, toxiproxyUrl } from '../runtime/cluster.js';
import { runtimeForState } from '../runtime/index.js';
import type { ClusterState } from '../runtime/types.js';
import { asciiNodeOps, asciiSwitchProbe } from './cluster-ops.js';
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
  const links = state.toxiproxy.links.map((l) => l.listen);
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
      await admin.putConfig({ epoch: cfg.epoch + 1, shards: [{ name: cfg.shards[0].name, master: masterLink.listen, slave: slaveLink.listen }], failover: state.config.proxy.failover });
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
  const nodeName = (a: { host: string; port: number }): string => state.toxiproxy.links.find((l) => sameAddr(l.listen, a))?.node ?? `${a.host}:${a.port}`;
  const common = {
    proxies: admins,
    nodeOps: asciiNodeOps,
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
    const candidates = state.toxiproxy.links.filter((l) => (l.node === `${suffix}master` || l.node === `${suffix}slave`) && !sameAddr(l.listen, shard.master));
    if (candidates.length !== 1) throw new CachectlError('STATE_CONFLICT', 'cannot tell which node is detached', { hint: 'see `cachectl status`' });
    return runRejoin({ ...common, node: candidates[0].listen });
  }
  return runSwitch({ ...common, flushNewMaster: options.flushNewMaster ?? 'auto' });
}
