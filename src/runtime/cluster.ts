import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import type { CachectlConfig } from '../config/schema.js';
import { CachectlError } from '../errors.js';
import { asciiRequest } from '../util/net.js';
import { toxiproxyHealthy } from './processes.js';
import { chooseRuntime, runtimeForState } from './index.js';
import { logDir, readState, removeState, stateFilePath, writeState } from './state.js';
import type { ClusterState, ComponentState, ComponentStatus, Endpoint, NodeRole, ToxiproxyLink } from './types.js';

/**
 * The cluster library: what commands and other modules (chaos, workload, switch, scale) use to
 * bring a cluster up, find its parts, and take it down. Commands make one call in here.
 */

// ----- naming -------------------------------------------------------------------------------

/** Component name of a memcached node: shard 0 is "master"/"slave", shard i is "shard-i-master". */
export function nodeName(role: NodeRole, shard = 0): string {
  return shard === 0 ? role : `shard-${shard}-${role}`;
}

export function proxyName(index: number): string {
  return `proxy-${index}`;
}

export function formatEndpoint(e: Endpoint): string {
  return e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}

/** "127.0.0.1:11211" or "[::1]:11211" -> Endpoint */
export function parseEndpoint(text: string): Endpoint {
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(text.trim());
  if (!m) throw new CachectlError('USAGE', `not a host:port address: ${JSON.stringify(text)}`, { hint: 'write it as 127.0.0.1:11211' });
  return { host: m[1], port: Number(m[2]) };
}

// ----- state access ---------------------------------------------------------------------------

/** The state of the running cluster named by the config; STATE_NOT_FOUND when `up` has not run. */
export async function loadClusterState(config: CachectlConfig): Promise<ClusterState> {
  const state = readState(config.stateDir, config.name);
  if (!state) {
    throw new CachectlError('STATE_NOT_FOUND', `no cluster "${config.name}" is running (no state file at ${stateFilePath(config.stateDir, config.name)})`, {
      hint: 'run `cachectl up` first (with the same --name and --state-dir)',
      details: { name: config.name, stateDir: config.stateDir },
    });
  }
  return state;
}

/** Persist a changed state (e.g. after a node restart or a manual switch). */
export async function saveClusterState(state: ClusterState): Promise<void> {
  writeState(state);
}

export function findComponent(state: ClusterState, name: string): ComponentState {
  const found = state.components.find((c) => c.name === name);
  if (!found) {
    throw new CachectlError('USAGE', `cluster "${state.name}" has no component "${name}"`, {
      hint: `pick one of: ${state.components.map((c) => c.name).join(', ')}`,
      details: { name, components: state.components.map((c) => c.name) },
    });
  }
  return found;
}

/** Client endpoints of the cachectl proxies, in instance order. */
export function proxyEndpoints(state: ClusterState): Endpoint[] {
  return state.components.filter((c) => c.kind === 'proxy').map((c) => c.endpoint);
}

/** Admin HTTP endpoints of the cachectl proxies, in instance order. */
export function proxyAdminEndpoints(state: ClusterState): Endpoint[] {
  return state.components.filter((c) => c.kind === 'proxy').map((c) => c.adminEndpoint as Endpoint);
}

/** A memcached node by its role at `up` time (shard 0 unless given). Its endpoint is the direct address. */
export function memcachedNode(state: ClusterState, role: NodeRole, shard = 0): ComponentState {
  return findComponent(state, nodeName(role, shard));
}

export function memcachedNodes(state: ClusterState): ComponentState[] {
  return state.components.filter((c) => c.kind === 'memcached');
}

/** The Toxiproxy proxy in front of a memcached node ("master", "slave", "shard-1-master"...). */
export function toxiproxyLink(state: ClusterState, node: string): ToxiproxyLink {
  const link = state.toxiproxy.links.find((l) => l.node === node || l.name === node);
  if (!link) {
    throw new CachectlError('USAGE', `cluster "${state.name}" has no Toxiproxy link for "${node}"`, {
      hint: `pick one of: ${state.toxiproxy.links.map((l) => l.node).join(', ')}`,
    });
  }
  return link;
}

/** Base URL of the Toxiproxy HTTP API, for toxiproxy-node-client. */
export function toxiproxyUrl(state: ClusterState): string {
  return `http://${formatEndpoint(state.toxiproxy.api)}`;
}

