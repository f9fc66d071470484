import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_BIN, createCliSandbox, pidAlive } from '../helpers/cli.js';

/**
 * Chaos against a cluster started by `cachectl up` (two proxies): split brain in auto failover,
 * Ctrl-C in the middle of a fault, `chaos reset`, and the manual `switch` across both proxies.
 */
describe('chaos on a running cluster (e2e)', () => {
  const cli = createCliSandbox({ name: 'chaos-e2e' });
  let toxiApi = '';
  let admins: string[] = [];
  let token = '';
  let links: Record<string, { host: string; port: number }> = {};

  const toxi = async (): Promise<Record<string, { enabled: boolean; toxics: unknown[] }>> => (await (await fetch(`${toxiApi}/proxies`)).json()) as never;
  const configs = async (): Promise<Array<{ epoch: number; failover: string; writesFenced: boolean; mitigation: string; shards: Array<{ master: { port: number }; slave: { port: number } | null }> }>> =>
    Promise.all(admins.map(async (a) => (await (await fetch(`${a}/config`)).json()) as never));

  beforeAll(async () => {
    await cli.up(['--proxies', '2']);
    const state = cli.state();
    toxiApi = `http://${state.toxiproxy.api.host}:${state.toxiproxy.api.port}`;
    admins = state.components.filter((c: { kind: string }) => c.kind === 'proxy').map((c: { adminEndpoint: { host: string; port: number } }) => `http://${c.adminEndpoint.host}:${c.adminEndpoint.port}`);
    token = state.adminToken;
    links = Object.fromEntries(state.toxiproxy.links.map((l: { name: string; listen: { host: string; port: number } }) => [l.name, l.listen]));
  }, 120_000);
  afterAll(() => cli.cleanup(), 60_000);

  async function expectCleanCluster(): Promise<void> {
    const proxies = await toxi();
    expect(Object.keys(proxies).sort()).toEqual(['master', 'slave']);
    for (const p of Object.values(proxies)) {
      expect(p.enabled).toBe(true);
      expect(p.toxics).toEqual([]);
    }
    for (const c of await configs()) {
      expect(c.failover).toBe('manual');
      expect(c.writesFenced).toBe(false);
      expect(c.shards[0].master.port).toBe(links.master.port);
    }
  }

  it('auto failover with one proxy cut off from the master shows split brain, then restores the cluster', async () => {
    const res = await cli.run(
      ['chaos', 'auto-failover', '--warmup', '1s', '--fault-duration', '3s', '--heal', '1s', '--settle', '1s', '--keys', '300', '--json', '--expect', 'mastersInUse == 2'],
      { timeoutMs: 90_000 },
    );
    expect(res.exitCode, res.stderr).toBe(0);
    const run = res.json.runs[0];
    expect(res.json.config.cluster).toMatchObject({ name: 'chaos-e2e', ephemeral: false });
    expect(run.verdict).toBe('split-brain');
    expect(run.metrics.mastersInUse).toBe(2);
    // the checker shows the damage: writes acknowledged by the second master are not on the first
    expect(run.metrics.missingAckedWrites + run.metrics.lostUpdates).toBeGreaterThan(0);
    expect(run.metrics.divergentKeysAtHeal).toBeGreaterThan(0);
    expect(run.findings.join(' ')).toMatch(/two masters: proxy-0 -> master .* proxy-1 -> slave/);
    await expectCleanCluster();
  }, 120_000);

  for (const fault of ['partition', 'slow'] as const) {
    it(`Ctrl-C in the middle of a ${fault} fault reverts everything and exits 130`, async () => {
      const child = spawn(process.execPath, [CLI_BIN, 'chaos', 'master-down', '--fault', fault, '--warmup', '500ms', '--fault-duration', '30s', '--keys', '100'], {
        cwd: cli.dir,
        env: { ...process.env, ...cli.env, NO_COLOR: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      const faultApplied = new Promise<void>((resolve) => {
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
          if (/link master down|latency \d+/.test(stderr)) resolve();
        });
      });
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      await faultApplied;
      // the fault really is in place
      const during = await toxi();
      expect(fault === 'partition' ? during.master.enabled === false : during.master.toxics.length === 1).toBe(true);
      const t0 = Date.now();
      child.kill('SIGINT');
      const code = await exited;
      expect(code, stderr).toBe(130);
      expect(Date.now() - t0).toBeLessThan(15_000);
      expect(stderr).toMatch(/SIGINT received: reverting/);
      await expectCleanCluster();
    }, 90_000);
  }

  it('chaos reset clears toxics, re-enables links and restarts a killed node', async () => {
    await fetch(`${toxiApi}/proxies/slave/toxics`, { method: 'POST', body: JSON.stringify({ name: 'leftover', type: 'latency', stream: 'downstream', toxicity: 1, attributes: { latency: 500 } }) });
    await fetch(`${toxiApi}/proxies/master`, { method: 'POST', body: JSON.stringify({ enabled: false }) });
    const masterPid = cli.state().components.find((c: { name: string }) => c.name === 'master').pid as number;
    process.kill(masterPid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    const res = await cli.run(['chaos', 'reset', '--json']);
    expect(res.exitCode, res.stderr).toBe(0);
    expect(res.json).toMatchObject({ toxicsRemoved: ['slave/leftover'], linksEnabled: ['master'], nodesRestarted: ['master'] });
    const newPid = cli.state().components.find((c: { name: string }) => c.name === 'master').pid as number;
    expect(newPid).not.toBe(masterPid);
    expect(pidAlive(newPid)).toBe(true);
    await expectCleanCluster();
    const again = await cli.run(['chaos', 'reset', '--json']);
    expect(again.json).toMatchObject({ toxicsRemoved: [], linksEnabled: [], nodesRestarted: [] });
  }, 60_000);

  it('cachectl switch moves both proxies to the new roles on one epoch, and switches back', async () => {
    const before = await configs();
    const res = await cli.run(['switch', '--json']);
    expect(res.exitCode, res.stderr + res.stdout).toBe(0);
    expect(res.json).toMatchObject({ ok: true, outcome: 'switched', oldMasterDetached: false, newMasterFlushed: false });
    expect(res.json.verification).toMatchObject({ sameEpoch: true, casWorks: true, readYourWrite: true });
    const after = await configs();
    expect(new Set(after.map((c) => c.epoch)).size).toBe(1);
    expect(after[0].epoch).toBe(Math.max(...before.map((c) => c.epoch)) + 3);
    for (const c of after) {
      expect(c.shards[0].master.port).toBe(links.slave.port);
      expect(c.shards[0].slave?.port).toBe(links.master.port);
      expect(c.writesFenced).toBe(false);
    }
    const back = await cli.run(['switch']);
    expect(back.exitCode, back.stderr).toBe(0);
    expect(back.stdout).toMatch(/switch switched \[ok\]/);
    for (const c of await configs()) expect(c.shards[0].master.port).toBe(links.master.port);
    // a stale epoch is refused by the proxies the switch drives (the guard it relies on)
    const stale = await fetch(`${admins[0]}/config`, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ epoch: 1, writesFenced: true }) });
    expect(stale.status).toBe(409);
  }, 60_000);
});
