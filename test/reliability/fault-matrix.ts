import { Toxiproxy } from 'toxiproxy-node-client';
import { ToxiproxyFaultInjector, type AppliedFault, type FaultSpec } from '../../src/chaos/faults.js';
import { checkHistory, summarizeDivergence, type CheckReport } from '../../src/checker/index.js';
import type { CacheClient } from '../../src/client/types.js';
import { startMemcached, startToxiproxy, type ManagedProcess } from '../../src/runtime/processes.js';
import type { Endpoint } from '../../src/runtime/types.js';
import { getFreePorts } from '../../src/util/net.js';
import { SqliteSourceOfTruth } from '../../src/workload/database.js';
import { runWorkload, type WorkloadResult } from '../../src/workload/runner.js';
import { scanCluster, type FinalScan } from '../../src/workload/scan.js';
import { AsciiCacheClient } from './ascii-client.js';
import { pidAlive, putConfig, startChildProxy, type ChildProxy } from './helpers.js';

/**
 * The fault matrix: every fault kind x every mitigation x both client protocols, on a real stack
 * (memcached master and slave, Toxiproxy links in front of both, the cachectl proxy process with
 * balanced reads). Each cell runs the CAS workload (memjs for binary, an ASCII CacheClient for
 * ASCII; both at once, on separate keys), injects the fault through the chaos fault library,
 * reverts it, lets it settle, scans master/slave/database and runs the checker. Every cell
 * asserts the invariants and the design's prediction for that fault and mitigation.
 */

export const FAULTS = ['partition', 'crash', 'reply-lost', 'slow', 'reset_peer', 'slicer', 'slave-down', 'both-down', 'toxiproxy-gone'] as const;
export const MITIGATIONS = ['none', 'proxy-delete', 'client-short-ttl'] as const;
export const PROTOCOLS = ['binary', 'ascii'] as const;
export type Fault = (typeof FAULTS)[number];
export type Mitigation = (typeof MITIGATIONS)[number];
export type Protocol = (typeof PROTOCOLS)[number];

export interface Phases {
  warmMs: number;
  faultMs: number;
  settleMs: number;
}

export interface CellResult {
  fault: Fault;
  mitigation: Mitigation;
  protocol: Protocol;
  ops: number;
  ok: number;
  fail: number;
  unknown: number;
  staleReads: number;
  /** stale reads that began while the fault was on (only the slave could serve them) */
  staleDuringOutage: number;
  /** keys whose master held an older version than the database right at heal */
  masterStaleAtHeal: number;
  /** divergent keys right at heal (scan started as the fault was reverted) */
  divergentAtHeal: number;
  /** divergent keys after heal and settle (master vs slave vs database) */
  divergent: number;
  divergence: string;
  lostUpdates: number;
  /** acknowledged writes the master holds an OLDER version of (a crash that empties it is not this) */
  ackedOverwritten: number;
  /** acknowledged writes absent from a master that restarted empty (expected for crash) */
  ackedMissing: number;
  corrupt: number;
  reverted: boolean;
  proxyAlive: boolean;
  /** ok ops completed in the last second of the settle phase (recovery) */
  okAfterHeal: number;
  expectations: { rule: string; ok: boolean }[];
  report: CheckReport;
}

