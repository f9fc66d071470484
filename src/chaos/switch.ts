import { CachectlError } from '../errors.js';
import type { ProxyNodeAddr, ProxyRuntimeConfig, ProxyShard } from '../proxy/config.js';
import { systemClock, type Clock } from '../util/clock.js';
import { addrText, sameAddr, StaleEpochError, type ProxyAdmin } from './proxy-admin.js';
import type { SwitchResult, SwitchStepRecord } from './types.js';

/**
 * The manual, coordinated master/slave switch.
 *
 *   E+1 fence writes on every proxy (mutations refused; reads go on)
 *       wait for in-flight writes to drain
 *       flush the new master when it cannot be proven in sync (the old master is unreachable:
 *       writes that failed on it never reached the slave, so the slave may hold stale values)
 *       flush the old master if reachable (it rejoins as slave empty), else keep it detached
 *   E+2 promote: every proxy routes shard N to the old slave as master (slave = old master or null)
 *   E+3 unfence
 *       verify: one epoch everywhere, same roles everywhere, CAS works, a write reads back through
 *       every proxy
 *
 * Every step goes to every proxy with the same epoch (max seen + 1), so they all end on one epoch.
 * A step that fails on some proxy after retries rolls everything back to the old roles, unfenced,
 * under a new epoch; if even that fails the result says `inconsistent` and names each proxy's state.
 */

export interface NodeOps {
  /** flush_all on a node through the address the proxies use; throws when unreachable */
  flush(addr: ProxyNodeAddr): Promise<void>;
}

export interface SwitchProbe {
  /** through proxy i: set, gets, cas with the token; true when the cas says STORED */
  casRoundTrip(proxyIndex: number, key: string): Promise<{ ok: boolean; value: string; message: string }>;
  /** through proxy i: the value of key (null on miss) */
  read(proxyIndex: number, key: string): Promise<string | null>;
}

export type FlushPolicy = 'auto' | 'always' | 'never';

export interface SwitchOptions {
  proxies: ProxyAdmin[];
  nodeOps: NodeOps;
  probe?: SwitchProbe;
  shardIndex?: number;
  /** flush the promoted node first: auto = when the old master cannot be reached */
  flushNewMaster?: FlushPolicy;
  /** wait after fencing so in-flight writes finish (default: the proxies' timeoutMs) */
  drainMs?: number;
  /** names nodes in messages ("master", "slave") from the address the proxies use */
  nodeName?: (addr: ProxyNodeAddr) => string;
  clock?: Clock;
  log?: (line: string) => void;
  /** ms origin for step times (a scenario passes its timeline's clock) */
  elapsed?: () => number;
  retries?: number;
}

interface Ctx {
  opts: SwitchOptions;
  steps: SwitchStepRecord[];
  epoch: number;
  t0: number;
  clock: Clock;
}

function now(ctx: Ctx): number {
  return ctx.opts.elapsed ? ctx.opts.elapsed() : Math.round(ctx.clock.monotonic() - ctx.t0);
}

function record(ctx: Ctx, step: SwitchStepRecord['step'], ok: boolean, startedAt: number, message: string, epoch?: number): void {
  const rec: SwitchStepRecord = { step, ok, atMs: startedAt, durationMs: Math.round(now(ctx) - startedAt), message, ...(epoch !== undefined ? { epoch } : {}) };
  ctx.steps.push(rec);
  ctx.opts.log?.(`switch: ${step}${epoch !== undefined ? ` @epoch ${epoch}` : ''}: ${message}`);
}

type Patch = { shards?: ProxyShard[]; writesFenced?: boolean };

function matches(cfg: ProxyRuntimeConfig, patch: Patch): boolean {
  if (patch.writesFenced !== undefined && cfg.writesFenced !== patch.writesFenced) return false;
  if (patch.shards) {
    if (cfg.shards.length !== patch.shards.length) return false;
    return patch.shards.every((s, i) => sameAddr(s.master, cfg.shards[i].master) && sameAddr(s.slave, cfg.shards[i].slave));
  }
  return true;
}

