import { BaseCommand } from './base-command.js';
import { downCluster, type DownResult } from '../runtime/cluster.js';

export default class Down extends BaseCommand<typeof Down> {
  static override summary = 'Stop exactly what `cachectl up` started and remove the state file.';

  static override description = `Stops the processes (or containers) named in the state file, by pid (or id), proxies first, then Toxiproxy, then memcached, and removes the state file. A pid is only signalled when it still runs the process cachectl started. Safe to run twice: with no cluster it says so and exits 0. Logs stay in <state-dir>/<name>/logs until the next \`up\`.`;

  static override examples = [
    { description: 'Stop the default cluster', command: '<%= config.bin %> down' },
    { description: 'Stop a named cluster and print what was stopped as JSON', command: '<%= config.bin %> down --name ci-1 --json' },
  ];

  async run(): Promise<DownResult> {
    const { config } = this.loadConfig();
    const result = await downCluster(config);
    if (!this.jsonEnabled()) {
      if (!result.wasRunning) this.out.result(`no cluster "${result.name}" is running; nothing to stop`);
      else {
        const what = result.stopped.map((s) => `${s.name}${s.pid ? ` (pid ${s.pid})` : s.containerId ? ` (${s.containerId.slice(0, 12)})` : ''}`);
        this.out.result(this.out.color.green(`cluster "${result.name}" is down`) + `: stopped ${what.join(', ')}`);
      }
    }
    return result;
  }
}
