import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.js';
import { compareRuns, findRun, resolveResultsDir, RESULTS_DIR_ENV, type RunComparison } from '../../report/index.js';
import { formatNumber } from '../../report/scale.js';
import { table } from '../../util/output.js';

function pct(v: number | null): string {
  if (v === null || v === 0) return '';
  return `${v > 0 ? '+' : ''}${v.toFixed(Math.abs(v) < 10 ? 1 : 0)}%`;
}

export default class RunsCompare extends BaseCommand<typeof RunsCompare> {
  static override summary = 'Compare two saved runs: key numbers per mitigation side by side, with deltas.';

  static override description = `Compares the same mitigation with the same mitigation (or the single run of each). The delta is B - A; "better"/"worse" follows the metric (fewer stale reads is better, a higher hit rate is better). Notes say when the scenarios or seeds differ.`;

  static override examples = [
    { description: "Today's run against yesterday's", command: '<%= config.bin %> runs compare latest~1 latest' },
    { description: 'Two run files', command: '<%= config.bin %> runs compare before.json after.json --json' },
  ];

  static override args = {
    a: Args.string({ description: 'the baseline run (id, prefix, "latest~1", or JSON file)', required: true }),
    b: Args.string({ description: 'the run to compare with it', required: true }),
  };

  static override flags = {
    'results-dir': Flags.string({ description: `where saved runs live (default .cachectl/results; env ${RESULTS_DIR_ENV})` }),
  };

  async run(): Promise<RunComparison> {
    const { config } = this.loadConfig();
    const dir = resolveResultsDir({ flag: this.flags['results-dir'], stateDir: config.stateDir });
    const a = findRun(dir, this.args.a);
    const b = findRun(dir, this.args.b);
    const cmp = compareRuns(a.report, b.report, { a: a.report.runId ?? a.file, b: b.report.runId ?? b.file });
    if (!this.jsonEnabled()) {
      const c = this.out.color;
      this.out.result(`A: ${cmp.a.id}  (${cmp.a.scenario}, seed ${cmp.a.seed ?? '-'}, ${cmp.a.verdict})`);
      this.out.result(`B: ${cmp.b.id}  (${cmp.b.scenario}, seed ${cmp.b.seed ?? '-'}, ${cmp.b.verdict})`);
      for (const n of cmp.notes) this.out.result(c.yellow(`note: ${n}`));
      this.out.result('');
      const fmt = (m: string, v: number | null): string => (v === null ? '-' : m === 'hitRate' ? `${(v * 100).toFixed(1)}%` : formatNumber(v));
      this.out.result(
        table(
          ['RUN', 'METRIC', 'A', 'B', 'DELTA', '', 'CHANGE'],
          cmp.rows.map((r) => [
            r.series,
            r.metric,
            fmt(r.metric, r.a),
            fmt(r.metric, r.b),
            r.delta === null || r.delta === 0 ? '' : `${r.delta > 0 ? '+' : ''}${r.metric === 'hitRate' ? `${(r.delta * 100).toFixed(1)}pp` : formatNumber(r.delta)}`,
            pct(r.deltaPct),
            r.change === 'same' || r.change === 'n/a' ? '' : r.change,
          ]),
        ),
      );
    }
    return cmp;
  }
}
