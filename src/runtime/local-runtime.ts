import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CachectlConfig } from '../config/schema.js';
import { CachectlError, isCachectlError } from '../errors.js';
import { getFreePorts } from '../util/net.js';
import { killPid, requireBinary, spawnManaged, startMemcached, startToxiproxy, stopPid } from './processes.js';
import { Toxiproxy } from 'toxiproxy-node-client';
import { createToxiproxyLinks } from './toxiproxy-links.js';
import { clusterDir, logDir, logFilePath, removeState, requireComponent, withComponentPatch, writeState } from './state.js';
import type { ClusterState, ComponentState, Endpoint, NodeRole, Runtime, ToxiproxyLink, UpOptions } from './types.js';

/**
 * The `local` runtime: memcached, toxiproxy-server and the cachectl proxies as detached child
 * processes on loopback. They outlive `cachectl up`; the state file records their pids, and every
 * stop checks that a pid still belongs to the process we started before signalling it.
 */

const LOOPBACK = '127.0.0.1';
/** Ports of shard i >= 1 are the shard-0 ports plus SHARD_PORT_STEP * i (documented in the README). */
export const SHARD_PORT_STEP = 100;

/** Package root: this file is src/runtime/*.ts or dist/runtime/*.js. */
const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI_ENTRY = join(PACKAGE_ROOT, 'bin', 'run.js');
const PROXY_START_TIMEOUT_MS = 30_000;
const BUILT_PROXY_COMMAND = join(PACKAGE_ROOT, 'dist', 'commands', 'proxy.js');

export function nodeName(role: NodeRole, shard: number): string {
  return shard === 0 ? role : `shard-${shard}-${role}`;
}

/** The proxy admin API answers GET /health with {status: "ok"}. */
export async function proxyHealthy(admin: Endpoint): Promise<boolean> {
  try {
    const res = await fetch(`http://${hostPort(admin)}/health`, { signal: AbortSignal.timeout(500) });
    if (!res.ok) return false;
    return ((await res.json()) as { status?: string }).status === 'ok';
  } catch {
    return false;
  }
}

export function hostPort(e: Endpoint): string {
  return `${e.host}:${e.port}`;
}

/** Can we bind host:port right now? (Connect probes miss listeners on other addresses.) */
function canListen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** The command line of a live, non-zombie pid (Linux /proc); undefined when gone; null when unknowable. */
function commandLine(pid: number): string | undefined | null {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return undefined;
  }
  if (!existsSync('/proc/self/cmdline')) {
    // No /proc (macOS, BSD): ask ps; null only when even that is unavailable.
    try {
      const out = execFileSync('ps', ['-o', 'stat=,command=', '-p', String(pid)], { encoding: 'utf8', timeout: 2000 }).trim();
      if (!out) return undefined;
      const [stat, ...command] = out.split(/\s+/);
      return stat.startsWith('Z') ? undefined : command.join(' ');
    } catch (err) {
      return (err as { status?: number }).status === 1 ? undefined : null;
    }
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (/^\d+ \(.*\) Z/.test(stat)) return undefined;
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return undefined;
  }
}

/** What the command line of a component's process must contain, so a reused pid is never signalled. */
function identityMarkers(c: ComponentState): string[] {
  switch (c.kind) {
    case 'memcached':
      return ['-p', String(c.endpoint.port)];
    case 'toxiproxy':
      return ['-port', String(c.endpoint.port)];
    case 'proxy':
      return ['proxy', c.name, String(c.endpoint.port)];
  }
}

export function isOurProcess(c: ComponentState): boolean {
  if (c.pid === undefined) return false;
  const cmd = commandLine(c.pid);
  if (cmd === undefined) return false;
  if (cmd === null) return true; // neither /proc nor ps: the pid answering is all we can know
  const words = cmd.split(' ');
  return identityMarkers(c).every((m) => words.includes(m));
}

export interface PlannedNode {
  name: string;
  role: NodeRole;
  shard: number;
  port: number;
  toxiPort: number;
}

export interface Plan {
  config: CachectlConfig;
  nodes: PlannedNode[];
  proxies: Array<{ index: number; port: number; adminPort: number }>;
}

