import { z } from 'zod';
import { CachectlError } from '../errors.js';
import { FAILOVER_MODES, MITIGATIONS, READ_POLICIES, REPLICATION_MODES } from '../config/schema.js';
import {
  HEADER_LENGTH,
  MAGIC_REQUEST,
  Op,
  Status,
  expirationExtras,
  frameExtras,
  frameValue,
  storeExtras,
  writeHeader,
  type BinaryFrame,
} from '../protocol/binary.js';
import { BackendNode, type BackendFailure, type BackendOptions } from './backend.js';
import type { ProxyConfigUpdate, ProxyRuntimeConfig, ProxyShard } from './config.js';
import { KetamaRing } from './ketama.js';
import { PendingInvalidationLog } from './pending-log.js';
import { ProxyStats, type ProxyStatsView, type NodeStatsView } from './stats.js';

/**
 * The routing core shared by the ASCII and binary front ends: shards, read policy with fallback,
 * master-only mutations with replication of the resulting state to the slave, the proxy-delete
 * mitigation, the durable pending-invalidation log, auto failover and live config changes.
 */

export type ProxyFailureKind = 'master' | 'unavailable' | 'fenced';

export class ProxyFailure {
  constructor(
    readonly kind: ProxyFailureKind,
    readonly message: string,
    readonly timeout = false,
  ) {}
}

export type EngineCallback = (failure: ProxyFailure | null, frame: BinaryFrame | null, frames?: BinaryFrame[]) => void;

/** Build one backend request; big values ride as a separate buffer (no copy). */
export function buildRequest(opcode: number, key: Buffer | null, extras: Buffer | null, value: Buffer | null, cas: Buffer | null): Buffer[] {
  const el = extras?.length ?? 0;
  const kl = key?.length ?? 0;
  const vl = value?.length ?? 0;
  const inline = vl <= 2048;
  const head = Buffer.allocUnsafe(HEADER_LENGTH + el + kl + (inline ? vl : 0));
  writeHeader(head, { magic: MAGIC_REQUEST, opcode, cas: cas ?? undefined }, el, kl, vl);
  let at = HEADER_LENGTH;
  if (extras) at += extras.copy(head, at);
  if (key) at += key.copy(head, at);
  if (value && inline) value.copy(head, at);
  return inline || !value ? [head] : [head, value];
}

const nodeAddr = z.object({ host: z.string().min(1), port: z.number().int().min(1).max(65535) }).strict();
const shardSchema = z.object({ name: z.string().min(1), master: nodeAddr, slave: nodeAddr.nullable() }).strict();
export const configUpdateSchema = z
  .object({
    epoch: z.number().int().nonnegative(),
    shards: z.array(shardSchema).min(1).optional(),
    readPolicy: z.enum(READ_POLICIES).optional(),
    mitigation: z.enum(MITIGATIONS).optional(),
    replication: z.enum(REPLICATION_MODES).optional(),
    failover: z.enum(FAILOVER_MODES).optional(),
    failoverThreshold: z.number().int().min(1).max(1000).optional(),
    timeoutMs: z.number().int().min(1).max(600_000).optional(),
    downAfterFailures: z.number().int().min(1).max(1000).optional(),
    probeIntervalMs: z.number().int().min(10).max(600_000).optional(),
    writesFenced: z.boolean().optional(),
  })
  .strict();

/**
 * Validate a PUT /config body against the current config and return the config it leads to.
 * Throws CONFIG_INVALID (bad body) or STATE_CONFLICT (epoch not greater). Pure: shared by the
 * engine and by the cluster primary, which validates once for all its workers.
 */
export function nextConfig(current: ProxyRuntimeConfig, body: unknown): ProxyRuntimeConfig {
  const parsed = configUpdateSchema.safeParse(body);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');
    throw new CachectlError('CONFIG_INVALID', `invalid config update: ${problems}`, {
      hint: 'send {"epoch": <current epoch + 1>, ...fields to change} as described by ProxyConfigUpdate',
    });
  }
  const u = parsed.data as ProxyConfigUpdate;
  if (u.epoch <= current.epoch) {
    throw new CachectlError('STATE_CONFLICT', `stale epoch ${u.epoch}: the proxy is at epoch ${current.epoch}`, {
      hint: `read GET /config and send an epoch greater than ${current.epoch}`,
      details: { currentEpoch: current.epoch },
    });
  }
  if (u.shards) {
    const names = new Set(u.shards.map((s) => s.name));
    if (names.size !== u.shards.length) {
      throw new CachectlError('CONFIG_INVALID', 'invalid config update: shard names must be unique', { hint: 'give every shard its own name' });
    }
  }
  return structuredClone({ ...current, ...u });
}

