import type { CachectlConfig } from '../config/schema.js';
import { saveChaosArtifacts, startChaosProgress, type RunArtifacts } from '../report/index.js';
import { writeJunit } from './junit.js';
import type { ScenarioRequest } from './request.js';
import { runChaosScenario, type ScenarioRunOptions } from './scenarios.js';
import type { ChaosRunResult } from './types.js';

export type { ChaosRunResult } from './types.js';

export interface ExecuteChaosOptions extends ScenarioRunOptions {
  /** draw a live progress line on a terminal (the CLI: when not --json) */
  live?: boolean;
  /** save the run for `cachectl runs` and write the HTML report (src/report) */
  artifacts?: { report?: string; resultsDir?: string; save?: boolean; stateDir: string };
}

/**
 * What a chaos command calls: run the scenario (reverting every fault whatever happens), write
 * the JUnit file when asked, save the run / HTML report, and say which exit code the result
 * deserves (1 when a rule failed).
 */
export async function executeChaos(
  config: CachectlConfig,
  request: ScenarioRequest,
  options: ExecuteChaosOptions = {},
): Promise<{ result: ChaosRunResult; exitCode: number; artifacts: RunArtifacts }> {
  const live = startChaosProgress(request, { enabled: options.live, log: options.log });
  let result: ChaosRunResult;
  try {
    result = await runChaosScenario(config, request, { ...options, log: live.log, ...(live.progress ? { progress: live.progress } : {}) });
  } finally {
    live.progress?.done();
  }
  if (request.junit) writeJunit(request.junit, result);
  const artifacts = options.artifacts
    ? saveChaosArtifacts(result, { report: options.artifacts.report, resultsDir: options.artifacts.resultsDir, save: options.artifacts.save }, options.artifacts.stateDir, options.log)
    : {};
  return { result, exitCode: result.verdict === 'pass' ? 0 : 1, artifacts };
}
