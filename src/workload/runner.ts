import { randomBytes } from 'node:crypto';
import { MemjsCacheClient, endpointText } from '../client/memjs-client.js';
import { isCacheClientError, type CacheClient } from '../client/types.js';
import { CachectlError } from '../errors.js';
import type { Endpoint } from '../runtime/types.js';
import { systemClock, type Clock } from '../util/clock.js';
import { isPortOpen } from '../util/net.js';
import { openSourceOfTruth, type SourceOfTruth } from './database.js';
import { History, type HistoryOp, type Outcome } from './history.js';
import { createRng, deriveSeed, uniformPicker, zipfianPicker, type KeyPicker, type Rng } from './random.js';
import { decodeValue, encodeValue } from './value.js';

/**
 * The CAS workload (DESIGN.md section 5): N clients run cache-aside traffic against the proxy
 * (or a memcached node directly) with a source-of-truth database, recording every operation.
 *
 * update: commit version+1 in the database, then gets+cas on the master through the proxy
 *         (add when the key is missing; retry on EXISTS/NOT_STORED only while the cache holds an
 *         older version; never overwrite a newer version). With `client-short-ttl`, a failed or
 *         unknown master write is followed by a conditional write of the new version straight to
 *         the slave with a short TTL.
 * read:   cache get; on a miss load from the database and `add` it (never overwriting).
 */

export type Distribution = 'uniform' | 'zipfian';
export type ClientMitigation = 'none' | 'client-short-ttl';
export const DISTRIBUTIONS: readonly Distribution[] = ['uniform', 'zipfian'];
export const CLIENT_MITIGATIONS: readonly ClientMitigation[] = ['none', 'client-short-ttl'];

/** Hard limits so a run is always bounded in count and time. */
export const WORKLOAD_LIMITS = {
  maxOps: 5_000_000,
  /** default op cap for duration-limited runs */
  defaultDurationOpCap: 2_000_000,
  maxDurationMs: 6 * 3600_000,
  /** default time cap for op-limited runs */
  defaultOpsDurationCapMs: 3600_000,
  maxClients: 1024,
  maxKeys: 10_000_000,
  maxValueSize: 1024 * 1024 - 512,
} as const;

export interface WorkloadOptions {
  /** Where clients send reads and CAS writes: the cachectl proxies (clients spread round-robin), or a memcached node. */
  proxy: Endpoint[];
  /** What `proxy` points at, for the history's node field ('proxy' unless told otherwise; 'server' = an address the user gave). */
  target?: 'proxy' | 'master' | 'server';
  /** The slave, reached directly: needed by the client-short-ttl mitigation. */
  slaveDirect?: Endpoint;
  clients: number;
  durationMs?: number;
  ops?: number;
  keys: number;
  /** key names are `${keyPrefix}${index}`; default `wl:<random run id>:` so runs don't see each other's leftovers */
  keyPrefix?: string;
  distribution: Distribution;
  /** fraction of operations that are reads, 0..1 */
  readRatio: number;
  /** bytes per cache value */
  valueSize: number;
  seed: number;
  mitigation: ClientMitigation;
  /** TTL (s) of client-short-ttl writes to the slave */
  shortTtlSeconds: number;
  /** per cache request deadline */
  timeoutMs: number;
  /** database path (':memory:' or a file) or an open SourceOfTruth the caller keeps */
  database?: string | SourceOfTruth;
  signal?: AbortSignal;
  clock?: Clock;
  /** throttle the whole run to about this many logical ops per second (default: as fast as possible) */
  opsPerSecond?: number;
  /** CAS attempts per update before giving up on contention (default 16) */
  maxCasAttempts?: number;
  /** check the endpoints accept connections before starting (default true) */
  preflight?: boolean;
  /** swap the cache client (tests) */
  clientFactory?: (endpoint: Endpoint, timeoutMs: number) => CacheClient;
}

