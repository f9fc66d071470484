import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HttpProxyAdmin, addrText, type ProxyAdmin } from '../chaos/proxy-admin.js';
import type { CachectlConfig } from '../config/schema.js';
import { CachectlError } from '../errors.js';
import type { ProxyNodeAddr, ProxyRuntimeConfig, ProxyShard } from '../proxy/config.js';
import { KetamaRing } from '../proxy/ketama.js';
import { findComponent, loadClusterState, nodeName, toxiproxyLink, withClusterLock } from '../runtime/cluster.js';
import { runtimeForState } from '../runtime/index.js';
import { linkFromProxyAddress, proxyAddressOfLink } from '../runtime/docker-spec.js';
import { clusterDir } from '../runtime/state.js';
import type { ClusterState, Endpoint, Runtime } from '../runtime/types.js';
import { flushKeys } from './node-keys.js';
import { reconcile, type ReconcileReport, type ShardNodes } from './reconcile.js';

/**
 * `cachectl scale add` / `cachectl scale remove <shard>`: change the number of master/slave pairs
 * of a running cluster while clients keep running.
 *
 * add:    start the pair (+ its Toxiproxy links), flush it (a returning shard never serves old
 *         values), move every proxy to the new shard map under one new epoch (in parallel), wait
 *         for in-flight requests routed by the old map to drain, then delete the moved keys at
 *         their old homes so that a later remove cannot bring an old copy back.
 * remove: delete the leaving shard's keys at the shards that will own them (so no older copy is
 *         served after the move), move every proxy off the shard under a new epoch, drain, stop
 *         the pair.
 * With several proxies the switch is not one atomic step: for the few milliseconds in between,
 * two proxies route a moving key to different shards. A read through a switched proxy can then
 * fill the new home with a version an unswitched proxy's write has already superseded, so after
 * the drain the moved keys are deleted at their new home as well (one extra miss each).
 * If a proxy refuses the new map, every proxy is moved back to the old map under a newer epoch,
 * keys written to the wrong shard meanwhile are invalidated, an added pair is stopped again,
 * and the error says exactly which proxy is where.
 */

export interface ScaleOptions {
  onProgress?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
  /** wait after the switch before cleaning up, so requests routed by the old map finish (default 2 x proxy timeout, >= 500 ms) */
  drainMs?: number;
  /**
   * Invalidate moved keys so the move causes no stale read (default true). false is the negative
   * control: keys are still counted, nothing is deleted, and the checker shows what that costs.
   */
  staleGuard?: boolean;
  /** swap the admin client (tests) */
  adminFactory?: (name: string, admin: Endpoint, token: string) => ProxyAdmin;
}

export interface ProxyMove {
  proxy: string;
  address: string;
  fromEpoch: number;
  toEpoch: number;
  ok: boolean;
  error?: string;
}

export interface ScaleTimeline {
  /** wall-clock ms (Date.now()) */
  startedAtMs: number;
  /** first PUT /config sent */
  switchStartMs: number;
  /** last PUT /config answered */
  switchEndMs: number;
  /** stale-read guard done (after the drain) */
  settledAtMs: number;
  finishedAtMs: number;
}

export interface ScaleResult {
  action: 'add' | 'remove';
  cluster: string;
  shard: string;
  shardIndex: number;
  shardsBefore: string[];
  shardsAfter: string[];
  epoch: number;
  proxies: ProxyMove[];
  timeline: ScaleTimeline;
  /** ms between the first PUT and the last answer: how long proxies disagreed */
  switchWindowMs: number;
  drainMs: number;
  /** exact share of the key hash space the ring change moves (ketama aims at about 1/N) */
  expectedMovedFraction: number;
  /** keys actually cached on the shards that gave keys up, and how many of them moved */
  cachedKeys: { scanned: number; moved: number; movedFraction: number | null };
  /** what was done so that the move causes no stale read */
  staleGuard: { description: string[]; deletedAtOldHome: number; deletedAtNewHome: number; flushedNodes: string[]; skippedKeys: number };
  /** the pair that was added (or removed): direct memcached and Toxiproxy link addresses */
  nodes: Array<{ name: string; role: 'master' | 'slave'; address: string; link: string }>;
}

