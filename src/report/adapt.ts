/**
 * Adapters from what the commands produce (ChaosRunResult from src/chaos, the workload result and
 * the checker's CheckReport) to the report's own ReportInput. Also accepts a saved run envelope
 * or a ReportInput as is, so `cachectl report RUN.json` takes any of them.
 * The checker report is read defensively (it is `unknown` in ChaosRunResult): a missing field
 * means a missing line on a chart, never a crash.
 */
import { CachectlError } from '../errors.js';
import type { ChaosRunResult, ChaosSecond, MitigationRun, TimelineEvent } from '../chaos/types.js';
import type { CheckReport, PerSecond } from '../checker/check.js';
import type { HistoryOp } from '../workload/history.js';
import {
  REPORT_INPUT_VERSION,
  type ReportAnomaly,
  type ReportEvent,
  type ReportExpectation,
  type ReportInput,
  type ReportOperation,
  type ReportSecond,
  type ReportSeries,
  type ReportTotals,
  type ReportVerdict,
  type ReportWindow,
} from './types.js';

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export function isReportInput(v: unknown): v is ReportInput {
  return isObj(v) && v.version === REPORT_INPUT_VERSION && Array.isArray(v.series) && isObj(v.verdict) && typeof v.replayCommand === 'string';
}

export function isChaosRunResult(v: unknown): v is ChaosRunResult {
  return isObj(v) && v.kind === 'chaos-run' && Array.isArray(v.runs) && typeof v.scenario === 'string';
}

// ---------------------------------------------------------------- checker report

/** The checker's report (src/checker CheckReport); ChaosRunResult carries it as `unknown`. */
export function isCheckReport(v: unknown): v is CheckReport {
  return isObj(v) && isObj(v.verdict) && Array.isArray(v.perSecond) && isObj(v.staleReads) && isObj(v.totals);
}

const nz = (v: number | undefined | null): number | null => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : null);

/** One checker second as a report second; `shiftSec` moves workload time onto the run timeline. */
function checkerSecond(p: PerSecond, shiftSec: number): ReportSecond {
  const ops: Record<string, number> = { read: p.reads, update: p.updates };
  if (p.slaveWrites) ops['slave write'] = p.slaveWrites;
  // A second without reads (or updates) has no latency: null, so the line breaks instead of dropping to 0.
  const latency: ReportSecond['latency'] = {
    read: { p50Ms: p.reads ? nz(p.readP50Ms) : null, p99Ms: p.reads ? nz(p.readP99Ms) : null },
    update: { p50Ms: p.updates ? nz(p.updateP50Ms) : null, p99Ms: p.updates ? nz(p.updateP99Ms) : null },
  };
  return {
    second: p.second + shiftSec,
    ops,
    errors: p.fails,
    unknowns: p.unknowns,
    staleReads: p.staleReads,
    hitRate: p.hitRate,
    dbReads: p.dbReads,
    p50Ms: null,
    p99Ms: null,
    latency,
  };
}

/** A history operation (src/workload/history.ts: times in ms since the workload started) as a report row. */
export function historyOperation(o: HistoryOp, offsetSec = 0): ReportOperation {
  const notes = [
    o.source ? `from ${o.source}` : '',
    o.cacheResult ? `cache ${o.cacheResult}` : '',
    o.reply ? `reply ${o.reply}` : '',
    o.baseVersion !== undefined ? `gets saw v${o.baseVersion}` : '',
    o.commitAt !== undefined ? `db commit at ${(o.commitAt / 1000 + offsetSec).toFixed(3)}s` : '',
    o.ttl !== undefined ? `ttl ${o.ttl}s` : '',
    o.token ? `token ${o.token}` : '',
    o.error ?? '',
  ].filter(Boolean);
  return {
    client: o.client,
    op: o.op,
    key: o.key,
    invokeSec: o.invoke / 1000 + offsetSec,
    completeSec: Number.isFinite(o.complete) ? o.complete / 1000 + offsetSec : null,
    outcome: o.outcome,
    version: o.version ?? null,
    node: o.node ?? o.endpoint ?? null,
    ...(notes.length ? { note: notes.join(' · ') } : {}),
  };
}

