import { Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.js';
import { listRuns, resolveResultsDir, RESULTS_DIR_ENV, type RunSummary } from '../../report/index.js';
import { formatDuration } from '../../report/scale.js';
import { table } from '../../util/output.js';

export interface RunsListResult {
  resultsDir: string;
  runs: RunSummary[];
  skipped: Array<{ file: string; reason: string }>;
}

export default class Runs extends BaseCommand<typeof Runs> {
  static override summary = 'List saved runs: id, date, scenario, mitigations, verdict, stale reads, duration.';

  static override description = `Chaos and workload runs are saved under the results folder (default .cachectl/results, or --results-dir / ${RESULTS_DIR_ENV}) with an id made of the start time, the scenario and the seed. Newest first. Use \`cachectl runs show <id>\`, \`cachectl runs compare <a> <b>\` and \`cachectl report <id>\` with an id, a unique part of one, or "latest" / "latest~1".`;

  static override examples = [
    { description: 'List saved runs', command: '<%= config.bin %> runs' },
    { description: 'Only the last 5, as JSON', command: '<%= config.bin %> runs --limit 5 --json' },
  ];

  static override flags = {
    'results-dir': Flags.string({ description: `where saved runs live (default .cachectl/results; env ${RESULTS_DIR_ENV})` }),
    limit: Flags.integer({ description: 'show at most this many (newest first)', min: 1 }),
    scenario: Flags.string({ description: 'only runs of this scenario' }),
  };

  async run(): Promise<RunsListResult> {
    const { config } = this.loadConfig();
    const resultsDir = resolveResultsDir({ flag: this.flags['results-dir'], stateDir: config.stateDir });
    const skipped: RunsListResult['skipped'] = [];
    let runs = listRuns(resultsDir, (file, reason) => skipped.push({ file, reason }));
    if (this.flags.scenario) runs = runs.filter((r) => r.scenario === this.flags.scenario);
    if (this.flags.limit) runs = runs.slice(0, this.flags.limit);
    if (!this.jsonEnabled()) {
      for (const s of skipped) this.out.warn(`skipped ${s.file}: ${s.reason}`);
      if (runs.length === 0) this.out.result(`no saved runs in ${resultsDir}`);
      else
        this.out.result(
          table(
            ['ID', 'DATE', 'SCENARIO', 'MITIGATIONS', 'VERDICT', 'STALE READS', 'DIVERGENT', 'DURATION'],
            runs.map((r) => [
              r.id,
              r.date.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
              r.scenario,
              r.mitigations.join(','),
              r.verdict,
              // One number per mitigation ("1848/376/374"): a sum would hide which one helped.
              r.bySeries.map((s) => s.staleReads ?? '-').join('/'),
              r.bySeries.map((s) => s.divergentKeys ?? '-').join('/'),
              formatDuration(r.durationMs),
            ]),
          ),
        );
    }
    return { resultsDir, runs, skipped };
  }
}