/** PUT one proxy, retrying transient errors; a 409 after a lost reply counts if the proxy already holds our change. */
async function putWithRetry(ctx: Ctx, admin: ProxyAdmin, epoch: number, patch: Patch): Promise<{ ok: boolean; error?: string }> {
  const retries = ctx.opts.retries ?? 3;
  let lastError = '';
  for (let attempt = 0; attempt < retries; attempt++) {
    try {
      await admin.putConfig({ epoch, ...patch });
      return { ok: true };
    } catch (err) {
      lastError = (err as Error).message;
      if (err instanceof StaleEpochError) {
        const cfg = await admin.getConfig().catch(() => null);
        if (cfg && cfg.epoch === epoch && matches(cfg, patch)) return { ok: true };
        return { ok: false, error: `${lastError} (proxy is at epoch ${cfg?.epoch ?? '?'})` };
      }
      await ctx.clock.sleep(100 * (attempt + 1));
    }
  }
  return { ok: false, error: lastError };
}

async function applyAll(ctx: Ctx, step: SwitchStepRecord['step'], patchFor: (i: number) => Patch, what: string): Promise<boolean> {
  const started = now(ctx);
  const epoch = ++ctx.epoch;
  const results = await Promise.all(ctx.opts.proxies.map((p, i) => putWithRetry(ctx, p, epoch, patchFor(i))));
  const failed = results.map((r, i) => (r.ok ? null : `${ctx.opts.proxies[i].name}: ${r.error}`)).filter((x): x is string => x !== null);
  record(ctx, step, failed.length === 0, started, failed.length === 0 ? `${what} on ${ctx.opts.proxies.length} proxies` : `${what} failed on ${failed.join('; ')}`, epoch);
  return failed.length === 0;
}

async function snapshot(opts: SwitchOptions, shardIndex: number): Promise<SwitchResult['proxies']> {
  return Promise.all(
    opts.proxies.map(async (p) => {
      try {
        const cfg = await p.getConfig();
        const shard = cfg.shards[shardIndex];
        return { name: p.name, admin: p.address, epoch: cfg.epoch, master: addrText(shard?.master), slave: addrText(shard?.slave), writesFenced: cfg.writesFenced };
      } catch (err) {
        return { name: p.name, admin: p.address, epoch: null, master: null, slave: null, writesFenced: null, error: (err as Error).message };
      }
    }),
  );
}

/** Read every proxy's config; all must answer and agree on the shard's roles. */
async function readConfigs(ctx: Ctx, shardIndex: number): Promise<ProxyRuntimeConfig[]> {
  const started = now(ctx);
  const { proxies } = ctx.opts;
  if (proxies.length === 0) throw new CachectlError('USAGE', 'the cluster has no cachectl proxy to switch', { hint: 'start one with `cachectl up` (proxy.instances >= 1)' });
  const configs = await Promise.all(
    proxies.map((p) =>
      p.getConfig().catch((err: unknown) => {
        throw new CachectlError('DEPENDENCY_UNREACHABLE', `cannot switch: ${p.name} does not answer (${(err as Error).message}); nothing was changed`, {
          hint: 'a coordinated switch needs every proxy; bring it back (`cachectl status`) and retry',
        });
      }),
    ),
  );
  for (const [i, cfg] of configs.entries()) {
    if (!cfg.shards[shardIndex]) throw new CachectlError('USAGE', `${proxies[i].name} has no shard ${shardIndex}`, { hint: 'pass --shard with an existing shard index' });
  }
  const first = configs[0].shards[shardIndex];
  const disagree = configs.filter((c) => !sameAddr(c.shards[shardIndex].master, first.master));
  if (disagree.length > 0) {
    throw new CachectlError('STATE_CONFLICT', `cannot switch: the proxies disagree on the master of shard ${shardIndex} (${configs.map((c, i) => `${proxies[i].name}: ${addrText(c.shards[shardIndex].master)}`).join(', ')}); nothing was changed`, {
      hint: 'this is split brain (e.g. after an auto failover); put every proxy on one config first',
    });
  }
  ctx.epoch = Math.max(...configs.map((c) => c.epoch));
  record(ctx, 'read-configs', true, started, `${proxies.length} proxies, highest epoch ${ctx.epoch}, master ${addrText(first.master)}, slave ${addrText(first.slave) ?? 'none'}`);
  return configs;
}