/**
 * A last bucket the run only touched for a moment (it ended at 8.004 s: second 8 holds 4 ms of
 * traffic) would draw a false drop to zero at the end of every chart: leave it out.
 */
export function trimPartialTail(perSecond: ReportSecond[], endSec: number): ReportSecond[] {
  return perSecond.filter((p) => p.second + 0.5 <= endSec);
}

const t = (ms: number, offsetSec: number): string => `${(ms / 1000 + offsetSec).toFixed(2)}s`;

/** Every anomaly the checker proves, with the operations (or key states) that prove it. */
export function checkerAnomalies(check: CheckReport, offsetSec = 0): { anomalies: ReportAnomaly[]; omitted: number } {
  const anomalies: ReportAnomaly[] = [];
  let omitted = 0;
  const sr = check.staleReads;
  for (const e of sr.examples) {
    const u = e.newerUpdate;
    anomalies.push({
      kind: 'stale-read',
      key: e.read.key,
      description: `read returned v${e.read.version ?? '?'}${e.read.node ? ` from the ${e.read.node}` : ''} at ${t(e.read.invoke, offsetSec)}, but v${u.version} was committed at ${t(u.commitAt, offsetSec)} (client ${u.client}, cache write ${u.cacheResult ?? u.outcome}): ${e.versionsBehind} version${e.versionsBehind === 1 ? '' : 's'} behind, ${Math.round(e.ageMs)} ms stale`,
      operations: [
        { client: u.client, op: 'update', key: e.read.key, invokeSec: u.commitAt / 1000 + offsetSec, completeSec: u.complete / 1000 + offsetSec, outcome: u.outcome, version: u.version, node: 'db', note: `committed v${u.version}; cache ${u.cacheResult ?? '?'}` },
        historyOperation(e.read, offsetSec),
      ],
    });
  }
  omitted += Math.max(0, sr.count - sr.examples.length);
  for (const e of check.lostUpdates.examples) {
    anomalies.push({
      kind: 'lost-update',
      key: e.key,
      description: `${e.ops.length} CAS got STORED with the same token ${e.token}${e.baseVersion !== undefined ? ` (on v${e.baseVersion})` : ''}: all but one update was overwritten`,
      operations: e.ops.map((o) => historyOperation(o, offsetSec)),
    });
  }
  omitted += Math.max(0, check.lostUpdates.count - check.lostUpdates.examples.length);
  for (const e of check.missingAckedWrites.examples) {
    anomalies.push({
      kind: 'missing-acked-write',
      key: e.key,
      description: `the master acknowledged v${e.ackedVersion} at ${t(e.ack.complete, offsetSec)} but holds ${typeof e.master === 'number' ? `v${e.master}` : e.master} at the end`,
      operations: [historyOperation(e.ack, offsetSec)],
    });
  }
  omitted += Math.max(0, check.missingAckedWrites.count - check.missingAckedWrites.examples.length);
  if (check.divergence.judged) {
    const d = check.divergence;
    for (const k of d.examples) {
      const show = (v: unknown): string => (typeof v === 'number' ? `v${v}` : String(v));
      anomalies.push({
        kind: `divergence: ${k.state}`,
        key: k.key,
        description: `at the end: master ${show(k.master)}, slave ${show(k.slave)}${k.db !== undefined ? `, database v${k.db}` : ''}`,
        operations: [],
      });
    }
    omitted += Math.max(0, d.divergent - d.examples.length);
  }
  for (const o of check.corruptReads.examples) anomalies.push({ kind: 'corrupt-read', key: o.key, description: 'a read returned bytes that are not this key’s value', operations: [historyOperation(o, offsetSec)] });
  omitted += Math.max(0, check.corruptReads.count - check.corruptReads.examples.length);
  for (const e of check.impossibleReads.examples) {
    anomalies.push({ kind: 'impossible-read', key: e.read.key, description: `a read returned v${e.read.version ?? '?'}, newer than any version ever committed (v${e.newestKnownVersion})`, operations: [historyOperation(e.read, offsetSec)] });
  }
  omitted += Math.max(0, check.impossibleReads.count - check.impossibleReads.examples.length);
  return { anomalies, omitted };
}