// ----- locking: one up/down at a time per cluster ---------------------------------------------

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Hold `${stateDir}/${name}.lock` while fn runs; a lock left by a dead process is taken over. */
export async function withClusterLock<T>(config: CachectlConfig, fn: () => Promise<T>): Promise<T> {
  mkdirSync(config.stateDir, { recursive: true });
  const lock = `${stateFilePath(config.stateDir, config.name)}.lock`;
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(lock, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let holder = NaN;
      try {
        holder = Number(readFileSync(lock, 'utf8').trim());
      } catch {
        // vanished between open and read: retry
      }
      if (!Number.isInteger(holder) || holder <= 0 || !pidAlive(holder)) {
        rmSync(lock, { force: true });
        continue;
      }
      if (attempt >= 100) {
        throw new CachectlError('STATE_CONFLICT', `another cachectl (pid ${holder}) is changing cluster "${config.name}"`, {
          hint: `wait for it to finish, or remove ${lock} if that process is not cachectl`,
          details: { lock, pid: holder },
        });
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

// ----- up -------------------------------------------------------------------------------------

export interface EndpointRow {
  component: string;
  kind: ComponentState['kind'] | 'toxiproxy-link';
  role?: string;
  address: string;
  /** what it points at (Toxiproxy links) or serves (proxy admin) */
  note?: string;
  pid?: number;
  containerId?: string;
}

export interface UpResult {
  name: string;
  runtime: ClusterState['runtime'];
  /** why this runtime (matters for --runtime auto) */
  runtimeReason: string;
  /** true when the cluster was already running: nothing was changed */
  alreadyRunning: boolean;
  stateFile: string;
  /** where the component logs are (local runtime) */
  logDir: string;
  endpoints: EndpointRow[];
  /** memcached clients connect here (the first cachectl proxy, or the Toxiproxy master link without proxies) */
  clientEndpoint: string;
  adminToken: string;
  state: ClusterState;
}

export function endpointRows(state: ClusterState): EndpointRow[] {
  const rows: EndpointRow[] = [];
  for (const c of state.components) {
    rows.push({
      component: c.name,
      kind: c.kind,
      role: c.role,
      address: formatEndpoint(c.endpoint),
      note: c.kind === 'proxy' && c.adminEndpoint ? `admin http://${formatEndpoint(c.adminEndpoint)}` : c.kind === 'toxiproxy' ? 'HTTP API' : undefined,
      pid: c.pid,
      containerId: c.containerId,
    });
  }
  for (const l of state.toxiproxy.links) {
    rows.push({ component: `toxiproxy/${l.name}`, kind: 'toxiproxy-link', address: formatEndpoint(l.listen), note: `-> ${l.node} ${formatEndpoint(l.upstream)}` });
  }
  return rows;
}

function clientEndpoint(state: ClusterState): string {
  const proxies = proxyEndpoints(state);
  if (proxies.length) return formatEndpoint(proxies[0]);
  return formatEndpoint(toxiproxyLink(state, nodeName('master')).listen);
}

export interface UpClusterOptions {
  onProgress?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

/** Bring the cluster up (or report that it already runs), record it in the state file. */
export async function upCluster(config: CachectlConfig, options: UpClusterOptions = {}): Promise<UpResult> {
  const progress = options.onProgress ?? (() => undefined);
  return withClusterLock(config, async () => {
    const existing = readState(config.stateDir, config.name);
    if (existing) {
      const runtime = await runtimeForState(existing, options.env);
      const alive = await Promise.all(existing.components.map((c) => runtime.isRunning(existing, c.name)));
      if (alive.some(Boolean)) {
        const down = existing.components.filter((_, i) => !alive[i]).map((c) => c.name);
        if (down.length) progress(`cluster "${existing.name}" is running, but these parts are stopped: ${down.join(', ')} (see \`cachectl status\`)`);
        return result(existing, true, `already running on the ${existing.runtime} runtime`);
      }
      progress(`state file for "${existing.name}" names no live process (stale): removing it and starting fresh`);
      await runtime.down(existing);
      removeState(config.stateDir, config.name);
    }
    const choice = await chooseRuntime(config, options.env);
    if (config.runtime === 'auto') progress(choice.reason);
    const controller = new AbortController();
    const onSignal = (): void => controller.abort(new CachectlError('USAGE', 'interrupted'));
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      const state = await choice.runtime.up(config, { onProgress: progress, signal: controller.signal });
      writeState(state);
      return result(state, false, choice.reason);
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  });

  function result(state: ClusterState, alreadyRunning: boolean, reason: string): UpResult {
    return {
      name: state.name,
      runtime: state.runtime,
      runtimeReason: reason,
      alreadyRunning,
      stateFile: stateFilePath(state.config.stateDir, state.name),
      logDir: logDir(state.config.stateDir, state.name),
      endpoints: endpointRows(state),
      clientEndpoint: clientEndpoint(state),
      adminToken: state.adminToken,
      state,
    };
  }
}

// ----- down -----------------------------------------------------------------------------------

export interface DownResult {
  name: string;
  /** false when no state file existed (down is safe to run twice) */
  wasRunning: boolean;
  stopped: Array<{ name: string; kind: ComponentState['kind']; pid?: number; containerId?: string }>;
  stateFile: string;
}

/** Stop exactly what the state file names and remove it. Safe to run twice. */
export async function downCluster(config: CachectlConfig, options: { env?: NodeJS.ProcessEnv } = {}): Promise<DownResult> {
  return withClusterLock(config, async () => {
    const stateFile = stateFilePath(config.stateDir, config.name);
    const state = readState(config.stateDir, config.name);
    if (!state) return { name: config.name, wasRunning: false, stopped: [], stateFile };
    const runtime = await runtimeForState(state, options.env);
    await runtime.down(state);
    removeState(config.stateDir, config.name);
    return {
      name: state.name,
      wasRunning: true,
      stopped: state.components.map((c) => ({ name: c.name, kind: c.kind, pid: c.pid, containerId: c.containerId })),
      stateFile,
    };
  });
}

// ----- status ---------------------------------------------------------------------------------

export interface MemcachedStats {
  version: string;
  uptimeSeconds: number;
  items: number;
  getHits: number;
  getMisses: number;
  /** hits / (hits + misses); null before the first get */
  hitRatio: number | null;
  raw: Record<string, string>;
}

/** memcached `stats`, parsed. */
export async function memcachedStats(endpoint: Endpoint, timeoutMs = 1000): Promise<MemcachedStats> {
  const reply = await asciiRequest(endpoint.host, endpoint.port, 'stats\r\n', { terminator: /(END|ERROR[^\r\n]*)\r\n$/, timeoutMs });
  const raw: Record<string, string> = {};
  for (const line of reply.split('\r\n')) {
    const m = /^STAT (\S+) (.*)$/.exec(line);
    if (m) raw[m[1]] = m[2];
  }
  if (!raw.version) throw new CachectlError('DEPENDENCY_FAILED', `unexpected reply to stats from ${formatEndpoint(endpoint)}: ${reply.slice(0, 80)}`);
  const hits = Number(raw.get_hits ?? 0);
  const misses = Number(raw.get_misses ?? 0);
  return {
    version: raw.version,
    uptimeSeconds: Number(raw.uptime ?? 0),
    items: Number(raw.curr_items ?? 0),
    getHits: hits,
    getMisses: misses,
    hitRatio: hits + misses === 0 ? null : hits / (hits + misses),
    raw,
  };
}

interface ToxiproxyProxyJson {
  name: string;
  listen: string;
  upstream: string;
  enabled: boolean;
  toxics: Array<{ name: string; type: string; stream?: string }>;
}

async function fetchJson<T>(url: string, timeoutMs = 1000, headers: Record<string, string> = {}): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers });
  if (!res.ok) throw new Error(`${url} answered HTTP ${res.status}`);
  return (await res.json()) as T;
}

export interface StatusResult {
  name: string;
  runtime: ClusterState['runtime'];
  createdAt: string;
  /** true when every component is alive and answers */
  healthy: boolean;
  components: ComponentStatus[];
  stateFile: string;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Every component with its health and numbers, read live. */
export async function clusterStatus(config: CachectlConfig, options: { env?: NodeJS.ProcessEnv } = {}): Promise<StatusResult> {
  const state = await loadClusterState(config);
  const runtime = await runtimeForState(state, options.env);
  const components = await Promise.all(
    state.components.map(async (c): Promise<ComponentStatus> => {
      const base: ComponentStatus = {
        name: c.name,
        kind: c.kind,
        ...(c.role ? { role: c.role } : {}),
        ...(c.shard !== undefined ? { shard: c.shard } : {}),
        address: formatEndpoint(c.endpoint),
        ...(c.pid !== undefined ? { pid: c.pid } : {}),
        ...(c.containerId ? { containerId: c.containerId } : {}),
        healthy: false,
      };
      if (!(await runtime.isRunning(state, c.name))) return { ...base, error: 'not running' };
      try {
        if (c.kind === 'memcached') {
          const s = await memcachedStats(c.endpoint);
          return { ...base, healthy: true, version: s.version, uptimeSeconds: s.uptimeSeconds, items: s.items, hitRatio: s.hitRatio };
        }
        if (c.kind === 'toxiproxy') {
          const url = `http://${formatEndpoint(c.endpoint)}`;
          const version = await toxiproxyHealthy(c.endpoint.host, c.endpoint.port, 1000);
          if (!version) throw new Error('Toxiproxy does not answer /version');
          const proxies = await fetchJson<Record<string, ToxiproxyProxyJson>>(`${url}/proxies`);
          const links = Object.values(proxies)
            .sort((a, b) => a.name.localeCompare(b.name))
            .map((p) => ({ name: p.name, enabled: p.enabled, toxics: p.toxics.map((t) => `${t.name}(${t.type}${t.stream ? `/${t.stream}` : ''})`), listen: p.listen, upstream: p.upstream }));
          const missing = state.toxiproxy.links.filter((l) => !proxies[l.name]).map((l) => l.name);
          return { ...base, healthy: missing.length === 0, version, links, ...(missing.length ? { error: `Toxiproxy lost link(s) ${missing.join(', ')}` } : {}) };
        }
        const admin = c.adminEndpoint as Endpoint;
        const health = await fetchJson<{ status?: string; epoch?: number }>(`http://${formatEndpoint(admin)}/health`);
        return { ...base, healthy: health.status === 'ok', ...(typeof health.epoch === 'number' ? { epoch: health.epoch } : {}), ...(health.status === 'ok' ? {} : { error: `health says ${String(health.status)}` }) };
      } catch (err) {
        return { ...base, error: errorText(err) };
      }
    }),
  );
  return {
    name: state.name,
    runtime: state.runtime,
    createdAt: state.createdAt,
    healthy: components.every((c) => c.healthy),
    components,
    stateFile: stateFilePath(state.config.stateDir, state.name),
  };
}
