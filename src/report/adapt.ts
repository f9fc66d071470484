/**
 * Adapters from what the commands produce (ChaosRunResult from src/chaos, the workload result and
 * the checker's CheckReport) to the report's own ReportInput. Also accepts a saved run envelope
 * or a ReportInput as is, so `cachectl report RUN.json` takes any of them.
 * The checker report is read defensively (it is `unknown` in ChaosRunResult): a missing field
 * means a missing line on a chart, never a crash.
 */
import { CachectlError } from '../errors.js';
import type { ChaosRunResult, ChaosSecond, MitigationRun, TimelineEvent } from '../chaos/types.js';
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
const numOrNull = (v: unknown): number | null => num(v) ?? null;
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export function isReportInput(v: unknown): v is ReportInput {
  return isObj(v) && v.version === REPORT_INPUT_VERSION && Array.isArray(v.series) && isObj(v.verdict) && typeof v.replayCommand === 'string';
}

export function isChaosRunResult(v: unknown): v is ChaosRunResult {
  return isObj(v) && v.kind === 'chaos-run' && Array.isArray(v.runs) && typeof v.scenario === 'string';
}

// ---------------------------------------------------------------- checker report (unknown shape)

/** Per-second latency/op data from a CheckReport-like object, keyed by second. */
function checkerSeconds(check: unknown): Map<number, Obj> {
  const out = new Map<number, Obj>();
  const list = isObj(check) ? (check.perSecond ?? check.seconds) : undefined;
  if (!Array.isArray(list)) return out;
  list.forEach((p, i) => {
    if (isObj(p)) out.set(num(p.second) ?? i, p);
  });
  return out;
}

/** ops by type from a checker second: `ops: {read: n}` or `opsByType`, or flat counters. */
function opsOf(p: Obj): Record<string, number> | undefined {
  const ops = p.ops ?? p.opsByType ?? p.throughput;
  if (isObj(ops)) {
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(ops)) if (num(v) !== undefined) out[k] = v as number;
    return Object.keys(out).length ? out : undefined;
  }
  return undefined;
}

function latencyOf(p: Obj): { p50: number | null; p99: number | null } {
  const lat = isObj(p.latency) ? p.latency : isObj(p.latencyMs) ? p.latencyMs : p;
  return {
    p50: numOrNull(lat.p50Ms ?? lat.p50),
    p99: numOrNull(lat.p99Ms ?? lat.p99),
  };
}

/**
 * One history operation (src/workload/history.ts HistoryOp: invoke/complete in ms since the
 * workload started) as a report row in seconds on the run's timeline. offsetSec shifts workload
 * time onto the chaos timeline; wall-clock ms (> 1e11) are rebased on startWallMs.
 */
function toOperation(o: unknown, startWallMs: number | undefined, offsetSec = 0): ReportOperation | undefined {
  if (!isObj(o)) return undefined;
  const rel = (v: unknown): number | null => {
    const n = num(v);
    if (n === undefined) return null;
    if (n > 1e11) return startWallMs !== undefined ? (n - startWallMs) / 1000 : null;
    return n / 1000 + offsetSec;
  };
  const invoke = num(o.invokeSec) ?? rel(o.invokeMs ?? o.invoke ?? o.start) ?? 0;
  const complete = num(o.completeSec) ?? rel(o.completeMs ?? o.complete ?? o.end);
  const version = o.version ?? o.versionSeen ?? o.versionWritten;
  const notes = [
    str(o.source) ? `from ${o.source}` : '',
    str(o.cacheResult) ? `cache ${o.cacheResult}` : '',
    str(o.reply) ? `reply ${o.reply}` : '',
    num(o.baseVersion) !== undefined ? `base v${o.baseVersion}` : '',
    num(o.commitAt) !== undefined ? `committed ${(((o.commitAt as number) / 1000) + offsetSec).toFixed(3)}s` : '',
    num(o.ttl) !== undefined ? `ttl ${o.ttl}s` : '',
    str(o.error ?? o.note ?? o.message) ?? '',
  ].filter(Boolean);
  return {
    client: (o.client ?? o.clientId ?? o.process ?? '?') as string | number,
    op: String(o.op ?? o.type ?? o.f ?? '?'),
    key: String(o.key ?? ''),
    invokeSec: invoke,
    completeSec: complete,
    outcome: String(o.outcome ?? o.result ?? o.status ?? '?'),
    version: typeof version === 'number' || typeof version === 'string' ? version : null,
    node: str(o.node ?? o.servedBy ?? o.endpoint) ?? null,
    ...(notes.length ? { note: notes.join(' · ') } : {}),
  };
}