function checkerTotals(check: CheckReport): ReportTotals {
  const out: ReportTotals = {
    operations: check.totals.ops,
    opsPerSec: Math.round(check.totals.opsPerSecond),
    staleReads: check.staleReads.count,
    maxStaleAgeMs: check.staleReads.count ? check.staleReads.maxAgeMs : undefined,
    lostUpdates: check.lostUpdates.count,
    missingAckedWrites: check.missingAckedWrites.judged ? check.missingAckedWrites.count : undefined,
    divergentKeys: check.divergence.judged ? check.divergence.divergent : undefined,
    hitRate: check.costs.hitRate ?? undefined,
    dbReads: check.costs.dbReads,
    failedWrites: check.totals.fail,
    unknownOutcomes: check.totals.unknown,
    readP50Ms: check.latency.read?.p50Ms,
    readP99Ms: check.latency.read?.p99Ms,
    updateP50Ms: check.latency.update?.p50Ms,
    updateP99Ms: check.latency.update?.p99Ms,
  };
  for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
  return out;
}

// ---------------------------------------------------------------- chaos

const RUN_VERDICT: Record<MitigationRun['verdict'], ReportVerdict['status']> = {
  'incident-reproduced': 'incident',
  consistent: 'pass',
  inconsistent: 'fail',
  'split-brain': 'fail',
  degraded: 'info',
};

const RUN_VERDICT_TEXT: Record<MitigationRun['verdict'], string> = {
  'incident-reproduced': 'incident reproduced',
  consistent: 'consistent',
  inconsistent: 'inconsistent',
  'split-brain': 'split brain',
  degraded: 'degraded',
};

/** Fault windows from fault-apply/-revert events (by subject), switch windows from switch-start/-end. */
export function windowsFromEvents(events: TimelineEvent[], fallbackFault: { startSec: number; endSec: number } | undefined, runEndSec: number, faultLabel: string): ReportWindow[] {
  const windows: ReportWindow[] = [];
  const openFaults = new Map<string, TimelineEvent>();
  let openSwitch: TimelineEvent | undefined;
  for (const e of [...events].sort((a, b) => a.atMs - b.atMs)) {
    const subject = e.subject ?? 'fault';
    if (e.kind === 'fault-apply') openFaults.set(subject, e);
    else if ((e.kind === 'fault-revert' || e.kind === 'fault-revert-failed') && openFaults.has(subject)) {
      const start = openFaults.get(subject)!;
      openFaults.delete(subject);
      windows.push({ kind: 'fault', label: faultWindowLabel(start, faultLabel), startSec: start.atMs / 1000, endSec: e.atMs / 1000 });
    } else if (e.kind === 'switch-start') openSwitch = e;
    else if (e.kind === 'switch-end' && openSwitch) {
      windows.push({ kind: 'switch', label: 'manual switch', startSec: openSwitch.atMs / 1000, endSec: e.atMs / 1000 });
      openSwitch = undefined;
    }
  }
  // A fault never reverted (interrupted run) still shades until the end.
  for (const start of openFaults.values()) windows.push({ kind: 'fault', label: faultWindowLabel(start, faultLabel), startSec: start.atMs / 1000, endSec: runEndSec });
  if (openSwitch) windows.push({ kind: 'switch', label: 'manual switch', startSec: openSwitch.atMs / 1000, endSec: runEndSec });
  if (!windows.some((w) => w.kind === 'fault') && fallbackFault) windows.push({ kind: 'fault', label: faultLabel, ...fallbackFault });
  // Several faults applied together (e.g. both directions of a link) become one labelled window.
  return mergeOverlapping(windows);
}

