import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI_BIN, createCliSandbox, pidAlive } from '../helpers/cli.js';

/**
 * The incident and the mitigations, end to end: the built CLI on the local runtime with real
 * memcached, Toxiproxy and the cachectl proxy (an ephemeral cluster per command). Short phases.
 */
const PHASES = ['--warmup', '1s', '--fault-duration', '3s', '--heal', '1s', '--settle', '1s', '--keys', '300', '--short-ttl', '1s'];

describe('cachectl chaos master-down (e2e)', () => {
  const cli = createCliSandbox();
  afterAll(() => cli.cleanup());

  it('reproduces the incident with none, and each mitigation buys what it claims, side by side on one seed', async () => {
    const junit = join(cli.dir, 'out', 'chaos.xml');
    const res = await cli.run(
      [
        'chaos', 'master-down', '--mitigation', 'all', '--seed', '11', ...PHASES, '--json', '--junit', junit,
        '--expect', 'none.staleReads > 0',
        '--expect', 'proxy-delete.staleReadsDuringFault == 0',
        '--expect', 'client-short-ttl.staleReadsDuringFault == 0',
        '--expect', 'client-short-ttl.shortTtlEntriesNotExpired == 0',
      ],
      { timeoutMs: 150_000 },
    );
    const r = res.json;
    // On failure say which rule failed with which numbers (and the progress log).
    const why = `${JSON.stringify(r?.expectations?.filter((e: { passed: boolean }) => !e.passed) ?? null)}\n${JSON.stringify(r?.runs?.map((x: { label: string; metrics: unknown }) => [x.label, x.metrics]) ?? null)}\n${res.stderr.slice(-3000)}`;
    expect(res.exitCode, why).toBe(0);
    expect(r).toMatchObject({ kind: 'chaos-run', scenario: 'master-down', seed: 11, verdict: 'pass', interrupted: false });
    expect(r.replay).toContain('--seed 11');
    expect(r.runs.map((x: { label: string }) => x.label)).toEqual(['none', 'proxy-delete', 'client-short-ttl']);
    const [none, del, ttl] = r.runs;

    // the incident: failed master CAS, stale reads served by the slave during the outage, divergence
    expect(none.verdict).toBe('incident-reproduced');
    expect(none.metrics.masterCasFailures).toBeGreaterThan(0);
    expect(none.metrics.staleReadsDuringFault).toBeGreaterThan(0);
    expect(none.metrics.slaveStaleKeysAtHeal).toBeGreaterThan(0);
    expect(none.findings.join(' ')).toMatch(/Incident reproduced: master CAS failed \d+ times, the slave was not updated, \d+ stale reads? served by the slave/);

    // proxy-delete: no stale read from the slave during the outage, paid for in hit rate / database reads
    expect(del.metrics.staleReadsDuringFault, why).toBe(0);
    expect(del.metrics.slaveStaleKeysAtHeal).toBe(0);
    expect(del.metrics.dbReads).toBeGreaterThan(none.metrics.dbReads);
    expect(del.metrics.hitRate).toBeLessThan(none.metrics.hitRate);

    // client-short-ttl: the slave is kept fresh by short-TTL writes, and those entries expire on time
    expect(ttl.metrics.slaveWritesDuringFault).toBeGreaterThan(0);
    expect(ttl.metrics.staleReadsDuringFault).toBe(0);
    expect(ttl.metrics.shortTtlEntriesNotExpired).toBe(0);
    expect(ttl.findings.join(' ')).toMatch(/short-TTL entries on the slave expired on time|no short-TTL entry was left/);

    // no mitigation fixes a partitioned master: it comes back holding old values
    for (const run of r.runs) expect(run.metrics.masterStaleKeysAtHeal).toBeGreaterThan(0);

    // the timeline the report draws: phases in order, fault applied and reverted, a per-second series
    for (const run of r.runs) {
      expect(run.timeline.phases.map((p: { name: string }) => p.name)).toEqual(['warm-up', 'fault', 'heal', 'settle', 'verify']);
      const kinds = run.timeline.events.map((e: { kind: string }) => e.kind);
      expect(kinds).toContain('fault-apply');
      expect(kinds).toContain('fault-revert');
      const fault = run.timeline.phases[1];
      expect(fault.endMs - fault.startMs).toBeGreaterThanOrEqual(2900);
      expect(run.perSecond.length).toBeGreaterThanOrEqual(5);
      expect(run.perSecond.some((s: { phase: string }) => s.phase === 'fault')).toBe(true);
      expect(run.check.verdict).toBeDefined();
    }
    expect(r.expectations).toHaveLength(4);
    expect(r.expectations.every((e: { passed: boolean }) => e.passed)).toBe(true);

    const xml = readFileSync(junit, 'utf8');
    expect(xml.match(/<testcase /g)).toHaveLength(4);
    expect(xml).toContain('failures="0"');
    // the ephemeral cluster is gone
    expect(existsSync(cli.stateDir) ? readdirSync(cli.stateDir).filter((f) => f.endsWith('.state.json')) : []).toEqual([]);
  }, 180_000);

  it('exits 1 naming the rule and the measured value when an expectation fails (crash fault)', async () => {
    const res = await cli.run(['chaos', 'master-down', '--fault', 'crash', ...PHASES, '--expect', 'staleReads == 0', '--expect', 'lostUpdates == 0'], { timeoutMs: 90_000 });
    expect(res.exitCode, res.stderr).toBe(1);
    expect(res.stdout).toMatch(/FAIL none: staleReads == 0 \(measured \d+\)/);
    expect(res.stdout).toMatch(/PASS none: lostUpdates == 0 \(measured 0\)/);
    expect(res.stdout).toMatch(/killed \(kill -9\) and restarted empty/);
    expect(res.stdout).toMatch(/scenario run time \d+\.\ds; verdict fail/);
  }, 120_000);

  it('rejects a bad rule before starting anything (exit 2)', async () => {
    const res = await cli.run(['chaos', 'master-down', '--expect', 'staleness == 0']);
    expect(res.exitCode).toBe(2);
    expect(res.stderr).toContain('unknown metric "staleness"');
  });

  it('the manual switch in a long outage loses no acknowledged write and serves no stale read after it', async () => {
    const res = await cli.run(
      [
        'chaos', 'master-down', '--warmup', '1s', '--fault-duration', '5s', '--switch-after', '1500ms', '--heal', '1s', '--settle', '1s', '--keys', '300', '--json',
        '--expect', 'staleReadsAfterSwitch == 0', '--expect', 'missingAckedWrites == 0', '--expect', 'lostUpdates == 0',
      ],
      { timeoutMs: 90_000 },
    );
    expect(res.exitCode, res.stdout + res.stderr).toBe(0);
    const run = res.json.runs[0];
    expect(run.switch).toMatchObject({ ok: true, outcome: 'switched', oldMasterDetached: true, newMasterFlushed: true });
    expect(run.switch.newMaster).toMatch(/^slave/);
    expect(run.switch.toEpoch).toBe(run.switch.fromEpoch + 3);
    expect(new Set(run.switch.proxies.map((p: { epoch: number }) => p.epoch)).size).toBe(1);
    expect(run.switch.verification).toMatchObject({ sameEpoch: true, casWorks: true, readYourWrite: true });
    expect(run.switch.steps.map((s: { step: string }) => s.step)).toEqual(['read-configs', 'fence', 'flush-old-master', 'flush-new-master', 'promote', 'unfence', 'verify']);
    expect(run.verdict).toBe('consistent');
    expect(run.findings.join(' ')).toContain('rejoined as slave');
    expect(run.timeline.events.some((e: { kind: string }) => e.kind === 'switch-end')).toBe(true);
  }, 120_000);

  it('Ctrl-C during the fault also removes the ephemeral cluster it started (no process left)', async () => {
    const child = spawn(process.execPath, [CLI_BIN, 'chaos', 'master-down', '--fault', 'crash', '--warmup', '500ms', '--fault-duration', '30s', '--keys', '100'], {
      cwd: cli.dir,
      env: { ...process.env, ...cli.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    const applied = new Promise<void>((resolve) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (/crash master/.test(stderr)) resolve();
      });
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    await applied;
    const stateFile = readdirSync(cli.stateDir).find((f) => /^chaos-\d+\.state\.json$/.test(f));
    expect(stateFile).toBeDefined();
    const pids = (JSON.parse(readFileSync(join(cli.stateDir, stateFile!), 'utf8')).components as Array<{ pid?: number }>).map((c) => c.pid).filter((p): p is number => typeof p === 'number');
    expect(pids.length).toBeGreaterThanOrEqual(3);
    child.kill('SIGINT');
    expect(await exited, stderr).toBe(130);
    expect(readdirSync(cli.stateDir).filter((f) => f.endsWith('.state.json'))).toEqual([]);
    for (const pid of pids) expect(pidAlive(pid)).toBe(false);
  }, 90_000);

  it('chaos run takes the scenario from YAML (slave-down here), gates it and writes JUnit from the file', async () => {
    const file = join(cli.dir, 'slave-down.yaml');
    writeFileSync(
      file,
      [
        'scenario: slave-down',
        'seed: 4',
        'phases: { warmup: 1s, fault: 2s, heal: 1s, settle: 1s }',
        'workload: { clients: 4, keys: 200 }',
        'expect:',
        '  - missingAckedWrites == 0',
        '  - operations == 0        # fails on purpose',
        `junit: ${join(cli.dir, 'yaml-junit.xml')}`,
        '',
      ].join('\n'),
    );
    const res = await cli.run(['chaos', 'run', file, '--json'], { timeoutMs: 60_000 });
    expect(res.exitCode, res.stderr).toBe(1);
    expect(res.json).toMatchObject({ scenario: 'slave-down', seed: 4, verdict: 'fail' });
    expect(res.json.expectations.map((e: { passed: boolean }) => e.passed)).toEqual([true, false]);
    expect(res.json.runs[0].findings.join(' ')).toMatch(/Replication to the slave failed \d+ times/);
    const xml = readFileSync(join(cli.dir, 'yaml-junit.xml'), 'utf8');
    expect(xml).toContain('tests="2" failures="1"');
    expect(xml).toMatch(/<failure message="none: expected operations == 0, measured \d+"/);
    const bad = await cli.run(['chaos', 'run', join(cli.dir, 'missing.yaml')]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('cannot read scenario file');
  }, 90_000);
});
