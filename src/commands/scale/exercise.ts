import { Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.js';
import { ExitCode, usageError } from '../../errors.js';
import { exerciseSummaryLines } from '../../scale/format.js';
import { runScaleExercise, type ExerciseResult } from '../../scale/exercise.js';
import { DISTRIBUTIONS, parseDurationMs, randomSeed, type Distribution } from '../../workload/index.js';

export default class ScaleExercise extends BaseCommand<typeof ScaleExercise> {
  static override summary = 'Run a CAS workload through the proxies while a shard is added and removed; report what it cost and gate on stale reads.';

  static override description = `Runs the cache-aside CAS workload against the running cluster's proxies and, mid-run, does \`scale add\` and then \`scale remove\` (by default of the shard just added, so its keys go back to their old homes: the case where an old copy would be served stale). The clients never restart. The checker judges the history; the report gives, per change: hit rate before, during and after, the keys that moved (and what ketama aims at, 1/N), the database reads the move caused, client errors and stale reads in the change window, plus the per-second hit rate.

Exit 1 when any stale read happened, a change failed, or a client saw an error during a change. --no-stale-guard is the negative control: the moved keys are not invalidated, and the checker shows the stale reads that causes.`;

  static override examples = [
    { description: 'Add and remove a shard during a 12 s run', command: '<%= config.bin %> scale exercise --duration 12s --seed 7' },
    { description: 'The negative control: no invalidation of moved keys (expect stale reads, exit 1)', command: '<%= config.bin %> scale exercise --no-stale-guard --json' },
  ];

  static override flags = {
    duration: Flags.string({ description: 'how long the workload runs, e.g. 12s', default: '12s' }),
    'add-at': Flags.string({ description: 'when to add a shard (default 30% of the duration)' }),
    'remove-at': Flags.string({ description: 'when to remove one (default 65% of the duration)' }),
    'no-remove': Flags.boolean({ description: 'only add a shard', default: false }),
    'remove-shard': Flags.string({ description: 'the shard to remove (default: the one just added)' }),
    'stale-guard': Flags.boolean({ description: 'invalidate moved keys so no stale read is served (--no-stale-guard = negative control)', default: true, allowNo: true }),
    clients: Flags.integer({ description: 'concurrent clients', default: 4, min: 1, max: 256 }),
    keys: Flags.integer({ description: 'number of distinct keys', default: 1000, min: 1 }),
    distribution: Flags.string({ description: 'how keys are picked', options: [...DISTRIBUTIONS], default: 'uniform' }),
    'read-ratio': Flags.string({ description: 'fraction of operations that are reads, 0..1', default: '0.9' }),
    'value-size': Flags.integer({ description: 'bytes per cached value', default: 100, min: 1 }),
    seed: Flags.integer({ description: 'random seed (printed; random when absent)', min: 0, max: 0xffffffff }),
    'timeout-ms': Flags.integer({ description: 'per cache request deadline in ms', default: 1000, min: 1 }),
    'drain-ms': Flags.integer({ description: 'wait after each switch for requests routed by the old map (default 2 x proxy timeout)', min: 0, max: 60_000 }),
    history: Flags.string({ description: 'write every operation (and the changes) to this file as JSON lines' }),
    window: Flags.string({ description: 'length of the "during" window after a switch', default: '2s' }),
  };

  async run(): Promise<ExerciseResult> {
    const f = this.flags;
    const { config } = this.loadConfig();
    const readRatio = Number(f['read-ratio']);
    if (!(readRatio >= 0 && readRatio <= 1)) throw usageError(`--read-ratio must be between 0 and 1, got ${f['read-ratio']}`, 'e.g. --read-ratio 0.9');
    const seed = f.seed ?? randomSeed();
    this.out.progress(`scale exercise seed ${seed} (replay with --seed ${seed})`);
    const result = await runScaleExercise(config, {
      durationMs: parseDurationMs(f.duration),
      addAtMs: f['add-at'] ? parseDurationMs(f['add-at']) : undefined,
      removeAtMs: f['no-remove'] ? null : f['remove-at'] ? parseDurationMs(f['remove-at']) : undefined,
      removeShard: f['remove-shard'],
      staleGuard: f['stale-guard'],
      clients: f.clients,
      keys: f.keys,
      distribution: f.distribution as Distribution,
      readRatio,
      valueSize: f['value-size'],
      seed,
      timeoutMs: f['timeout-ms'],
      drainMs: f['drain-ms'],
      windowMs: parseDurationMs(f.window),
      historyFile: f.history,
      onProgress: (line) => this.out.progress(line),
    });
    if (!this.jsonEnabled()) for (const line of exerciseSummaryLines(result)) this.out.result(line);
    return this.finish(result, result.verdict.ok ? ExitCode.OK : ExitCode.CONSISTENCY);
  }
}