async function verify(ctx: Ctx, shardIndex: number, expectedMaster: ProxyNodeAddr): Promise<SwitchResult['verification']> {
  const started = now(ctx);
  const messages: string[] = [];
  const snap = await snapshot(ctx.opts, shardIndex);
  const epochs = new Set(snap.map((s) => s.epoch));
  const sameEpoch = epochs.size === 1 && !epochs.has(null);
  messages.push(sameEpoch ? `all ${snap.length} proxies report epoch ${[...epochs][0]}` : `proxies report different epochs: ${snap.map((s) => `${s.name}=${s.epoch}`).join(', ')}`);
  const rolesOk = snap.every((s) => s.master === addrText(expectedMaster) && s.writesFenced === false);
  if (!rolesOk) messages.push(`not every proxy routes to ${addrText(expectedMaster)} unfenced: ${snap.map((s) => `${s.name}: master ${s.master}, fenced ${s.writesFenced}`).join('; ')}`);
  let casWorks = true;
  let readYourWrite = true;
  if (ctx.opts.probe) {
    const key = `cachectl:switch-probe:${Date.now().toString(36)}`;
    try {
      const cas = await ctx.opts.probe.casRoundTrip(0, key);
      casWorks = cas.ok;
      messages.push(cas.message);
      if (cas.ok) {
        for (let i = 0; i < ctx.opts.proxies.length; i++) {
          const seen = await ctx.opts.probe.read(i, key);
          if (seen !== cas.value) {
            readYourWrite = false;
            messages.push(`${ctx.opts.proxies[i].name} reads ${seen === null ? 'a miss' : JSON.stringify(seen)} for the probe key, expected ${JSON.stringify(cas.value)}`);
          }
        }
        if (readYourWrite) messages.push(`the CAS write reads back through all ${ctx.opts.proxies.length} proxies`);
      }
    } catch (err) {
      casWorks = false;
      messages.push(`CAS probe failed: ${(err as Error).message}`);
    }
  }
  const ok = sameEpoch && rolesOk && casWorks && readYourWrite;
  record(ctx, 'verify', ok, started, messages.join('; '));
  return { sameEpoch: sameEpoch && rolesOk, casWorks, readYourWrite, messages };
}

function describe(opts: SwitchOptions, a: ProxyNodeAddr | null): string {
  if (!a) return 'none';
  return opts.nodeName ? `${opts.nodeName(a)} (${addrText(a)})` : (addrText(a) as string);
}

/** Where a switch and a rejoin both start: a fresh step log, and every proxy's config for the shard (all must answer and agree). */
async function begin(opts: SwitchOptions): Promise<{ ctx: Ctx; shardIndex: number; startedAt: number; configs: ProxyRuntimeConfig[]; fromEpoch: number }> {
  const clock = opts.clock ?? systemClock;
  const ctx: Ctx = { opts, steps: [], epoch: 0, t0: clock.monotonic(), clock };
  const shardIndex = opts.shardIndex ?? 0;
  const startedAt = now(ctx);
  const configs = await readConfigs(ctx, shardIndex);
  return { ctx, shardIndex, startedAt, configs, fromEpoch: ctx.epoch };
}