export interface SecondStats {
  /** seconds since start (1 = the first second) */
  second: number;
  ops: number;
  reads: number;
  updates: number;
  fails: number;
  unknowns: number;
  hits: number;
  misses: number;
  dbReads: number;
  /** cache reads this second that returned an older version than an update that had completed
   *  before the read began (the checker's definition, counted live for progress lines) */
  staleReads: number;
  totalOps: number;
  elapsedMs: number;
}

export interface WorkloadHooks {
  onSecond?(stats: SecondStats): void;
}

export type StopReason = 'duration' | 'ops' | 'abort' | 'op-cap' | 'time-cap' | 'history-full';

export interface WorkloadResult {
  seed: number;
  keyPrefix: string;
  keyCount: number;
  /** wall-clock ms when the run started (history times are relative to it) */
  startedAtMs: number;
  durationMs: number;
  stoppedBy: StopReason;
  history: History;
  counts: { ops: number; reads: number; updates: number; ok: number; fail: number; unknown: number; hits: number; misses: number; cacheWrites: number; slaveWrites: number };
  opsPerSecond: number;
  db: { reads: number; commits: number };
  options: Omit<WorkloadOptions, 'database' | 'signal' | 'clock' | 'clientFactory'> & { database: string };
}

export function workloadKeyName(prefix: string, index: number): string {
  return `${prefix}${index}`;
}

export function workloadKeyNames(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => workloadKeyName(prefix, i));
}

export function newRunPrefix(): string {
  return `wl:${randomBytes(4).toString('hex')}:`;
}