/** "link master down (Toxiproxy proxy disabled)" -> "fault: link master down": what was done, short. */
function faultWindowLabel(e: TimelineEvent, fallback: string): string {
  const what = e.message.replace(/\s*\([^)]*\)\s*/g, ' ').trim();
  if (!what) return fallback;
  return `fault: ${what.length > 48 ? `${what.slice(0, 47)}…` : what}`;
}

function mergeOverlapping(windows: ReportWindow[]): ReportWindow[] {
  const sorted = [...windows].sort((a, b) => a.startSec - b.startSec);
  const out: ReportWindow[] = [];
  for (const w of sorted) {
    const prev = out.find((o) => o.kind === w.kind && w.startSec <= o.endSec + 0.25 && w.endSec >= o.startSec - 0.25);
    if (prev) {
      prev.startSec = Math.min(prev.startSec, w.startSec);
      prev.endSec = Math.max(prev.endSec, w.endSec);
      if (!prev.label.includes(w.label)) prev.label = prev.label === w.label ? prev.label : `${prev.label} + ${w.label.replace(/^fault: /, '')}`;
    } else out.push({ ...w });
  }
  return out;
}

const EVENT_KINDS_SHOWN = new Set(['fault-apply', 'fault-revert', 'fault-revert-failed', 'switch-start', 'switch-step', 'switch-end', 'config-change', 'interrupted', 'note']);

/** The chaos series (aligned with the timeline) plus latency and op mix from the checker's second. */
function chaosSecond(s: ChaosSecond, checker: ReportSecond | undefined): ReportSecond {
  const reads = s.hits + s.misses;
  return {
    second: s.second,
    ops: checker?.ops ?? { read: s.reads, update: s.writes },
    errors: s.failedWrites,
    unknowns: s.unknownOutcomes,
    staleReads: s.staleReads,
    hitRate: reads > 0 ? s.hits / reads : null,
    dbReads: s.dbReads,
    p50Ms: checker?.p50Ms ?? null,
    p99Ms: checker?.p99Ms ?? null,
    ...(checker?.latency ? { latency: checker.latency } : {}),
  };
}

function chaosSeries(result: ChaosRunResult, run: MitigationRun): ReportSeries {
  const check = isCheckReport(run.check) ? run.check : undefined;
  // The checker counts seconds from the workload's start, the chaos series from the run's start.
  const workloadStart = run.timeline.events.find((e) => e.kind === 'workload-start');
  const offsetSec = (workloadStart?.atMs ?? 0) / 1000;
  const shift = Math.round(offsetSec);
  const checkerBySecond = new Map<number, ReportSecond>();
  for (const p of check?.perSecond ?? []) checkerBySecond.set(p.second + shift, checkerSecond(p, shift));
  const workloadStop = run.timeline.events.find((e) => e.kind === 'workload-stop');
  const perSecond = trimPartialTail(
    run.perSecond.length ? run.perSecond.map((s) => chaosSecond(s, checkerBySecond.get(s.second))) : [...checkerBySecond.values()],
    (workloadStop?.atMs ?? run.durationMs) / 1000,
  );
  const phases = run.timeline.phases.map((p) => ({ name: p.name, startSec: p.startMs / 1000, endSec: p.endMs / 1000 }));
  const faultPhase = phases.find((p) => p.name === 'fault');
  const faultLabel = `fault: ${result.config.fault ?? 'injected'}${result.scenario === 'master-down' ? ' master' : ''}`;
  const windows = windowsFromEvents(run.timeline.events, faultPhase, run.durationMs / 1000, faultLabel);
  if (run.switch?.completedAtMs !== undefined && !windows.some((w) => w.kind === 'switch')) {
    windows.push({ kind: 'switch', label: `manual switch (${run.switch.outcome})`, startSec: (run.switch.completedAtMs - run.switch.durationMs) / 1000, endSec: run.switch.completedAtMs / 1000 });
  }
  const events: ReportEvent[] = run.timeline.events.filter((e) => EVENT_KINDS_SHOWN.has(e.kind)).map((e) => ({ atSec: e.atMs / 1000, label: e.message }));
  const { anomalies, omitted } = check ? checkerAnomalies(check, offsetSec) : { anomalies: [], omitted: 0 };
  // The checker's numbers first, then the scenario's own metrics (same names: the scenario wins).
  const totals: ReportTotals = check ? checkerTotals(check) : {};
  for (const [k, v] of Object.entries(run.metrics as unknown as Record<string, unknown>)) if (num(v) !== undefined) totals[k] = v as number;
  return {
    label: run.label,
    verdict: { status: RUN_VERDICT[run.verdict] ?? 'info', summary: run.findings.join(' ') || RUN_VERDICT_TEXT[run.verdict] },
    totals,
    perSecond,
    phases,
    windows,
    events,
    anomalies,
    anomaliesOmitted: omitted,
    durationMs: run.durationMs,
  };
}

