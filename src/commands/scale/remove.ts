import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.js';
import { scaleSummaryLines } from '../../scale/format.js';
import { scaleRemove, type ScaleResult } from '../../scale/scale.js';

export default class ScaleRemove extends BaseCommand<typeof ScaleRemove> {
  static override summary = 'Move every proxy off a shard, then stop its master/slave pair, without restarting clients.';

  static override description = `Deletes the shard's cached keys at the shards that will own them (so none of them serves an older copy), moves every cachectl proxy of the cluster to the shard map without it under one new epoch (PUT /config, all in parallel), waits for in-flight requests to drain, then removes the pair's Toxiproxy links and stops its two memcached nodes. The last remaining shard cannot be removed. If any proxy refuses the new map, every proxy is moved back to the old map under a newer epoch and the shard keeps running.`;

  static override examples = [
    { description: 'Remove shard-2', command: '<%= config.bin %> scale remove shard-2' },
    { description: 'The same by index, as JSON', command: '<%= config.bin %> scale remove 2 --json' },
  ];

  static override args = {
    shard: Args.string({ description: 'the shard to remove: shard-N or N (see `cachectl status`)', required: true }),
  };

  static override flags = {
    'drain-ms': Flags.integer({ description: 'wait this long after the switch before stopping the pair (default 2 x proxy timeout, at least 500)', min: 0, max: 60_000 }),
  };

  async run(): Promise<ScaleResult> {
    const { config } = this.loadConfig();
    const result = await scaleRemove(config, this.args.shard, { drainMs: this.flags['drain-ms'], onProgress: (line) => this.out.progress(line) });
    if (!this.jsonEnabled()) for (const line of scaleSummaryLines(result)) this.out.result(line);
    return result;
  }
}