/** The config after auto failover promoted `shard`'s slave (null when there is nothing to promote). */
export function promotedConfig(current: ProxyRuntimeConfig, shard: string): ProxyRuntimeConfig | null {
  const cfg = current.shards.find((s) => s.name === shard);
  if (!cfg || !cfg.slave) return null;
  const shards = current.shards.map((s) => (s.name === shard ? { name: s.name, master: s.slave!, slave: null } : s));
  return { ...structuredClone(current), epoch: current.epoch + 1, shards };
}

interface ShardRuntime {
  name: string;
  master: BackendNode;
  slave: BackendNode | null;
  /** consecutive client requests the master failed (auto failover counts these) */
  masterFailures: number;
}

export interface EngineOptions {
  name: string;
  config: ProxyRuntimeConfig;
  pendingLogFile?: string;
  maxValueLength?: number;
  /**
   * Auto failover in a multi-worker proxy: instead of promoting locally, ask the one place that
   * owns the config (the cluster primary) to promote `shard` from `epoch`; it applies the new
   * config to every worker. Absent: this engine promotes by itself.
   */
  requestPromotion?: (shard: string, epoch: number) => void;
  /**
   * Multi-worker proxy: invalidations the *other* workers owe (their logs), so this worker too
   * reads such a key from the master only, exactly as one proxy would.
   */
  owedElsewhere?: OwedElsewhere;
  /**
   * Multi-worker proxy, sync replication: called after a failed slave copy was logged as owed;
   * `done` runs once every other worker knows (before the client hears STORED).
   */
  afterOwed?: (done: () => void) => void;
}

export interface OwedElsewhere {
  readonly size: number;
  /** id as PendingInvalidationLog.idOf */
  has(id: string): boolean;
}

export class ProxyEngine {
  readonly name: string;
  config: ProxyRuntimeConfig;
  readonly stats = new ProxyStats();
  readonly pending: PendingInvalidationLog;
  private readonly nodeOptions: BackendOptions;
  private readonly nodes = new Map<string, BackendNode>();
  private shards: ShardRuntime[] = [];
  /** ketama continuum over the shard names (null with a single shard: no hashing needed) */
  private ring: KetamaRing | null = null;
  private balance = 0;
  private retryTimer: NodeJS.Timeout;
  private readonly retrying = new Set<string>();
  private readonly requestPromotion: EngineOptions['requestPromotion'];
  private readonly owedElsewhere: OwedElsewhere | undefined;
  private readonly afterOwed: EngineOptions['afterOwed'];
  /** shards whose promotion was already asked for at the current epoch (ask once) */
  private readonly promotionAsked = new Set<string>();

  constructor(options: EngineOptions) {
    this.name = options.name;
    this.config = structuredClone(options.config);
    this.nodeOptions = {
      timeoutMs: this.config.timeoutMs,
      downAfterFailures: this.config.downAfterFailures,
      probeIntervalMs: this.config.probeIntervalMs,
      maxValueLength: options.maxValueLength ?? 1024 * 1024,
    };
    this.pending = new PendingInvalidationLog(options.pendingLogFile);
    this.requestPromotion = options.requestPromotion;
    this.owedElsewhere = options.owedElsewhere;
    this.afterOwed = options.afterOwed;
    this.applyShards(this.config.shards);
    this.retryTimer = setInterval(() => this.retryPending(), Math.min(this.config.probeIntervalMs, 250));
    this.retryTimer.unref();
  }

  // ---- topology --------------------------------------------------------------------------

  private node(addr: { host: string; port: number }): BackendNode {
    const name = `${addr.host}:${addr.port}`;
    let n = this.nodes.get(name);
    if (!n) {
      n = new BackendNode(addr.host, addr.port, this.nodeOptions, {
        onRequestDone: (node, f) => {
          const c = this.stats.node(node.name);
          c.requests++;
          if (f) {
            c.errors++;
            if (f.kind === 'timeout') c.timeouts++;
          }
        },
      });
      this.nodes.set(name, n);
    }
    return n;
  }

