import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { saveRunArtifacts } from '../../src/report/artifacts.js';
import { compareRuns, findRun, listRuns, makeRunId, readRunFile, resolveResultsDir, saveRun } from '../../src/report/store.js';
import { isCachectlError } from '../../src/errors.js';
import { junitShapeErrors } from './xml-shape.js';
import { syntheticChaos } from './synthetic.js';

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'cachectl-runs-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('saved runs', () => {
  it('ids say when, what and which seed, and sort by time', () => {
    expect(makeRunId({ startedAt: '2026-11-26T21:05:30.123Z', scenario: 'master-down', seed: 42 })).toBe('20261126-210530-master-down-seed42');
  });

  it('the results folder: flag, then CACHECTL_RESULTS_DIR, then <stateDir>/results', () => {
    expect(resolveResultsDir({ flag: 'out', env: {}, cwd: '/w' })).toBe('/w/out');
    expect(resolveResultsDir({ env: { CACHECTL_RESULTS_DIR: '/r' }, cwd: '/w' })).toBe('/r');
    expect(resolveResultsDir({ env: {}, cwd: '/w', stateDir: '.cachectl' })).toBe('/w/.cachectl/results');
  });

  it('save, list newest first, find by id / prefix / latest, never overwrite', () => {
    const dir = tmp();
    const older = syntheticChaos(['none'], { stale: 2 });
    const newer = syntheticChaos(['none', 'proxy-delete'], { stale: 1 });
    newer.startedAt = '2026-11-27T09:00:00.000Z';
    const a = saveRun(older, dir);
    const b = saveRun(newer, dir);
    const again = saveRun(older, dir);
    expect(again.run.id).toBe(`${a.run.id}-2`);
    const runs = listRuns(dir);
    expect(runs.map((r) => r.id)).toEqual([b.run.id, again.run.id, a.run.id]);
    expect(runs[0]).toMatchObject({ scenario: 'master-down', mitigations: ['none', 'proxy-delete'], staleReads: 4, seed: 42 });
    expect(findRun(dir, 'latest').report.runId).toBe(b.run.id);
    expect(findRun(dir, '20261127').report.runId).toBe(b.run.id);
    expect(() => findRun(dir, '20261126')).toThrow(/matches 2 saved runs/);
    expect(() => findRun(dir, 'nope')).toThrow(/no saved run matches "nope"/);
    // The raw result is kept unchanged next to the report input.
    expect(readRunFile(a.file).saved?.result).toEqual(older);
    // A saved run is re-read from its raw result (today's adapter), keeping its id and replay.
    const envelope = JSON.parse(readFileSync(a.file, 'utf8'));
    envelope.report.title = 'rendered by an older cachectl';
    writeFileSync(a.file, JSON.stringify(envelope));
    const again2 = readRunFile(a.file).report;
    expect(again2.title).toBe(older.title);
    expect(again2.runId).toBe(a.run.id);
    expect(again2.replayCommand).toBe(older.replay);
  });

  it('a file that is not a run is a clear usage error, and listing skips it', () => {
    const dir = tmp();
    writeFileSync(join(dir, 'junk.json'), '{"hello": 1}');
    writeFileSync(join(dir, 'broken.json'), '{"hello": ');
    const skipped: string[] = [];
    expect(listRuns(dir, (f) => skipped.push(f))).toEqual([]);
    expect(skipped).toHaveLength(2);
    try {
      readRunFile(join(dir, 'junk.json'));
      expect.unreachable();
    } catch (err) {
      expect(isCachectlError(err) && err.code).toBe('USAGE');
      expect((err as Error).message).toMatch(/is not a cachectl run/);
    }
    expect(() => readRunFile(join(dir, 'broken.json'))).toThrow(/not valid JSON/);
    expect(() => readRunFile(join(dir, 'missing.json'))).toThrow(/no such file/);
  });

  it('compare: same mitigation against same mitigation, deltas, better/worse by metric', () => {
    const a = saveRun(syntheticChaos(['none', 'proxy-delete'], { stale: 5 }), tmp()).run.report;
    const bRaw = syntheticChaos(['none', 'proxy-delete'], { stale: 2 });
    bRaw.runs[1].metrics.hitRate = 0.8;
    bRaw.seed = 7;
    const b = saveRun(bRaw, tmp()).run.report;
    const cmp = compareRuns(a, b);
    const row = (series: string, metric: string) => cmp.rows.find((r) => r.series === series && r.metric === metric)!;
    expect(row('none', 'staleReads')).toMatchObject({ a: 20, b: 8, delta: -12, deltaPct: -60, change: 'better' });
    expect(row('proxy-delete', 'hitRate')).toMatchObject({ a: 0.9, b: 0.8, change: 'worse' });
    expect(row('proxy-delete', 'staleReads').change).toBe('same');
    expect(cmp.notes.join(' ')).toMatch(/different seeds/);
  });

  it('saveRunArtifacts: saves the run and writes the HTML report, JUnit and the CI summary in one call', () => {
    const dir = tmp();
    const out = saveRunArtifacts(syntheticChaos(['none'], { stale: 1, failRule: true }), {
      resultsDir: join(dir, 'results'),
      report: join(dir, 'r/report.html'),
      junit: join(dir, 'junit.xml'),
      env: { GITHUB_STEP_SUMMARY: join(dir, 'summary.md') },
    });
    expect(readFileSync(join(dir, 'summary.md'), 'utf8')).toMatch(/^### ❌/);
    expect(out.runId).toMatch(/^20261126-210000-master-down-seed42$/);
    expect(readFileSync(out.reportFile!, 'utf8')).toContain(out.runId!);
    expect(junitShapeErrors(readFileSync(out.junitFile!, 'utf8'))).toEqual([]);
    expect(listRuns(join(dir, 'results'))).toHaveLength(1);
    const nosave = saveRunArtifacts(syntheticChaos(['none']), { resultsDir: join(dir, 'none'), save: false, report: join(dir, 'b.html'), env: {} });
    expect(nosave.runId).toBeUndefined();
    expect(listRuns(join(dir, 'none'))).toEqual([]);
  });
});

