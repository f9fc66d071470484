import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { CachectlError } from '../errors.js';
import { createAdminServer, type AdminTarget } from './admin.js';
import { WORKER_INIT_ENV, type PrimaryToWorker, type WorkerInit, type WorkerToPrimary } from './cluster-messages.js';
import type { ProxyRuntimeConfig } from './config.js';
import { nextConfig, promotedConfig } from './engine.js';
import { listen, type ProxyOptions } from './server.js';
import type { Counters, NodeStatsView, ProxyStatsView } from './stats.js';

/**
 * `cachectl proxy --workers N`: N worker processes (node:cluster) accept clients on one port,
 * each with its own engine and backend connections, so the proxy uses more than one core.
 *
 * One proxy as far as anyone can tell:
 * - the primary owns the single config/epoch and serves the admin API. PUT /config is validated
 *   once here (a stale or bad update is refused before any worker hears of it), then applied to
 *   every worker; 200 only after each one acknowledged (a worker that does not is replaced by
 *   one started with the new config, and the answer waits for that one).
 * - auto failover: the worker that trips it asks the primary, which promotes once (a request
 *   made at an older epoch is moot) and applies the new epoch to every worker.
 * - pending invalidations: each worker owns `<pending-log>.w<i>` (replayed by the worker that
 *   restarts with index i), so every owed delete stays durable with no cross-process file
 *   writes. What each log owes is mirrored (via the primary) to every other worker, which then
 *   reads such a key from the master only, as one proxy would; with sync replication the client
 *   hears STORED only after every worker knows (failure path only: no cost when the slave is fine).
 * - GET /stats and /metrics add up every worker; a worker that dies is restarted with the
 *   current config; SIGTERM drains every worker, then the primary exits.
 */

export interface RunningCluster {
  port: number;
  adminPort: number;
  workers: number;
  /** current pids by worker index (tests kill one to check restarts) */
  workerPids(): number[];
  getConfig(): ProxyRuntimeConfig;
  stop(drainMs?: number): Promise<void>;
}

interface Slot {
  index: number;
  worker: Worker | null;
  ready: boolean;
  epoch: number;
  restarts: number;
}

const ACK_TIMEOUT_MS = 3000;
const UPDATE_DEADLINE_MS = 20_000;
const STATS_TIMEOUT_MS = 2000;

function workerEntry(): { exec: string; execArgv: string[] } {
  // from dist/ the worker is plain JS; from src/ (tests, tsx) it needs the tsx loader
  const fromSource = import.meta.url.endsWith('.ts');
  const exec = fileURLToPath(new URL(fromSource ? './cluster-worker.ts' : './cluster-worker.js', import.meta.url));
  return { exec, execArgv: fromSource ? ['--import', 'tsx'] : [] };
}

function sumCounters(a: Counters, b: Counters): Counters {
  return { requests: a.requests + b.requests, errors: a.errors + b.errors, timeouts: a.timeouts + b.timeouts, hits: a.hits + b.hits, misses: a.misses + b.misses };
}

/** One view of all workers: counters add up; a node is up only if every worker sees it up. */
export function mergeStats(name: string, epoch: number, startedAt: number, views: ProxyStatsView[], failovers: number): ProxyStatsView {
  const commands: Record<string, Counters> = {};
  const nodes = new Map<string, NodeStatsView>();
  const out: ProxyStatsView = {
    name,
    epoch,
    uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
    connections: { current: 0, total: 0 },
    commands,
    nodes: [],
    replication: { replicated: 0, failures: 0, pendingInvalidations: 0, invalidationsLanded: 0, proxyDeletes: 0 },
    masterFailures: 0,
    failovers,
    writesRefusedFenced: 0,
    memory: { rssBytes: 0, heapUsedBytes: 0, externalBytes: 0, arrayBuffersBytes: 0 },
  };
  for (const v of views) {
    out.connections.current += v.connections.current;
    out.connections.total += v.connections.total;
    for (const [cmd, c] of Object.entries(v.commands)) commands[cmd] = commands[cmd] ? sumCounters(commands[cmd], c) : { ...c };
    for (const n of v.nodes) {
      const id = `${n.shard} ${n.role} ${n.node}`;
      const prev = nodes.get(id);
      if (!prev) nodes.set(id, { ...n });
      else {
        nodes.set(id, {
          ...prev,
          ...sumCounters(prev, n),
          up: prev.up && n.up,
          consecutiveFailures: Math.max(prev.consecutiveFailures, n.consecutiveFailures),
          inFlight: prev.inFlight + n.inFlight,
        });
      }
    }
    for (const k of ['replicated', 'failures', 'pendingInvalidations', 'invalidationsLanded', 'proxyDeletes'] as const) out.replication[k] += v.replication[k];
    out.masterFailures += v.masterFailures;
    out.failovers += v.failovers;
    out.writesRefusedFenced += v.writesRefusedFenced;
    for (const k of Object.keys(out.memory) as (keyof ProxyStatsView['memory'])[]) out.memory[k] += v.memory[k];
  }
  out.nodes = [...nodes.values()];
  const m = process.memoryUsage();
  out.memory.rssBytes += m.rss;
  out.memory.heapUsedBytes += m.heapUsed;
  return out;
}