  private applyShards(shards: ProxyShard[]): void {
    const next = shards.map((s) => ({
      name: s.name,
      master: this.node(s.master),
      slave: s.slave ? this.node(s.slave) : null,
      masterFailures: 0,
    }));
    const used = new Set(next.flatMap((s) => [s.master.name, ...(s.slave ? [s.slave.name] : [])]));
    for (const [name, n] of this.nodes) {
      if (!used.has(name)) {
        n.close(this.config.timeoutMs);
        this.nodes.delete(name);
      }
    }
    this.shards = next;
    this.ring = next.length > 1 ? new KetamaRing(next.map((s) => ({ name: s.name }))) : null;
  }

  private route(key: Buffer): ShardRuntime {
    if (!this.ring) return this.shards[0];
    return this.shards[this.ring.indexFor(key)];
  }

  /** PUT /config: validate, refuse stale epochs, apply atomically. */
  update(body: unknown): ProxyRuntimeConfig {
    const next = nextConfig(this.config, body);
    const shardsChanged = (body as ProxyConfigUpdate).shards !== undefined;
    this.config = next;
    this.promotionAsked.clear();
    this.nodeOptions.timeoutMs = next.timeoutMs;
    this.nodeOptions.downAfterFailures = next.downAfterFailures;
    this.nodeOptions.probeIntervalMs = next.probeIntervalMs;
    if (shardsChanged) this.applyShards(next.shards);
    return this.getConfig();
  }

  getConfig(): ProxyRuntimeConfig {
    return structuredClone(this.config);
  }

  // ---- operations ------------------------------------------------------------------------

  private failureFrom(role: 'master' | 'slave', f: BackendFailure): ProxyFailure {
    return new ProxyFailure(role === 'master' ? 'master' : 'unavailable', `cachectl: ${role} ${f.message}`, f.kind === 'timeout');
  }

  private countFailure(cmd: string, f: ProxyFailure): void {
    const c = this.stats.command(cmd);
    c.errors++;
    if (f.timeout) c.timeouts++;
  }

  private countRead(cmd: string, node: BackendNode, frame: BinaryFrame): void {
    const c = this.stats.command(cmd);
    const n = this.stats.node(node.name);
    if (frame.status === Status.Ok) {
      c.hits++;
      n.hits++;
    } else if (frame.status === Status.KeyNotFound) {
      c.misses++;
      n.misses++;
    }
  }

  /**
   * A read (get/getk/...). `masterOnly` for gets (a CAS token must come from the master).
   * Otherwise the read policy picks the node and the other one is the fallback.
   */
  read(cmd: string, opcode: number, key: Buffer, masterOnly: boolean, cb: EngineCallback): void {
    this.stats.command(cmd).requests++;
    const shard = this.route(key);
    let first: BackendNode = shard.master;
    let second: BackendNode | null = masterOnly ? null : shard.slave;
    let firstRole: 'master' | 'slave' = 'master';
    // a slave that still owes an invalidation for this key (it missed a write while it was down
    // or slow) holds an old value: read the master only until the owed delete has landed
    const elsewhere = this.owedElsewhere;
    const slaveOwes =
      shard.slave !== null &&
      ((this.pending.size > 0 && (this.pending.has(shard.name, key) || this.pending.has(shard.name, null))) ||
        (elsewhere !== undefined && elsewhere.size > 0 && (elsewhere.has(PendingInvalidationLog.idOf(shard.name, key)) || elsewhere.has(PendingInvalidationLog.idOf(shard.name, null)))));
    if (slaveOwes) second = null;
    if (!masterOnly && shard.slave && !slaveOwes) {
      const policy = this.config.readPolicy;
      const slaveFirst = policy === 'slave' || (policy === 'balanced' && (this.balance++ & 1) === 1);
      if (slaveFirst) {
        first = shard.slave;
        second = shard.master;
        firstRole = 'slave';
      }
      if (!first.up && second && second.up) {
        [first, second] = [second, first];
        firstRole = firstRole === 'master' ? 'slave' : 'master';
      }
    }
    first.request(buildRequest(opcode, key, null, null, null), (f, frame) => {
      if (!f) {
        if (first === shard.master) shard.masterFailures = 0;
        this.countRead(cmd, first, frame!);
        return cb(null, frame);
      }
      const fallback = second;
      if (!fallback) {
        const pf = this.failureFrom(firstRole, f);
        this.countFailure(cmd, pf);
        // a failed token fetch (gets) is a failed CAS write as far as the slave is concerned:
        // the client's new version will not reach the cache, so proxy-delete must act here too
        if (masterOnly) return this.masterFailed(shard, key, () => cb(pf, null));
        return cb(pf, null);
      }
      fallback.request(buildRequest(opcode, key, null, null, null), (f2, frame2) => {
        if (!f2) {
          this.countRead(cmd, fallback, frame2!);
          return cb(null, frame2);
        }
        const pf = new ProxyFailure('unavailable', `cachectl: no replica answered (${f.message}; ${f2.message})`, f.kind === 'timeout' || f2.kind === 'timeout');
        this.countFailure(cmd, pf);
        cb(pf, null);
      });
    });
  }

