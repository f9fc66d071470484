import { Flags } from '@oclif/core';
import { BaseCommand } from './base-command.js';
import { switchCluster } from '../chaos/operations.js';
import { renderSwitch } from '../chaos/render.js';
import type { SwitchResult } from '../chaos/types.js';
import { ExitCode } from '../errors.js';

export default class Switch extends BaseCommand<typeof Switch> {
  static override summary = 'The manual, coordinated master/slave switch across every proxy.';

  static override description = `Steps, each sent to every proxy under one new epoch: fence writes; wait for in-flight writes; flush the old master if it can be reached (it rejoins as an empty slave), else keep it detached; flush the new master when it cannot be trusted (auto: when the old master is unreachable, since writes that failed there never reached the slave); promote the slave; unfence. Then verify: all proxies report the same epoch and roles, CAS works on the new master (a reused token gets EXISTS), and a write reads back through every proxy.

If a step fails on some proxy, every proxy is put back on the old roles, unfenced, under a new epoch (rolled back); if even that fails the result says "inconsistent" and lists each proxy's epoch. Exit 1 when the switch did not complete and verify.

--rejoin flushes a detached old master and attaches it as the slave.`;

  static override examples = [
    { description: 'Switch roles', command: '<%= config.bin %> switch' },
    { description: 'After the old master is reachable again', command: '<%= config.bin %> switch --rejoin' },
  ];

  static override flags = {
    rejoin: Flags.boolean({ description: 'flush the detached old master and attach it as slave', default: false }),
    'flush-new-master': Flags.string({ description: 'flush the promoted node first: auto = when the old master cannot be reached', options: ['auto', 'always', 'never'], default: 'auto' }),
    shard: Flags.integer({ description: 'shard index', default: 0, min: 0 }),
  };

  async run(): Promise<SwitchResult> {
    const { config } = this.loadConfig();
    const result = await switchCluster(config, {
      rejoin: this.flags.rejoin,
      flushNewMaster: this.flags['flush-new-master'] as 'auto' | 'always' | 'never',
      shard: this.flags.shard,
      log: (l) => this.out.progress(l),
    });
    if (!this.jsonEnabled()) this.out.result(renderSwitch(result, this.out.color));
    return this.finish(result, result.ok ? ExitCode.OK : ExitCode.CONSISTENCY);
  }
}
