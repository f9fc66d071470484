import type { CachectlConfig } from '../config/schema.js';
import { CachectlError } from '../errors.js';
import type { ProxyNodeAddr } from '../proxy/config.js';
import { systemClock, type Clock } from '../util/clock.js';
import { getFreePort } from '../util/net.js';
import { asciiSwitchProbe } from './cluster-ops.js';
import { evaluateExpectations, parseExpectations } from './expectations.js';
import { CHAOS_PREFIX, type FaultSpec } from './faults.js';
import { withFaultGuard } from './guard.js';
import { addrText } from './proxy-admin.js';
import { replayCommand, type ScenarioRequest } from './request.js';
import { runPhases, type RunContext, type RunPlan, type RunProgress } from './run-phases.js';
import { ClusterSession } from './session.js';
import { runRejoin, runSwitch } from './switch.js';
import type { ChaosMetrics, ChaosRunResult, ChaosScenarioName, MitigationRun, SwitchResult } from './types.js';

/**
 * The named scenarios. Each is a list of RunPlans (one per mitigation) run on the same seed on a
 * freshly flushed cluster, then judged by the expectations.
 */

export interface ScenarioRunOptions {
  log?: (line: string) => void;
  /** live progress line (the CLI passes src/report's reporter on a terminal) */
  progress?: RunProgress;
  /** the CLI installs SIGINT/SIGTERM handlers that revert and exit 130 */
  handleSignals?: boolean;
  clock?: Clock;
  /** swap the exit on interrupt (tests) */
  exit?: (code: number) => void;
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

function safetyVerdict(m: ChaosMetrics): MitigationRun['verdict'] {
  const unsafe = m.staleReads > 0 || m.slaveStaleKeys > 0 || m.masterStaleKeys > 0 || m.lostUpdates > 0 || m.missingAckedWrites > 0;
  if (unsafe) return 'inconsistent';
  // Safe, but the copies differ (e.g. keys missing on the slave): readers pay in database reads.
  return m.divergentKeys > 0 ? 'degraded' : 'consistent';
}

function costLine(m: ChaosMetrics): string {
  return `hit rate ${(m.hitRate * 100).toFixed(1)}%, ${plural(m.dbReads, 'database read')}, ${plural(m.failedWrites, 'failed write')}, ${plural(m.unknownOutcomes, 'unknown outcome')}`;
}

// ---------------------------------------------------------------------------------------------
// master-down

export function masterFault(request: ScenarioRequest, link: string, node: string): FaultSpec {
  switch (request.fault) {
    case 'partition':
      return { kind: 'link-down', link };
    case 'crash':
      return { kind: 'crash', node };
    case 'reply-lost':
      // Toxiproxy cannot pick commands, so cut the master's replies by volume: every connection
      // is closed after 2 KiB of replies. Requests already sent when it closes have reached the
      // master (a CAS is applied) but their replies never arrive; each reconnect starts again.
      return { kind: 'limit-data', link, direction: 'downstream', bytes: 2048 };
    case 'slow':
      return { kind: 'latency', link, direction: 'downstream', latencyMs: request.proxyTimeoutMs * 3, jitterMs: Math.round(request.proxyTimeoutMs / 2) };
  }
}

const FAULT_WORDS: Record<ScenarioRequest['fault'], string> = {
  partition: 'the master was cut off by the network (Toxiproxy link disabled)',
  crash: 'the master was killed (kill -9) and restarted empty',
  'reply-lost': "the master applied writes but their replies never arrived (Toxiproxy limit_data: every master connection cut after 2 KiB of replies)",
  slow: `the master answered slower than the proxy's timeout (latency toxic on its replies)`,
};

function masterDownFindings(m: ChaosMetrics, ctx: { request: ScenarioRequest; notes: string[]; switch?: SwitchResult }, mitigation: string): string[] {
  const out: string[] = [];
  const r = ctx.request;
  out.push(`${FAULT_WORDS[r.fault]} for ${(r.faultMs / 1000).toFixed(1)}s.`);
  if (ctx.switch) {
    out.push(
      `Before the switch: master CAS failed ${m.masterCasFailures} times, ${plural(m.staleReadsDuringFault - m.staleReadsAfterSwitch, 'stale read')} during the outage (mitigation ${mitigation}).`,
    );
    if (r.fault === 'partition' && m.slaveStaleKeysAtHeal > 0) {
      out.push(`The partitioned old master came back holding old values on ${plural(m.slaveStaleKeysAtHeal, 'key')}; it stayed detached and was flushed before it rejoined as slave, so none of them was served.`);
    }
  } else if (mitigation === 'none') {
    if (m.staleReads > 0) {
      out.push(
        `Incident reproduced: master CAS failed ${m.masterCasFailures} times, the slave was not updated, ${plural(m.staleReadsDuringFault, 'stale read')} served by the slave during the outage (${m.staleReads} in all), ${plural(m.divergentKeysAtHeal, 'key')} diverged at recovery (${m.slaveStaleKeysAtHeal} stale on the slave, ${m.masterStaleKeysAtHeal} stale on the master; ${m.divergentKeys} still at the end).`,
      );
    } else {
      out.push(`The incident did not show: master CAS failed ${m.masterCasFailures} times but no stale read was observed (try a longer --fault-duration or more --clients).`);
    }
  } else if (mitigation === 'proxy-delete') {
    out.push(`proxy-delete: master CAS failed ${m.masterCasFailures} times; the proxy deleted those keys on the slave: ${plural(m.staleReadsDuringFault, 'stale read')} during the outage, ${m.staleReads} in all.`);
  } else if (mitigation === 'client-short-ttl') {
    out.push(`client-short-ttl: master CAS failed ${m.masterCasFailures} times; the clients wrote ${plural(m.slaveWritesDuringFault, 'short-TTL value')} straight to the slave (TTL ${r.shortTtlSeconds}s): ${plural(m.staleReadsDuringFault, 'stale read')} during the outage, ${m.staleReads} in all.`);
  }
  if (!ctx.switch && r.fault === 'partition' && m.masterStaleKeysAtHeal > 0) {
    out.push(`The partitioned master came back holding old values: ${plural(m.masterStaleKeysAtHeal, 'key')} older than the database when it rejoined (no mitigation on the slave fixes the master; ${m.staleReadsAfterHeal} stale reads after the heal).`);
  }
  if (r.fault === 'crash' && m.missingAckedWrites > 0) out.push(`The crashed master came back empty: ${plural(m.missingAckedWrites, 'acknowledged write')} gone from it (they reload from the database).`);
  if (!ctx.switch && m.staleReadsAfterHeal > 0) out.push(`${plural(m.staleReadsAfterHeal, 'stale read')} after the heal: the damage outlives the outage.`);
  if (ctx.switch) {
    const s = ctx.switch;
    out.push(
      `Manual switch ${s.outcome} (epoch ${s.fromEpoch} -> ${s.toEpoch}, ${s.durationMs} ms): ${s.newMaster} is master${s.oldMasterDetached ? ', the old master was detached until it could be flushed' : ''}${s.newMasterFlushed ? ', the new master was flushed first' : ''}; ${plural(m.staleReadsAfterSwitch, 'stale read')} after the switch completed, ${plural(m.missingAckedWrites, 'acknowledged write')} lost.`,
    );
  }
  out.push(...ctx.notes);
  out.push(`Cost: ${costLine(m)}.`);
  return out;
}

function masterDownPlan(request: ScenarioRequest, mitigation: RunPlan['mitigation']): RunPlan {
  const switching = request.switchAfterMs !== undefined;
  return {
    label: mitigation,
    mitigation,
    scanAfterHeal: request.fault === 'crash',
    inject: async (ctx) => {
      const applied = await ctx.guard.apply(masterFault(request, ctx.session.linkName('master'), ctx.session.nodeName('master')));
      return () => ctx.guard.revert(applied);
    },
    ...(switching
      ? {
          duringFault: async (ctx: RunContext) => {
            await ctx.sleep(request.switchAfterMs!);
            ctx.timeline.event('switch-start', 'manual switch: fence, promote the slave, unfence');
            const result = await runSwitch({
              proxies: ctx.session.admins,
              nodeOps: ctx.session.nodeOps,
              probe: asciiSwitchProbe(ctx.session.proxyClientEndpoints),
              nodeName: (a) => ctx.session.nodeNameOf(a),
              elapsed: () => ctx.timeline.elapsed(),
              drainMs: request.proxyTimeoutMs * 2,
            });
            for (const step of result.steps) ctx.timeline.event('switch-step', `${step.step}: ${step.message}`, 'switch', { epoch: step.epoch, ok: step.ok });
            ctx.timeline.event('switch-end', `switch ${result.outcome}${result.ok ? '' : ' (verification failed)'}`, 'switch');
            ctx.setSwitch(result);
            if (result.outcome === 'switched' || result.outcome === 'rolled-forward') {
              ctx.setScanRoles({ master: ctx.session.direct('slave'), slave: ctx.session.direct('master') });
            }
          },
          afterHeal: async (ctx: RunContext) => {
            const configs = await ctx.session.configs();
            if (configs[0].shards[0].slave !== null) return;
            // The old master is reachable again: flush it and attach it as the slave.
            const rejoin = await runRejoin({
              proxies: ctx.session.admins,
              nodeOps: ctx.session.nodeOps,
              probe: asciiSwitchProbe(ctx.session.proxyClientEndpoints),
              nodeName: (a) => ctx.session.nodeNameOf(a),
              node: ctx.session.proxyLink('master'),
              elapsed: () => ctx.timeline.elapsed(),
            });
            ctx.timeline.event('switch-step', `rejoin: ${rejoin.ok ? 'old master flushed and attached as slave' : 'old master stays detached'} (epoch ${rejoin.toEpoch})`, 'switch');
            ctx.notes.push(rejoin.ok ? `After the heal the old master was flushed and rejoined as slave (epoch ${rejoin.toEpoch}).` : `After the heal the old master could not rejoin: ${rejoin.steps.map((s) => s.message).join('; ')}`);
          },
        }
      : {}),
    verdict: (m, c) => {
      if (mitigation === 'none' && m.staleReads > 0 && !c.switch) return 'incident-reproduced';
      if (c.switch) return c.switch.ok && m.staleReadsAfterSwitch === 0 && m.missingAckedWrites === 0 && m.lostUpdates === 0 ? 'consistent' : 'inconsistent';
      return safetyVerdict(m);
    },
    findings: (m, ctx) => masterDownFindings(m, ctx, mitigation),
  };
}

// ---------------------------------------------------------------------------------------------
// slave-down, slave-slow, flapping

function replicationFailures(stats: unknown[]): number {
  let n = 0;
  for (const s of stats) {
    const f = (s as { replication?: { failures?: number } }).replication?.failures;
    if (typeof f === 'number') n += f;
  }
  return n;
}

function slavePlan(request: ScenarioRequest, kind: 'slave-down' | 'slave-slow', mitigation: RunPlan['mitigation']): RunPlan {
  return {
    label: mitigation,
    mitigation,
    inject: async (ctx) => {
      const link = ctx.session.linkName('slave');
      const spec: FaultSpec =
        kind === 'slave-down' ? { kind: 'link-down', link } : { kind: 'latency', link, direction: 'downstream', latencyMs: request.proxyTimeoutMs * 3, jitterMs: Math.round(request.proxyTimeoutMs / 2) };
      const applied = await ctx.guard.apply(spec);
      return () => ctx.guard.revert(applied);
    },
    verdict: (m) => safetyVerdict(m),
    findings: (m, ctx) => {
      const stats = ctx.check.verdict.summary;
      return [
        kind === 'slave-down'
          ? `The slave was cut off for ${(request.faultMs / 1000).toFixed(1)}s; the master kept taking CAS writes (${plural(m.failedWrites + m.unknownOutcomes, 'write')} failed or unknown).`
          : `The slave answered slower than the proxy's timeout for ${(request.faultMs / 1000).toFixed(1)}s; the master kept taking CAS writes (${plural(m.failedWrites + m.unknownOutcomes, 'write')} failed or unknown).`,
        `Replication to the slave failed ${plural(replicationFailures(ctx.proxyStats), 'time')} (proxy stats); when the slave came back ${plural(m.slaveStaleKeysAtHeal, 'key')} were stale on it and ${m.divergentKeysAtHeal} diverged; ${plural(m.staleReadsAfterHeal, 'stale read')} after the heal, ${plural(m.slaveStaleKeys, 'key')} still stale on the slave at the end.`,
        ...ctx.notes,
        `Checker: ${stats}`,
        `Cost: ${costLine(m)}.`,
      ];
    },
  };
}

function flappingPlan(request: ScenarioRequest, mitigation: RunPlan['mitigation']): RunPlan {
  const periodMs = 1000;
  let loop: Promise<void> | undefined;
  return {
    label: mitigation,
    mitigation,
    inject: async (ctx) => {
      const link = ctx.session.linkName('master');
      let stop = false;
      let flaps = 0;
      loop = (async () => {
        const end = Date.now() + request.faultMs - periodMs / 2;
        while (!stop && Date.now() < end) {
          const applied = await ctx.guard.apply({ kind: 'link-down', link });
          flaps++;
          await ctx.sleep(periodMs / 2);
          await ctx.guard.revert(applied);
          if (Date.now() >= end) break;
          await ctx.sleep(periodMs / 2);
        }
        ctx.notes.push(`The master link flapped ${plural(flaps, 'time')} (down ${periodMs / 2} ms, up ${periodMs / 2} ms).`);
      })();
      // Awaited by the heal; an interrupt in between must not be an unhandled rejection.
      loop.catch(() => undefined);
      return async () => {
        stop = true;
        await loop;
      };
    },
    verdict: (m) => safetyVerdict(m),
    findings: (m, ctx) => [
      ...ctx.notes,
      `master CAS failed ${m.masterCasFailures} times; ${plural(m.staleReads, 'stale read')} (${m.staleReadsDuringFault} while flapping), ${plural(m.divergentKeys, 'key')} diverged at the end.`,
      `Cost: ${costLine(m)}.`,
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// auto-failover: two proxies, only proxy-1 cut off from the master

/**
 * With one Toxiproxy link per node, cutting the master link would cut both proxies. So the
 * scenario adds a second link to the master, "chaos-master-proxy-1", points proxy-1 (only) at it
 * via PUT /config, puts both proxies in `auto` failover, and disables that link: proxy-1 alone
 * loses the master and promotes the slave; proxy-0 keeps the old master. Two masters.
 */
function autoFailoverPlan(): RunPlan {
  const dedicated = `${CHAOS_PREFIX}master-proxy-1`;
  let dedicatedAddr: ProxyNodeAddr | undefined;
  return {
    label: 'auto',
    mitigation: 'none',
    prepare: async (session, guard) => {
      const port = await getFreePort();
      // Same upstream as the "master" link; on a Docker bridge proxies reach it as toxiproxy:port.
      const masterLink = session.state.toxiproxy.links.find((l) => l.node === 'master')!;
      dedicatedAddr = session.bridgeNetwork ? { host: 'toxiproxy', port } : { host: '127.0.0.1', port };
      await session.injector.createLink(dedicated, `${session.bridgeNetwork ? '0.0.0.0' : '127.0.0.1'}:${port}`, `${masterLink.upstream.host}:${masterLink.upstream.port}`);
      session.addAlias(dedicatedAddr, `master (via ${dedicated})`);
      guard.defer(`remove link ${dedicated}`, () => session.injector.removeLink(dedicated));
    },
    proxyPatch: (_cur, i, session) => ({
      failover: 'auto',
      failoverThreshold: 3,
      ...(i === 1 && dedicatedAddr ? { shards: [{ name: 'shard-0', master: dedicatedAddr, slave: session.proxyLink('slave') }] } : {}),
    }),
    inject: async (ctx) => {
      const applied = await ctx.guard.apply({ kind: 'link-down', link: dedicated });
      return () => ctx.guard.revert(applied);
    },
    duringFault: async (ctx) => {
      // Watch the proxies' configs: when they disagree on the master, that is split brain.
      const deadline = Date.now() + ctx.request.faultMs - 200;
      let seen = 1;
      while (Date.now() < deadline) {
        const configs = await ctx.session.configs().catch(() => null);
        if (configs) {
          // Compare nodes, not addresses: proxy-1 reaches the same master through its own link.
          const nodes = configs.map((c) => ctx.session.nodeNameOf(c.shards[0].master).replace(/ \(via .*\)$/, ''));
          const distinct = new Set(nodes).size;
          if (distinct > seen) {
            seen = distinct;
            const line = `two masters: ${configs.map((c, i) => `proxy-${i} -> ${ctx.session.nodeNameOf(c.shards[0].master)} (${addrText(c.shards[0].master)}, epoch ${c.epoch})`).join(', ')}`;
            ctx.notes.push(line);
            ctx.timeline.event('config-change', line, 'proxy-1');
          }
        }
        ctx.extraMetrics.mastersInUse = seen;
        await ctx.sleep(100);
      }
    },
    afterRun: async (ctx) => {
      // Auto failover never fails back: the proxies' final configs still show a split that the
      // poll during the fault may have missed (e.g. a promotion after a timeout under load).
      const configs = await ctx.session.configs();
      const nodes = configs.map((c) => ctx.session.nodeNameOf(c.shards[0].master).replace(/ \(via .*\)$/, ''));
      const distinct = new Set(nodes).size;
      if (distinct > (ctx.extraMetrics.mastersInUse ?? 1)) {
        const line = `two masters at the end: ${configs.map((c, i) => `proxy-${i} -> ${nodes[i]} (epoch ${c.epoch})`).join(', ')}`;
        ctx.notes.push(line);
        ctx.timeline.event('config-change', line);
        ctx.extraMetrics.mastersInUse = distinct;
      }
    },
    verdict: (m) => (m.mastersInUse > 1 && (m.lostUpdates > 0 || m.missingAckedWrites > 0 || m.staleReads > 0 || m.divergentKeys > 0) ? 'split-brain' : safetyVerdict(m)),
    findings: (m, ctx) => [
      'proxy-1 alone was cut off from the master (its own Toxiproxy link); both proxies were in auto failover mode.',
      ...(m.mastersInUse > 1 ? [] : ['proxy-1 did not promote the slave (no split brain observed): try a longer --fault-duration.']),
      ...ctx.notes,
      `Split brain: ${plural(m.lostUpdates, 'lost update')}, ${plural(m.missingAckedWrites, 'acknowledged write')} missing from the master, ${plural(m.staleReads, 'stale read')}, ${plural(m.divergentKeys, 'key')} diverged (master stale ${m.masterStaleKeys}, slave stale ${m.slaveStaleKeys}).`,
      'This is why the switch is manual and coordinated: see `cachectl switch`.',
      `Cost: ${costLine(m)}.`,
    ],
  };
}

// ---------------------------------------------------------------------------------------------

const TITLES: Record<ScenarioRequest['scenario'], (r: ScenarioRequest) => string> = {
  'master-down': (r) => `master down (${r.fault})${r.switchAfterMs !== undefined ? ` with a manual switch after ${r.switchAfterMs} ms` : ''}`,
  'slave-down': () => 'slave down (link disabled)',
  'slave-slow': () => "slave slower than the proxy's timeout",
  flapping: () => 'master link flapping',
  'auto-failover': () => 'auto failover with one proxy cut off from the master (split brain)',
};

export function plansFor(request: ScenarioRequest): RunPlan[] {
  switch (request.scenario) {
    case 'master-down':
      return request.mitigations.map((m) => masterDownPlan(request, m));
    case 'slave-down':
    case 'slave-slow':
      return request.mitigations.map((m) => slavePlan(request, request.scenario as 'slave-down' | 'slave-slow', m));
    case 'flapping':
      return request.mitigations.map((m) => flappingPlan(request, m));
    case 'auto-failover':
      return [autoFailoverPlan()];
  }
}

export async function runChaosScenario(config: CachectlConfig, request: ScenarioRequest, options: ScenarioRunOptions = {}): Promise<ChaosRunResult> {
  const clock = options.clock ?? systemClock;
  const log = options.log ?? (() => undefined);
  const expectations = parseExpectations(request.expect);
  const startMono = clock.monotonic();
  const startedAt = new Date(clock.now()).toISOString();
  const plans = plansFor(request);
  const proxiesNeeded = request.scenario === 'auto-failover' ? 2 : 1;
  log(`chaos ${request.scenario}: seed ${request.seed} (replay: ${replayCommand(request)})`);
  const session = await ClusterSession.open(
    config,
    { proxies: proxiesNeeded, proxy: { readPolicy: request.readPolicy, timeoutMs: request.proxyTimeoutMs, probeIntervalMs: 100 }, shortTtlSeconds: request.shortTtlSeconds, shard: request.shard },
    log,
  );
  try {
    session.useShard(request.shard);
  } catch (err) {
    await session.close().catch(() => undefined);
    throw err;
  }
  const runs: MitigationRun[] = [];
  let interrupted = false;
  try {
    await withFaultGuard(
      session.injector,
      async (guard, signal) => {
        // Registered first, so it runs last: also on Ctrl-C, after every fault is reverted.
        guard.defer('remove the ephemeral cluster', () => session.close());
        if (!session.ephemeral) {
          // Put the user's proxies back as they were (under a new epoch) when we are done.
          const before = await session.configs();
          guard.defer('restore the proxies\u2019 config', async () => {
            const now = await session.configs();
            const epoch = Math.max(...now.map((c) => c.epoch)) + 1;
            await Promise.all(
              session.admins.map((a, i) => {
                const { epoch: _e, ...rest } = before[i];
                return a.putConfig({ epoch, ...rest });
              }),
            );
            await session.flushBoth();
          });
        }
        signal.addEventListener('abort', () => (interrupted = true), { once: true });
        for (const plan of plans) {
          log(`run ${runs.length + 1}/${plans.length}: ${plan.label}`);
          const run = await runPhases(plan, session, guard, signal, request, { clock, log, scenarioStartMono: startMono, progress: options.progress });
          runs.push(run);
          log(`run ${plan.label} done in ${(run.durationMs / 1000).toFixed(1)}s: ${run.verdict}`);
        }
      },
      { handleSignals: options.handleSignals, log, exit: options.exit },
    );
  } finally {
    await session.close().catch((err: unknown) => log(`could not remove the ephemeral cluster: ${(err as Error).message}`));
  }
  const evaluated = evaluateExpectations(
    expectations,
    runs.map((r) => ({ label: r.label, metrics: r.metrics })),
  );
  const verdict = evaluated.every((e) => e.passed) ? 'pass' : 'fail';
  const summary = runs.flatMap((r) => (runs.length > 1 ? [`[${r.label}] ${r.verdict}: ${r.findings[1] ?? r.findings[0]}`] : r.findings));
  for (const e of evaluated.filter((x) => !x.passed)) summary.push(`expectation failed: ${e.message}`);
  return {
    kind: 'chaos-run',
    version: 1,
    scenario: request.scenario as ChaosScenarioName,
    title: TITLES[request.scenario](request),
    seed: request.seed,
    replay: replayCommand(request),
    config: {
      ...(request.scenario === 'master-down' ? { fault: request.fault } : {}),
      mitigations: request.mitigations,
      warmupMs: request.warmupMs,
      faultMs: request.faultMs,
      healMs: request.healMs,
      settleMs: request.settleMs,
      clients: request.clients,
      keys: request.keys,
      readRatio: request.readRatio,
      readPolicy: request.readPolicy,
      shortTtlSeconds: request.shortTtlSeconds,
      proxyTimeoutMs: request.proxyTimeoutMs,
      opsPerSecond: request.opsPerSecond,
      ...(request.switchAfterMs !== undefined ? { switchAfterMs: request.switchAfterMs } : {}),
      proxies: session.admins.length,
      cluster: { name: session.config.name, runtime: session.state.runtime, ephemeral: session.ephemeral },
    },
    runs,
    expectations: evaluated,
    verdict,
    summary,
    startedAt,
    durationMs: Math.round(clock.monotonic() - startMono),
    interrupted,
  };
}

export function assertScenario(name: string): asserts name is ScenarioRequest['scenario'] {
  if (!['master-down', 'slave-down', 'slave-slow', 'flapping', 'auto-failover'].includes(name)) {
    throw new CachectlError('USAGE', `unknown scenario ${name}`);
  }
}