export async function planPorts(config: CachectlConfig): Promise<Plan> {
  const p = config.ports;
  const shards = config.shards;
  const instances = config.proxy.instances;
  const zeroFields = (['master', 'slave', 'toxiproxyApi', 'toxiMaster', 'toxiSlave', 'proxy', 'admin'] as const).filter((k) => p[k] === 0);
  // Free ports: every node/proxy gets its own (zero fields only).
  const needed = zeroFields.reduce((n, k) => n + (k === 'proxy' || k === 'admin' ? instances : k === 'toxiproxyApi' ? 1 : shards), 0);
  const free = await getFreePorts(needed);
  const take = (): number => free.shift() as number;
  const ports = { ...p };
  const series = (field: keyof typeof p, count: number, step: number): number[] =>
    p[field] === 0 ? Array.from({ length: count }, take) : Array.from({ length: count }, (_, i) => p[field] + step * i);
  const master = series('master', shards, SHARD_PORT_STEP);
  const slave = series('slave', shards, SHARD_PORT_STEP);
  const toxiMaster = series('toxiMaster', shards, SHARD_PORT_STEP);
  const toxiSlave = series('toxiSlave', shards, SHARD_PORT_STEP);
  const api = p.toxiproxyApi === 0 ? take() : p.toxiproxyApi;
  const proxy = series('proxy', instances, 1);
  const admin = series('admin', instances, 1);
  ports.master = master[0];
  ports.slave = slave[0];
  ports.toxiMaster = toxiMaster[0];
  ports.toxiSlave = toxiSlave[0];
  ports.toxiproxyApi = api;
  if (instances > 0) {
    ports.proxy = proxy[0];
    ports.admin = admin[0];
  }
  const nodes: PlannedNode[] = [];
  for (let s = 0; s < shards; s++) {
    nodes.push({ name: nodeName('master', s), role: 'master', shard: s, port: master[s], toxiPort: toxiMaster[s] });
    nodes.push({ name: nodeName('slave', s), role: 'slave', shard: s, port: slave[s], toxiPort: toxiSlave[s] });
  }
  return {
    config: { ...config, ports },
    nodes,
    proxies: proxy.map((port, index) => ({ index, port, adminPort: admin[index] })),
  };
}

/** Fail early, naming the field, when a fixed port is taken (free ports were just picked). */
export async function checkPortsFree(plan: Plan): Promise<void> {
  const wanted: Array<{ what: string; field: string; host: string; port: number }> = [];
  const c = plan.config;
  for (const n of plan.nodes) {
    const sfx = n.shard ? ` (shard ${n.shard} = ports.${n.role} + ${SHARD_PORT_STEP * n.shard})` : '';
    wanted.push({ what: `memcached ${n.name}`, field: `ports.${n.role}${sfx}`, host: LOOPBACK, port: n.port });
    const tf = n.role === 'master' ? 'toxiMaster' : 'toxiSlave';
    wanted.push({ what: `Toxiproxy link ${n.name}`, field: `ports.${tf}${sfx}`, host: LOOPBACK, port: n.toxiPort });
  }
  wanted.push({ what: 'Toxiproxy API', field: 'ports.toxiproxyApi', host: LOOPBACK, port: c.ports.toxiproxyApi });
  for (const p of plan.proxies) {
    const sfx = p.index ? ` (instance ${p.index} = base + ${p.index})` : '';
    wanted.push({ what: `cachectl proxy-${p.index}`, field: `ports.proxy${sfx}`, host: c.proxy.host, port: p.port });
    wanted.push({ what: `cachectl proxy-${p.index} admin`, field: `ports.admin${sfx}`, host: c.proxy.adminHost, port: p.adminPort });
  }
  const seen = new Map<number, string>();
  for (const w of wanted) {
    const other = seen.get(w.port);
    if (other) {
      throw new CachectlError('CONFIG_INVALID', `port ${w.port} is used twice: by ${other} and by ${w.what} (${w.field})`, {
        hint: 'give each component its own port, or use --free-ports',
        details: { port: w.port, field: w.field },
      });
    }
    seen.set(w.port, w.what);
  }
  for (const w of wanted) {
    if (!(await canListen(w.host, w.port))) {
      throw new CachectlError('PORT_IN_USE', `port ${w.port} (${w.field}, for ${w.what}) is already in use on ${w.host}`, {
        hint: `stop what listens there, pick another port (flag or CACHECTL_PORTS_* / cachectl.yaml), or run \`cachectl up --free-ports\``,
        details: { port: w.port, field: w.field, host: w.host },
      });
    }
  }
}

