import { BaseCommand } from '../base-command.js';
import { executeChaos, type ChaosRunResult } from '../../chaos/index.js';
import { phaseFlags, requestFromFlags } from '../../chaos/flags.js';
import { renderChaosResult } from '../../chaos/render.js';

export default class ChaosAutoFailover extends BaseCommand<typeof ChaosAutoFailover> {
  static override summary = 'Show why failover is manual: two proxies in auto mode, one cut off from the master, split brain.';

  static override description = `Needs two proxies (an ephemeral cluster with two is started when none runs). The scenario adds a second Toxiproxy link to the master ("chaos-master-proxy-1"), points proxy-1 alone at it through PUT /config, switches both proxies to auto failover, and disables that link: proxy-1 promotes the slave while proxy-0 keeps the old master. The checker then shows the damage: acknowledged writes missing from the master, stale reads, divergence. The link is removed and both proxies are restored afterwards.`;

  static override examples = [
    { description: 'Show the split brain', command: '<%= config.bin %> chaos auto-failover' },
    { description: 'CI: assert the negative control really splits', command: "<%= config.bin %> chaos auto-failover --expect 'mastersInUse == 2' --expect 'divergentKeys > 0'" },
  ];

  static override flags = { ...phaseFlags };

  async run(): Promise<ChaosRunResult> {
    const { config } = this.loadConfig();
    const request = requestFromFlags('auto-failover', this.flags);
    const { result, exitCode } = await executeChaos(config, request, { log: (l) => this.out.progress(l), handleSignals: true, live: !this.jsonEnabled() });
    if (!this.jsonEnabled()) this.out.result(renderChaosResult(result, this.out.color));
    return this.finish(result, exitCode);
  }
}
