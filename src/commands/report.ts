import { Args, Flags } from '@oclif/core';
import { BaseCommand } from './base-command.js';
import { findRun, importRunFile, resolveResultsDir, writeHtmlReportFile, writeJUnitFile, RESULTS_DIR_ENV } from '../report/index.js';

export interface ReportCommandResult {
  source: string;
  runId: string | null;
  scenario: string;
  verdict: string;
  reportFile: string;
  junitFile: string | null;
}

export default class Report extends BaseCommand<typeof Report> {
  static override summary = 'Render a saved run as a self-contained HTML report (and JUnit XML).';

  static override description = `Takes the --json output of a chaos or workload command (\`cachectl chaos master-down --json > run.json\`), or the id of a run saved under the results folder (see \`cachectl runs\`), and writes one HTML file that opens anywhere without network: the per-second timeline (throughput by op, errors and unknown outcomes, stale reads, hit rate, database reads, latency p50/p99) with the fault and switch windows shaded, the mitigation matrix, the verdict and expectations, the seed and the replay command, and the anomalies with the operations that prove them.`;

  static override examples = [
    { description: 'Render a run saved with --json', command: '<%= config.bin %> report run.json -o run.html' },
    { description: 'Render the latest saved run, and JUnit for CI', command: '<%= config.bin %> report latest --junit junit.xml' },
  ];

  static override args = {
    run: Args.string({ description: 'run JSON file, or a saved run id / id prefix / "latest"', required: true }),
  };

  static override flags = {
    output: Flags.string({ char: 'o', description: 'HTML file to write (default: next to the run file, .html)' }),
    junit: Flags.string({ description: 'also write JUnit XML here (one test case per expectation)' }),
    'results-dir': Flags.string({ description: `where saved runs live (default .cachectl/results; env ${RESULTS_DIR_ENV})` }),
    save: Flags.boolean({ description: 'also keep the run under the results folder, so `cachectl runs` lists it (for a run saved with --json)' }),
  };

  async run(): Promise<ReportCommandResult> {
    const { config } = this.loadConfig();
    const dir = resolveResultsDir({ flag: this.flags['results-dir'], stateDir: config.stateDir });
    const found = findRun(dir, this.args.run);
    if (this.flags.save && !found.saved) {
      const { run, file } = importRunFile(found.file, dir);
      found.report = run.report;
      if (!this.jsonEnabled()) this.out.result(`saved:  ${file} (id ${run.id})`);
    }
    const reportFile = writeHtmlReportFile(found.report, this.flags.output ?? found.file.replace(/\.json$/i, '') + '.html', this.config.version);
    const junitFile = this.flags.junit ? writeJUnitFile(found.report, this.flags.junit) : null;
    if (!this.jsonEnabled()) {
      this.out.result(`report: ${reportFile}`);
      if (junitFile) this.out.result(`junit:  ${junitFile}`);
    }
    return { source: found.file, runId: found.report.runId ?? null, scenario: found.report.scenario, verdict: found.report.verdict.status, reportFile, junitFile };
  }
}