function checkAborted(signal?: AbortSignal): void {
  if (signal?.aborted) {
    throw isCachectlError(signal.reason) ? signal.reason : new CachectlError('USAGE', 'interrupted: stopped what was started');
  }
}

function logTail(file: string | undefined, lines = 5): string {
  if (!file) return '';
  try {
    const text = readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join('\n  ');
    return text ? `\n  last lines of ${file}:\n  ${text}` : '';
  } catch {
    return '';
  }
}

/** Start a log file fresh for this `up` (processes append to it). */
function freshLog(file: string, what: string): void {
  writeFileSync(file, `--- cachectl: ${what} started ${new Date().toISOString()} ---\n`);
}

/** Delete Toxiproxy proxies by name; one that is already gone is fine. */
export async function removeToxiproxyLinks(api: Endpoint, names: string[]): Promise<void> {
  const client = new Toxiproxy(`http://${hostPort(api)}`);
  for (const name of names) {
    let proxy;
    try {
      proxy = await client.get(name);
    } catch {
      continue; // not there (any more)
    }
    try {
      await proxy.remove();
    } catch (err) {
      throw new CachectlError('DEPENDENCY_FAILED', `Toxiproxy could not remove the "${name}" proxy: ${(err as Error).message}`, {
        hint: `check the Toxiproxy server at ${hostPort(api)} (\`cachectl status\`)`,
        cause: err,
      });
    }
  }
}

/** The shard indices of the memcached pairs a cluster has now, ascending. */
export function shardIndices(state: ClusterState): number[] {
  return [...new Set(state.components.filter((c) => c.kind === 'memcached').map((c) => c.shard ?? 0))].sort((a, b) => a - b);
}

/** The memcached pair of `shard` and its node names, or a usage error naming the shards there are. */
export function shardPair(state: ClusterState, shard: number): { names: Set<string>; nodes: ComponentState[] } {
  const names = new Set([nodeName('master', shard), nodeName('slave', shard)]);
  const nodes = state.components.filter((c) => c.kind === 'memcached' && (c.shard ?? 0) === shard);
  if (nodes.length === 0) {
    throw new CachectlError('USAGE', `cluster "${state.name}" has no shard ${shard}`, { hint: `its shards are: ${shardIndices(state).join(', ')}` });
  }
  return { names, nodes };
}

/** A copy of the state without a removed pair's nodes and links, its shard count updated (the caller writes it). */
export function withoutShard(state: ClusterState, pair: { names: Set<string>; nodes: ComponentState[] }): ClusterState {
  const next: ClusterState = structuredClone(state);
  next.components = next.components.filter((c) => !pair.nodes.some((n) => n.name === c.name));
  next.toxiproxy.links = next.toxiproxy.links.filter((l) => !pair.names.has(l.node));
  next.config = { ...next.config, shards: shardIndices(next).length };
  return next;
}

/** Ports for one more pair: the documented ones (shard-0 port + SHARD_PORT_STEP * index) when all are free, else free ones. */
export async function portsForNewShard(state: ClusterState, index: number): Promise<{ master: number; slave: number; toxiMaster: number; toxiSlave: number; documented: boolean }> {
  const p = state.config.ports;
  const documented = { master: p.master + SHARD_PORT_STEP * index, slave: p.slave + SHARD_PORT_STEP * index, toxiMaster: p.toxiMaster + SHARD_PORT_STEP * index, toxiSlave: p.toxiSlave + SHARD_PORT_STEP * index };
  const used = new Set([...state.components.map((c) => c.endpoint.port), ...state.toxiproxy.links.map((l) => l.listen.port)]);
  const values = Object.values(documented);
  if (values.every((v) => v <= 65535 && !used.has(v))) {
    const free = await Promise.all(values.map((v) => canListen(LOOPBACK, v)));
    if (free.every(Boolean)) return { ...documented, documented: true };
  }
  const [master, slave, toxiMaster, toxiSlave] = await getFreePorts(4);
  return { master, slave, toxiMaster, toxiSlave, documented: false };
}

