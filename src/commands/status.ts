import { BaseCommand } from './base-command.js';
import { ExitCode } from '../errors.js';
import { clusterStatus, type StatusResult } from '../runtime/cluster.js';
import type { ComponentStatus } from '../runtime/types.js';
import { table } from '../util/output.js';

function uptime(s: number | undefined): string {
  if (s === undefined) return '';
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  return `${Math.floor(s / 3600)}h`;
}

function details(c: ComponentStatus): string {
  if (c.error) return c.error;
  if (c.links) return c.links.map((l) => `${l.name}:${l.enabled ? 'enabled' : 'DISABLED'}${l.toxics.length ? ` [${l.toxics.join(', ')}]` : ''}`).join('  ');
  if (c.epoch !== undefined) return `epoch ${c.epoch}`;
  return '';
}

export default class Status extends BaseCommand<typeof Status> {
  static override summary = 'Show each component of the running cluster with its health and numbers.';

  static override description = `For every component in the state file: role, pid or container, address and health. memcached nodes add version, uptime, items and hit ratio (from \`stats\`); Toxiproxy adds each link (enabled or disabled, with its toxics); cachectl proxies add their config epoch (from the admin API).

Exit codes: 0 when every component is healthy, 3 when any is not running or does not answer (the result is still printed), 2 when no cluster is running.`;

  static override examples = [
    { description: 'Show the default cluster', command: '<%= config.bin %> status' },
    { description: 'Machine-readable, for scripts (exit 3 when something is unhealthy)', command: '<%= config.bin %> status --json' },
  ];

  async run(): Promise<StatusResult> {
    const { config } = this.loadConfig();
    const result = await clusterStatus(config);
    if (!this.jsonEnabled()) {
      const c = this.out.color;
      this.out.result(
        `cluster "${result.name}" (${result.runtime}, up since ${result.createdAt}): ` + (result.healthy ? c.green('healthy') : c.red('UNHEALTHY')),
      );
      this.out.result('');
      this.out.result(
        table(
          ['COMPONENT', 'ROLE', 'PID/CONTAINER', 'ADDRESS', 'HEALTH', 'VERSION', 'UPTIME', 'ITEMS', 'HIT RATIO', 'DETAILS'],
          result.components.map((x) => [
            x.name,
            x.role ?? x.kind,
            x.pid ?? x.containerId?.slice(0, 12) ?? '-',
            x.address,
            x.healthy ? 'ok' : 'DOWN',
            x.version ?? '',
            uptime(x.uptimeSeconds),
            x.items ?? '',
            x.hitRatio === undefined ? '' : x.hitRatio === null ? 'n/a' : `${(x.hitRatio * 100).toFixed(1)}%`,
            details(x),
          ]),
        ),
      );
    }
    return this.finish(result, result.healthy ? ExitCode.OK : ExitCode.DEPENDENCY);
  }
}
