import { afterAll, describe, expect, it } from 'vitest';
import { createCliSandbox, pidAlive } from '../helpers/cli.js';

/** The built CLI: `cachectl up --shards`, `scale add`, `scale remove`, `scale exercise`: exit codes and --json. */

const cli = createCliSandbox({ name: 'scale-e2e' });
afterAll(() => cli.cleanup());

describe('cachectl scale (built CLI)', () => {
  it('without a cluster: scale add says to run `cachectl up` first (exit 2, JSON error)', async () => {
    const r = await cli.run(['scale', 'add', '--json']);
    expect(r.exitCode).toBe(2);
    expect(r.json.error.code).toBe('STATE_NOT_FOUND');
    expect(r.json.error.hint).toMatch(/cachectl up/);
  });

  it('up --shards 2, scale add, scale remove: JSON results, state and processes follow', async () => {
    const up = await cli.up(['--shards', '2']);
    expect(up.json.state.components.filter((c: { kind: string }) => c.kind === 'memcached')).toHaveLength(4);

    const add = await cli.run(['scale', 'add', '--drain-ms', '200', '--json']);
    expect(add.exitCode).toBe(0);
    expect(add.json).toMatchObject({ action: 'add', shard: 'shard-2', shardsAfter: ['shard-0', 'shard-1', 'shard-2'], epoch: 2 });
    expect(add.json.proxies).toEqual([expect.objectContaining({ proxy: 'proxy-0', fromEpoch: 1, toEpoch: 2, ok: true })]);
    expect(Math.abs(add.json.expectedMovedFraction - 1 / 3)).toBeLessThan(0.05);
    const addedPids: number[] = cli.state().components.filter((c: { shard?: number }) => c.shard === 2).map((c: { pid: number }) => c.pid);
    expect(addedPids).toHaveLength(2);

    const status = await cli.run(['status', '--json']);
    expect(status.json.healthy).toBe(true);
    expect(status.json.components.find((c: { name: string }) => c.name === 'proxy-0').epoch).toBe(2);

    const bad = await cli.run(['scale', 'remove', 'shard-9', '--json']);
    expect(bad.exitCode).toBe(2);
    expect(bad.json.error.message).toMatch(/no shard "shard-9"/);
    expect(bad.json.error.hint).toMatch(/shard-0, shard-1, shard-2/);

    const remove = await cli.run(['scale', 'remove', '2', '--drain-ms', '200']);
    expect(remove.exitCode).toBe(0);
    expect(remove.stdout).toMatch(/shard-2 removed: shards \[shard-0, shard-1, shard-2\] -> \[shard-0, shard-1\] at epoch 3/);
    expect(cli.state().components.some((c: { shard?: number }) => c.shard === 2)).toBe(false);
    for (const pid of addedPids) expect(pidAlive(pid)).toBe(false);
  }, 90_000);

  it('scale exercise exits 0 with no stale read, and 1 in the negative control', async () => {
    const args = ['scale', 'exercise', '--duration', '5s', '--add-at', '1500ms', '--remove-at', '3200ms', '--keys', '200', '--seed', '3', '--drain-ms', '300', '--json'];
    const ok = await cli.run(args);
    expect(ok.exitCode).toBe(0);
    expect(ok.json.verdict.ok).toBe(true);
    expect(ok.json.check.staleReads.count).toBe(0);
    expect(ok.json.cost.events).toHaveLength(2);
    expect(ok.json.seed).toBe(3);
    const control = await cli.run([...args, '--no-stale-guard']);
    expect(control.exitCode).toBe(1);
    expect(control.json.check.staleReads.count).toBeGreaterThan(0);
  }, 90_000);
});
