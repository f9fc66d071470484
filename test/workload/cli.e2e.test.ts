import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemjsCacheClient } from '../../src/client/memjs-client.js';
import { encodeValue } from '../../src/workload/value.js';
import { getFreePort } from '../../src/util/net.js';
import { createCliSandbox } from '../helpers/cli.js';

/** The built CLI: `cachectl workload` and `cachectl check` against a real cluster (proxy included). */
const cli = createCliSandbox({ name: 'wl-e2e' });
let state: any; // eslint-disable-line @typescript-eslint/no-explicit-any

beforeAll(async () => {
  await cli.up();
  state = cli.state();
});
afterAll(() => cli.cleanup());

const node = (role: string): { host: string; port: number } => state.components.find((c: { name: string }) => c.name === role).endpoint;

describe('cachectl workload', () => {
  it('runs through the proxy, prints the seed, exports the history, and the verdict is clean', async () => {
    const history = join(cli.dir, 'run.jsonl');
    const db = join(cli.dir, 'run.db');
    const res = await cli.run(['workload', '--duration', '2s', '--clients', '4', '--keys', '50', '--seed', '77', '--history', history, '--db', db, '--json']);
    expect(res.exitCode, res.stderr).toBe(0);
    const r = res.json;
    expect(r.seed).toBe(77);
    expect(r.target).toBe('proxy');
    expect(r.counts.ops).toBeGreaterThan(50);
    expect(r.check.verdict.ok).toBe(true);
    expect(r.check.divergence.judged).toBe(true);
    expect(r.check.perSecond.length).toBeGreaterThanOrEqual(2);
    expect(existsSync(history)).toBe(true);
    const lines = readFileSync(history, 'utf8').trim().split('\n');
    expect(JSON.parse(lines[0]).meta.seed).toBe(77);
    expect(lines.length).toBeGreaterThan(r.counts.ops);

    // check: every key in that database, against master and slave: consistent, exit 0
    const ok = await cli.run(['check', '--db', db, '--json']);
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(ok.json.keys).toBeGreaterThan(0);
    expect(ok.json.divergence.divergent).toBe(0);

    // make one key's slave copy stale behind the proxy's back: check exits 1 and names it
    const key = `${r.keyPrefix}0`;
    const slave = new MemjsCacheClient(node('slave'));
    await slave.set(key, encodeValue(key, 0, 100));
    await slave.close();
    const bad = await cli.run(['check', '--db', db, '--json']);
    expect(bad.exitCode).toBe(1);
    expect(bad.json.divergence.states['slave-stale'] + bad.json.divergence.states['both-stale']).toBeGreaterThanOrEqual(1);
    expect(bad.json.divergence.examples.map((e: { key: string }) => e.key)).toContain(key);
    const human = await cli.run(['check', '--db', db, '--max-divergent', '5']);
    expect(human.exitCode).toBe(0);
    expect(human.stdout).toMatch(/OK: 1 divergent/);

    // the recorded history, judged offline: clean, exit 0
    const offline = await cli.run(['check', '--history', history, '--no-scan', '--json']);
    expect(offline.exitCode, offline.stderr).toBe(0);
    expect(offline.json.history.report.verdict.ok).toBe(true);
    expect(offline.json.history.report.totals.ops).toBe(r.counts.ops);
    // plant a stale read after the last update of some key: exit 1, and the proof names it
    const ops = lines.slice(1).map((l) => JSON.parse(l));
    const update = ops.filter((o) => o.op === 'update' && o.version >= 1).pop();
    const planted = { id: 99_999_999, client: 0, op: 'read', key: update.key, invoke: update.complete + 1, complete: update.complete + 2, outcome: 'ok', version: update.version - 1, source: 'cache' };
    appendFileSync(history, JSON.stringify(planted) + '\n');
    const stale = await cli.run(['check', '--history', history, '--no-scan', '--json']);
    expect(stale.exitCode).toBe(1);
    expect(stale.json.history.report.staleReads.examples.map((e: { read: { id: number } }) => e.read.id)).toContain(99_999_999);
    expect(stale.json.failures.join(' ')).toMatch(/stale-reads/);
  });

  it('prints a summary table for people, with --ops and direct to the master', async () => {
    const res = await cli.run(['workload', '--ops', '300', '--target', 'master', '--keys', '20', '--seed', '5']);
    expect(res.exitCode, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/workload: 300 ops/);
    expect(res.stderr).toContain('workload seed 5 (replay with --seed 5)');
    expect(res.stdout).toMatch(/OP\s+COUNT\s+OK\s+FAIL\s+UNKNOWN/);
    expect(res.stdout).toMatch(/stale-reads\s+ok\s+0/);
    // no progress bar when stderr is not a terminal
    expect(res.stderr).not.toContain('[#');
  });

  it('bad flags exit 2 with a hint; an unreachable server exits 3', async () => {
    const ratio = await cli.run(['workload', '--read-ratio', '2', '--ops', '10', '--json']);
    expect(ratio.exitCode).toBe(2);
    expect(ratio.json.error.message).toMatch(/read ratio/);
    const duration = await cli.run(['workload', '--duration', 'forever']);
    expect(duration.exitCode).toBe(2);
    expect(duration.stderr).toMatch(/cannot read duration/);
    const port = await getFreePort();
    const down = await cli.run(['workload', '--servers', `127.0.0.1:${port}`, '--ops', '10', '--json']);
    expect(down.exitCode).toBe(3);
    expect(down.json.error.code).toBe('DEPENDENCY_UNREACHABLE');
    const noKeys = await cli.run(['check']);
    expect(noKeys.exitCode).toBe(2);
    expect(noKeys.stderr).toMatch(/say which keys/);
    const deadCheck = await cli.run(['check', '--master', `127.0.0.1:${port}`, '--slave', `127.0.0.1:${port}`, '--prefix', 'x:', '--keys', '3']);
    expect(deadCheck.exitCode).toBe(3);
  });
});
