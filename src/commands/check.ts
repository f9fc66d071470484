import { Flags } from '@oclif/core';
import { BaseCommand } from './base-command.js';
import { ExitCode } from '../errors.js';
import { table } from '../util/output.js';
import { runCheckCommand, type CheckCommandResult } from '../workload/index.js';

export default class Check extends BaseCommand<typeof Check> {
  static override summary = 'Scan master, slave (and the database) for a key range and report divergence; judge a recorded history; exit 1 beyond a budget.';

  static override description = `Reads every key directly from the master and the slave memcached (not through the proxy) and, with --db, from the source-of-truth database, then classifies each key: consistent, slave-stale, master-stale, both-stale, master-missing, slave-missing, ahead (newer than the database), corrupt or unreachable.

Keys are either <prefix>0..N-1 (--prefix and --keys, as \`cachectl workload\` printed them), every key in the database (--db, optionally under --prefix), or the keys of a recorded history (--history).

With --history FILE (written by \`cachectl workload --history\`) the checker also judges that history: stale reads, lost updates, acknowledged writes missing from the master (from the scan), corrupt and impossible reads. --no-scan judges the history alone, without touching any node.

Exit codes: 0 when divergent keys <= --max-divergent and the history (if any) has no anomaly, 1 otherwise (the result still prints), 3 when a node cannot be reached, 2 on bad flags.`;

  static override examples = [
    { description: 'Every key a workload wrote to its database', command: '<%= config.bin %> check --db run.db' },
    { description: 'A key range, allowing 5 divergent keys', command: '<%= config.bin %> check --prefix wl:1a2b3c4d: --keys 1000 --max-divergent 5' },
    { description: 'Any two memcached servers, for CI', command: '<%= config.bin %> check --master 127.0.0.1:11311 --slave 127.0.0.1:11312 --prefix wl:x: --keys 100 --json' },
    { description: 'Judge a recorded history offline', command: '<%= config.bin %> check --history run.jsonl --no-scan' },
  ];

  static override flags = {
    keys: Flags.integer({ description: 'number of keys: <prefix>0 .. <prefix>N-1', min: 1 }),
    prefix: Flags.string({ description: 'key prefix (as printed by `cachectl workload`)' }),
    db: Flags.string({ description: 'SQLite source-of-truth file: compare against it (and take its keys when --keys is absent)' }),
    'max-divergent': Flags.integer({ description: 'divergent keys allowed before exiting 1', default: 0, min: 0 }),
    master: Flags.string({ description: 'master memcached host:port (default: from the running cluster)' }),
    slave: Flags.string({ description: 'slave memcached host:port (default: from the running cluster)' }),
    history: Flags.string({ description: 'a history from `cachectl workload --history`: judge it as well' }),
    'no-scan': Flags.boolean({ description: 'with --history: judge the history alone, read no node', default: false }),
    'timeout-ms': Flags.integer({ description: 'per request deadline in ms', default: 1000, min: 1 }),
  };

  async run(): Promise<CheckCommandResult> {
    const f = this.flags;
    const { config } = this.loadConfig();
    const result = await runCheckCommand({
      config,
      master: f.master,
      slave: f.slave,
      keys: f.keys,
      prefix: f.prefix,
      db: f.db,
      history: f.history,
      noScan: f['no-scan'],
      maxDivergent: f['max-divergent'],
      timeoutMs: f['timeout-ms'],
    });
    if (!this.jsonEnabled()) {
      const c = this.out.color;
      const d = result.divergence;
      if (d) {
        this.out.result(`checked ${result.keys} keys: master ${result.master}, slave ${result.slave}${result.database ? `, database ${result.database}` : ''}`);
        this.out.result('');
        this.out.result(table(['STATE', 'KEYS'], Object.entries(d.states).map(([state, n]) => [state, n])));
        if (d.examples.length) {
          this.out.result('');
          this.out.result(table(['KEY', 'STATE', 'MASTER', 'SLAVE', 'DATABASE'], d.examples.map((e) => [e.key, e.state, e.master, e.slave, e.db ?? '-'])));
        }
        this.out.result('');
      }
      if (result.history) {
        const r = result.history.report;
        this.out.result(`history ${result.history.file}: ${result.history.ops} entries, ${r.totals.ops} ops over ${(r.totals.durationMs / 1000).toFixed(1)} s`);
        this.out.result('');
        this.out.result(table(['CHECK', 'RESULT', 'VALUE', 'DETAIL'], r.verdict.checks.map((k) => [k.name, k.ok === null ? 'not judged' : k.ok ? 'ok' : 'FAILED', k.value, k.message])));
        this.out.result('');
      }
      const line = d ? `${d.divergent} divergent (${d.stale} stale), budget ${result.maxDivergent}` : 'history judged without a scan';
      this.out.result(result.withinBudget ? c.green(`OK: ${line}`) : c.red(`FAILED: ${[line, ...result.failures].join('; ')}`));
    }
    return this.finish(result, result.withinBudget ? ExitCode.OK : ExitCode.CONSISTENCY);
  }
}