/** What the design predicts, beyond the invariants every cell must keep. */
export function predictions(fault: Fault, mitigation: Mitigation): { rule: string; check: (r: CellResult) => boolean }[] {
  const rules: { rule: string; check: (r: CellResult) => boolean }[] = [
    { rule: 'no lost update', check: (r) => r.lostUpdates === 0 },
    { rule: 'no acknowledged write overwritten', check: (r) => r.ackedOverwritten === 0 },
    { rule: 'no corrupt read', check: (r) => r.corrupt === 0 },
    { rule: 'fault reverted', check: (r) => r.reverted },
    { rule: 'proxy alive', check: (r) => r.proxyAlive },
    { rule: 'recovers after heal', check: (r) => r.okAfterHeal > 0 },
  ];
  const masterFault = ['partition', 'crash', 'reply-lost', 'slow', 'reset_peer', 'both-down', 'toxiproxy-gone'].includes(fault);
  if (fault === 'slicer') {
    // replies cut into 1-7 byte pieces are reassembled: nothing corrupt, nothing diverges. On a
    // loaded machine the extra per-piece cost can push a few replies past the 200 ms timeout
    // (those are honest failures, and a write that timed out can leave a stale read behind).
    rules.push({ rule: 'slicer is transparent apart from rare timeouts: no corrupt read, no divergence, failures under 2% of ops', check: (r) => r.corrupt === 0 && r.divergent === 0 && r.fail + r.unknown <= 0.02 * r.ops });
  }
  if (fault === 'slave-down') {
    // a loaded 2-core box stalls a real master past the 200 ms timeout now and then: a handful of
    // failed writes (and a stale read behind each at most) is that, not the slave fault
    rules.push({ rule: 'master serves every write: failures under 0.1% of ops', check: (r) => r.fail + r.unknown <= 0.001 * r.ops });
    rules.push({ rule: 'no stale read but behind a failed write', check: (r) => r.staleReads <= r.fail + r.unknown });
    rules.push({ rule: 'no divergence after the owed invalidations land', check: (r) => r.divergent === 0 });
  }
  if (masterFault) rules.push({ rule: 'writes fail during the outage (never STORED blindly)', check: (r) => r.fail + r.unknown > 0 });
  if (['partition', 'crash', 'reply-lost', 'slow', 'reset_peer'].includes(fault)) {
    // the slave stays reachable while the master is gone: the incident, and what each mitigation buys
    if (mitigation === 'none') rules.push({ rule: 'incident reproduced: stale reads from the slave during the outage', check: (r) => r.staleDuringOutage > 0 });
    else rules.push({ rule: `${mitigation}: no stale read from the slave during the outage`, check: (r) => r.staleDuringOutage === 0 });
  }
  if (fault === 'partition') {
    // neither mitigation covers this: the cut-off master never saw the new versions
    rules.push({ rule: 'the partitioned master comes back holding old values', check: (r) => r.masterStaleAtHeal > 0 });
  }
  if (fault === 'both-down' || fault === 'toxiproxy-gone') {
    // no cache node reachable: reads fall through to the database, nothing stale can be served...
    rules.push({ rule: 'no stale read during the outage (nothing reachable)', check: (r) => r.staleDuringOutage === 0 });
    // ...but both nodes come back holding the values they had: the same trap as a partitioned master
    rules.push({ rule: 'both nodes come back holding old values', check: (r) => r.masterStaleAtHeal > 0 });
  }
  return rules;
}

export class MatrixStack {
  master!: ManagedProcess;
  slave!: ManagedProcess;
  toxi!: ManagedProcess;
  proxy!: ChildProxy;
  injector!: ToxiproxyFaultInjector;
  private epoch = 1;
  ports!: { master: number; slave: number; toxi: number; linkMaster: number; linkSlave: number };

  static async start(): Promise<MatrixStack> {
    const s = new MatrixStack();
    const [master, slave, toxi, linkMaster, linkSlave] = await getFreePorts(5);
    s.ports = { master, slave, toxi, linkMaster, linkSlave };
    [s.master, s.slave, s.toxi] = await Promise.all([startMemcached({ port: master }), startMemcached({ port: slave }), startToxiproxy({ port: toxi })]);
    await s.createLinks();
    s.injector = new ToxiproxyFaultInjector(`http://127.0.0.1:${toxi}`);
    s.proxy = await startChildProxy({
      master: `127.0.0.1:${linkMaster}`,
      slave: `127.0.0.1:${linkSlave}`,
      'read-policy': 'balanced',
      'timeout-ms': 200,
      'down-after': 3,
      'probe-interval-ms': 100,
    });
    return s;
  }

  private async createLinks(): Promise<void> {
    const api = new Toxiproxy(`http://127.0.0.1:${this.ports.toxi}`);
    await api.createProxy({ name: 'master', listen: `127.0.0.1:${this.ports.linkMaster}`, upstream: `127.0.0.1:${this.ports.master}` });
    await api.createProxy({ name: 'slave', listen: `127.0.0.1:${this.ports.linkSlave}`, upstream: `127.0.0.1:${this.ports.slave}` });
  }

  get slaveDirect(): Endpoint {
    return { host: '127.0.0.1', port: this.ports.slave };
  }

  async setMitigation(mitigation: Mitigation): Promise<void> {
    const r = await putConfig(this.proxy.adminPort, this.proxy.token, { epoch: ++this.epoch, mitigation });
    if (r.status !== 200) throw new Error(`PUT /config failed: ${r.status} ${JSON.stringify(r.body)}`);
  }

