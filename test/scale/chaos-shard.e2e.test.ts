import { afterAll, describe, expect, it } from 'vitest';
import { createCliSandbox } from '../helpers/cli.js';

/** Chaos per shard (the built CLI): `--shard N` aims the fault at pair N of a sharded cluster. */

const cli = createCliSandbox({ name: 'chaos-shard-e2e' });
afterAll(() => cli.cleanup(), 60_000);

describe('chaos --shard on a sharded cluster', () => {
  it('master-down --shard 1 cuts shard-1-master (not the master of shard 0), reproduces the incident there, and gives the proxies their full shard map back', async () => {
    await cli.up(['--shards', '2']);
    const state = cli.state();
    const toxiApi = `http://${state.toxiproxy.api.host}:${state.toxiproxy.api.port}`;
    const admin = state.components.find((c: { kind: string }) => c.kind === 'proxy').adminEndpoint;
    const config = async (): Promise<{ epoch: number; shards: Array<{ name: string }> }> => (await (await fetch(`http://${admin.host}:${admin.port}/config`)).json()) as never;
    expect((await config()).shards.map((s) => s.name)).toEqual(['shard-0', 'shard-1']);

    const res = await cli.run(
      ['chaos', 'master-down', '--shard', '1', '--fault', 'partition', '--mitigation', 'none', '--warmup', '1s', '--fault-duration', '2s', '--heal', '1s', '--settle', '1s', '--keys', '100', '--json'],
      { timeoutMs: 120_000 },
    );
    expect(res.exitCode, res.stderr).toBe(0);
    const text = JSON.stringify(res.json.runs[0].timeline);
    expect(text).toMatch(/link shard-1-master down/);
    expect(text).not.toMatch(/link master down/);
    expect(res.json.runs[0].verdict).toBe('incident-reproduced');

    // afterwards: both shards routed again, every link enabled with no toxics
    const after = await config();
    expect(after.shards.map((s) => s.name)).toEqual(['shard-0', 'shard-1']);
    expect(after.epoch).toBeGreaterThan(1);
    const links = (await (await fetch(`${toxiApi}/proxies`)).json()) as Record<string, { enabled: boolean; toxics: unknown[] }>;
    expect(Object.keys(links).sort()).toEqual(['master', 'shard-1-master', 'shard-1-slave', 'slave']);
    for (const l of Object.values(links)) expect(l).toMatchObject({ enabled: true, toxics: [] });

    const bad = await cli.run(['chaos', 'master-down', '--shard', '5', '--json']);
    expect(bad.exitCode).toBe(2);
    expect(bad.json.error.message).toMatch(/no shard 5/);
    expect(bad.json.error.hint).toMatch(/0, 1/);
  }, 180_000);
});