function validate(o: WorkloadOptions): void {
  const bad = (message: string, hint: string): never => {
    throw new CachectlError('USAGE', message, { hint });
  };
  if (!Array.isArray(o.proxy) || o.proxy.length === 0) bad('the workload needs at least one endpoint to talk to', 'start the cluster with `cachectl up`, or pass --servers host:port');
  if (!Number.isInteger(o.clients) || o.clients < 1 || o.clients > WORKLOAD_LIMITS.maxClients) bad(`clients must be an integer 1..${WORKLOAD_LIMITS.maxClients}, got ${o.clients}`, 'pass e.g. --clients 8');
  if (o.durationMs === undefined && o.ops === undefined) bad('the workload needs a duration or an op count', 'pass --duration 10s or --ops 10000');
  if (o.durationMs !== undefined && (!(o.durationMs > 0) || o.durationMs > WORKLOAD_LIMITS.maxDurationMs)) bad(`duration must be between 1 ms and ${WORKLOAD_LIMITS.maxDurationMs / 3600_000} h, got ${o.durationMs} ms`, 'pass e.g. --duration 10s');
  if (o.ops !== undefined && (!Number.isInteger(o.ops) || o.ops < 1 || o.ops > WORKLOAD_LIMITS.maxOps)) bad(`ops must be an integer 1..${WORKLOAD_LIMITS.maxOps}, got ${o.ops}`, 'pass e.g. --ops 10000');
  if (!Number.isInteger(o.keys) || o.keys < 1 || o.keys > WORKLOAD_LIMITS.maxKeys) bad(`keys must be an integer 1..${WORKLOAD_LIMITS.maxKeys}, got ${o.keys}`, 'pass e.g. --keys 1000');
  if (!(o.readRatio >= 0 && o.readRatio <= 1)) bad(`read ratio must be between 0 and 1, got ${o.readRatio}`, 'pass e.g. --read-ratio 0.9');
  if (!Number.isInteger(o.valueSize) || o.valueSize < 1 || o.valueSize > WORKLOAD_LIMITS.maxValueSize) bad(`value size must be an integer 1..${WORKLOAD_LIMITS.maxValueSize} bytes, got ${o.valueSize}`, 'pass e.g. --value-size 100');
  if (!DISTRIBUTIONS.includes(o.distribution)) bad(`unknown distribution ${JSON.stringify(o.distribution)}`, `pick one of: ${DISTRIBUTIONS.join(', ')}`);
  if (!CLIENT_MITIGATIONS.includes(o.mitigation)) bad(`unknown client mitigation ${JSON.stringify(o.mitigation)}`, `pick one of: ${CLIENT_MITIGATIONS.join(', ')}`);
  if (o.mitigation === 'client-short-ttl' && !o.slaveDirect) bad('client-short-ttl writes the slave directly, but no slave endpoint was given', 'run against a cluster started with `cachectl up` (it knows the slave), or pass the slave endpoint');
  if (!Number.isInteger(o.shortTtlSeconds) || o.shortTtlSeconds < 1 || o.shortTtlSeconds > 30 * 24 * 3600) bad(`short TTL must be 1 s..30 days, got ${o.shortTtlSeconds}`, 'pass e.g. --short-ttl 5');
  if (!Number.isInteger(o.timeoutMs) || o.timeoutMs < 1 || o.timeoutMs > 600_000) bad(`timeout must be 1..600000 ms, got ${o.timeoutMs}`, 'pass e.g. --timeout-ms 500');
  if (!Number.isInteger(o.seed) || o.seed < 0 || o.seed > 0xffffffff) bad(`seed must be an integer 0..4294967295, got ${o.seed}`, 'pass e.g. --seed 42');
  if (o.opsPerSecond !== undefined && !(o.opsPerSecond > 0)) bad(`ops per second must be positive, got ${o.opsPerSecond}`, 'leave it out to run as fast as possible');
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** ok / fail / unknown for a cache mutation that threw. */
function mutationOutcome(err: unknown): Outcome {
  if (isCacheClientError(err)) return err.maybeApplied ? 'unknown' : 'fail';
  return 'unknown';
}

/** Running totals; each second's SecondStats is the difference of two snapshots. */
type LiveCounters = Pick<SecondStats, 'ops' | 'reads' | 'updates' | 'fails' | 'unknowns' | 'hits' | 'misses' | 'staleReads'>;

export async function runWorkload(options: WorkloadOptions, hooks: WorkloadHooks = {}): Promise<WorkloadResult> {
  validate(options);
  const clock = options.clock ?? systemClock;
  const keyPrefix = options.keyPrefix ?? newRunPrefix();
  const keyNames = workloadKeyNames(keyPrefix, options.keys);
  const nodeLabel = options.target ?? 'proxy';
  const maxCasAttempts = options.maxCasAttempts ?? 16;

  if (options.preflight !== false && !options.clientFactory) {
    const targets = [...options.proxy.map((e) => ({ e, what: nodeLabel })), ...(options.mitigation === 'client-short-ttl' && options.slaveDirect ? [{ e: options.slaveDirect, what: 'slave' }] : [])];
    for (const { e, what } of targets) {
      if (!(await isPortOpen(e.host, e.port, Math.max(500, options.timeoutMs)))) {
        throw new CachectlError('DEPENDENCY_UNREACHABLE', `the ${what} at ${endpointText(e)} does not accept connections`, {
          hint: what === 'proxy' ? 'start the cluster with `cachectl up` (check `cachectl status`), or target memcached with --target master' : 'check that memcached is running there (`cachectl status`)',
          details: { endpoint: endpointText(e), what },
        });
      }
    }
  }

  const { db, owned } = openSourceOfTruth(options.database);
  const dbPath = typeof options.database === 'string' ? options.database : options.database ? 'instance' : ':memory:';
  const dbReadsAtStart = db.counters.reads;
  const dbCommitsAtStart = db.counters.commits;
  const factory = options.clientFactory ?? ((e: Endpoint, t: number) => new MemjsCacheClient(e, { timeoutMs: t }));
  const cacheClients: CacheClient[] = [];
  const slaveClients: CacheClient[] = [];

  const opCap = options.ops ?? Math.min(WORKLOAD_LIMITS.defaultDurationOpCap, WORKLOAD_LIMITS.maxOps);
  const timeCap = options.durationMs ?? WORKLOAD_LIMITS.defaultOpsDurationCapMs;
  const history = new History({}, Math.max(1000, opCap * (options.mitigation === 'client-short-ttl' ? 6 : 4)));
  const startedAtMs = clock.now();
  const t0 = clock.monotonic();
  const now = (): number => clock.monotonic() - t0;
  const live: LiveCounters = { ops: 0, reads: 0, updates: 0, fails: 0, unknowns: 0, hits: 0, misses: 0, staleReads: 0 };
  // Newest version per key whose update had completed: a read that began after it and returned less is stale.
  const completedVersion = new Map<string, number>();
  const counts = { ok: 0, fail: 0, unknown: 0, cacheWrites: 0, slaveWrites: 0 };
  let issued = 0;
  let stoppedBy: StopReason | undefined;
  const stop = (why: StopReason): void => {
    stoppedBy ??= why;
  };
  const onAbort = (): void => stop('abort');
  if (options.signal?.aborted) stop('abort');
  options.signal?.addEventListener('abort', onAbort, { once: true });

  const record = (op: HistoryOp): void => {
    if (!history.record(op)) stop('history-full');
  };

  const pick: KeyPicker = options.distribution === 'zipfian' ? zipfianPicker(options.keys) : uniformPicker(options.keys);

  for (let i = 0; i < options.clients; i++) {
    cacheClients.push(factory(options.proxy[i % options.proxy.length], options.timeoutMs));
    if (options.mitigation === 'client-short-ttl' && options.slaveDirect) slaveClients.push(factory(options.slaveDirect, options.timeoutMs));
  }

  const countOutcome = (o: Outcome): void => {
    counts[o]++;
    if (o === 'fail') live.fails++;
    else if (o === 'unknown') live.unknowns++;
  };

  /**
   * One cache write (cas/add/slave-write), timed and recorded. 'stored' and 'superseded' are
   * successes; any other reply is a definite refusal ('fail'); a thrown error is 'fail' or
   * 'unknown' depending on whether the request may have been applied.
   */
  async function recordedWrite(entry: HistoryOp, write: () => Promise<string>): Promise<HistoryOp> {
    try {
      entry.reply = await write();
      if (entry.reply !== 'stored' && entry.reply !== 'superseded') entry.outcome = 'fail';
    } catch (err) {
      entry.outcome = mutationOutcome(err);
      entry.error = errorText(err);
    }
    entry.complete = now();
    if (entry.op === 'slave-write') counts.slaveWrites++;
    else counts.cacheWrites++;
    record(entry);
    return entry;
  }

  const writeEntry = (client: number, op: HistoryOp['op'], key: string, version: number, parent: number, endpoint: string | undefined, node: string): HistoryOp => ({
    id: history.newId(),
    client,
    op,
    key,
    invoke: now(),
    complete: 0,
    outcome: 'ok',
    version,
    parent,
    endpoint,
    node,
  });

  async function doRead(client: number, cache: CacheClient, key: string): Promise<void> {
    const id = history.newId();
    const invoke = now();
    const newestDone = completedVersion.get(key) ?? 0;
    let cacheError: unknown;
    let hit: Awaited<ReturnType<CacheClient['get']>> = null;
    try {
      hit = await cache.get(key);
    } catch (err) {
      cacheError = err;
    }
    const op: HistoryOp = { id, client, op: 'read', key, invoke, complete: 0, outcome: 'ok', endpoint: cache.endpoint, node: nodeLabel };
    if (hit) {
      live.hits++;
      const decoded = decodeValue(key, hit.value);
      op.source = 'cache';
      if (decoded.ok) {
        op.version = decoded.version;
        if (decoded.version < newestDone) live.staleReads++;
      } else {
        op.corrupt = true;
        op.error = decoded.reason;
      }
    } else {
      // Miss or cache error: the application falls back to the database.
      const rec = db.read(key);
      op.source = 'db';
      op.dbRead = true;
      op.version = rec.version;
      if (cacheError !== undefined) {
        op.outcome = 'fail';
        op.error = errorText(cacheError);
      } else {
        live.misses++;
        // Fill the cache, never overwriting: add only stores when nothing is there.
        const fill = writeEntry(client, 'add', key, rec.version, id, cache.endpoint, nodeLabel);
        await recordedWrite(fill, () => cache.add(key, encodeValue(key, rec.version, options.valueSize)));
      }
    }
    op.complete = now();
    live.reads++;
    countOutcome(op.outcome);
    record(op);
  }

  async function writeSlave(client: number, slave: CacheClient, key: string, version: number, parent: number): Promise<void> {
    // Conditional, like the master path: never replace a newer version on the slave with ours.
    const value = encodeValue(key, version, options.valueSize);
    for (let attempt = 0; attempt < maxCasAttempts; attempt++) {
      const entry = { ...writeEntry(client, 'slave-write', key, version, parent, slave.endpoint, 'slave'), ttl: options.shortTtlSeconds };
      const done = await recordedWrite(entry, async () => {
        const current = await slave.gets(key);
        if (!current) return slave.add(key, value, { expires: options.shortTtlSeconds });
        const decoded = decodeValue(key, current.value);
        if (decoded.ok && decoded.version >= version) return 'superseded';
        entry.token = current.cas.toString();
        if (decoded.ok) entry.baseVersion = decoded.version;
        return slave.cas(key, value, current.cas, { expires: options.shortTtlSeconds });
      });
      // retry only a lost race (exists / not_stored / not_found); an error ends it
      if (done.outcome !== 'fail' || done.error !== undefined) return;
    }
  }

  async function doUpdate(client: number, cache: CacheClient, slave: CacheClient | undefined, key: string): Promise<void> {
    const id = history.newId();
    const invoke = now();
    const committed = db.commitNext(key);
    const commitAt = now();
    const version = committed.version;
    const value = encodeValue(key, version, options.valueSize);
    let cacheResult: NonNullable<HistoryOp['cacheResult']> = 'gave-up';
    let error: string | undefined;
    let maybeApplied = false;
    for (let attempt = 0; attempt < maxCasAttempts; attempt++) {
      let current: Awaited<ReturnType<CacheClient['gets']>>;
      try {
        current = await cache.gets(key);
      } catch (err) {
        // A failed gets applied nothing; an earlier unknown write still may have.
        cacheResult = maybeApplied ? 'unknown' : 'failed';
        error = errorText(err);
        break;
      }
      let write: HistoryOp;
      if (current === null) {
        // Missing: add (fails if someone else filled it meanwhile, then we look again).
        write = await recordedWrite(writeEntry(client, 'add', key, version, id, cache.endpoint, nodeLabel), () => cache.add(key, value));
      } else {
        const decoded = decodeValue(key, current.value);
        if (decoded.ok && decoded.version >= version) {
          cacheResult = 'superseded';
          break;
        }
        const entry = { ...writeEntry(client, 'cas', key, version, id, cache.endpoint, nodeLabel), token: current.cas.toString(), baseVersion: decoded.ok ? decoded.version : undefined };
        write = await recordedWrite(entry, () => cache.cas(key, value, current.cas));
      }
      if (write.reply === 'stored') {
        cacheResult = 'stored';
        break;
      }
      if (write.error !== undefined) {
        if (write.outcome === 'unknown') maybeApplied = true;
        cacheResult = maybeApplied ? 'unknown' : 'failed';
        error = write.error;
        break;
      }
      // exists / not_stored / not_found: another writer got there first; look again
    }
    if (cacheResult === 'gave-up') error = `gave up after ${maxCasAttempts} CAS conflicts`;
    if (slave && (cacheResult === 'failed' || cacheResult === 'unknown')) await writeSlave(client, slave, key, version, id);
    const outcome: Outcome = cacheResult === 'stored' || cacheResult === 'superseded' ? 'ok' : cacheResult === 'unknown' ? 'unknown' : 'fail';
    const op: HistoryOp = { id, client, op: 'update', key, invoke, complete: now(), outcome, version, commitAt, cacheResult, endpoint: cache.endpoint, node: nodeLabel };
    if (error) op.error = error;
    if (version > (completedVersion.get(key) ?? 0)) completedVersion.set(key, version);
    live.updates++;
    countOutcome(outcome);
    record(op);
  }

  const paceIntervalMs = options.opsPerSecond ? (1000 * options.clients) / options.opsPerSecond : 0;

  async function clientLoop(index: number): Promise<void> {
    const rng: Rng = createRng(deriveSeed(options.seed, index));
    const cache = cacheClients[index];
    const slave = slaveClients[index];
    let nextAt = now() + (paceIntervalMs ? rng() * paceIntervalMs : 0);
    let sinceYield = 0;
    for (;;) {
      if (stoppedBy) return;
      const elapsed = now();
      if (elapsed >= timeCap) return stop(options.durationMs !== undefined ? 'duration' : 'time-cap');
      if (issued >= opCap) return stop(options.ops !== undefined ? 'ops' : 'op-cap');
      issued++;
      const key = keyNames[pick(rng)];
      const isRead = rng() < options.readRatio;
      if (isRead) await doRead(index, cache, key);
      else await doUpdate(index, cache, slave, key);
      live.ops++;
      if (paceIntervalMs) {
        nextAt += paceIntervalMs;
        const wait = nextAt - now();
        if (wait > 1) {
          try {
            await clock.sleep(Math.min(wait, Math.max(0, timeCap - now())), options.signal);
          } catch {
            return stop('abort');
          }
        } else if (wait < -1000) nextAt = now(); // fell behind: don't burst to catch up
      } else if (++sinceYield >= 64) {
        // Let timers (deadlines, the per-second ticker) run even when replies come back instantly.
        sinceYield = 0;
        await new Promise((r) => setImmediate(r));
      }
    }
  }

  // Live progress once a second (wall timers: this is for people watching, not for the record).
  let last: LiveCounters = { ...live };
  let lastDb = db.counters.reads;
  let second = 0;
  const ticker = hooks.onSecond
    ? setInterval(() => {
        const cur = { ...live };
        second++;
        hooks.onSecond?.({
          second,
          ops: cur.ops - last.ops,
          reads: cur.reads - last.reads,
          updates: cur.updates - last.updates,
          fails: cur.fails - last.fails,
          unknowns: cur.unknowns - last.unknowns,
          hits: cur.hits - last.hits,
          misses: cur.misses - last.misses,
          dbReads: db.counters.reads - lastDb,
          staleReads: cur.staleReads - last.staleReads,
          totalOps: cur.ops,
          elapsedMs: now(),
        });
        last = cur;
        lastDb = db.counters.reads;
      }, 1000)
    : undefined;

  let crash: unknown;
  try {
    // One loop failing unexpectedly (a bug, a database error) stops all of them before we return.
    const loops = await Promise.allSettled(
      Array.from({ length: options.clients }, (_, i) =>
        clientLoop(i).catch((err: unknown) => {
          stop('abort');
          throw err;
        }),
      ),
    );
    crash = loops.find((l): l is PromiseRejectedResult => l.status === 'rejected')?.reason;
  } finally {
    if (ticker) clearInterval(ticker);
    options.signal?.removeEventListener('abort', onAbort);
    await Promise.all([...cacheClients, ...slaveClients].map((c) => c.close().catch(() => undefined)));
  }
  const durationMs = now();
  const dbCounters = { reads: db.counters.reads - dbReadsAtStart, commits: db.counters.commits - dbCommitsAtStart };
  if (owned) db.close();
  if (crash !== undefined) throw crash;

  const { database: _d, signal: _s, clock: _c, clientFactory: _f, ...plain } = options;
  const resultOptions = { ...plain, keyPrefix, database: dbPath };
  history.meta = { kind: 'cachectl-workload', startedAtMs, ...resultOptions };
  return {
    seed: options.seed,
    keyPrefix,
    keyCount: options.keys,
    startedAtMs,
    durationMs,
    stoppedBy: stoppedBy ?? 'duration',
    history,
    counts: { ops: live.ops, reads: live.reads, updates: live.updates, ok: counts.ok, fail: counts.fail, unknown: counts.unknown, hits: live.hits, misses: live.misses, cacheWrites: counts.cacheWrites, slaveWrites: counts.slaveWrites },
    opsPerSecond: durationMs > 0 ? (live.ops * 1000) / durationMs : 0,
    db: dbCounters,
    options: resultOptions,
  };
}