  /**
   * A mutation: runs on the master only; on success the slave receives the resulting state.
   * `opcode` is the loud form; `cas` the 8 CAS bytes of the request (or null).
   */
  mutate(cmd: string, opcode: number, key: Buffer, extras: Buffer | null, value: Buffer | null, cas: Buffer | null, cb: EngineCallback): void {
    this.stats.command(cmd).requests++;
    if (this.refusedWhileFenced(cmd, cb)) return;
    const shard = this.route(key);
    const master = shard.master;
    master.request(buildRequest(opcode, key, extras, value, cas), (f, frame) => {
      if (f) {
        const pf = this.failureFrom('master', f);
        this.countFailure(cmd, pf);
        return this.masterFailed(shard, key, () => cb(pf, null));
      }
      shard.masterFailures = 0;
      const status = frame!.status;
      if (opcode === Op.GAT || opcode === Op.GATK) this.countRead(cmd, master, frame!);
      if (status === Status.Ok) {
        this.replicate(shard, opcode, key, extras, value, () => cb(null, frame));
        return;
      }
      if (status === Status.TooLarge && opcode === Op.Set) {
        // memcached drops the old value when a set is too large: so must the slave
        this.invalidateSlave(shard, key);
      }
      cb(null, frame);
    });
  }

  /** A set too large for the proxy to even buffer: drop the old value on both nodes, like memcached. */
  dropTooLarge(key: Buffer): void {
    if (this.config.writesFenced) return;
    const shard = this.route(key);
    shard.master.request(buildRequest(Op.Delete, key, null, null, null), () => undefined);
    this.invalidateSlave(shard, key);
  }

  /**
   * The master failed a request for `key`. With proxy-delete the slave copy is deleted; under sync
   * replication the client's error waits until that delete landed or is owed in the durable log,
   * so no read that starts after the client saw the error can still get the old slave value.
   */
  private masterFailed(shard: ShardRuntime, key: Buffer, reply: () => void): void {
    this.stats.masterFailures++;
    shard.masterFailures++;
    let replyNow = true;
    if (this.config.mitigation === 'proxy-delete' && shard.slave) {
      this.stats.proxyDeletes++;
      replyNow = this.config.replication !== 'sync';
      this.invalidateSlave(shard, key, replyNow ? undefined : reply);
    }
    if (this.config.failover === 'auto' && shard.slave && shard.masterFailures >= this.config.failoverThreshold) this.promote(shard);
    if (replyNow) reply();
  }

  /** auto failover: this proxy alone makes the slave the master (the split-brain negative control). */
  private promote(shard: ShardRuntime): void {
    if (this.requestPromotion) {
      if (this.promotionAsked.has(shard.name)) return;
      this.promotionAsked.add(shard.name);
      this.requestPromotion(shard.name, this.config.epoch);
      return;
    }
    const next = promotedConfig(this.config, shard.name);
    if (!next) return;
    this.stats.failovers++;
    this.config = next;
    this.applyShards(next.shards);
  }

