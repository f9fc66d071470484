import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createCliSandbox } from '../helpers/cli.js';
import { TestServers } from '../helpers/servers.js';
import { junitShapeErrors } from './xml-shape.js';

/**
 * The built CLI: `cachectl report`, `cachectl runs`, `runs show`, `runs compare` on real recorded
 * runs (test/report/fixtures), with their exit codes and --json shapes.
 */

const FIXTURES = process.env.CACHECTL_REPORT_FIXTURES ?? join(import.meta.dirname, 'fixtures');
const fixtures = existsSync(FIXTURES) ? readdirSync(FIXTURES).filter((f) => f.endsWith('.json')).sort() : [];
const cli = createCliSandbox({ name: 'report-e2e' });
afterAll(() => cli.cleanup());

describe('cachectl report / runs (built CLI)', () => {
  it('has recorded runs to work with', () => {
    expect(fixtures.length).toBeGreaterThan(0);
  });

  it('report renders a run file to HTML and JUnit; runs lists, shows and compares saved runs', async () => {
    const first = join(cli.dir, 'first.json');
    const second = join(cli.dir, 'second.json');
    copyFileSync(join(FIXTURES, fixtures[0]), first);
    copyFileSync(join(FIXTURES, fixtures[fixtures.length - 1]), second);

    const rendered = await cli.run(['report', first, '--junit', 'out/junit.xml', '--save', '--json']);
    expect(rendered.exitCode, rendered.stderr).toBe(0);
    expect(rendered.json.reportFile).toBe(join(cli.dir, 'first.html'));
    const html = readFileSync(rendered.json.reportFile, 'utf8');
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('class="chart-svg"');
    expect(junitShapeErrors(readFileSync(join(cli.dir, 'out/junit.xml'), 'utf8'))).toEqual([]);
    expect(rendered.json.runId).toMatch(/^\d{8}-\d{6}-[a-z0-9-]+/);

    const saved2 = await cli.run(['report', second, '-o', 'second-report.html', '--save', '--json']);
    expect(saved2.exitCode, saved2.stderr).toBe(0);
    expect(existsSync(join(cli.dir, 'second-report.html'))).toBe(true);

    const list = await cli.run(['runs', '--json']);
    expect(list.exitCode, list.stderr).toBe(0);
    expect(list.json.resultsDir).toBe(join(cli.stateDir, 'results'));
    expect(list.json.runs).toHaveLength(2);
    for (const r of list.json.runs) {
      expect(r).toMatchObject({ id: expect.any(String), date: expect.any(String), scenario: expect.any(String), verdict: expect.any(String), durationMs: expect.any(Number) });
      expect(r.mitigations.length).toBeGreaterThan(0);
    }
    const human = await cli.run(['runs']);
    expect(human.stdout).toMatch(/^ID\s+DATE\s+SCENARIO\s+MITIGATIONS\s+VERDICT\s+STALE READS/m);
    expect(human.stdout).toContain(rendered.json.runId);

    const show = await cli.run(['runs', 'show', rendered.json.runId, '--json']);
    expect(show.exitCode, show.stderr).toBe(0);
    expect(show.json.report.runId).toBe(rendered.json.runId);
    expect(show.json.report.replayCommand).toMatch(/^cachectl /);

    const cmpHuman = await cli.run(['runs', 'compare', 'latest~1', 'latest']);
    expect(cmpHuman.exitCode, cmpHuman.stderr).toBe(0);
    expect(cmpHuman.stdout).toMatch(/METRIC\s+A\s+B\s+DELTA/);
    expect(cmpHuman.stdout).toMatch(/staleReads/);

    // The saved id renders too (no path needed).
    const byId = await cli.run(['report', rendered.json.runId, '--json']);
    expect(byId.exitCode, byId.stderr).toBe(0);
    expect(existsSync(byId.json.reportFile)).toBe(true);
  });

  it('bad input is a usage error (exit 2) that says what to do', async () => {
    const missing = await cli.run(['report', 'nope.json']);
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toMatch(/no such file/);
    expect(missing.stderr).toMatch(/next:/);
    writeFileSync(join(cli.dir, 'other.json'), '{"hello": "world"}');
    const notARun = await cli.run(['report', join(cli.dir, 'other.json')]);
    expect(notARun.exitCode).toBe(2);
    expect(notARun.stderr).toMatch(/is not a cachectl run/);
    const unknown = await cli.run(['runs', 'show', 'no-such-run', '--json']);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.json.error).toMatchObject({ code: 'USAGE', message: expect.stringMatching(/no saved run matches/) });
  });
});

describe('--report and saved runs from the real chaos and workload commands (built CLI)', () => {
  const run = createCliSandbox({ name: 'report-run-e2e' });
  const servers = new TestServers();
  afterAll(async () => {
    await servers.stopAll();
    await run.cleanup();
  });

  it('chaos master-down --report --junit: HTML with the fault window, JUnit per rule, run saved with its replay', async () => {
    const res = await run.run(
      ['chaos', 'master-down', '--seed', '5', '--warmup', '1s', '--fault-duration', '2s', '--heal', '1s', '--settle', '1s', '--keys', '100', '--expect', 'staleReads == 0', '--report', 'md.html', '--junit', 'md.xml', '--json'],
      { timeoutMs: 120_000 },
    );
    // The incident is reproduced, so the rule fails: exit 1, and the artifacts are still written.
    expect(res.exitCode, res.stderr).toBe(1);
    const html = readFileSync(join(run.dir, 'md.html'), 'utf8');
    expect(html).toContain('class="window window-fault"');
    expect(html).toContain(res.json.replay.replace(/'/g, '&#39;'));
    expect(junitShapeErrors(readFileSync(join(run.dir, 'md.xml'), 'utf8'))).toEqual([]);
    const list = await run.run(['runs', '--json']);
    expect(list.json.runs).toHaveLength(1);
    expect(list.json.runs[0]).toMatchObject({ scenario: 'master-down', mitigations: ['none'], verdict: 'fail', seed: 5 });
    expect(list.json.runs[0].staleReads).toBe(res.json.runs[0].metrics.staleReads);
  });

  it('workload --report against a real memcached: report written, run saved with the exact replay command', async () => {
    const mc = await servers.memcached();
    const res = await run.run(['workload', '--servers', `${mc.host}:${mc.port}`, '--duration', '2s', '--clients', '2', '--keys', '50', '--seed', '99', '--report', 'wl.html', '--json']);
    expect(res.exitCode, res.stderr).toBe(0);
    expect(res.json.artifacts.reportFile).toBe(join(run.dir, 'wl.html'));
    const show = await run.run(['runs', 'show', res.json.artifacts.runId, '--json']);
    expect(show.json.report.replayCommand).toBe(`cachectl workload --servers ${mc.host}:${mc.port} --duration 2s --clients 2 --keys 50 --seed 99`);
    const none = await run.run(['workload', '--servers', `${mc.host}:${mc.port}`, '--duration', '1s', '--clients', '1', '--keys', '10', '--no-save', '--json']);
    expect(none.exitCode, none.stderr).toBe(0);
    expect(none.json.artifacts).toEqual({});
  });
});
