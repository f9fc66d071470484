import { Flags } from '@oclif/core';
import { BaseCommand } from './base-command.js';
import { runProxyCommand, type ProxyRunResult } from '../proxy/cli.js';

export default class Proxy extends BaseCommand<typeof Proxy> {
  static override summary = 'Run the CAS-aware master/slave memcached proxy in the foreground';
  static override description = `Speaks the memcached binary and ASCII protocols (picked by the first byte of each connection).
gets/cas and every mutation go to the master; after a success the slave receives the resulting state.
Reads follow --read-policy with fallback. Admin HTTP API: GET /health /config /stats /metrics, PUT /config
(Authorization: Bearer $CACHECTL_ADMIN_TOKEN, epoch must increase). Stops on SIGTERM/SIGINT after draining.
--name is this proxy's instance name.`;

  static override examples = [
    'CACHECTL_ADMIN_TOKEN=secret <%= config.bin %> proxy --name proxy-0 --port 21211 --admin-port 21280 --master 127.0.0.1:11311 --slave 127.0.0.1:11312',
    '<%= config.bin %> proxy --port 0 --admin-port 0 --master 127.0.0.1:21311 --slave 127.0.0.1:21312 --mitigation proxy-delete --pending-log .cachectl/pending.log',
  ];

  static override flags = {
    host: Flags.string({ description: 'client listen address', default: '127.0.0.1' }),
    port: Flags.integer({ description: 'client port (0 = pick a free one)', required: true, min: 0, max: 65535 }),
    'admin-host': Flags.string({ description: 'admin HTTP listen address', default: '127.0.0.1' }),
    'admin-port': Flags.integer({ description: 'admin HTTP port (0 = pick a free one)', required: true, min: 0, max: 65535 }),
    master: Flags.string({ description: 'master memcached host:port' }),
    slave: Flags.string({ description: 'slave memcached host:port ("none" for no replica)' }),
    shard: Flags.string({ description: 'name=masterHost:port/slaveHost:port (repeatable; replaces --master/--slave)', multiple: true }),
    'read-policy': Flags.string({ description: 'where plain reads go', options: ['master', 'slave', 'balanced'] }),
    mitigation: Flags.string({ description: 'what to do when the master fails a write', options: ['none', 'proxy-delete', 'client-short-ttl'] }),
    replication: Flags.string({ description: 'sync: the reply waits for the slave; async: it does not', options: ['sync', 'async'] }),
    failover: Flags.string({ description: 'manual (default) or auto (this proxy alone promotes the slave)', options: ['manual', 'auto'] }),
    'failover-threshold': Flags.integer({ description: 'auto failover: consecutive master failures before promoting', min: 1 }),
    'timeout-ms': Flags.integer({ description: 'per backend request timeout', min: 1 }),
    'down-after': Flags.integer({ description: 'consecutive failures before a node is marked down', min: 1 }),
    'probe-interval-ms': Flags.integer({ description: 'how often a down node is probed', min: 10 }),
    epoch: Flags.integer({ description: 'starting config epoch', min: 0 }),
    'pending-log': Flags.string({ description: 'durable pending-invalidation log file (reloaded at start)' }),
    'max-item-size': Flags.string({ description: 'largest value accepted, like memcached -I (e.g. 1m)' }),
    workers: Flags.string({ description: 'worker processes sharing the client port (integer, or auto = one per core up to 4); the admin API and config stay one', default: '1' }),
  };

  async run(): Promise<ProxyRunResult> {
    const result = await runProxyCommand(this.flags, (line) => this.out.progress(line));
    if (!this.jsonEnabled()) this.out.result(`${result.name} stopped`);
    return result;
  }
}
