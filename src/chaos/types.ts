import type { CheckReport } from '../checker/check.js';
import type { ScenarioRequest } from './request.js';

/**
 * The result of a chaos scenario: what `--json` prints and what the HTML report renders.
 * Keep it JSON-serialisable (no bigint, no Date, no Map) and stable: add fields, never rename.
 */

/** Numbers a rule (`--expect`) can gate on. Counts are integers; hitRate is 0..1. */
export const METRIC_NAMES = [
  'staleReads',
  'staleReadsDuringFault',
  'staleReadsAfterHeal',
  'staleReadsAfterSwitch',
  'divergentKeys',
  'divergentKeysAtHeal',
  'slaveStaleKeysAtHeal',
  'masterStaleKeysAtHeal',
  'slaveStaleKeys',
  'masterStaleKeys',
  'lostUpdates',
  'missingAckedWrites',
  'hitRate',
  'dbReads',
  'failedWrites',
  'unknownOutcomes',
  'masterCasFailures',
  'slaveWritesDuringFault',
  'expiredShortTtlEntries',
  'shortTtlEntriesNotExpired',
  'mastersInUse',
  'operations',
] as const;
export type MetricName = (typeof METRIC_NAMES)[number];

export interface ChaosMetrics {
  /** reads that returned an older version than one already committed when the read began */
  staleReads: number;
  /** of those, reads that began while the fault was applied */
  staleReadsDuringFault: number;
  /** of those, reads that began after the fault was reverted */
  staleReadsAfterHeal: number;
  /** reads that began after a manual switch completed (0 when there was no switch) */
  staleReadsAfterSwitch: number;
  /** keys where master, slave and database do not all agree at the end (or are missing where expected) */
  divergentKeys: number;
  /** divergent keys when the fault was healed (scanned just before the revert; right after it for a crash) */
  divergentKeysAtHeal: number;
  /** keys stale on the slave at that moment */
  slaveStaleKeysAtHeal: number;
  /** keys stale on the master at that moment (a partitioned master comes back holding old values) */
  masterStaleKeysAtHeal: number;
  /** keys where the slave holds an older version than the database at the end */
  slaveStaleKeys: number;
  /** keys where the master holds an older version than the database at the end */
  masterStaleKeys: number;
  /** two CAS STORED from one token */
  lostUpdates: number;
  /** acknowledged cache writes whose version (or a newer one) is missing from the master at the end */
  missingAckedWrites: number;
  /** cache hits / cache reads, 0..1 */
  hitRate: number;
  /** reads that fell through to the database */
  dbReads: number;
  /** cache writes that definitely failed */
  failedWrites: number;
  /** cache writes that may or may not have happened (timeouts) */
  unknownOutcomes: number;
  /** CAS / gets failures on the master path (failed + unknown update outcomes) */
  masterCasFailures: number;
  /** client-short-ttl: short-TTL writes the client sent straight to the slave */
  slaveWritesDuringFault: number;
  /** client-short-ttl: short-TTL entries that were gone from the slave when checked after their TTL */
  expiredShortTtlEntries: number;
  /** client-short-ttl: short-TTL entries still on the slave after their TTL (should be 0) */
  shortTtlEntriesNotExpired: number;
  /** distinct masters the proxies routed shard 0 to during the run (2 = split brain) */
  mastersInUse: number;
  /** operations in the history */
  operations: number;
}

export type ChaosScenarioName = 'master-down' | 'slave-down' | 'slave-slow' | 'flapping' | 'auto-failover' | 'custom';
export type MasterFaultKind = 'partition' | 'crash' | 'reply-lost' | 'slow';
export type MitigationName = 'none' | 'proxy-delete' | 'client-short-ttl';
export type PhaseName = 'warm-up' | 'fault' | 'heal' | 'settle' | 'verify';

export interface PhaseRecord {
  name: PhaseName;
  /** ms since the run started */
  startMs: number;
  endMs: number;
  /** what the plan asked for (endMs - startMs can be longer: applying a fault takes time) */
  plannedMs: number;
}

export type TimelineEventKind =
  | 'run-start'
  | 'workload-start'
  | 'workload-stop'
  | 'fault-apply'
  | 'fault-revert'
  | 'fault-revert-failed'
  | 'switch-start'
  | 'switch-step'
  | 'switch-end'
  | 'config-change'
  | 'interrupted'
  | 'note';

