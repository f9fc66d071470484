import { Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.js';
import { executeChaos, type ChaosRunResult } from '../../chaos/index.js';
import { phaseFlags, requestFromFlags } from '../../chaos/flags.js';
import { renderChaosResult } from '../../chaos/render.js';

export default class ChaosMasterDown extends BaseCommand<typeof ChaosMasterDown> {
  static override summary = 'Reproduce the master-outage incident and measure each mitigation.';

  static override description = `Runs the CAS workload, takes the proxy-to-master link down (only that link), heals, lets it settle, and checks the history and a final scan of master, slave and database.

Faults: partition (Toxiproxy link disabled: the master keeps its old data), crash (kill -9, restarts empty), reply-lost (the master applies the CAS but the reply never arrives), slow (replies slower than the proxy timeout).

Reads use the balanced policy by default (spread over both replicas, as in production under load), and fall back to the slave while the master is down: that is how the slave served stale values in the incident.

Without a running cluster (\`cachectl up\`), an ephemeral one is started on free ports and removed afterwards. Every fault is reverted when the run ends, fails or is interrupted (Ctrl-C exits 130 after reverting). Exit 1 when an --expect rule fails.`;

  static override examples = [
    { description: 'Reproduce the incident', command: '<%= config.bin %> chaos master-down' },
    { description: 'Every mitigation side by side on one seed', command: '<%= config.bin %> chaos master-down --mitigation all --seed 7' },
    { description: 'Gate CI', command: "<%= config.bin %> chaos master-down --mitigation proxy-delete --expect 'staleReadsDuringFault == 0' --junit chaos.xml" },
    { description: 'A long outage with the manual switch in the middle', command: '<%= config.bin %> chaos master-down --fault-duration 12s --switch-after 4s' },
  ];

  static override flags = {
    fault: Flags.string({ description: 'what happens to the master', options: ['partition', 'crash', 'reply-lost', 'slow'], default: 'partition' }),
    mitigation: Flags.string({ description: 'mitigation to run, or all of them side by side', options: ['none', 'proxy-delete', 'client-short-ttl', 'all'], default: 'none' }),
    'switch-after': Flags.string({ description: 'run the manual coordinated switch this long after the fault starts (e.g. 4s)' }),
    ...phaseFlags,
  };

  async run(): Promise<ChaosRunResult> {
    const { config } = this.loadConfig();
    const request = requestFromFlags('master-down', this.flags);
    const { result, exitCode } = await executeChaos(config, request, { log: (l) => this.out.progress(l), handleSignals: true, live: !this.jsonEnabled() });
    if (!this.jsonEnabled()) this.out.result(renderChaosResult(result, this.out.color));
    return this.finish(result, exitCode);
  }
}