  /** Apply a fault; the returned function reverts it. */
  async apply(fault: Fault): Promise<() => Promise<void>> {
    const network = async (specs: FaultSpec[]): Promise<() => Promise<void>> => {
      const applied: AppliedFault[] = [];
      for (const spec of specs) applied.push(await this.injector.apply(spec));
      return async () => {
        for (const a of applied.reverse()) await this.injector.revert(a);
      };
    };
    switch (fault) {
      case 'partition':
        return network([{ kind: 'link-down', link: 'master' }]);
      case 'reply-lost':
        return network([{ kind: 'timeout', link: 'master', direction: 'downstream', timeoutMs: 0 }]);
      case 'slow':
        return network([{ kind: 'latency', link: 'master', direction: 'downstream', latencyMs: 600 }]);
      case 'reset_peer':
        return network([{ kind: 'reset-peer', link: 'master', direction: 'upstream', timeoutMs: 0 }]);
      case 'slicer':
        // replies cut into 1-7 byte pieces: the proxy must reassemble them, nothing else changes
        return network([{ kind: 'slicer', link: 'master', direction: 'downstream', averageSize: 4, sizeVariation: 3, delayUs: 0 }]);
      case 'slave-down':
        return network([{ kind: 'link-down', link: 'slave' }]);
      case 'both-down':
        // slave first: with the master cut first, a write failing on the master and a read served
        // by the not-yet-cut slave in the few ms between the two API calls is the incident itself,
        // counted inside the outage window, where this cell expects no stale read
        return network([
          { kind: 'link-down', link: 'slave' },
          { kind: 'link-down', link: 'master' },
        ]);
      case 'crash': {
        await this.master.kill();
        return async () => {
          this.master = await startMemcached({ port: this.ports.master });
        };
      }
      case 'toxiproxy-gone': {
        await this.toxi.kill();
        return async () => {
          this.toxi = await startToxiproxy({ port: this.ports.toxi });
          await this.createLinks();
        };
      }
    }
  }

  /** Nothing left behind: both links enabled, no toxic, both memcached and Toxiproxy running. */
  async clean(): Promise<boolean> {
    if (!pidAlive(this.master.pid) || !pidAlive(this.slave.pid) || !pidAlive(this.toxi.pid)) return false;
    const links = await this.injector.listLinks();
    return links.length === 2 && links.every((l) => l.enabled && (l.toxics ?? []).length === 0);
  }

  async stop(): Promise<void> {
    await this.proxy?.kill();
    await Promise.all([this.master?.stop(1000), this.slave?.stop(1000), this.toxi?.stop(1000)]);
  }
}

function factoryFor(protocol: Protocol): ((e: Endpoint, t: number) => CacheClient) | undefined {
  return protocol === 'ascii' ? (e, t) => new AsciiCacheClient(e, t) : undefined;
}

export async function runCell(stack: MatrixStack, fault: Fault, mitigation: Mitigation, phases: Phases, seed: number): Promise<CellResult[]> {
  await stack.setMitigation(mitigation);
  const total = phases.warmMs + phases.faultMs + phases.settleMs;
  const dbs = new Map<Protocol, SqliteSourceOfTruth>();
  const runs = PROTOCOLS.map(async (protocol, i) => {
    const db = new SqliteSourceOfTruth(':memory:');
    dbs.set(protocol, db);
    const result = await runWorkload({
      proxy: [{ host: '127.0.0.1', port: stack.proxy.port }],
      slaveDirect: stack.slaveDirect,
      clients: 3,
      durationMs: total,
      keys: 20,
      keyPrefix: `fm:${seed}:${fault}:${mitigation}:${protocol}:`,
      distribution: 'uniform',
      readRatio: 0.6,
      valueSize: 24,
      seed: seed + i,
      mitigation: mitigation === 'client-short-ttl' ? 'client-short-ttl' : 'none',
      shortTtlSeconds: 2,
      timeoutMs: 300,
      database: db,
      preflight: false,
      clientFactory: factoryFor(protocol),
    });
    return { protocol, result };
  });
  // the fault on the recorded timeline: warm-up, fault, heal (revert always runs), settle
  let reverted = false;
  await new Promise((r) => setTimeout(r, phases.warmMs));
  const faultAt = Date.now();
  const revert = await stack.apply(fault);
  let healAt: number;
  try {
    await new Promise((r) => setTimeout(r, phases.faultMs));
  } finally {
    healAt = Date.now();
    await revert();
    reverted = true;
  }
  // what the nodes hold right at heal, before the settle phase rewrites keys
  const atHeal = new Map<Protocol, FinalScan>();
  for (const protocol of PROTOCOLS) atHeal.set(protocol, await scanKeys(stack, `fm:${seed}:${fault}:${mitigation}:${protocol}:`, dbs.get(protocol)!));
  const done = await Promise.all(runs);
  const clean = reverted && (await stack.clean());
  const alive = pidAlive(stack.proxy.pid);
  const out: CellResult[] = [];
  for (const { protocol, result } of done) {
    out.push(await judge(stack, fault, mitigation, protocol, result, dbs.get(protocol)!, clean, alive, total, { faultAt, healAt, scan: atHeal.get(protocol)! }));
    dbs.get(protocol)!.close();
  }
  return out;
}

