/**
 * The narrow input every report output (HTML, JUnit, run listing) is rendered from.
 * Chaos and workload results are adapted into it (adapt.ts), so the renderers do not depend on
 * how those modules shape their results, and a saved run renders the same years later.
 * Times on the timeline are seconds since the run started.
 */

export const REPORT_INPUT_VERSION = 1;

/** The named phases of a chaos scenario (DESIGN.md section 6); workloads have a single "run" phase. */
export type PhaseName = 'warm-up' | 'fault' | 'heal' | 'settle' | 'verify' | 'switch' | 'run' | (string & {});

export interface ReportPhase {
  name: PhaseName;
  startSec: number;
  endSec: number;
}

/** A shaded window on the timeline: when a fault was active, when the manual switch ran. */
export interface ReportWindow {
  kind: 'fault' | 'switch' | 'other';
  /** shown on the chart, e.g. "fault: partition master" */
  label: string;
  startSec: number;
  endSec: number;
}

/** A point-in-time event drawn as a tick on the timeline ("master killed", "epoch 3"). */
export interface ReportEvent {
  atSec: number;
  label: string;
}

/** One second of one run, as the checker reports it. */
export interface ReportSecond {
  second: number;
  /** completed operations in this second by op type ("read", "update", "gets", "cas"...) */
  ops: Record<string, number>;
  errors: number;
  unknowns: number;
  staleReads: number;
  /** 0..1, null when there was no read this second */
  hitRate: number | null;
  dbReads: number;
  /** latency percentiles in milliseconds over all ops completed this second, null when none */
  p50Ms: number | null;
  p99Ms: number | null;
  /** latency percentiles per op type (the checker measures reads and updates apart) */
  latency?: Record<string, { p50Ms: number | null; p99Ms: number | null }>;
}

/** One recorded operation, quoted as proof of an anomaly. */
export interface ReportOperation {
  client: string | number;
  op: string;
  key: string;
  /** seconds since the run started */
  invokeSec: number;
  completeSec: number | null;
  outcome: 'ok' | 'fail' | 'unknown' | (string & {});
  /** the value version read or written, when known */
  version?: number | string | null;
  /** the node that served it ("master", "slave", "db"), when known */
  node?: string | null;
  /** anything else worth showing (error text, CAS result) */
  note?: string;
}

export interface ReportAnomaly {
  /** "stale-read", "lost-update", "missing-ack-write", "divergence", ... */
  kind: string;
  key?: string;
  /** one sentence a person can read */
  description: string;
  operations: ReportOperation[];
}

/** The headline numbers of one run (one mitigation), named like the chaos metrics (`--expect` names).
 *  Undefined = not measured by this run. */
export interface ReportTotals {
  operations?: number;
  opsPerSec?: number;
  errors?: number;
  unknownOutcomes?: number;
  failedWrites?: number;
  staleReads?: number;
  maxStaleAgeMs?: number;
  lostUpdates?: number;
  missingAckedWrites?: number;
  divergentKeys?: number;
  hitRate?: number;
  dbReads?: number;
  p50Ms?: number;
  p99Ms?: number;
  [metric: string]: number | undefined;
}

/** One run's measured series: for `--mitigation all` there is one per mitigation, same seed. */
export interface ReportSeries {
  /** the mitigation ("none", "proxy-delete", "client-short-ttl") or "workload" */
  label: string;
  verdict?: ReportVerdict;
  totals: ReportTotals;
  perSecond: ReportSecond[];
  phases: ReportPhase[];
  windows: ReportWindow[];
  events: ReportEvent[];
  anomalies: ReportAnomaly[];
  /** anomalies the checker found but did not list (lists are capped) */
  anomaliesOmitted?: number;
  durationMs?: number;
}

export interface ReportExpectation {
  /** as the user wrote it, e.g. "staleReads == 0" */
  rule: string;
  /** which series it was checked against (absent = the whole run) */
  series?: string;
  metric?: string;
  value: number | string | null;
  pass: boolean;
  /** why it failed, when it did */
  message?: string;
}

export interface ReportVerdict {
  /** "pass" = every expectation met / no anomaly; "fail" = one failed; "incident" = reproduced as intended */
  status: 'pass' | 'fail' | 'incident' | 'info';
  /** one or two plain sentences: what happened */
  summary: string;
}

export interface ReportInput {
  version: typeof REPORT_INPUT_VERSION;
  kind: 'chaos' | 'workload' | (string & {});
  /** e.g. "master-down", "switch", "workload" */
  scenario: string;
  /** e.g. "chaos master-down — fault partition, mitigation all" */
  title: string;
  runId?: string;
  /** ISO timestamp when the run started */
  startedAt: string;
  durationMs: number;
  seed: number | string | null;
  /** the exact command that replays this run */
  replayCommand: string;
  /** fault kind, runtime, durations...: shown as a small key/value table */
  settings: Record<string, string | number | boolean | null>;
  verdict: ReportVerdict;
  expectations: ReportExpectation[];
  series: ReportSeries[];
}
