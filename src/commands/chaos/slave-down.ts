import { Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.js';
import { executeChaos, type ChaosRunResult } from '../../chaos/index.js';
import { phaseFlags, requestFromFlags } from '../../chaos/flags.js';
import { renderChaosResult } from '../../chaos/render.js';

export default class ChaosSlaveDown extends BaseCommand<typeof ChaosSlaveDown> {
  static override summary = 'Cut the proxy-to-slave link: the master keeps working, replication fails, and the slave is stale after the heal.';

  static override description = `Same phases, workload, checks, --expect/--junit/--json as \`cachectl chaos master-down\`. Without a running cluster an ephemeral one is started and removed afterwards; every fault is reverted, also on Ctrl-C.`;

  static override examples = [
    { description: 'Run it', command: '<%= config.bin %> chaos slave-down' },
    { description: 'Gate on the slave being repaired', command: "<%= config.bin %> chaos slave-down --expect 'slaveStaleKeys == 0'" },
  ];

  static override flags = {
    mitigation: Flags.string({ description: 'mitigation to run, or all of them side by side', options: ['none', 'proxy-delete', 'client-short-ttl', 'all'], default: 'none' }),
    ...phaseFlags,
  };

  async run(): Promise<ChaosRunResult> {
    const { config } = this.loadConfig();
    const request = requestFromFlags('slave-down', this.flags);
    const { result, exitCode } = await executeChaos(config, request, { log: (l) => this.out.progress(l), handleSignals: true, live: !this.jsonEnabled() });
    if (!this.jsonEnabled()) this.out.result(renderChaosResult(result, this.out.color));
    return this.finish(result, exitCode);
  }
}
