/**
 * Glue for the chaos runner: live progress for a scenario (one run per mitigation) and the
 * artifacts at the end, so src/chaos needs only a few one-line calls.
 *
 *   const live = startChaosProgress(request, { enabled: options.live, log: options.log });
 *   ... runChaosScenario(config, request, { ...options, log: live.log, progress: live.progress }) ...
 *   live.progress?.done();
 *   const artifacts = saveChaosArtifacts(result, request, config.stateDir, live.log);
 */
import { saveRunArtifacts, type RunArtifacts } from './artifacts.js';
import { createProgress, type PlannedPhase, type ProgressReporter } from './progress.js';
import { resolveResultsDir } from './store.js';

/** What the chaos runner calls while it runs (a ProgressReporter fits). */
export interface RunProgressHooks {
  startRun(label: string, plan?: PlannedPhase[]): void;
  phase(name: string): void;
  second(sample: { ops: number; fails?: number; unknowns?: number; staleReads?: number }): void;
  event(message: string): void;
}

export interface ChaosPhasePlan {
  warmupMs: number;
  faultMs: number;
  healMs: number;
  settleMs: number;
}

/** The planned phases of one chaos run; verify is the final scan and check (about a second). */
export function chaosPhasePlan(req: ChaosPhasePlan): PlannedPhase[] {
  return [
    { name: 'warm-up', ms: req.warmupMs },
    { name: 'fault', ms: req.faultMs },
    { name: 'heal', ms: req.healMs },
    { name: 'settle', ms: req.settleMs },
    { name: 'verify', ms: 1000 },
  ];
}

/**
 * Live progress on stderr when enabled (not --json) and stderr is a terminal; log lines then print
 * above the progress line instead of breaking it. Otherwise the log passes through unchanged.
 */
export function startChaosProgress(req: ChaosPhasePlan, opts: { enabled?: boolean; log?: (line: string) => void } = {}): { progress?: ProgressReporter; log: (line: string) => void } {
  const log = opts.log ?? (() => undefined);
  if (!opts.enabled) return { log };
  const progress = createProgress({ enabled: true, plan: chaosPhasePlan(req) });
  if (!progress.active) return { log };
  return { progress, log: (line) => progress.event(line) };
}

export interface ChaosArtifactRequest {
  /** --report FILE.html */
  report?: string;
  /** --results-dir */
  resultsDir?: string;
  /** false with --no-save */
  save?: boolean;
}

/**
 * Save the run under the results folder and write the HTML report. Never throws: the run already
 * happened and its result must still print; a failure is logged as a warning line instead.
 */
export function saveChaosArtifacts(result: unknown, req: ChaosArtifactRequest, stateDir: string, log: (line: string) => void = () => undefined): RunArtifacts {
  try {
    const artifacts = saveRunArtifacts(result, { report: req.report, resultsDir: resolveResultsDir({ flag: req.resultsDir, stateDir }), save: req.save !== false });
    if (artifacts.runId) log(`run saved as ${artifacts.runId} (cachectl runs show ${artifacts.runId})`);
    if (artifacts.reportFile) log(`report: ${artifacts.reportFile}`);
    return artifacts;
  } catch (err) {
    log(`warning: could not save the run or write the report: ${(err as Error).message}`);
    return {};
  }
}