  /** Delete the key on the slave now; when that fails, owe it in the durable log. `done` runs once it landed or is owed. */
  private invalidateSlave(shard: ShardRuntime, key: Buffer, done?: () => void): void {
    const slave = shard.slave;
    if (!slave) return done?.();
    const k = Buffer.from(key);
    slave.request(buildRequest(Op.Delete, k, null, null, null), (f, frame) => {
      if (f || (frame!.status !== Status.Ok && frame!.status !== Status.KeyNotFound)) {
        this.pending.add(shard.name, k);
        if (done && this.afterOwed) return this.afterOwed(done);
      }
      done?.();
    });
  }

  private replicate(shard: ShardRuntime, opcode: number, key: Buffer, extras: Buffer | null, value: Buffer | null, done: () => void): void {
    const slave = shard.slave;
    if (!slave) return done();
    const sync = this.config.replication === 'sync';
    // the request buffers may be views of the client's read buffer: safe, they are never overwritten
    const finish = (ok: boolean): void => {
      if (ok) this.stats.replicated++;
      else {
        this.stats.replicationFailures++;
        this.pending.add(shard.name, key);
        if (sync && this.afterOwed) return this.afterOwed(done);
      }
      if (sync) done();
    };
    const okOrMissing = (f: BackendFailure | null, fr: BinaryFrame | null): boolean =>
      !f && (fr!.status === Status.Ok || fr!.status === Status.KeyNotFound);
    switch (opcode) {
      case Op.Set:
      case Op.Add:
      case Op.Replace:
        slave.request(buildRequest(Op.Set, key, extras, value, null), (f, fr) => finish(!f && fr!.status === Status.Ok));
        break;
      case Op.Delete:
        slave.request(buildRequest(Op.Delete, key, null, null, null), (f, fr) => finish(okOrMissing(f, fr)));
        break;
      case Op.Touch:
      case Op.GAT:
      case Op.GATK:
        slave.request(buildRequest(Op.Touch, key, extras, null, null), (f, fr) => finish(okOrMissing(f, fr)));
        break;
      case Op.Increment:
      case Op.Decrement:
      case Op.Append:
      case Op.Prepend:
        // copy the state the master now holds (value and flags), never re-apply the delta
        shard.master.request(buildRequest(Op.Get, key, null, null, null), (f, fr) => {
          if (f) return finish(false);
          if (fr!.status === Status.KeyNotFound) {
            slave.request(buildRequest(Op.Delete, key, null, null, null), (f2, fr2) => finish(okOrMissing(f2, fr2)));
            return;
          }
          if (fr!.status !== Status.Ok) return finish(false);
          const flags = frameExtras(fr!).readUInt32BE(0);
          slave.request(buildRequest(Op.Set, key, storeExtras(flags, 0), frameValue(fr!), null), (f2, fr2) => finish(!f2 && fr2!.status === Status.Ok));
        });
        break;
      default:
        finish(true);
    }
    if (!sync) done();
  }

  /** Writes during a role switch are refused (and counted) so no write lands on the old master. */
  private refusedWhileFenced(cmd: string, cb: EngineCallback): boolean {
    if (!this.config.writesFenced) return false;
    this.stats.writesRefusedFenced++;
    const pf = new ProxyFailure('fenced', 'cachectl: writes are fenced (a role switch is in progress), retry shortly');
    this.countFailure(cmd, pf);
    cb(pf, null);
    return true;
  }

  /** flush_all: every master and every slave. The reply is the first master's. */
  flush(cmd: string, extras: Buffer | null, cb: EngineCallback): void {
    this.stats.command(cmd).requests++;
    if (this.refusedWhileFenced(cmd, cb)) return;
    let remaining = this.shards.length;
    let first: BinaryFrame | null = null;
    let failure: ProxyFailure | null = null;
    const sync = this.config.replication === 'sync';
    for (const shard of this.shards) {
      let parts = 1 + (shard.slave && sync ? 1 : 0);
      const part = (): void => {
        if (--parts > 0) return;
        if (--remaining > 0) return;
        if (failure) this.countFailure(cmd, failure);
        cb(failure, failure ? null : first);
      };
      const slave = shard.slave;
      // The slave is flushed only once the master has answered: copies of mutations pipelined
      // before the flush are sent to the slave when their master reply arrives, so a slave flush
      // sent earlier would land before them and leave the slave holding keys the master dropped.
      shard.master.request(buildRequest(Op.Flush, null, extras, null, null), (f, frame) => {
        if (f) failure ??= this.failureFrom('master', f);
        else first ??= frame;
        part();
        if (!slave) return;
        slave.request(buildRequest(Op.Flush, null, extras, null, null), (f2, frame2) => {
          if (f2 || frame2!.status !== Status.Ok) {
            this.stats.replicationFailures++;
            this.pending.add(shard.name, null);
          } else this.stats.replicated++;
          if (sync) part();
        });
      });
    }
  }