/** Anomalies with their proving operations, from whatever list the checker provides. */
function checkerAnomalies(check: unknown, startWallMs: number | undefined, offsetSec = 0): { anomalies: ReportAnomaly[]; omitted: number } {
  if (!isObj(check)) return { anomalies: [], omitted: 0 };
  const anomalies: ReportAnomaly[] = [];
  const pushFrom = (list: unknown, fallbackKind: string): void => {
    if (!Array.isArray(list)) return;
    for (const a of list) {
      if (!isObj(a)) continue;
      const opsRaw = a.operations ?? a.ops ?? a.proof ?? a.evidence;
      const ops = (Array.isArray(opsRaw) ? opsRaw : isObj(opsRaw) ? Object.values(opsRaw) : [])
        .map((o) => toOperation(o, startWallMs, offsetSec))
        .filter((o): o is ReportOperation => o !== undefined);
      // A single read/write quoted directly on the anomaly (read, write, committed...).
      for (const field of ['read', 'write', 'op', 'operation', 'committed', 'first', 'second']) {
        const op = toOperation(a[field], startWallMs, offsetSec);
        if (op && isObj(a[field]) && (a[field] as Obj).op !== undefined) ops.push(op);
      }
      anomalies.push({
        kind: str(a.kind ?? a.type) ?? fallbackKind,
        ...(a.key !== undefined ? { key: String(a.key) } : {}),
        description: str(a.description ?? a.message ?? a.summary) ?? describe(a, fallbackKind),
        operations: ops,
      });
    }
  };
  pushFrom(check.anomalies, 'anomaly');
  if (anomalies.length === 0) {
    // Per-kind lists (staleReads: {count, examples}, lostUpdates: [...], divergence: {keys}).
    for (const [field, kind] of [
      ['staleReads', 'stale-read'],
      ['lostUpdates', 'lost-update'],
      ['missingAckedWrites', 'missing-acked-write'],
      ['divergence', 'divergence'],
      ['divergentKeys', 'divergence'],
    ] as const) {
      const v = check[field];
      if (Array.isArray(v)) pushFrom(v, kind);
      else if (isObj(v)) pushFrom(v.examples ?? v.items ?? v.keys ?? v.list, kind);
    }
  }
  const total = num(check.anomalyCount) ?? num(isObj(check.anomaliesTotal) ? undefined : check.anomaliesTotal);
  return { anomalies, omitted: total !== undefined ? Math.max(0, total - anomalies.length) : 0 };
}

function describe(a: Obj, kind: string): string {
  const parts = Object.entries(a)
    .filter(([k, v]) => !['operations', 'ops', 'proof', 'evidence', 'kind', 'type', 'key'].includes(k) && (typeof v === 'number' || typeof v === 'string'))
    .map(([k, v]) => `${k} ${v}`);
  return parts.length ? `${kind}: ${parts.join(', ')}` : kind;
}