export class LocalRuntime implements Runtime {
  readonly name = 'local' as const;

  constructor(
    private readonly config?: CachectlConfig,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  async up(input: CachectlConfig, options: UpOptions = {}): Promise<ClusterState> {
    const progress = options.onProgress ?? (() => undefined);
    // Missing binaries are reported before anything starts.
    requireBinary('memcached', this.env);
    requireBinary('toxiproxy-server', this.env);
    if (input.proxy.instances > 0 && !existsSync(BUILT_PROXY_COMMAND)) {
      throw new CachectlError('DEPENDENCY_FAILED', `the cachectl proxy command is not built (${BUILT_PROXY_COMMAND} is missing)`, {
        hint: 'run `npm run build` (or scripts/setup.sh), or start without proxies: --proxies 0',
      });
    }
    const plan = await planPorts(input);
    await checkPortsFree(plan);
    const config = plan.config;
    const { stateDir, name } = config;
    mkdirSync(logDir(stateDir, name), { recursive: true });

    const state: ClusterState = {
      version: 1,
      name,
      runtime: 'local',
      createdAt: new Date().toISOString(),
      config,
      components: [],
      toxiproxy: { api: { host: LOOPBACK, port: config.ports.toxiproxyApi }, links: [] },
      adminToken: config.proxy.adminToken || randomBytes(24).toString('hex'),
    };
    // Written after every start, so `cachectl down` can clean up even if this process dies mid-way.
    const record = (c: ComponentState): void => {
      state.components.push(c);
      writeState(state);
    };

    try {
      for (const n of plan.nodes) {
        checkAborted(options.signal);
        record(await this.startMemcachedNode(state, { name: n.name, kind: 'memcached', role: n.role, shard: n.shard, endpoint: { host: LOOPBACK, port: n.port }, startedAt: '' }));
        progress(`memcached ${n.name} ready on ${LOOPBACK}:${n.port}`);
      }
      checkAborted(options.signal);
      record(await this.startToxiproxyServer(state, { name: 'toxiproxy', kind: 'toxiproxy', endpoint: state.toxiproxy.api, startedAt: '' }));
      state.toxiproxy.links = plan.nodes.map(
        (n): ToxiproxyLink => ({ name: n.name, node: n.name, listen: { host: LOOPBACK, port: n.toxiPort }, upstream: { host: LOOPBACK, port: n.port } }),
      );
      await this.createLinks(state);
      writeState(state);
      progress(`toxiproxy ready on ${hostPort(state.toxiproxy.api)} with links ${state.toxiproxy.links.map((l) => `${l.name}@${l.listen.port}`).join(', ')}`);
      for (const p of plan.proxies) {
        checkAborted(options.signal);
        const c: ComponentState = {
          name: `proxy-${p.index}`,
          kind: 'proxy',
          endpoint: { host: config.proxy.host, port: p.port },
          adminEndpoint: { host: config.proxy.adminHost, port: p.adminPort },
          startedAt: '',
        };
        record(await this.startProxy(state, c));
        progress(`cachectl ${c.name} ready on ${hostPort(c.endpoint)} (admin ${hostPort(c.adminEndpoint as Endpoint)})`);
      }
      checkAborted(options.signal);
    } catch (err) {
      progress(`up failed: stopping the ${state.components.length} component(s) already started`);
      await this.down(state);
      removeState(stateDir, name);
      if (isCachectlError(err)) throw err;
      throw new CachectlError('DEPENDENCY_FAILED', `cachectl up failed: ${(err as Error).message}`, {
        hint: `see the logs in ${logDir(stateDir, name)}`,
        cause: err,
      });
    }
    return state;
  }

  async down(state: ClusterState): Promise<void> {
    // Proxies first (they talk to the rest), then Toxiproxy, then the memcached nodes.
    const order = { proxy: 0, toxiproxy: 1, memcached: 2 } as const;
    const byOrder = [...state.components].sort((a, b) => order[a.kind] - order[b.kind]);
    for (const kind of ['proxy', 'toxiproxy', 'memcached'] as const) {
      await Promise.all(byOrder.filter((c) => c.kind === kind).map((c) => this.stopComponent(c, 'term')));
    }
  }

  async isRunning(state: ClusterState, name: string): Promise<boolean> {
    return isOurProcess(this.component(state, name));
  }

  async stopNode(state: ClusterState, name: string): Promise<ClusterState> {
    await this.stopComponent(this.component(state, name), 'term');
    return this.updated(state, name, { pid: undefined });
  }

  async killNode(state: ClusterState, name: string): Promise<ClusterState> {
    await this.stopComponent(this.component(state, name), 'kill');
    return this.updated(state, name, { pid: undefined });
  }

  /** Start a stopped component again on the same port (memcached comes back empty; Toxiproxy gets its links back). */
  async startNode(state: ClusterState, name: string): Promise<ClusterState> {
    const c = this.component(state, name);
    if (isOurProcess(c)) return state;
    const next: ClusterState = structuredClone(state);
    const idx = next.components.findIndex((x) => x.name === name);
    let started: ComponentState;
    if (c.kind === 'memcached') started = await this.startMemcachedNode(next, { ...c, pid: undefined }, true);
    else if (c.kind === 'toxiproxy') {
      started = await this.startToxiproxyServer(next, { ...c, pid: undefined }, true);
      try {
        await this.createLinks(next);
      } catch (err) {
        await stopPid(started.pid as number);
        throw err;
      }
    } else started = await this.startProxy(next, { ...c, pid: undefined }, true);
    next.components[idx] = started;
    writeState(next);
    return next;
  }

  /** One more master/slave pair with its Toxiproxy links (`cachectl scale add`); both nodes start empty. */
  async addShard(input: ClusterState, options: UpOptions = {}): Promise<{ state: ClusterState; shard: number }> {
    const progress = options.onProgress ?? (() => undefined);
    requireBinary('memcached', this.env);
    const state: ClusterState = structuredClone(input);
    const shard = Math.max(...shardIndices(state)) + 1;
    const ports = await portsForNewShard(state, shard);
    if (!ports.documented) progress(`shard ${shard}: the documented ports are taken, using free ports`);
    mkdirSync(logDir(state.config.stateDir, state.name), { recursive: true });
    const started: ComponentState[] = [];
    const links: ToxiproxyLink[] = [];
    try {
      for (const role of ['master', 'slave'] as const) {
        const name = nodeName(role, shard);
        const c = await this.startMemcachedNode(state, { name, kind: 'memcached', role, shard, endpoint: { host: LOOPBACK, port: role === 'master' ? ports.master : ports.slave }, startedAt: '' });
        started.push(c);
        state.components.push(c);
        writeState(state); // recorded at once, so `cachectl down` stops it even if we die mid-way
        progress(`memcached ${name} ready on ${hostPort(c.endpoint)}`);
      }
      for (const role of ['master', 'slave'] as const) {
        const name = nodeName(role, shard);
        const node = started.find((c) => c.name === name) as ComponentState;
        links.push({ name, node: name, listen: { host: LOOPBACK, port: role === 'master' ? ports.toxiMaster : ports.toxiSlave }, upstream: node.endpoint });
      }
      await createToxiproxyLinks(state.toxiproxy.api, links);
      state.toxiproxy.links.push(...links);
      state.config = { ...state.config, shards: shardIndices(state).length };
      writeState(state);
      progress(`toxiproxy links ${links.map((l) => `${l.name}@${l.listen.port}`).join(', ')} ready`);
      return { state, shard };
    } catch (err) {
      progress(`adding shard ${shard} failed: stopping what was started`);
      await removeToxiproxyLinks(state.toxiproxy.api, links.map((l) => l.name)).catch(() => undefined);
      await Promise.all(started.map((c) => this.stopComponent(c, 'term')));
      const names = new Set(started.map((c) => c.name));
      writeState({ ...input, components: input.components.filter((c) => !names.has(c.name)) });
      throw err;
    }
  }

  /** Remove a pair's Toxiproxy links and stop its nodes (`cachectl scale remove`, after the proxies moved off it). */
  async removeShard(input: ClusterState, shard: number, options: UpOptions = {}): Promise<ClusterState> {
    const progress = options.onProgress ?? (() => undefined);
    const { names, nodes } = shardPair(input, shard);
    const links = input.toxiproxy.links.filter((l) => names.has(l.node));
    await removeToxiproxyLinks(input.toxiproxy.api, links.map((l) => l.name));
    progress(`toxiproxy links ${links.map((l) => l.name).join(', ')} removed`);
    await Promise.all(nodes.map((c) => this.stopComponent(c, 'term')));
    progress(`memcached ${nodes.map((c) => c.name).join(', ')} stopped`);
    const next = withoutShard(input, { names, nodes });
    writeState(next);
    return next;
  }

  // ----- internals ----------------------------------------------------------------------------

  private component(state: ClusterState, name: string): ComponentState {
    return requireComponent(state, name);
  }

  private updated(state: ClusterState, name: string, patch: Partial<ComponentState>): ClusterState {
    const next = withComponentPatch(state, name, patch);
    // A process-backed component without a new pid is not running: drop the stale one.
    const patched = next.components.find((x) => x.name === name);
    if (patch.pid === undefined && patched) delete patched.pid;
    writeState(next);
    return next;
  }

  private async stopComponent(c: ComponentState, how: 'term' | 'kill'): Promise<void> {
    if (c.pid === undefined || !isOurProcess(c)) return;
    if (how === 'kill') await killPid(c.pid);
    else await stopPid(c.pid, 3000);
  }

  private async startMemcachedNode(state: ClusterState, c: ComponentState, restart = false): Promise<ComponentState> {
    const m = state.config.memcached;
    const logFile = logFilePath(state.config.stateDir, state.name, c.name);
    if (!restart) freshLog(logFile, `memcached ${c.name}`);
    const proc = await startMemcached({
      host: c.endpoint.host,
      port: c.endpoint.port,
      memoryMb: m.memoryMb,
      maxItemSize: m.maxItemSize,
      threads: m.threads,
      maxConnections: m.maxConnections,
      logFile,
      detached: true,
      env: this.env,
    }).catch((err: unknown) => {
      throw this.startError(err, `memcached ${c.name}`, c.endpoint, logFile);
    });
    return { ...c, pid: proc.pid, logFile, startedAt: new Date().toISOString() };
  }

  private async startToxiproxyServer(state: ClusterState, c: ComponentState, restart = false): Promise<ComponentState> {
    const logFile = logFilePath(state.config.stateDir, state.name, c.name);
    if (!restart) freshLog(logFile, 'toxiproxy-server');
    const proc = await startToxiproxy({ host: c.endpoint.host, port: c.endpoint.port, logFile, detached: true, env: this.env }).catch((err: unknown) => {
      throw this.startError(err, 'toxiproxy-server', c.endpoint, logFile);
    });
    return { ...c, pid: proc.pid, logFile, startedAt: new Date().toISOString() };
  }

  private startError(err: unknown, what: string, at: Endpoint, logFile: string): CachectlError {
    if (isCachectlError(err) && err.code === 'BINARY_MISSING') return err;
    const msg = err instanceof Error ? err.message : String(err);
    return new CachectlError(isCachectlError(err) && err.code === 'TIMEOUT' ? 'TIMEOUT' : 'DEPENDENCY_FAILED', `${what} did not start on ${hostPort(at)}: ${msg}${logTail(logFile)}`, {
      hint: `see ${logFile}; if the port is taken pick another or use --free-ports`,
      details: { component: what, endpoint: hostPort(at), logFile },
      cause: err,
    });
  }

  /** One Toxiproxy proxy per memcached node (shared with the docker runtime). */
  private async createLinks(state: ClusterState): Promise<void> {
    await createToxiproxyLinks(state.toxiproxy.api, state.toxiproxy.links);
  }

  /** Arguments of `cachectl proxy` for one instance; the flags are the proxy command's interface. */
  proxyArgs(state: ClusterState, c: ComponentState): string[] {
    const p = state.config.proxy;
    const link = (node: string): string => hostPort((state.toxiproxy.links.find((l) => l.node === node) as ToxiproxyLink).listen);
    const admin = c.adminEndpoint as Endpoint;
    // One pair: --master/--slave. Several shards: one --shard name=master/slave per pair. The pairs
    // are the ones the state holds now (`cachectl scale` adds and removes them, so indices can have gaps).
    const shards = shardIndices(state);
    const backends =
      shards.length === 1 && shards[0] === 0
        ? ['--master', link(nodeName('master', 0)), '--slave', link(nodeName('slave', 0))]
        : shards.flatMap((s) => ['--shard', `shard-${s}=${link(nodeName('master', s))}/${link(nodeName('slave', s))}`]);
    return [
      'proxy',
      '--name', c.name,
      '--host', c.endpoint.host,
      '--port', String(c.endpoint.port),
      '--admin-host', admin.host,
      '--admin-port', String(admin.port),
      ...backends,
      '--read-policy', p.readPolicy,
      '--mitigation', p.mitigation,
      '--replication', p.replication,
      '--failover', p.failover,
      '--failover-threshold', String(p.failoverThreshold),
      '--timeout-ms', String(p.timeoutMs),
      '--down-after', String(p.downAfterFailures),
      '--probe-interval-ms', String(p.probeIntervalMs),
      '--max-item-size', state.config.memcached.maxItemSize,
      '--pending-log', join(clusterDir(state.config.stateDir, state.name), `${c.name}.pending`),
      // only when not the default, so single-process proxies keep today's exact command line
      ...(p.workers !== undefined && p.workers !== 1 ? ['--workers', String(p.workers)] : []),
    ];
  }

  private async startProxy(state: ClusterState, c: ComponentState, restart = false): Promise<ComponentState> {
    const logFile = logFilePath(state.config.stateDir, state.name, c.name);
    if (!restart) {
      freshLog(logFile, `cachectl ${c.name}`);
      // A new cluster starts with no pending invalidations from an old one.
      rmSync(join(clusterDir(state.config.stateDir, state.name), `${c.name}.pending`), { force: true });
      // a multi-worker proxy keeps one log per worker: <name>.pending.w<i>
      for (let i = 0; i < 64; i++) rmSync(join(clusterDir(state.config.stateDir, state.name), `${c.name}.pending.w${i}`), { force: true });
    }
    const proc = spawnManaged(process.execPath, [CLI_ENTRY, ...this.proxyArgs(state, c)], {
      logFile,
      detached: true,
      env: { ...this.env, CACHECTL_ADMIN_TOKEN: state.adminToken, NO_COLOR: '1' },
    });
    const admin = c.adminEndpoint as Endpoint;
    const deadline = Date.now() + PROXY_START_TIMEOUT_MS;
    for (;;) {
      if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
        throw new CachectlError('DEPENDENCY_FAILED', `cachectl ${c.name} exited with ${proc.child.exitCode ?? proc.child.signalCode} before it was healthy${logTail(logFile)}`, {
          hint: `see ${logFile}`,
          details: { component: c.name, logFile },
        });
      }
      if (await proxyHealthy(admin)) break;
      if (Date.now() >= deadline) {
        await proc.kill();
        throw new CachectlError('TIMEOUT', `cachectl ${c.name} did not answer GET http://${hostPort(admin)}/health within ${PROXY_START_TIMEOUT_MS} ms${logTail(logFile)}`, {
          hint: `see ${logFile}`,
          details: { component: c.name, logFile },
        });
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return { ...c, pid: proc.pid, logFile, startedAt: new Date().toISOString() };
  }
}