  /** version / stat: answered by the first shard's master (its slave when the master is down). */
  info(cmd: string, opcode: number, key: Buffer | null, cb: EngineCallback): void {
    this.stats.command(cmd).requests++;
    const shard = this.shards[0];
    const multi = opcode === Op.Stat;
    const nodes = [shard.master, ...(shard.slave ? [shard.slave] : [])].sort((a, b) => Number(b.up) - Number(a.up));
    const attempt = (i: number, last?: BackendFailure): void => {
      const node = nodes[i];
      if (!node) {
        const pf = new ProxyFailure('unavailable', `cachectl: no node answered${last ? ` (${last.message})` : ''}`, last?.kind === 'timeout');
        this.countFailure(cmd, pf);
        return cb(pf, null);
      }
      node.request(buildRequest(opcode, key, null, null, null), (f, frame, frames) => (f ? attempt(i + 1, f) : cb(null, frame, frames)), multi);
    };
    attempt(0);
  }

  // ---- pending invalidations -------------------------------------------------------------

  private retryPending(): void {
    if (this.pending.size === 0) return;
    let budget = 256 - this.retrying.size;
    for (const e of this.pending.entries(budget + this.retrying.size + 1024)) {
      if (budget <= 0) break;
      const shard = this.shards.find((s) => s.name === e.shard);
      if (!shard || !shard.slave) {
        this.pending.remove(e.shard, e.key); // the shard or its slave is gone: nothing left to invalidate
        continue;
      }
      const slave = shard.slave;
      const id = `${e.shard} ${e.key ? e.key.toString('hex') : '*'}`;
      if (!slave.up || this.retrying.has(id)) continue;
      budget--;
      this.retrying.add(id);
      const req = e.key ? buildRequest(Op.Delete, e.key, null, null, null) : buildRequest(Op.Flush, null, null, null, null);
      slave.request(req, (f, frame) => {
        this.retrying.delete(id);
        if (!f && (frame!.status === Status.Ok || frame!.status === Status.KeyNotFound)) {
          this.pending.remove(e.shard, e.key);
          this.stats.invalidationsLanded++;
        }
      });
    }
  }

  // ---- reporting -------------------------------------------------------------------------

  statsView(connections: { current: number; total: number }): ProxyStatsView {
    const nodes: NodeStatsView[] = [];
    for (const s of this.shards) {
      for (const [role, n] of [['master', s.master], ['slave', s.slave]] as const) {
        if (!n) continue;
        const c = this.stats.node(n.name);
        nodes.push({ node: n.name, role, shard: s.name, up: n.up, consecutiveFailures: n.consecutiveFailures, inFlight: n.inFlight, ...c });
      }
    }
    return {
      name: this.name,
      epoch: this.config.epoch,
      uptimeSeconds: Math.round((Date.now() - this.stats.startedAt) / 1000),
      connections,
      commands: Object.fromEntries(this.stats.commands),
      nodes,
      replication: {
        replicated: this.stats.replicated,
        failures: this.stats.replicationFailures,
        pendingInvalidations: this.pending.size,
        ...(this.owedElsewhere ? { owedByOtherWorkers: this.owedElsewhere.size } : {}),
        invalidationsLanded: this.stats.invalidationsLanded,
        proxyDeletes: this.stats.proxyDeletes,
      },
      masterFailures: this.stats.masterFailures,
      failovers: this.stats.failovers,
      writesRefusedFenced: this.stats.writesRefusedFenced,
      memory: (() => {
        const m = process.memoryUsage();
        return { rssBytes: m.rss, heapUsedBytes: m.heapUsed, externalBytes: m.external, arrayBuffersBytes: m.arrayBuffers };
      })(),
    };
  }

  close(): void {
    clearInterval(this.retryTimer);
    for (const n of this.nodes.values()) n.close();
    this.pending.close();
  }
}

export { expirationExtras };