function checkerTotals(check: unknown): ReportTotals {
  if (!isObj(check)) return {};
  const out: ReportTotals = {};
  const lat = isObj(check.latency) ? check.latency : isObj(check.latencyMs) ? check.latencyMs : undefined;
  if (lat) {
    const all = isObj(lat.all) ? lat.all : lat;
    out.p50Ms = num(all.p50Ms ?? all.p50);
    out.p99Ms = num(all.p99Ms ?? all.p99);
  }
  out.opsPerSec = num(check.opsPerSec ?? check.throughput);
  const stale = check.staleReads;
  if (isObj(stale)) out.maxStaleAgeMs = num(stale.maxAgeMs ?? stale.maxStaleMs);
  out.maxStaleAgeMs ??= num(check.maxStaleAgeMs);
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

function faultWindowLabel(e: TimelineEvent, fallback: string): string {
  const kind = isObj(e.details) ? str(e.details.kind ?? e.details.fault) : undefined;
  if (kind && e.subject) return `fault: ${kind} ${e.subject}`;
  return fallback;
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

function chaosSecond(s: ChaosSecond, checker: Obj | undefined): ReportSecond {
  const reads = s.hits + s.misses;
  const lat = checker ? latencyOf(checker) : { p50: null, p99: null };
  const ops = (checker && opsOf(checker)) ?? { read: s.reads, update: s.writes };
  return {
    second: s.second,
    ops,
    errors: s.failedWrites + (checker ? (num(checker.readErrors) ?? 0) : 0),
    unknowns: s.unknownOutcomes,
    staleReads: s.staleReads,
    hitRate: reads > 0 ? s.hits / reads : null,
    dbReads: s.dbReads,
    p50Ms: lat.p50,
    p99Ms: lat.p99,
  };
}

function chaosSeries(result: ChaosRunResult, run: MitigationRun): ReportSeries {
  const startWall = Date.parse(run.timeline.startedAt);
  const checkerBySecond = checkerSeconds(run.check);
  // The checker's seconds are counted from the workload's first op; the chaos series from the run
  // start. Line them up by the workload-start event when there is one.
  const workloadStart = run.timeline.events.find((e) => e.kind === 'workload-start');
  const shift = workloadStart ? Math.floor(workloadStart.atMs / 1000) : 0;
  const perSecond = run.perSecond.map((s) => chaosSecond(s, checkerBySecond.get(s.second - shift) ?? checkerBySecond.get(s.second)));
  const phases = run.timeline.phases.map((p) => ({ name: p.name, startSec: p.startMs / 1000, endSec: p.endMs / 1000 }));
  const faultPhase = phases.find((p) => p.name === 'fault');
  const faultLabel = `fault: ${result.config.fault ?? 'injected'}${result.scenario === 'master-down' ? ' master' : ''}`;
  const windows = windowsFromEvents(run.timeline.events, faultPhase, run.durationMs / 1000, faultLabel);
  const events: ReportEvent[] = run.timeline.events.filter((e) => EVENT_KINDS_SHOWN.has(e.kind)).map((e) => ({ atSec: e.atMs / 1000, label: e.message }));
  const { anomalies, omitted } = checkerAnomalies(run.check, Number.isNaN(startWall) ? undefined : startWall, (workloadStart?.atMs ?? 0) / 1000);
  const metrics = run.metrics as unknown as Record<string, unknown>;
  const totals: ReportTotals = {};
  for (const [k, v] of Object.entries(metrics)) if (num(v) !== undefined) totals[k] = v as number;
  Object.assign(totals, checkerTotals(run.check));
  if (totals.opsPerSec === undefined && totals.operations !== undefined && run.durationMs > 0) {
    const activeSeconds = perSecond.filter((p) => Object.values(p.ops).some((n) => n > 0)).length;
    if (activeSeconds > 0) totals.opsPerSec = Math.round(totals.operations / activeSeconds);
  }
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
    verdict: { status, summary: result.summary.join(' ') },
    expectations,
    series,
  };
}

// ---------------------------------------------------------------- entry point

/**
 * Anything `cachectl report` or `saveRunArtifacts` is given: a saved run envelope, a ReportInput,
 * a ChaosRunResult, or a workload result (via the workload adapter registered below).
 */
export function toReportInput(value: unknown, source = 'the input'): ReportInput {
  if (isObj(value) && value.format === 'cachectl-run' && isReportInput(value.report)) return value.report;
  if (isReportInput(value)) return value;
  if (isChaosRunResult(value)) return fromChaosRunResult(value);
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
