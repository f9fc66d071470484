/** Public API of the report module: what commands and other modules import. */
export { renderHtmlReport, type RenderOptions } from './html.js';
export { writeJUnit } from './junit.js';
export { renderMarkdownSummary } from './markdown.js';
export { toReportInput, fromChaosRunResult, fromWorkloadResult, registerAdapter, type RunContext } from './adapt.js';
export { saveRunArtifacts, replayCommandFromArgv, writeHtmlReportFile, writeJUnitFile, type RunArtifacts, type SaveRunArtifactsOptions } from './artifacts.js';
export { reportFlags, saveArtifactsFromFlags, describeArtifacts, type ReportFlagValues } from './flags.js';
export { startChaosProgress, saveChaosArtifacts, chaosPhasePlan, type RunProgressHooks, type ChaosArtifactRequest } from './run-hooks.js';
export { createProgress, type ProgressReporter, type ProgressSample, type PlannedPhase } from './progress.js';
export { resolveResultsDir, saveRun, importRunFile, listRuns, findRun, readRunFile, compareRuns, makeRunId, RESULTS_DIR_ENV, type RunSummary, type RunComparison, type SavedRun } from './store.js';
export type * from './types.js';
