import type { CachectlConfig } from '../config/schema.js';
import { writeJunit } from './junit.js';
import type { ScenarioRequest } from './request.js';
import { runChaosScenario, type ScenarioRunOptions } from './scenarios.js';
import type { ChaosRunResult } from './types.js';

export type { ChaosRunResult } from './types.js';

/**
 * What a chaos command calls: run the scenario (reverting every fault whatever happens), write
 * the JUnit file when asked, and say which exit code the result deserves (1 when a rule failed).
 */
export async function executeChaos(config: CachectlConfig, request: ScenarioRequest, options: ScenarioRunOptions = {}): Promise<{ result: ChaosRunResult; exitCode: number }> {
  const result = await runChaosScenario(config, request, options);
  if (request.junit) writeJunit(request.junit, result);
  return { result, exitCode: result.verdict === 'pass' ? 0 : 1 };
}
