/**
 * The report flags the chaos and workload commands share, and the one call that honours them.
 *
 *   static override flags = { ...theirFlags, ...reportFlags };
 *   const artifacts = saveArtifactsFromFlags(result, this.flags, config.stateDir, { argv: ['workload', ...this.argv] });
 */
import { Flags } from '@oclif/core';
import { saveRunArtifacts, type RunArtifacts } from './artifacts.js';
import { RESULTS_DIR_ENV, resolveResultsDir } from './store.js';

export const reportFlags = {
  report: Flags.string({ description: 'write a self-contained HTML report of the run here (timeline, matrix, verdict, anomalies)' }),
  'results-dir': Flags.string({ description: `where runs are saved for \`cachectl runs\` (default .cachectl/results; env ${RESULTS_DIR_ENV})` }),
  save: Flags.boolean({ description: 'keep the run under the results folder (--no-save to skip)', default: true, allowNo: true }),
};

export interface ReportFlagValues {
  report?: string;
  'results-dir'?: string;
  save?: boolean;
  /** the chaos commands' own --junit (written by src/chaos); the workload command has none */
  junit?: string;
}

/**
 * Save the run and write the report. JUnit is left to the caller when it has its own writer
 * (`junit: false`), so a file is never written twice. Never throws: the run already happened and
 * its result must still print; a failure comes back in `warnings`.
 */
export function saveArtifactsFromFlags(
  result: unknown,
  flags: ReportFlagValues,
  stateDir: string,
  opts: { argv?: string[]; startedAt?: string; junit?: boolean; version?: string } = {},
): RunArtifacts & { warnings: string[] } {
  try {
    const artifacts = saveRunArtifacts(result, {
      report: flags.report,
      junit: opts.junit === false ? undefined : flags.junit,
      resultsDir: resolveResultsDir({ flag: flags['results-dir'], stateDir }),
      save: flags.save !== false,
      argv: opts.argv,
      startedAt: opts.startedAt,
      version: opts.version,
    });
    return { ...artifacts, warnings: [] };
  } catch (err) {
    return { warnings: [`could not save the run or write the report: ${(err as Error).message}`] };
  }
}

/** Lines for the human output: where the artifacts went. */
export function describeArtifacts(a: RunArtifacts): string[] {
  return [
    ...(a.runId ? [`saved as ${a.runId} (cachectl runs show ${a.runId})`] : []),
    ...(a.reportFile ? [`report: ${a.reportFile}`] : []),
    ...(a.junitFile ? [`junit:  ${a.junitFile}`] : []),
  ];
}