describe('replay command and workload runs', () => {
  it('replayCommandFromArgv: output-only flags dropped, the seed added, odd arguments quoted', async () => {
    const { replayCommandFromArgv } = await import('../../src/report/artifacts.js');
    expect(replayCommandFromArgv(['workload', '--duration', '10s', '--report', 'r.html', '--json', '--junit=j.xml'], 42)).toBe('cachectl workload --duration 10s --seed 42');
    expect(replayCommandFromArgv(['chaos', 'master-down', '--seed', '7', '--expect', 'staleReads == 0'], 42)).toBe("cachectl chaos master-down --seed 7 --expect 'staleReads == 0'");
    expect(replayCommandFromArgv(['x', "it's"])).toBe(`cachectl x 'it'\\''s'`);
  });

  it('a workload result (real checker report) becomes a one-series report with its anomalies; saved with the argv replay', async () => {
    const { checkHistory } = await import('../../src/checker/check.js');
    const { plantedHistory } = await import('./synthetic.js');
    const check = checkHistory(plantedHistory('w1', 6, 2));
    const result = { seed: 9, keys: 1, keyPrefix: 'wl:x:', target: 'proxy', endpoints: ['127.0.0.1:1'], mitigation: 'none', stoppedBy: 'duration', durationMs: 6000, opsPerSecond: 8, counts: { ops: 50, reads: 25, updates: 25 }, check };
    const dir = tmp();
    const out = saveRunArtifacts(result, { resultsDir: dir, argv: ['workload', '--duration', '6s', '--report', 'x.html'], startedAt: '2026-11-26T20:00:00.000Z', env: {} });
    const { report } = findRun(dir, out.runId!);
    expect(report).toMatchObject({ kind: 'workload', scenario: 'workload', seed: 9, replayCommand: 'cachectl workload --duration 6s --seed 9', startedAt: '2026-11-26T20:00:00.000Z' });
    expect(report.series).toHaveLength(1);
    expect(report.series[0].totals.staleReads).toBe(check.staleReads.count);
    expect(report.series[0].anomalies.filter((a) => a.kind === 'stale-read')).toHaveLength(check.staleReads.examples.length);
    expect(report.series[0].perSecond.length).toBe(check.perSecond.length);
    expect(report.verdict.status).toBe(check.verdict.ok ? 'pass' : 'fail');
  });
});