/** the schema's limit on `shards` */
const MAX_SHARDS = 16;

function progressOf(options: ScaleOptions): (line: string) => void {
  return options.onProgress ?? (() => undefined);
}

export function shardIndexFromName(name: string): number | undefined {
  const m = /^shard-(\d+)$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** "shard-2", "2" or a node name like "shard-2-master" -> "shard-2" */
export function normaliseShardName(text: string): string {
  const t = text.trim();
  if (/^\d+$/.test(t)) return `shard-${Number(t)}`;
  const m = /^shard-(\d+)(?:-(?:master|slave))?$/.exec(t);
  if (m) return `shard-${Number(m[1])}`;
  if (t === 'master' || t === 'slave') return 'shard-0';
  return t;
}

function admins(state: ClusterState, options: ScaleOptions): ProxyAdmin[] {
  const proxies = state.components.filter((c) => c.kind === 'proxy');
  if (proxies.length === 0) {
    throw new CachectlError('USAGE', `cluster "${state.name}" runs no cachectl proxy: there is nothing to re-point`, {
      hint: 'scaling moves proxies to a new shard map; start the cluster with at least one proxy (`cachectl up --proxies 1`)',
    });
  }
  const make = options.adminFactory ?? ((name: string, e: Endpoint, token: string) => new HttpProxyAdmin(name, e, token));
  return proxies.map((p) => make(p.name, p.adminEndpoint as Endpoint, state.adminToken));
}

function sameShards(a: ProxyShard[], b: ProxyShard[]): boolean {
  const key = (s: ProxyShard[]): string => JSON.stringify(s.map((x) => [x.name, addrText(x.master), addrText(x.slave)]).sort());
  return key(a) === key(b);
}

/** Read every proxy's config; they must agree on the shard map before we change it. */
async function currentConfigs(list: ProxyAdmin[]): Promise<ProxyRuntimeConfig[]> {
  const configs = await Promise.all(list.map((a) => a.getConfig()));
  const first = configs[0];
  const odd = configs.findIndex((c) => !sameShards(c.shards, first.shards));
  if (odd >= 0) {
    throw new CachectlError('STATE_CONFLICT', `the proxies disagree on the shard map: ${list[0].name} has [${first.shards.map((s) => s.name).join(', ')}] at epoch ${first.epoch}, ${list[odd].name} has [${configs[odd].shards.map((s) => s.name).join(', ')}] at epoch ${configs[odd].epoch}`, {
      hint: 'a switch or an earlier scale was interrupted; compare GET /config on each proxy (`cachectl status`) and bring them to one map before scaling',
      details: { proxies: list.map((a, i) => ({ proxy: a.name, epoch: configs[i].epoch, shards: configs[i].shards.map((s) => s.name) })) },
    });
  }
  return configs;
}

/**
 * Where this process reaches the memcached node behind a proxy-side address (a Toxiproxy link as
 * the proxies see it, or the node itself): the node's recorded endpoint, not the link's upstream,
 * which on a Docker bridge network is a service name only containers resolve.
 */
export function directEndpoint(state: ClusterState, addr: ProxyNodeAddr): Endpoint {
  const link = linkFromProxyAddress(state, addr);
  const node = link ? state.components.find((c) => c.name === link.node) : undefined;
  if (node) return node.endpoint;
  return link ? link.upstream : { host: addr.host, port: addr.port };
}

function shardNodes(state: ClusterState, shards: ProxyShard[]): ShardNodes[] {
  return shards.map((s) => ({ name: s.name, nodes: [s.master, ...(s.slave ? [s.slave] : [])].map((a) => directEndpoint(state, a)) }));
}

function ringOf(shards: ProxyShard[]): KetamaRing {
  return new KetamaRing(shards.map((s) => ({ name: s.name })));
}

/** PUT the same shard map with the same epoch to every proxy at once. */
async function moveProxies(list: ProxyAdmin[], configs: ProxyRuntimeConfig[], epoch: number, shards: ProxyShard[]): Promise<ProxyMove[]> {
  return Promise.all(
    list.map(async (a, i): Promise<ProxyMove> => {
      try {
        const applied = await a.putConfig({ epoch, shards });
        return { proxy: a.name, address: a.address, fromEpoch: configs[i].epoch, toEpoch: applied.epoch, ok: true };
      } catch (err) {
        return { proxy: a.name, address: a.address, fromEpoch: configs[i].epoch, toEpoch: configs[i].epoch, ok: false, error: err instanceof Error ? err.message : String(err) };
      }
    }),
  );
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function drainFor(configs: ProxyRuntimeConfig[], options: ScaleOptions): number {
  if (options.drainMs !== undefined) return options.drainMs;
  return Math.max(500, 2 * Math.max(...configs.map((c) => c.timeoutMs)));
}

/**
 * A proxy refused the new map: put every proxy back on the old map (one newer epoch), invalidate
 * what was written to the wrong shard meanwhile, and explain.
 */
async function rollBack(
  state: ClusterState,
  list: ProxyAdmin[],
  configs: ProxyRuntimeConfig[],
  moves: ProxyMove[],
  oldShards: ProxyShard[],
  allShards: ProxyShard[],
  epoch: number,
  progress: (line: string) => void,
): Promise<{ message: string; rollback: ProxyMove[]; consistent: boolean; reconciled?: ReconcileReport; reconcileError?: string }> {
  const failed = moves.filter((m) => !m.ok);
  progress(`${failed.map((m) => m.proxy).join(', ')} refused epoch ${epoch}: moving every proxy back to the old shard map`);
  const rollback = await moveProxies(list, configs, epoch + 1, oldShards);
  let reconciled: ReconcileReport | undefined;
  let reconcileError: string | undefined;
  try {
    // keys written to their new-map home during the window: drop them there and at their old home
    reconciled = await reconcile(ringOf(oldShards), shardNodes(state, allShards), allShards.map((s) => s.name), { atSource: true, atHome: true });
  } catch (err) {
    reconcileError = err instanceof Error ? err.message : String(err);
  }
  // A proxy the rollback could not reach either: if it does not even answer GET /config it is down
  // (not routing; on restart it reads the state file's map, which is the old one again).
  const down: string[] = [];
  const stillNew: ProxyMove[] = [];
  await Promise.all(
    rollback.map(async (m, i) => {
      if (m.ok) return;
      try {
        const cfg = await list[i].getConfig();
        if (!sameShards(cfg.shards, oldShards)) stillNew.push(m);
      } catch {
        down.push(m.proxy);
      }
    }),
  );
  const why = failed.map((m) => `${m.proxy}: ${m.error}`).join('; ');
  const downText = down.length ? ` ${down.join(', ')} did not answer at all (down: it routes nothing and starts again with the old map).` : '';
  const message = stillNew.length
    ? `${why}. Rolling back failed too for ${stillNew.map((m) => `${m.proxy} (${m.error})`).join(', ')}: these proxies may still route by the new map.${downText}`
    : `${why}. Every answering proxy is back on the old shard map at epoch ${epoch + 1}.${downText}`;
  return { message, rollback, consistent: stillNew.length === 0, reconciled, reconcileError };
}

function pairNodes(state: ClusterState, index: number): ScaleResult['nodes'] {
  return (['master', 'slave'] as const).map((role) => {
    const name = nodeName(role, index);
    const c = findComponent(state, name);
    return { name, role, address: addrText(c.endpoint) as string, link: addrText(toxiproxyLink(state, name).listen) as string };
  });
}

function requireScaling(runtime: Runtime, state: ClusterState, what: 'addShard' | 'removeShard'): void {
  if (!runtime[what]) {
    const why = runtime.name === 'docker' && state.config.docker.network === 'bridge' ? ' (its Toxiproxy container publishes the link ports when it is created, so links for a new pair cannot be added while it runs)' : '';
    throw new CachectlError('UNSUPPORTED', `the ${runtime.name} runtime cannot ${what === 'addShard' ? 'add' : 'remove'} a shard on a running cluster${why}`, {
      hint: 'choose the shard count at `cachectl up --shards N`, or use the local runtime (`cachectl up --runtime local --shards N`) to scale live',
    });
  }
}

/** `cachectl scale add`: one more master/slave pair, every proxy moved to it under a new epoch. */
export async function scaleAdd(config: CachectlConfig, options: ScaleOptions = {}): Promise<ScaleResult> {
  const progress = progressOf(options);
  return withClusterLock(config, async () => {
    const startedAtMs = Date.now();
    let state = await loadClusterState(config);
    const runtime = await runtimeForState(state, options.env);
    requireScaling(runtime, state, 'addShard');
    const list = admins(state, options);
    const configs = await currentConfigs(list);
    const oldShards = configs[0].shards;
    if (oldShards.length >= MAX_SHARDS) {
      throw new CachectlError('USAGE', `the proxies already route to ${oldShards.length} shards, the most a cluster may have (config \`shards\` <= ${MAX_SHARDS})`, {
        hint: 'remove a shard first (`cachectl scale remove <shard>`)',
      });
    }

    const added = await (runtime.addShard as NonNullable<Runtime['addShard']>).call(runtime, state, { onProgress: progress });
    state = added.state;
    const index = added.shard;
    const name = `shard-${index}`;
    if (oldShards.some((s) => s.name === name)) {
      await (runtime.removeShard as NonNullable<Runtime['removeShard']>).call(runtime, state, index, { onProgress: progress });
      throw new CachectlError('STATE_CONFLICT', `the proxies already route to a shard named ${name}, but the cluster state has no such pair`, {
        hint: 'the state file and the proxies disagree; run `cachectl status` and compare GET /config',
      });
    }
    const nodes = pairNodes(state, index);
    // the address the proxies use for the new links (a service name inside a Docker bridge network)
    const linkOf = (role: 'master' | 'slave'): ProxyNodeAddr => proxyAddressOfLink(state, toxiproxyLink(state, nodeName(role, index)));
    const newShard: ProxyShard = { name, master: linkOf('master'), slave: linkOf('slave') };
    const newShards = [...oldShards, newShard];

    // A shard (re)joining must not serve anything from an earlier life: flush both nodes first.
    const direct = shardNodes(state, [newShard])[0].nodes;
    await Promise.all(direct.map((e) => flushKeys(e)));

    const epoch = Math.max(...configs.map((c) => c.epoch)) + 1;
    progress(`moving ${list.length} prox${list.length === 1 ? 'y' : 'ies'} to [${newShards.map((s) => s.name).join(', ')}] at epoch ${epoch}`);
    const switchStartMs = Date.now();
    const moves = await moveProxies(list, configs, epoch, newShards);
    const switchEndMs = Date.now();
    if (moves.some((m) => !m.ok)) {
      const rb = await rollBack(state, list, configs, moves, oldShards, newShards, epoch, progress);
      let stopped = '';
      if (rb.consistent) {
        await (runtime.removeShard as NonNullable<Runtime['removeShard']>).call(runtime, state, index, { onProgress: progress });
        stopped = ` ${name} was stopped again.`;
      } else stopped = ` ${name} is left running because some proxies may still use it.`;
      throw new CachectlError('DEPENDENCY_FAILED', `scale add failed: ${rb.message}${stopped}${rb.reconcileError ? ` Invalidating keys written meanwhile failed: ${rb.reconcileError}` : ''}`, {
        hint: 'check the proxies with `cachectl status`, then run `cachectl scale add` again',
        details: { moves, rollback: rb.rollback, reconciled: rb.reconciled },
      });
    }
    const drainMs = drainFor(configs, options);
    progress(`every proxy is at epoch ${epoch}; draining requests routed by the old map for ${drainMs} ms`);
    await sleep(drainMs);
    const several = list.length > 1;
    const guarded = options.staleGuard !== false;
    const guard = await reconcile(ringOf(newShards), shardNodes(state, newShards), oldShards.map((s) => s.name), { atSource: guarded, atHome: guarded && several });
    const settledAtMs = Date.now();
    progress(`${guard.misplaced} of ${guard.scanned} cached keys moved to ${name}${guarded ? '; their old copies were deleted' : ' (stale-read guard OFF: their old copies stay)'}`);
    return recordEvent(state, {
      action: 'add',
      cluster: state.name,
      shard: name,
      shardIndex: index,
      shardsBefore: oldShards.map((s) => s.name),
      shardsAfter: newShards.map((s) => s.name),
      epoch,
      proxies: moves,
      timeline: { startedAtMs, switchStartMs, switchEndMs, settledAtMs, finishedAtMs: Date.now() },
      switchWindowMs: switchEndMs - switchStartMs,
      drainMs,
      expectedMovedFraction: KetamaRing.movedFraction(ringOf(oldShards), ringOf(newShards)),
      cachedKeys: { scanned: guard.scanned, moved: guard.misplaced, movedFraction: guard.scanned ? guard.misplaced / guard.scanned : null },
      staleGuard: {
        description: guarded
          ? [
              `flushed ${name} (master and slave) before any proxy routed to it`,
              `after the switch and a ${drainMs} ms drain, deleted the ${guard.misplaced} moved keys at their old homes, so removing ${name} later cannot serve an old copy`,
              ...(several ? [`${list.length} proxies switched within ${switchEndMs - switchStartMs} ms: the moved keys were also deleted at ${name}, dropping any copy filled while proxies disagreed`] : []),
            ]
          : [`flushed ${name} before any proxy routed to it`, `stale-read guard OFF (negative control): the ${guard.misplaced} moved keys keep their old copies at their old homes`],
        deletedAtOldHome: guard.deletedAtSource,
        deletedAtNewHome: guard.deletedAtHome,
        flushedNodes: direct.map((e) => addrText(e) as string),
        skippedKeys: guard.skipped,
      },
      nodes,
    });
  });
}

/** `cachectl scale remove <shard>`: every proxy moved off the shard under a new epoch, then the pair stopped. */
export async function scaleRemove(config: CachectlConfig, shardText: string, options: ScaleOptions = {}): Promise<ScaleResult> {
  const progress = progressOf(options);
  const name = normaliseShardName(shardText);
  return withClusterLock(config, async () => {
    const startedAtMs = Date.now();
    let state = await loadClusterState(config);
    const runtime = await runtimeForState(state, options.env);
    requireScaling(runtime, state, 'removeShard');
    const list = admins(state, options);
    const configs = await currentConfigs(list);
    const oldShards = configs[0].shards;
    const leaving = oldShards.find((s) => s.name === name);
    if (!leaving) {
      throw new CachectlError('USAGE', `the proxies route to no shard "${shardText}"`, { hint: `pick one of: ${oldShards.map((s) => s.name).join(', ')}` });
    }
    if (oldShards.length === 1) {
      throw new CachectlError('USAGE', `${name} is the only shard: removing it would leave the proxies nothing to route to`, { hint: 'add another shard first (`cachectl scale add`), or stop the cluster with `cachectl down`' });
    }
    const index = shardIndexFromName(name);
    if (index === undefined || !state.components.some((c) => c.kind === 'memcached' && (c.shard ?? 0) === index)) {
      throw new CachectlError('STATE_CONFLICT', `the proxies route to ${name}, but the cluster state has no such pair to stop`, {
        hint: 'the state file and the proxies disagree; run `cachectl status` and compare GET /config',
      });
    }
    const nodes = pairNodes(state, index);
    const newShards = oldShards.filter((s) => s.name !== name);
    const newRing = ringOf(newShards);
    const all = shardNodes(state, oldShards);

    // The shards that take the leaving keys must not hold older copies of them: delete first
    // (no proxy routes those keys there yet, so this costs nothing).
    const guarded = options.staleGuard !== false;
    const pre = await reconcile(newRing, all, [name], { atSource: false, atHome: guarded });
    progress(`${name} holds ${pre.scanned} cached keys${guarded ? '; deleted any older copies of them on the shards that take them over' : ' (stale-read guard OFF: older copies elsewhere stay)'}`);

    const epoch = Math.max(...configs.map((c) => c.epoch)) + 1;
    progress(`moving ${list.length} prox${list.length === 1 ? 'y' : 'ies'} off ${name} to [${newShards.map((s) => s.name).join(', ')}] at epoch ${epoch}`);
    const switchStartMs = Date.now();
    const moves = await moveProxies(list, configs, epoch, newShards);
    const switchEndMs = Date.now();
    if (moves.some((m) => !m.ok)) {
      const rb = await rollBack(state, list, configs, moves, oldShards, oldShards, epoch, progress);
      throw new CachectlError('DEPENDENCY_FAILED', `scale remove failed: ${rb.message} ${name} keeps running.${rb.reconcileError ? ` Invalidating keys written meanwhile failed: ${rb.reconcileError}` : ''}`, {
        hint: 'check the proxies with `cachectl status`, then run `cachectl scale remove` again',
        details: { moves, rollback: rb.rollback, reconciled: rb.reconciled },
      });
    }
    const drainMs = drainFor(configs, options);
    progress(`every proxy is at epoch ${epoch}; draining requests routed by the old map for ${drainMs} ms`);
    await sleep(drainMs);
    const several = list.length > 1;
    let post: ReconcileReport | undefined;
    if (several && guarded) post = await reconcile(newRing, all, [name], { atSource: false, atHome: true });
    const settledAtMs = Date.now();
    state = await (runtime.removeShard as NonNullable<Runtime['removeShard']>).call(runtime, state, index, { onProgress: progress });
    return recordEvent(state, {
      action: 'remove',
      cluster: state.name,
      shard: name,
      shardIndex: index,
      shardsBefore: oldShards.map((s) => s.name),
      shardsAfter: newShards.map((s) => s.name),
      epoch,
      proxies: moves,
      timeline: { startedAtMs, switchStartMs, switchEndMs, settledAtMs, finishedAtMs: Date.now() },
      switchWindowMs: switchEndMs - switchStartMs,
      drainMs,
      expectedMovedFraction: KetamaRing.movedFraction(ringOf(oldShards), newRing),
      cachedKeys: { scanned: pre.scanned, moved: pre.misplaced, movedFraction: pre.scanned ? pre.misplaced / pre.scanned : null },
      staleGuard: {
        description: [
          ...(guarded
            ? [
                `before the switch, deleted the ${pre.misplaced} keys ${name} held at the shards that take them over, so none of them serves an older copy`,
                ...(several ? [`${list.length} proxies switched within ${switchEndMs - switchStartMs} ms: after a ${drainMs} ms drain those keys were deleted there again, dropping any copy filled while proxies disagreed`] : []),
              ]
            : [`stale-read guard OFF (negative control): older copies of ${name}'s keys on the shards that take them over were left in place`]),
          `stopped ${name} only after every proxy had moved off it and in-flight requests had drained`,
        ],
        deletedAtOldHome: 0,
        deletedAtNewHome: pre.deletedAtHome + (post?.deletedAtHome ?? 0),
        flushedNodes: [],
        skippedKeys: pre.skipped + (post?.skipped ?? 0),
      },
      nodes,
    });
  });
}

/** Every scale change of a cluster, one JSON line each, so reports can line a run up with the changes. */
export function scaleEventsFile(state: ClusterState): string {
  return join(clusterDir(state.config.stateDir, state.name), 'scale-events.jsonl');
}

function recordEvent(state: ClusterState, result: ScaleResult): ScaleResult {
  try {
    mkdirSync(clusterDir(state.config.stateDir, state.name), { recursive: true });
    appendFileSync(scaleEventsFile(state), JSON.stringify(result) + '\n');
  } catch {
    // the change itself succeeded; a missing event line only costs reports a marker
  }
  return result;
}

/** The recorded scale changes of a cluster (oldest first); empty when there are none. */
export function readScaleEvents(state: ClusterState): ScaleResult[] {
  let text: string;
  try {
    text = readFileSync(scaleEventsFile(state), 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as ScaleResult);
}