export async function startProxyCluster(options: ProxyOptions, log: (line: string) => void = () => undefined): Promise<RunningCluster> {
  const n = options.workers ?? 1;
  if (!cluster.isPrimary) throw new CachectlError('INTERNAL', 'a proxy worker cannot start workers of its own');
  const { exec, execArgv } = workerEntry();
  cluster.setupPrimary({ exec, execArgv, args: [], silent: false });
  const startedAt = Date.now();
  /** the config every worker has acknowledged (GET /config) */
  let committed = structuredClone(options.config);
  /** the config new workers start with: ahead of committed while an update is being applied */
  let latest = committed;
  let failovers = 0;
  let port = options.port;
  let stopping = false;
  let nextId = 1;
  const slots: Slot[] = Array.from({ length: n }, (_, index) => ({ index, worker: null, ready: false, epoch: 0, restarts: 0 }));
  const replies = new Map<number, (m: WorkerToPrimary) => void>();
  /** per index: wait until that slot runs at least this epoch */
  const epochWaiters = new Map<number, { epoch: number; resolve: () => void }>();
  /** invalidations each worker's log owes (mirrored to every other worker) */
  const owedBy = new Map<number, Set<string>>(slots.map((s) => [s.index, new Set<string>()]));
  /** owed-barrier in progress: origin worker + its barrier id, waiting for these indexes */
  const barriers = new Map<number, { origin: Slot; originId: number; waiting: Set<number> }>();
  const barrierAck = (id: number, index: number): void => {
    const b = barriers.get(id);
    if (!b) return;
    b.waiting.delete(index);
    if (b.waiting.size === 0) {
      barriers.delete(id);
      send(b.origin, { t: 'owed-barrier-done', id: b.originId });
    }
  };
  let startup: { resolve: (p: number) => void; reject: (e: Error) => void; index: number } | null = null;

  const reached = (slot: Slot): void => {
    const w = epochWaiters.get(slot.index);
    if (w && slot.ready && slot.epoch >= w.epoch) {
      epochWaiters.delete(slot.index);
      w.resolve();
    }
  };

  // config changes (PUT and promotions) run one at a time, in order
  let chain: Promise<unknown> = Promise.resolve();
  const serialized = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = chain.then(fn, fn);
    chain = run.catch(() => undefined);
    return run;
  };

  const onMessage = (slot: Slot, m: WorkerToPrimary): void => {
    switch (m.t) {
      case 'hello': {
        // what the others owe, answered before the worker's listen request (same channel, in order)
        const entries: [number, string][] = [];
        for (const [from, ids] of owedBy) if (from !== slot.index) for (const id of ids) entries.push([from, id]);
        send(slot, { t: 'owed-init', entries });
        return;
      }
      case 'ready': {
        // the restarted worker's log is the truth for what it owes
        owedBy.set(slot.index, new Set(m.owed));
        for (const other of slots) if (other !== slot) send(other, { t: 'owed-reset', from: slot.index, ids: m.owed });
        slot.ready = true;
        slot.epoch = m.epoch;
        if (startup && startup.index === slot.index) startup.resolve(m.port);
        // forked before an update was broadcast? bring it forward
        if (m.epoch < latest.epoch) send(slot, { t: 'apply', id: 0, config: latest });
        reached(slot);
        return;
      }
      case 'owed': {
        const set = owedBy.get(slot.index)!;
        if (m.op === '+') set.add(m.id);
        else set.delete(m.id);
        for (const other of slots) if (other !== slot) send(other, { t: 'owed', from: slot.index, op: m.op, id: m.id });
        return;
      }
      case 'owed-barrier': {
        const id = nextId++;
        const waiting = new Set(slots.filter((o) => o !== slot && o.worker?.isConnected()).map((o) => o.index));
        barriers.set(id, { origin: slot, originId: m.id, waiting: new Set(waiting) });
        if (waiting.size === 0) return barrierAck(id, -1);
        for (const o of slots) if (waiting.has(o.index)) send(o, { t: 'owed-barrier', id });
        return;
      }
      case 'owed-barrier-ack':
        return barrierAck(m.id, slot.index);
      case 'failed':
        if (startup && startup.index === slot.index) startup.reject(new CachectlError(m.code as never, m.message, { hint: m.hint }));
        else log(`proxy worker ${slot.index} failed to start: ${m.message}`);
        return;
      case 'applied':
        slot.epoch = m.epoch;
        if (!m.ok) {
          log(`proxy worker ${slot.index} could not apply epoch ${latest.epoch} (${m.message ?? 'epoch mismatch'}): restarting it with that config`);
          slot.worker?.process.kill('SIGKILL');
          return;
        }
        reached(slot);
        replies.get(m.id)?.(m);
        return;
      case 'stats':
        replies.get(m.id)?.(m);
        return;
      case 'promote':
        void serialized(async () => {
          if (m.epoch !== latest.epoch) return; // another worker's request (or a PUT) moved on already
          const next = promotedConfig(latest, m.shard);
          if (!next) return;
          failovers++;
          log(`auto failover: worker ${m.index} saw the master of ${m.shard} fail; promoting its slave at epoch ${next.epoch}`);
          await applyEverywhere(next);
        }).catch((err: unknown) => log(`auto failover could not be applied: ${(err as Error).message}`));
        return;
    }
  };

  function send(slot: Slot, m: PrimaryToWorker): void {
    const w = slot.worker;
    if (w && w.isConnected()) w.send(m);
  }

  function fork(slot: Slot): void {
    const init: WorkerInit = {
      index: slot.index,
      options: {
        name: options.name,
        host: options.host,
        // the requested port, not the one it resolved to: cluster shares one listening handle per
        // (host, requested port), so with port 0 every worker joins the first one's free port
        port: options.port,
        adminHost: options.adminHost,
        adminPort: 0,
        config: latest,
        pendingLogFile: options.pendingLogFile ? `${options.pendingLogFile}.w${slot.index}` : undefined,
        maxValueLength: options.maxValueLength,
        clientIdleTimeoutMs: options.clientIdleTimeoutMs,
      },
    };
    const w = cluster.fork({ [WORKER_INIT_ENV]: JSON.stringify(init) });
    slot.worker = w;
    slot.ready = false;

    w.on('message', (m: WorkerToPrimary) => onMessage(slot, m));
    w.on('error', (err) => log(`proxy worker ${slot.index}: ${err.message}`)); // e.g. EPIPE sending to a dying worker
    w.on('exit', (code, signal) => {
      if (slot.worker !== w) return;
      slot.worker = null;
      slot.ready = false;
      // a dead worker acknowledges no barrier; what its log owes stays owed (it replays it)
      for (const [id] of barriers) barrierAck(id, slot.index);
      if (startup && startup.index === slot.index) {
        startup.reject(new CachectlError('DEPENDENCY_FAILED', `proxy worker ${slot.index} exited during start (${signal ?? `code ${code}`})`));
        return;
      }
      if (stopping) return;
      slot.restarts++;
      const delay = Math.min(5000, 100 * 2 ** Math.min(6, slot.restarts - 1));
      log(`proxy worker ${slot.index} exited (${signal ?? `code ${code}`}); restarting it in ${delay} ms`);
      setTimeout(() => {
        if (!stopping && !slot.worker) fork(slot);
      }, delay).unref();
    });
  }

  async function startSlot(slot: Slot): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      startup = { resolve, reject, index: slot.index };
      fork(slot);
    }).finally(() => {
      startup = null;
    });
  }

  /** Send `next` to every worker; resolve when each runs it (or its replacement started with it). */
  async function applyEverywhere(next: ProxyRuntimeConfig): Promise<void> {
    latest = next;
    const deadline = Date.now() + UPDATE_DEADLINE_MS;
    await Promise.all(
      slots.map(
        (slot) =>
          new Promise<void>((resolve, reject) => {
            const timers: NodeJS.Timeout[] = [];
            const finish = (err?: Error): void => {
              for (const t of timers) clearTimeout(t);
              if (err) reject(err);
              else resolve();
            };
            epochWaiters.set(slot.index, { epoch: next.epoch, resolve: () => finish() });
            // a worker that does not acknowledge is replaced; its replacement starts with `next`
            timers.push(
              setTimeout(() => {
                if (epochWaiters.has(slot.index)) {
                  log(`proxy worker ${slot.index} did not acknowledge epoch ${next.epoch} within ${ACK_TIMEOUT_MS} ms: restarting it`);
                  slot.worker?.process.kill('SIGKILL');
                }
              }, ACK_TIMEOUT_MS),
              setTimeout(() => {
                epochWaiters.delete(slot.index);
                finish(new CachectlError('TIMEOUT', `proxy worker ${slot.index} did not take epoch ${next.epoch} within ${UPDATE_DEADLINE_MS} ms`, { hint: 'check the proxy log; GET /stats shows each worker' }));
              }, Math.max(0, deadline - Date.now())),
            );
            if (slot.ready && slot.epoch >= next.epoch) return reached(slot);
            send(slot, { t: 'apply', id: nextId++, config: next });
          }),
      ),
    );
    committed = next;
  }

  async function collectStats(): Promise<{ index: number; view: ProxyStatsView }[]> {
    const live = slots.filter((s) => s.ready && s.worker);
    const views = await Promise.all(
      live.map(
        (slot) =>
          new Promise<{ index: number; view: ProxyStatsView } | null>((resolve) => {
            const id = nextId++;
            const t = setTimeout(() => {
              replies.delete(id);
              resolve(null);
            }, STATS_TIMEOUT_MS);
            replies.set(id, (m) => {
              clearTimeout(t);
              replies.delete(id);
              resolve(m.t === 'stats' ? { index: slot.index, view: m.view } : null);
            });
            send(slot, { t: 'stats', id });
          }),
      ),
    );
    return views.filter((v): v is { index: number; view: ProxyStatsView } => v !== null);
  }

  const target: AdminTarget = {
    name: options.name,
    epoch: () => committed.epoch,
    getConfig: () => structuredClone(committed),
    statsView: async () => {
      const views = await collectStats();
      const merged = mergeStats(options.name, committed.epoch, startedAt, views.map((v) => v.view), failovers);
      const connectionsOf = (i: number): { current: number; total: number } => views.find((v) => v.index === i)?.view.connections ?? { current: 0, total: 0 };
      merged.workers = slots.map((s) => ({ index: s.index, pid: s.worker?.process.pid ?? null, up: s.ready, epoch: s.epoch, restarts: s.restarts, connections: connectionsOf(s.index), owedByOthers: views.find((v) => v.index === s.index)?.view.replication.owedByOtherWorkers ?? 0 }));
      return merged;
    },
    update: (body) =>
      serialized(async () => {
        const next = nextConfig(latest, body); // throws for a bad or stale update: nobody hears of it
        await applyEverywhere(next);
        return structuredClone(next);
      }),
  };

  const killAll = (): void => {
    for (const s of slots) s.worker?.process.kill('SIGKILL');
  };
  try {
    // the first worker binds (port 0 picks a free one); the others join that port
    port = await startSlot(slots[0]);
    for (const slot of slots.slice(1)) await startSlot(slot);
  } catch (err) {
    stopping = true;
    killAll();
    throw err;
  }
  const admin = createAdminServer({ target, token: options.adminToken });
  let adminPort: number;
  try {
    adminPort = await listen(admin, options.adminHost, options.adminPort, 'the admin API');
  } catch (err) {
    stopping = true;
    killAll();
    throw err;
  }

  let stopped: Promise<void> | undefined;
  const stop = (drainMs = 2000): Promise<void> =>
    (stopped ??= (async () => {
      stopping = true;
      admin.close();
      const exits = slots
        .map((s) => s.worker)
        .filter((w): w is Worker => w !== null && w.process.exitCode === null && w.process.signalCode === null)
        .map((w) => new Promise<void>((r) => w.once('exit', () => r())));
      for (const s of slots) send(s, { t: 'stop', drainMs });
      const deadline = setTimeout(killAll, drainMs + 3000);
      await Promise.all(exits);
      clearTimeout(deadline);
      admin.closeAllConnections();
    })());

  return {
    port,
    adminPort,
    workers: n,
    workerPids: () => slots.map((s) => s.worker?.process.pid ?? 0),
    getConfig: () => structuredClone(committed),
    stop,
  };
}
