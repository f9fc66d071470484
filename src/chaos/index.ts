import type { CachectlConfig } from '../config/schema.js';
import { fromChaosRunResult, saveChaosArtifacts, startChaosProgress, writeJUnitFile, type RunArtifacts } from '../report/index.js';
import type { ScenarioRequest } from './request.js';
import { runChaosScenario, type ScenarioRunOptions } from './scenarios.js';
import type { ChaosRunResult } from './types.js';

export type { ChaosRunResult } from './types.js';

export interface ExecuteChaosOptions extends ScenarioRunOptions {
  /** draw a live progress line on a terminal (the CLI: when not --json) */
  live?: boolean;
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
  // The same JUnit writer as `cachectl report --junit`: one testsuite per mitigation, one testcase per rule.
  if (request.junit) writeJUnitFile(fromChaosRunResult(result), request.junit);
  // The run is kept for `cachectl runs` (unless --no-save) and rendered with --report (src/report).
  const artifacts = saveChaosArtifacts(result, { report: request.report, resultsDir: request.resultsDir, save: request.save }, config.stateDir, options.log);
  return { result, exitCode: result.verdict === 'pass' ? 0 : 1, artifacts };
}
