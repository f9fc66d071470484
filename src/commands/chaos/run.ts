import { Args } from '@oclif/core';
import { BaseCommand } from '../base-command.js';
import { executeChaos, type ChaosRunResult } from '../../chaos/index.js';
import { loadScenarioFile } from '../../chaos/request.js';
import { renderChaosResult } from '../../chaos/render.js';
import { reportFlags } from '../../report/flags.js';

export default class ChaosRun extends BaseCommand<typeof ChaosRun> {
  static override summary = 'Run a chaos scenario described in a YAML file (see examples/*.yaml).';

  static override description = `The file names the scenario (master-down, slave-down, slave-slow, flapping, auto-failover) and, optionally, fault, mitigation (one, a list, or all), seed, phases, workload, readPolicy, shortTtl, proxyTimeout, switchAfter, expect (rules) and junit (file). Same run, output and exit codes as the matching command.`;

  static override examples = [
    { description: 'The incident and all mitigations, gated', command: '<%= config.bin %> chaos run examples/master-down-all.yaml' },
  ];

  static override args = {
    file: Args.string({ description: 'scenario YAML file', required: true }),
  };

  static override flags = { ...reportFlags };

  async run(): Promise<ChaosRunResult> {
    const { config } = this.loadConfig();
    const request = { ...loadScenarioFile(this.args.file), report: this.flags.report, resultsDir: this.flags['results-dir'], save: this.flags.save };
    const { result, exitCode } = await executeChaos(config, request, { log: (l) => this.out.progress(l), handleSignals: true, live: !this.jsonEnabled() });
    if (!this.jsonEnabled()) this.out.result(renderChaosResult(result, this.out.color));
    return this.finish(result, exitCode);
  }
}