export async function runSwitch(opts: SwitchOptions): Promise<SwitchResult> {
  const { ctx, shardIndex, startedAt, configs, fromEpoch } = await begin(opts);
  const clock = ctx.clock;
  const original = configs.map((c) => structuredClone(c.shards));
  const oldMaster = configs[0].shards[shardIndex].master;
  const newMaster = configs[0].shards[shardIndex].slave;
  if (!newMaster) {
    throw new CachectlError('USAGE', `shard ${shardIndex} has no slave to promote (it was detached by an earlier switch)`, {
      hint: 'rejoin the old master first: `cachectl switch --rejoin`',
    });
  }
  const result = (outcome: SwitchResult['outcome'], proxies: SwitchResult['proxies'], verification: SwitchResult['verification'], flags: { detached: boolean; flushedNew: boolean; slave: ProxyNodeAddr | null }): SwitchResult => ({
    ok: outcome === 'switched' || outcome === 'rolled-forward' ? verification.sameEpoch && verification.casWorks && verification.readYourWrite : false,
    outcome,
    fromEpoch,
    toEpoch: ctx.epoch,
    newMaster: describe(opts, outcome === 'rolled-back' ? oldMaster : newMaster),
    newSlave: flags.slave ? describe(opts, flags.slave) : null,
    oldMasterDetached: flags.detached,
    newMasterFlushed: flags.flushedNew,
    steps: ctx.steps,
    proxies,
    verification,
    durationMs: Math.round(now(ctx) - startedAt),
    ...(outcome === 'switched' || outcome === 'rolled-forward' ? { completedAtMs: now(ctx) } : {}),
  });

  const rollback = async (why: string): Promise<SwitchResult> => {
    const ok = await applyAll(ctx, 'rollback', (i) => ({ shards: original[i], writesFenced: false }), `${why}: back to the old roles, unfenced`);
    const proxies = await snapshot(opts, shardIndex);
    const verification = { sameEpoch: ok && new Set(proxies.map((p) => p.epoch)).size === 1, casWorks: false, readYourWrite: false, messages: [why] };
    return result(ok ? 'rolled-back' : 'inconsistent', proxies, verification, { detached: false, flushedNew: false, slave: newMaster });
  };

  // 1. fence
  if (!(await applyAll(ctx, 'fence', () => ({ writesFenced: true }), 'writes fenced'))) return rollback('fencing failed');
  const drainMs = opts.drainMs ?? Math.max(...configs.map((c) => c.timeoutMs ?? 500));
  await clock.sleep(drainMs);

  // 2. flush the old master so it can rejoin as an empty slave; unreachable = keep it detached
  let oldMasterFlushed = false;
  {
    const started = now(ctx);
    try {
      await opts.nodeOps.flush(oldMaster);
      oldMasterFlushed = true;
      record(ctx, 'flush-old-master', true, started, `${describe(opts, oldMaster)} flushed: it rejoins as slave, empty`);
    } catch (err) {
      record(ctx, 'flush-old-master', false, started, `${describe(opts, oldMaster)} unreachable (${(err as Error).message}): kept detached until it can be flushed (\`cachectl switch --rejoin\`)`);
    }
  }

  // 3. flush the new master when its contents cannot be trusted
  const policy = opts.flushNewMaster ?? 'auto';
  let flushedNew = false;
  if (policy === 'always' || (policy === 'auto' && !oldMasterFlushed)) {
    const started = now(ctx);
    try {
      await opts.nodeOps.flush(newMaster);
      flushedNew = true;
      record(ctx, 'flush-new-master', true, started, `${describe(opts, newMaster)} flushed: writes that failed on the old master never reached it, so its values may be stale (${policy === 'always' ? 'always' : 'auto: the old master was unreachable'})`);
    } catch (err) {
      record(ctx, 'flush-new-master', false, started, `cannot flush ${describe(opts, newMaster)}: ${(err as Error).message}`);
      return rollback('the new master cannot be reached');
    }
  }

  // 4. promote (still fenced)
  const newSlave = oldMasterFlushed ? oldMaster : null;
  const promoted = (i: number): ProxyShard[] => original[i].map((s, idx) => (idx === shardIndex ? { ...s, master: newMaster, slave: newSlave } : s));
  if (!(await applyAll(ctx, 'promote', (i) => ({ shards: promoted(i), writesFenced: true }), `${describe(opts, newMaster)} promoted to master, slave ${describe(opts, newSlave)}`))) {
    return rollback('promotion failed');
  }

  // 5. unfence; if some proxy refuses, roll forward once more before giving up
  let outcome: SwitchResult['outcome'] = 'switched';
  if (!(await applyAll(ctx, 'unfence', (i) => ({ shards: promoted(i), writesFenced: false }), 'writes unfenced'))) {
    outcome = 'rolled-forward';
    if (!(await applyAll(ctx, 'unfence', (i) => ({ shards: promoted(i), writesFenced: false }), 'writes unfenced (roll forward retry)'))) {
      return rollback('unfencing failed');
    }
  }

  const verification = await verify(ctx, shardIndex, newMaster);
  const proxies = await snapshot(opts, shardIndex);
  return result(outcome, proxies, verification, { detached: !oldMasterFlushed, flushedNew, slave: newSlave });
}

