import { Flags } from '@oclif/core';
import { BaseCommand } from './base-command.js';
import { usageError } from '../errors.js';
import { table } from '../util/output.js';
import { describeArtifacts, reportFlags, saveArtifactsFromFlags, type RunArtifacts } from '../report/index.js';
import { CLIENT_MITIGATIONS, DISTRIBUTIONS, randomSeed, type ClientMitigation, type Distribution } from '../workload/index.js';
import { formatWorkloadSummary, progressBar, parseDurationMs, runWorkloadCommand, type WorkloadCommandResult } from '../workload/index.js';

export default class Workload extends BaseCommand<typeof Workload> {
  static override summary = 'Run concurrent cache-aside CAS traffic with a source-of-truth database, then judge consistency.';

  static override description = `N clients run cache-aside traffic against the cachectl proxy (or memcached directly) for a duration or an op count. An update commits version+1 in the database (SQLite), then writes the cache with gets+cas on the master (add when missing; retry only while the cache holds an older version; never overwrite a newer one). A read tries the cache and on a miss loads the database and adds the value. Every operation is recorded; at the end master, slave and database are scanned and the checker reports stale reads, lost updates, acknowledged writes missing from the master, divergence, hit rate and database reads.

The seed is printed: rerun with --seed to replay the same choices. Progress goes to stderr (a bar on a terminal), the summary to stdout. Exit code 0 even when anomalies are found (use \`cachectl check\` or chaos --expect rules to gate); 3 when the target cannot be reached.`;

  static override examples = [
    { description: 'Ten seconds of traffic through the proxy of the running cluster', command: '<%= config.bin %> workload --duration 10s' },
    { description: 'Replay a run, 20000 ops, zipfian keys, export the history', command: '<%= config.bin %> workload --ops 20000 --seed 42 --distribution zipfian --history run.jsonl' },
    { description: 'The client-short-ttl mitigation with a 5 s TTL on the slave', command: '<%= config.bin %> workload --duration 30s --mitigation client-short-ttl --short-ttl 5' },
    { description: 'Against any memcached, no cluster needed', command: '<%= config.bin %> workload --servers 127.0.0.1:11211 --duration 5s --json' },
  ];

  static override flags = {
    clients: Flags.integer({ description: 'concurrent clients (one connection each)', default: 8, min: 1, max: 1024 }),
    duration: Flags.string({ description: 'how long to run, e.g. 10s, 500ms, 2m (default 10s unless --ops)' }),
    ops: Flags.integer({ description: 'stop after this many operations (reads + updates)', min: 1 }),
    keys: Flags.integer({ description: 'number of distinct keys', default: 1000, min: 1 }),
    'key-prefix': Flags.string({ description: 'key names are <prefix><index> (default wl:<random run id>:)' }),
    distribution: Flags.string({ description: 'how keys are picked', options: [...DISTRIBUTIONS], default: 'zipfian' }),
    'read-ratio': Flags.string({ description: 'fraction of operations that are reads, 0..1', default: '0.9' }),
    'value-size': Flags.integer({ description: 'bytes per cached value', default: 100, min: 1 }),
    seed: Flags.integer({ description: 'random seed (printed; random when absent)', min: 0, max: 0xffffffff }),
    mitigation: Flags.string({ description: 'client-side mitigation when a master CAS fails', options: [...CLIENT_MITIGATIONS], default: 'none' }),
    'short-ttl': Flags.integer({ description: 'client-short-ttl: TTL in seconds of the slave write (default from config, 300)', min: 1 }),
    'timeout-ms': Flags.integer({ description: 'per cache request deadline in ms; a timed-out write is recorded as unknown', default: 1000, min: 1 }),
    rate: Flags.integer({ description: 'throttle to about this many ops/s in total (default: as fast as possible)', min: 1 }),
    db: Flags.string({ description: 'SQLite database file for the source of truth (default: in memory)' }),
    history: Flags.string({ description: 'write every operation to this file as JSON lines' }),
    target: Flags.string({ description: 'what the clients talk to in the running cluster', options: ['proxy', 'master'], default: 'proxy' }),
    servers: Flags.string({ description: 'talk to these host:port addresses instead of the cluster (repeatable)', multiple: true }),
    ...reportFlags,
  };

  async run(): Promise<WorkloadCommandResult & { artifacts: RunArtifacts }> {
    const f = this.flags;
    const { config } = this.loadConfig();
    const readRatio = Number(f['read-ratio']);
    if (!Number.isFinite(readRatio)) throw usageError(`--read-ratio must be a number between 0 and 1, got ${JSON.stringify(f['read-ratio'])}`, 'pass e.g. --read-ratio 0.9');
    const durationMs = f.duration !== undefined ? parseDurationMs(f.duration) : f.ops === undefined ? 10_000 : undefined;
    const seed = f.seed ?? randomSeed();
    this.out.progress(`workload seed ${seed} (replay with --seed ${seed})`);
    const controller = new AbortController();
    const onSignal = (): void => controller.abort();
    process.once('SIGINT', onSignal);
    const bar = this.out.isTTY && !this.jsonEnabled();
    const startedAt = new Date().toISOString();
    try {
      const result = await runWorkloadCommand(
        {
          config,
          servers: f.servers,
          target: f.target as 'proxy' | 'master',
          clients: f.clients,
          durationMs,
          ops: f.ops,
          keys: f.keys,
          keyPrefix: f['key-prefix'],
          distribution: f.distribution as Distribution,
          readRatio,
          valueSize: f['value-size'],
          seed,
          mitigation: f.mitigation as ClientMitigation,
          shortTtlSeconds: f['short-ttl'] ?? config.shortTtlSeconds,
          timeoutMs: f['timeout-ms'],
          db: f.db,
          historyFile: f.history,
          opsPerSecond: f.rate,
          signal: controller.signal,
        },
        {
          onSecond: bar ? (s) => process.stderr.write(`\r${progressBar(s, { durationMs, ops: f.ops })}`) : undefined,
        },
      );
      if (bar) process.stderr.write('\n');
      // Saved for `cachectl runs`, and the HTML report with --report (src/report).
      const { warnings, ...artifacts } = saveArtifactsFromFlags(result, f, config.stateDir, { argv: ['workload', ...this.argv], startedAt });
      for (const w of warnings) this.out.warn(w);
      for (const line of describeArtifacts(artifacts)) this.out.progress(line);
      if (!this.jsonEnabled()) {
        const summary = formatWorkloadSummary(result);
        this.out.result(summary.header);
        this.out.result('');
        this.out.result(table(summary.opsTable.headers, summary.opsTable.rows));
        this.out.result('');
        this.out.result(table(summary.checkTable.headers, summary.checkTable.rows));
        this.out.result('');
        this.out.result(result.check.verdict.ok ? this.out.color.green(result.check.verdict.summary) : this.out.color.red(result.check.verdict.summary));
      }
      return { ...result, artifacts };
    } finally {
      process.off('SIGINT', onSignal);
    }
  }
}
