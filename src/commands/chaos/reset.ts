import { BaseCommand } from '../base-command.js';
import { resetChaos, type ChaosResetResult } from '../../chaos/operations.js';

export default class ChaosReset extends BaseCommand<typeof ChaosReset> {
  static override summary = 'Clear everything chaos left behind: toxics, disabled links, chaos links, killed nodes.';

  static override description = 'Removes every Toxiproxy toxic and re-enables every link of the cluster, removes the extra links chaos scenarios create (chaos-*), restarts memcached nodes that are not running (they come back empty), and puts proxies that pointed at a removed chaos link back on the original roles. Safe to run any time.';

  static override examples = [{ description: 'After an interrupted scenario', command: '<%= config.bin %> chaos reset' }];

  async run(): Promise<ChaosResetResult> {
    const { config } = this.loadConfig();
    const result = await resetChaos(config);
    if (!this.jsonEnabled()) {
      const parts = [
        `${result.toxicsRemoved.length} toxic(s) removed${result.toxicsRemoved.length ? ` (${result.toxicsRemoved.join(', ')})` : ''}`,
        `${result.linksEnabled.length} link(s) re-enabled${result.linksEnabled.length ? ` (${result.linksEnabled.join(', ')})` : ''}`,
        `${result.linksRemoved.length} chaos link(s) removed`,
        `${result.nodesRestarted.length} node(s) restarted${result.nodesRestarted.length ? ` (${result.nodesRestarted.join(', ')}, empty)` : ''}`,
      ];
      if (result.proxiesRestored.length) parts.push(`proxies back on the original roles: ${result.proxiesRestored.join(', ')}`);
      this.out.result(`cluster "${result.cluster}" reset: ${parts.join('; ')}`);
      if (result.proxiesFenced.length) this.out.warn(`${result.proxiesFenced.join(', ')} still fence writes (an unfinished switch): run \`cachectl switch\` again`);
    }
    return result;
  }
}