/**
 * Rejoin a detached node as slave: flush it (it may hold old values), then attach it on every
 * proxy under a new epoch. Writes need no fence: the slave starts empty and fills from the master.
 */
export async function runRejoin(opts: SwitchOptions & { node: ProxyNodeAddr }): Promise<SwitchResult> {
  const { ctx, shardIndex, startedAt, configs, fromEpoch } = await begin(opts);
  const master = configs[0].shards[shardIndex].master;
  const current = configs[0].shards[shardIndex].slave;
  const base = { fromEpoch, newMaster: describe(opts, master), steps: ctx.steps, newMasterFlushed: false };
  if (sameAddr(current, opts.node)) {
    record(ctx, 'attach-old-master', true, startedAt, `${describe(opts, opts.node)} is already the slave`);
    const verification = await verify(ctx, shardIndex, master);
    return { ...base, ok: true, outcome: 'switched', toEpoch: ctx.epoch, newSlave: describe(opts, opts.node), oldMasterDetached: false, proxies: await snapshot(opts, shardIndex), verification, durationMs: Math.round(now(ctx) - startedAt), completedAtMs: now(ctx) };
  }
  if (sameAddr(master, opts.node)) throw new CachectlError('USAGE', `${describe(opts, opts.node)} is the master, not a detached node`);
  const started = now(ctx);
  try {
    await opts.nodeOps.flush(opts.node);
    record(ctx, 'flush-old-master', true, started, `${describe(opts, opts.node)} flushed`);
  } catch (err) {
    record(ctx, 'flush-old-master', false, started, `${describe(opts, opts.node)} still unreachable: ${(err as Error).message}; it stays detached`);
    return { ...base, ok: false, outcome: 'rolled-back', toEpoch: ctx.epoch, newSlave: null, oldMasterDetached: true, proxies: await snapshot(opts, shardIndex), verification: { sameEpoch: true, casWorks: false, readYourWrite: false, messages: ['node unreachable'] }, durationMs: Math.round(now(ctx) - startedAt) };
  }
  const attached = configs.map((c) => c.shards.map((s, idx) => (idx === shardIndex ? { ...s, slave: opts.node } : s)));
  const ok = await applyAll(ctx, 'attach-old-master', (i) => ({ shards: attached[i] }), `${describe(opts, opts.node)} attached as slave`);
  if (!ok) {
    // Detach again everywhere so no proxy replicates to a node the others ignore.
    const back = await applyAll(ctx, 'rollback', (i) => ({ shards: configs[i].shards }), 'detached again');
    return { ...base, ok: false, outcome: back ? 'rolled-back' : 'inconsistent', toEpoch: ctx.epoch, newSlave: null, oldMasterDetached: true, proxies: await snapshot(opts, shardIndex), verification: { sameEpoch: back, casWorks: false, readYourWrite: false, messages: ['attach failed'] }, durationMs: Math.round(now(ctx) - startedAt) };
  }
  const verification = await verify(ctx, shardIndex, master);
  return {
    ...base,
    ok: verification.sameEpoch && verification.casWorks && verification.readYourWrite,
    outcome: 'switched',
    toEpoch: ctx.epoch,
    newSlave: describe(opts, opts.node),
    oldMasterDetached: false,
    proxies: await snapshot(opts, shardIndex),
    verification,
    durationMs: Math.round(now(ctx) - startedAt),
    completedAtMs: now(ctx),
  };
}
