import { Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.js';
import { scaleSummaryLines } from '../../scale/format.js';
import { scaleAdd, type ScaleResult } from '../../scale/scale.js';

export default class ScaleAdd extends BaseCommand<typeof ScaleAdd> {
  static override summary = 'Add a master/slave pair to a running cluster and move every proxy to it, without restarting clients.';

  static override description = `Starts one more memcached master/slave pair (shard-N, with a Toxiproxy link in front of each node), flushes it, then moves every cachectl proxy of the cluster to the new shard map under one new epoch through the admin API (PUT /config, all in parallel). Keys are routed by ketama consistent hashing, so about 1/N of them move to the new shard. After a drain, the moved keys are deleted at their old homes, so a later \`scale remove\` can never bring an old copy back (no stale reads). If any proxy refuses the new map, every proxy is moved back to the old map under a newer epoch and the new pair is stopped; the error says which proxy is where.`;

  static override examples = [
    { description: 'Add a shard to the default cluster', command: '<%= config.bin %> scale add' },
    { description: 'Add a shard and print the result (epoch, keys moved, timeline) as JSON', command: '<%= config.bin %> scale add --name ci-1 --json' },
  ];

  static override flags = {
    'drain-ms': Flags.integer({ description: 'wait this long after the switch for requests routed by the old map (default 2 x proxy timeout, at least 500)', min: 0, max: 60_000 }),
  };

  async run(): Promise<ScaleResult> {
    const { config } = this.loadConfig();
    const result = await scaleAdd(config, { drainMs: this.flags['drain-ms'], onProgress: (line) => this.out.progress(line) });
    if (!this.jsonEnabled()) for (const line of scaleSummaryLines(result)) this.out.result(line);
    return result;
  }
}
