import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.js';
import { findRun, resolveResultsDir, RESULTS_DIR_ENV, type ReportInput } from '../../report/index.js';
import { formatDuration, formatNumber, formatPercent } from '../../report/scale.js';
import { table } from '../../util/output.js';

export interface RunsShowResult {
  file: string;
  report: ReportInput;
}

export default class RunsShow extends BaseCommand<typeof RunsShow> {
  static override summary = 'Show one saved run: verdict, expectations, key numbers per mitigation, replay command.';

  static override examples = [
    { description: 'The latest run', command: '<%= config.bin %> runs show latest' },
    { description: 'By id prefix, full data as JSON', command: '<%= config.bin %> runs show 20261126-2105 --json' },
  ];

  static override args = {
    id: Args.string({ description: 'saved run id, a unique part of one, "latest", or a run JSON file', required: true }),
  };

  static override flags = {
    'results-dir': Flags.string({ description: `where saved runs live (default .cachectl/results; env ${RESULTS_DIR_ENV})` }),
  };

  async run(): Promise<RunsShowResult> {
    const { config } = this.loadConfig();
    const dir = resolveResultsDir({ flag: this.flags['results-dir'], stateDir: config.stateDir });
    const { report, file } = findRun(dir, this.args.id);
    if (!this.jsonEnabled()) {
      const r = report;
      this.out.result(`${r.title}`);
      this.out.result(`id ${r.runId ?? '-'} · started ${r.startedAt} · ${formatDuration(r.durationMs)} · seed ${r.seed ?? '-'}`);
      this.out.result(`verdict: ${r.verdict.status.toUpperCase()}  ${r.verdict.summary}`);
      this.out.result(`replay:  ${r.replayCommand}`);
      this.out.result('');
      const keys = ['staleReads', 'divergentKeys', 'lostUpdates', 'missingAckedWrites', 'hitRate', 'dbReads', 'failedWrites', 'unknownOutcomes', 'operations'];
      const present = keys.filter((k) => r.series.some((s) => typeof s.totals[k] === 'number'));
      this.out.result(
        table(
          ['METRIC', ...r.series.map((s) => s.label)],
          present.map((k) => [k, ...r.series.map((s) => (k === 'hitRate' ? formatPercent(s.totals[k]) : formatNumber(s.totals[k])))]),
        ),
      );
      if (r.expectations.length) {
        this.out.result('');
        this.out.result(table(['RESULT', 'RULE', 'RUN', 'MEASURED'], r.expectations.map((e) => [e.pass ? 'pass' : 'FAIL', e.rule, e.series ?? '-', e.value ?? '-'])));
      }
      this.out.result('');
      this.out.result(`file: ${file}   (HTML: cachectl report ${r.runId ?? file})`);
    }
    return { file, report };
  }
}
