import { Flags } from '@oclif/core';
import { BaseCommand } from './base-command.js';
import { FAILOVER_MODES, MITIGATIONS, READ_POLICIES, REPLICATION_MODES, RUNTIMES } from '../config/schema.js';
import { upCluster, type UpResult } from '../runtime/cluster.js';
import { table } from '../util/output.js';

const ALL_PORTS_FREE = { master: 0, slave: 0, toxiproxyApi: 0, toxiMaster: 0, toxiSlave: 0, proxy: 0, admin: 0 };

export default class Up extends BaseCommand<typeof Up> {
  static override summary = 'Start memcached master and slave, Toxiproxy and the cachectl proxy, and wait until all are healthy.';

  static override description = `Starts a memcached master and slave, the Toxiproxy server with one proxy in front of each node ("master", "slave"), and the cachectl proxy (or several) wired to those Toxiproxy endpoints. Waits until every part answers, prints the endpoints, records what it started in the state file (<state-dir>/<name>.state.json) and returns; the processes keep running until \`cachectl down\`.

Running \`up\` on a cluster that is already running says so and changes nothing. Settings come from cachectl.yaml, then CACHECTL_* variables, then these flags.`;

  static override examples = [
    { description: 'Start the default cluster on the documented fixed ports', command: '<%= config.bin %> up' },
    { description: 'Pick free ports for everything (several clusters side by side)', command: '<%= config.bin %> up --free-ports --name ci-1' },
    { description: 'Two proxies with the proxy-delete mitigation, machine-readable result', command: '<%= config.bin %> up --proxies 2 --mitigation proxy-delete --json' },
    { description: 'Use Docker when an engine answers, else local processes', command: '<%= config.bin %> up --runtime auto' },
  ];

  static override flags = {
    runtime: Flags.string({ description: 'where to run the cluster (env CACHECTL_RUNTIME)', options: [...RUNTIMES] }),
    'free-ports': Flags.boolean({ description: 'pick a free port for every component instead of the fixed defaults', default: false }),
    proxies: Flags.integer({ description: 'number of cachectl proxy instances (0-16, default 1)' }),
    shards: Flags.integer({ description: 'number of master/slave pairs (default 1)' }),
    'read-policy': Flags.string({ description: 'where the proxy sends reads', options: [...READ_POLICIES] }),
    mitigation: Flags.string({ description: 'what the proxy does when a master CAS/write fails', options: [...MITIGATIONS] }),
    replication: Flags.string({ description: 'how the proxy writes the slave after a master write', options: [...REPLICATION_MODES] }),
    failover: Flags.string({ description: 'manual (default) or auto (the split-brain negative control)', options: [...FAILOVER_MODES] }),
    'failover-threshold': Flags.integer({ description: 'auto failover: consecutive master failures before promoting the slave' }),
    'timeout-ms': Flags.integer({ description: 'proxy per-backend request timeout in ms' }),
    memory: Flags.integer({ description: 'memcached memory limit per node in MiB (memcached -m)' }),
    'max-item-size': Flags.string({ description: 'memcached item size limit, e.g. 1m or 512k (memcached -I)' }),
    'master-port': Flags.integer({ description: 'memcached master port (default 11311; 0 = free)', helpGroup: 'PORTS' }),
    'slave-port': Flags.integer({ description: 'memcached slave port (default 11312; 0 = free)', helpGroup: 'PORTS' }),
    'toxiproxy-port': Flags.integer({ description: 'Toxiproxy HTTP API port (default 8474; 0 = free)', helpGroup: 'PORTS' }),
    'toxi-master-port': Flags.integer({ description: 'Toxiproxy listener in front of the master (default 21311; 0 = free)', helpGroup: 'PORTS' }),
    'toxi-slave-port': Flags.integer({ description: 'Toxiproxy listener in front of the slave (default 21312; 0 = free)', helpGroup: 'PORTS' }),
    'proxy-port': Flags.integer({ description: 'first cachectl proxy port, instance i on +i (default 21211; 0 = free)', helpGroup: 'PORTS' }),
    'admin-port': Flags.integer({ description: 'first proxy admin HTTP port, instance i on +i (default 21280; 0 = free)', helpGroup: 'PORTS' }),
  };

  async run(): Promise<UpResult> {
    const f = this.flags;
    const ports = f['free-ports']
      ? ALL_PORTS_FREE
      : {
          master: f['master-port'],
          slave: f['slave-port'],
          toxiproxyApi: f['toxiproxy-port'],
          toxiMaster: f['toxi-master-port'],
          toxiSlave: f['toxi-slave-port'],
          proxy: f['proxy-port'],
          admin: f['admin-port'],
        };
    const { config } = this.loadConfig({
      runtime: f.runtime,
      shards: f.shards,
      ports,
      memcached: { memoryMb: f.memory, maxItemSize: f['max-item-size'] },
      proxy: {
        instances: f.proxies,
        readPolicy: f['read-policy'],
        mitigation: f.mitigation,
        replication: f.replication,
        failover: f.failover,
        failoverThreshold: f['failover-threshold'],
        timeoutMs: f['timeout-ms'],
      },
    });
    const result = await upCluster(config, { onProgress: (line) => this.out.progress(line) });
    if (!this.jsonEnabled()) {
      const c = this.out.color;
      this.out.result(
        result.alreadyRunning
          ? c.yellow(`cluster "${result.name}" is already running (${result.runtime}); nothing changed`)
          : c.green(`cluster "${result.name}" is up (${result.runtime} runtime)`),
      );
      this.out.result('');
      this.out.result(
        table(
          ['COMPONENT', 'KIND', 'ADDRESS', 'PID/CONTAINER', 'NOTE'],
          result.endpoints.map((e) => [e.component, e.kind, e.address, e.pid ?? e.containerId?.slice(0, 12) ?? '', e.note ?? '']),
        ),
      );
      this.out.result('');
      this.out.result(`clients connect to: ${result.clientEndpoint}`);
      this.out.result(`state file:         ${result.stateFile}`);
      if (result.runtime === 'local') this.out.result(`logs:               ${result.logDir}`);
      this.out.result(`next: cachectl status   |   cachectl chaos master-down   |   cachectl down`);
    }
    return result;
  }
}