function scanKeys(stack: MatrixStack, prefix: string, db: SqliteSourceOfTruth): Promise<FinalScan> {
  return scanCluster({
    master: { host: '127.0.0.1', port: stack.ports.master },
    slave: stack.slaveDirect,
    keys: Array.from({ length: 20 }, (_, i) => `${prefix}${i}`),
    database: db,
    timeoutMs: 1000,
  });
}

async function judge(
  stack: MatrixStack,
  fault: Fault,
  mitigation: Mitigation,
  protocol: Protocol,
  result: WorkloadResult,
  db: SqliteSourceOfTruth,
  reverted: boolean,
  proxyAlive: boolean,
  totalMs: number,
  heal: { faultAt: number; healAt: number; scan: FinalScan },
): Promise<CellResult> {
  const keys = Array.from({ length: result.keyCount }, (_, i) => `${result.keyPrefix}${i}`);
  const scan = await scanCluster({
    master: { host: '127.0.0.1', port: stack.ports.master },
    slave: stack.slaveDirect,
    keys,
    database: db,
    timeoutMs: 1000,
  });
  const report = checkHistory(result.history, scan, { maxExamples: 10_000 });
  const from = heal.faultAt - result.startedAtMs;
  const to = heal.healAt - result.startedAtMs;
  // reads that began and ended while the fault was on: only the slave (or nothing) could serve them
  const staleDuringOutage = report.staleReads.examples.filter((e) => e.read.invoke >= from && e.read.complete < to).length;
  const healDivergence = summarizeDivergence(heal.scan);
  const overwritten = report.missingAckedWrites.examples.filter((e) => typeof e.master === 'number').length;
  const missing = report.missingAckedWrites.examples.filter((e) => e.master === 'missing').length;
  const lastSecond = Math.floor(totalMs / 1000) - 1;
  const okAfterHeal = report.perSecond.filter((s) => s.second >= lastSecond).reduce((n, s) => n + s.ok, 0);
  const states = Object.entries(report.divergence.judged ? report.divergence.states : {})
    .filter(([k, v]) => k !== 'consistent' && (v as number) > 0)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  const cell: CellResult = {
    fault,
    mitigation,
    protocol,
    ops: report.totals.ops,
    ok: report.totals.ok,
    fail: report.totals.fail,
    unknown: report.totals.unknown,
    staleReads: report.staleReads.count,
    staleDuringOutage,
    masterStaleAtHeal: healDivergence.states['master-stale'] + healDivergence.states['both-stale'],
    divergentAtHeal: healDivergence.divergent,
    divergent: report.divergence.judged ? report.divergence.divergent : -1,
    divergence: states || 'none',
    lostUpdates: report.lostUpdates.count,
    ackedOverwritten: overwritten,
    ackedMissing: missing,
    corrupt: report.corruptReads.count,
    reverted,
    proxyAlive,
    okAfterHeal,
    expectations: [],
    report,
  };
  cell.expectations = predictions(fault, mitigation).map((p) => ({ rule: p.rule, ok: p.check(cell) }));
  return cell;
}

export function matrixTable(cells: CellResult[]): string {
  const head = '| fault | mitigation | protocol | ops | ok / fail / unknown | stale reads (during outage) | master stale at heal | divergent at heal | divergent after settle | lost updates | acked writes overwritten (missing after crash) | reverted | verdict |';
  const sep = '|---|---|---|---:|---|---:|---:|---:|---|---:|---|---|---|';
  const rows = cells.map((c) => {
    const failed = c.expectations.filter((e) => !e.ok).map((e) => e.rule);
    const verdict = failed.length === 0 ? 'as predicted' : `UNEXPECTED: ${failed.join('; ')}`;
    return `| ${c.fault} | ${c.mitigation} | ${c.protocol} | ${c.ops} | ${c.ok} / ${c.fail} / ${c.unknown} | ${c.staleReads} (${c.staleDuringOutage}) | ${c.masterStaleAtHeal} | ${c.divergentAtHeal} | ${c.divergent} (${c.divergence}) | ${c.lostUpdates} | ${c.ackedOverwritten} (${c.ackedMissing}) | ${c.reverted ? 'yes' : 'NO'} | ${verdict} |`;
  });
  return [head, sep, ...rows].join('\n');
}