export interface TimelineEvent {
  atMs: number;
  kind: TimelineEventKind;
  message: string;
  /** the fault (FaultSpec.id) or component this event is about */
  subject?: string;
  details?: Record<string, unknown>;
}

export interface Timeline {
  /** wall clock of ms 0 (ISO) */
  startedAt: string;
  phases: PhaseRecord[];
  events: TimelineEvent[];
}

export interface ExpectationResult {
  rule: string;
  /** the run (mitigation label) it was evaluated on */
  run: string;
  metric: string;
  operator: string;
  expected: number;
  actual: number | null;
  passed: boolean;
  message: string;
}

/** One stored second of the workload/checker series, rebased onto the chaos timeline. */
export interface ChaosSecond {
  /** second index since the run started */
  second: number;
  phase: PhaseName | null;
  reads: number;
  staleReads: number;
  hits: number;
  misses: number;
  dbReads: number;
  writes: number;
  failedWrites: number;
  unknownOutcomes: number;
}

export interface SwitchStepRecord {
  step: 'read-configs' | 'fence' | 'flush-new-master' | 'promote' | 'flush-old-master' | 'attach-old-master' | 'unfence' | 'verify' | 'rollback';
  ok: boolean;
  epoch?: number;
  atMs: number;
  durationMs: number;
  message: string;
}

export interface SwitchResult {
  ok: boolean;
  /** 'switched' = completed; 'rolled-back' = all proxies back on the old roles; 'rolled-forward' = completed after a retry; 'inconsistent' = proxies disagree (needs an operator) */
  outcome: 'switched' | 'rolled-back' | 'rolled-forward' | 'inconsistent';
  fromEpoch: number;
  toEpoch: number;
  newMaster: string;
  /** the old master's link: attached as slave after a flush, or detached (null) */
  newSlave: string | null;
  oldMasterDetached: boolean;
  newMasterFlushed: boolean;
  steps: SwitchStepRecord[];
  /** per proxy: the epoch and master it reports after the switch */
  proxies: Array<{ name: string; admin: string; epoch: number | null; master: string | null; slave: string | null; writesFenced: boolean | null; error?: string }>;
  verification: { sameEpoch: boolean; casWorks: boolean; readYourWrite: boolean; messages: string[] };
  durationMs: number;
  completedAtMs?: number;
}

export interface MitigationRun {
  /** label used by rules and the matrix: the mitigation, or the scenario variant */
  label: string;
  mitigation: MitigationName;
  /** run start relative to the scenario start (ms) */
  offsetMs: number;
  durationMs: number;
  timeline: Timeline;
  metrics: ChaosMetrics;
  /** the checker's report (src/checker), proof lists trimmed to 20 examples each */
  check: CheckReport;
  /** per-second series aligned with the timeline */
  perSecond: ChaosSecond[];
  /** plain-language findings, e.g. "master CAS failed 212 times, the slave was not updated" */
  findings: string[];
  verdict: 'incident-reproduced' | 'consistent' | 'inconsistent' | 'split-brain' | 'degraded';
  switch?: SwitchResult;
  /** proxy admin stats snapshot at the end, per proxy */
  proxyStats?: unknown[];
}

/** The knobs a run was asked for, recorded as given (their meaning is documented on ScenarioRequest). */
type RecordedKnobs = Pick<
  ScenarioRequest,
  'mitigations' | 'warmupMs' | 'faultMs' | 'healMs' | 'settleMs' | 'clients' | 'keys' | 'readRatio' | 'readPolicy' | 'shortTtlSeconds' | 'proxyTimeoutMs' | 'opsPerSecond' | 'switchAfterMs'
>;

export interface ChaosScenarioConfig extends RecordedKnobs {
  fault?: MasterFaultKind | string;
  proxies: number;
  cluster: { name: string; runtime: string; ephemeral: boolean };
}

export interface ChaosRunResult {
  kind: 'chaos-run';
  version: 1;
  scenario: ChaosScenarioName;
  title: string;
  seed: number;
  /** the command line that replays this run */
  replay: string;
  config: ChaosScenarioConfig;
  runs: MitigationRun[];
  expectations: ExpectationResult[];
  /** pass = every expectation met (or none given) */
  verdict: 'pass' | 'fail';
  /** the headline in plain words */
  summary: string[];
  startedAt: string;
  durationMs: number;
  interrupted: boolean;
}