function msText(ms: number | undefined): string | null {
  if (ms === undefined) return null;
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

export function fromChaosRunResult(result: ChaosRunResult): ReportInput {
  const c = result.config;
  const series = result.runs.map((r) => chaosSeries(result, r));
  const expectations: ReportExpectation[] = result.expectations.map((e) => ({
    rule: e.rule,
    series: e.run,
    metric: e.metric,
    value: e.actual,
    pass: e.passed,
    ...(e.passed ? {} : { message: e.message }),
  }));
  const incident = result.runs.some((r) => r.verdict === 'incident-reproduced');
  const status: ReportVerdict['status'] =
    result.verdict === 'fail' ? 'fail' : result.expectations.length === 0 && incident ? 'incident' : result.expectations.length === 0 && result.runs.some((r) => RUN_VERDICT[r.verdict] === 'fail') ? 'fail' : 'pass';
  const settings: ReportInput['settings'] = {
    fault: c.fault ?? null,
    mitigations: c.mitigations.join(', '),
    warmup: msText(c.warmupMs),
    fault_duration: msText(c.faultMs),
    heal: msText(c.healMs),
    settle: msText(c.settleMs),
    ...(c.switchAfterMs !== undefined ? { switch_after: msText(c.switchAfterMs) } : {}),
    clients: c.clients,
    keys: c.keys,
    read_ratio: c.readRatio,
    read_policy: c.readPolicy,
    rate: c.opsPerSecond ? `${c.opsPerSecond} ops/s` : 'unlimited',
    short_ttl: `${c.shortTtlSeconds}s`,
    proxy_timeout: msText(c.proxyTimeoutMs),
    proxies: c.proxies,
    runtime: c.cluster.runtime,
    cluster: `${c.cluster.name}${c.cluster.ephemeral ? ' (ephemeral)' : ''}`,
    ...(result.interrupted ? { interrupted: true } : {}),
  };
  return {
    version: REPORT_INPUT_VERSION,
    kind: 'chaos',
    scenario: result.scenario,
    title: result.title || `chaos ${result.scenario}`,
    startedAt: result.startedAt,
    durationMs: result.durationMs,
    seed: result.seed,
    replayCommand: result.replay,
    settings,
    verdict: { status, summary: result.summary.join('\n') },
    expectations,
    series,
  };
}

// ---------------------------------------------------------------- workload

/** What `cachectl workload --json` prints (src/workload/cli.ts WorkloadCommandResult), as far as the report needs it. */
export interface WorkloadRunLike {
  seed: number;
  keys: number;
  keyPrefix?: string;
  target: string;
  endpoints?: string[];
  mitigation: string;
  stoppedBy: string;
  durationMs: number;
  opsPerSecond: number;
  counts: { ops: number; reads: number; updates: number };
  check: CheckReport;
  /** added by saveRunArtifacts when the command knows them */
  startedAt?: string;
  replay?: string;
}

export function isWorkloadResult(v: unknown): v is WorkloadRunLike {
  return isObj(v) && typeof v.seed === 'number' && typeof v.stoppedBy === 'string' && isObj(v.counts) && isCheckReport(v.check);
}

export interface RunContext {
  /** the exact command line that replays the run (from the command's argv) */
  replayCommand?: string;
  /** ISO time the run started */
  startedAt?: string;
}

export function fromWorkloadResult(result: WorkloadRunLike, ctx: RunContext = {}): ReportInput {
  const check = result.check;
  const { anomalies, omitted } = checkerAnomalies(check);
  const perSecond = trimPartialTail(
    check.perSecond.map((p) => checkerSecond(p, 0)),
    result.durationMs / 1000,
  );
  const durationSec = result.durationMs / 1000;
  const ok = check.verdict.ok;
  const replay =
    ctx.replayCommand ??
    result.replay ??
    `cachectl workload --seed ${result.seed} --keys ${result.keys} --mitigation ${result.mitigation} --target ${result.target === 'servers' ? 'master' : result.target}`;
  const startedAt = ctx.startedAt ?? result.startedAt ?? new Date(Date.now() - result.durationMs).toISOString();
  return {
    version: REPORT_INPUT_VERSION,
    kind: 'workload',
    scenario: 'workload',
    title: `workload — ${result.mitigation === 'none' ? 'no mitigation' : result.mitigation}, ${result.counts.ops.toLocaleString('en-US')} ops`,
    startedAt,
    durationMs: result.durationMs,
    seed: result.seed,
    replayCommand: replay,
    settings: {
      target: result.target,
      endpoints: (result.endpoints ?? []).join(', ') || null,
      mitigation: result.mitigation,
      keys: result.keys,
      stopped_by: result.stoppedBy,
      ops_per_second: result.opsPerSecond,
    },
    verdict: { status: ok ? 'pass' : 'fail', summary: check.verdict.summary },
    expectations: [],
    series: [
      {
        label: result.mitigation === 'none' ? 'workload' : result.mitigation,
        verdict: { status: ok ? 'pass' : 'fail', summary: check.verdict.summary },
        totals: checkerTotals(check),
        perSecond,
        phases: [{ name: 'run', startSec: 0, endSec: durationSec }],
        windows: [],
        events: [],
        anomalies,
        anomaliesOmitted: omitted,
        durationMs: result.durationMs,
      },
    ],
  };
}

// ---------------------------------------------------------------- entry point

/**
 * Anything `cachectl report` or `saveRunArtifacts` is given: a saved run envelope, a ReportInput,
 * a ChaosRunResult, or a workload result (via the workload adapter registered below).
 */
export function toReportInput(value: unknown, source = 'the input', ctx: RunContext = {}): ReportInput {
  if (isObj(value) && value.format === 'cachectl-run' && isReportInput(value.report)) {
    // Re-read the raw result with today's adapter (newer charts, labels), keeping what only the
    // saved report knows: its id, start time and replay command.
    const saved = value.report;
    if (isChaosRunResult(value.result) || isWorkloadResult(value.result)) {
      const fresh = toReportInput(value.result, source, { replayCommand: saved.replayCommand, startedAt: saved.startedAt });
      return { ...fresh, startedAt: saved.startedAt, ...(saved.runId ? { runId: saved.runId } : {}) };
    }
    return saved;
  }
  if (isReportInput(value)) return value;
  let input: ReportInput | undefined;
  if (isChaosRunResult(value)) input = fromChaosRunResult(value);
  else if (isWorkloadResult(value)) input = fromWorkloadResult(value, ctx);
  if (input) return ctx.replayCommand ? { ...input, replayCommand: ctx.replayCommand } : input;
  for (const adapter of extraAdapters) {
    const r = adapter(value);
    if (r) return r;
  }
  throw new CachectlError('USAGE', `${source} is not a cachectl run: expected the --json output of a chaos or workload command, or a run saved under the results folder`, {
    hint: 'save one with `cachectl chaos master-down --json > run.json`, or list saved runs with `cachectl runs`',
  });
}

type Adapter = (value: unknown) => ReportInput | undefined;
const extraAdapters: Adapter[] = [];

/** Lets the workload adapter (workload.ts) plug in without a cycle. */
export function registerAdapter(adapter: Adapter): void {
  extraAdapters.push(adapter);
}
