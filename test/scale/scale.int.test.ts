import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Toxiproxy } from 'toxiproxy-node-client';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpProxyAdmin } from '../../src/chaos/proxy-admin.js';
import { validateConfig } from '../../src/config/load.js';
import type { CachectlConfig } from '../../src/config/schema.js';
import { isCachectlError } from '../../src/errors.js';
import { downCluster, loadClusterState, toxiproxyUrl, upCluster } from '../../src/runtime/cluster.js';
import { LocalRuntime } from '../../src/runtime/local-runtime.js';
import { readState } from '../../src/runtime/state.js';
import type { ClusterState, Endpoint } from '../../src/runtime/types.js';
import { runScaleExercise, type ExerciseOptions } from '../../src/scale/exercise.js';
import { readScaleEvents, scaleAdd, scaleRemove } from '../../src/scale/scale.js';
import { pidAlive } from '../helpers/cli.js';

/**
 * Scaling on the local runtime with real memcached, Toxiproxy, cachectl proxies and the CAS
 * workload: clients keep running across `scale add` and `scale remove`, see no error caused by the
 * change, see a hit-rate dip, and the checker finds no stale read (and does find them when the
 * stale-read guard is switched off: the negative control).
 */

const FREE = { master: 0, slave: 0, toxiproxyApi: 0, toxiMaster: 0, toxiSlave: 0, proxy: 0, admin: 0 };

let dir: string | undefined;
let config: CachectlConfig | undefined;
const pids = new Set<number>();

function track(state: ClusterState): ClusterState {
  for (const c of state.components) if (c.pid) pids.add(c.pid);
  return state;
}

async function start(name: string, proxies: number): Promise<ClusterState> {
  dir = mkdtempSync(join(tmpdir(), 'cachectl-scale-'));
  config = validateConfig({ stateDir: join(dir, 'state'), name, shards: 2, ports: FREE, proxy: { instances: proxies } });
  return track((await upCluster(config)).state);
}

afterEach(async () => {
  if (config && readState(config.stateDir, config.name)) {
    track(await loadClusterState(config));
    await downCluster(config);
  }
  for (const pid of pids) if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
  pids.clear();
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
  config = undefined;
});

const workload: Omit<ExerciseOptions, 'staleGuard'> = {
  durationMs: 7000,
  addAtMs: 2000,
  removeAtMs: 4500,
  clients: 4,
  keys: 400,
  readRatio: 0.85,
  distribution: 'uniform',
  valueSize: 64,
  seed: 9,
  timeoutMs: 1000,
  drainMs: 500,
  windowMs: 1500,
};

function admins(state: ClusterState): HttpProxyAdmin[] {
  return state.components.filter((c) => c.kind === 'proxy').map((p) => new HttpProxyAdmin(p.name, p.adminEndpoint as Endpoint, state.adminToken));
}

describe('scale on the local runtime', () => {
  it('a workload runs across scale add and scale remove with no client error, a hit-rate dip, ~1/N keys moved and no stale read', async () => {
    await start('scale-one', 1);
    const r = await runScaleExercise(config!, { ...workload, staleGuard: true });

    expect(r.changeErrors).toEqual([]);
    expect(r.changes.map((c) => `${c.action} ${c.shard}`)).toEqual(['add shard-2', 'remove shard-2']);
    expect(r.changes.map((c) => c.epoch)).toEqual([2, 3]);
    // clients never restarted and never saw an error: not during the changes, not at all
    expect(r.workload.counts.fail + r.workload.counts.unknown).toBe(0);
    expect(r.cost.totals.clientErrorsDuringChanges).toBe(0);
    // the checker saw enough traffic to judge, and found no stale read
    expect(r.workload.counts.reads).toBeGreaterThan(2000);
    expect(r.check.staleReads.count).toBe(0);
    expect(r.verdict.ok).toBe(true);

    const [add, remove] = r.cost.events;
    // 2 -> 3 shards moves about a third of the key space, and the same keys move back on remove
    expect(Math.abs(add.keysMoved.fraction - 1 / 3)).toBeLessThan(0.1);
    expect(remove.keysMoved.moved).toBe(add.keysMoved.moved);
    // moved keys miss once at their new home: a measured dip and database reads caused by the move
    expect(add.hitRate.dip).toBeGreaterThan(0);
    expect(add.hitRate.lowestSecond!.hitRate).toBeLessThan(add.hitRate.before.hitRate!);
    expect(add.dbReadsCausedByMove.attributable).toBeGreaterThan(0);
    expect(remove.dbReadsCausedByMove.attributable).toBeGreaterThan(0);
    // ... and the hit rate comes back once they are cached again
    expect(add.hitRate.after.hitRate!).toBeGreaterThan(add.hitRate.lowestSecond!.hitRate);
    // the stale-read guard deleted exactly the moved keys' old copies
    expect(r.changes[0].cachedKeys.moved).toBeGreaterThan(0);
    expect(r.changes[0].staleGuard.deletedAtOldHome).toBe(r.changes[0].cachedKeys.moved);

    // the cluster is back to two pairs: proxy, state file, Toxiproxy links and processes agree
    const state = await loadClusterState(config!);
    const cfg = await admins(state)[0].getConfig();
    expect(cfg.epoch).toBe(3);
    expect(cfg.shards.map((s) => s.name)).toEqual(['shard-0', 'shard-1']);
    expect(state.components.filter((c) => c.kind === 'memcached').map((c) => c.name)).toEqual(['master', 'slave', 'shard-1-master', 'shard-1-slave']);
    expect(state.config.shards).toBe(2);
    const links = Object.keys(await new Toxiproxy(toxiproxyUrl(state)).getAll()).sort();
    expect(links).toEqual(['master', 'shard-1-master', 'shard-1-slave', 'slave']);
    const removedNodes = r.changes[1].nodes.map((n) => n.name);
    expect(removedNodes).toEqual(['shard-2-master', 'shard-2-slave']);
    expect(readScaleEvents(state).map((e) => e.action)).toEqual(['add', 'remove']);
  }, 60_000);

  it('negative control: without the stale-read guard, keys that move back find old copies and the checker reports stale reads', async () => {
    await start('scale-nog', 1);
    const r = await runScaleExercise(config!, { ...workload, durationMs: 6000, removeAtMs: 4000, staleGuard: false });
    expect(r.changeErrors).toEqual([]);
    expect(r.check.staleReads.count).toBeGreaterThan(0);
    expect(r.cost.events[1].staleReads).toBeGreaterThan(0);
    expect(r.verdict.ok).toBe(false);
    expect(r.verdict.expectations.find((e) => e.name === 'no-stale-reads')!.ok).toBe(false);
  }, 60_000);

  it('two proxies move together under one epoch; the workload spread over both sees no error and no stale read', async () => {
    const state = await start('scale-two', 2);
    expect(admins(state)).toHaveLength(2);
    const r = await runScaleExercise(config!, { ...workload, staleGuard: true });
    expect(r.changeErrors).toEqual([]);
    for (const c of r.changes) {
      expect(c.proxies.map((p) => p.proxy)).toEqual(['proxy-0', 'proxy-1']);
      expect(new Set(c.proxies.map((p) => p.toEpoch))).toEqual(new Set([c.epoch]));
    }
    expect(r.workload.counts.fail + r.workload.counts.unknown).toBe(0);
    expect(r.check.staleReads.count).toBe(0);
    // with two proxies the moved keys are also invalidated at their new home after the drain
    expect(r.changes[0].staleGuard.deletedAtNewHome).toBe(r.changes[0].cachedKeys.moved);
    const after = await Promise.all(admins(await loadClusterState(config!)).map((a) => a.getConfig()));
    expect(after.map((c) => c.epoch)).toEqual([3, 3]);
  }, 60_000);

  it('a proxy that dies during the switch: the others are rolled back to the old map under a newer epoch and the new pair is stopped', async () => {
    const state = await start('scale-rb', 2);
    const runtime = new LocalRuntime(config!);
    const err = await scaleAdd(config!, {
      drainMs: 200,
      adminFactory: (name, admin, token) => {
        const real = new HttpProxyAdmin(name, admin, token);
        if (name !== 'proxy-1') return real;
        // the real proxy-1 is stopped right before its PUT /config: a real refusal (connection refused)
        return Object.assign(Object.create(real) as HttpProxyAdmin, {
          putConfig: async (u: Parameters<HttpProxyAdmin['putConfig']>[0]) => {
            await runtime.stopNode(await loadClusterState(config!), 'proxy-1');
            return real.putConfig(u);
          },
        });
      },
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isCachectlError(err)).toBe(true);
    expect((err as Error).message).toMatch(/proxy-1/);
    expect((err as Error).message).toMatch(/back on the old shard map at epoch 3/);
    expect((err as Error).message).toMatch(/shard-2 was stopped again/);
    const cfg = await admins(state)[0].getConfig();
    expect(cfg.epoch).toBe(3);
    expect(cfg.shards.map((s) => s.name)).toEqual(['shard-0', 'shard-1']);
    const now = await loadClusterState(config!);
    expect(now.components.some((c) => c.shard === 2)).toBe(false);
    expect(now.toxiproxy.links.map((l) => l.name)).not.toContain('shard-2-master');
    // proxy-1 comes back with the state file's map, the same as proxy-0's
    const restarted = track(await runtime.startNode(now, 'proxy-1'));
    const p1 = await admins(restarted)[1].getConfig();
    expect(p1.shards.map((s) => s.name)).toEqual(['shard-0', 'shard-1']);
  }, 60_000);

  it('refuses to scale while the proxies disagree on the shard map, and starts nothing', async () => {
    const state = await start('scale-dis', 2);
    const [p0, p1] = admins(state);
    const cfg = await p1.getConfig();
    await p1.putConfig({ epoch: cfg.epoch + 1, shards: cfg.shards.slice(0, 1) });
    const err = await scaleAdd(config!, { drainMs: 100 }).catch((e: unknown) => e);
    expect(isCachectlError(err) && err.code).toBe('STATE_CONFLICT');
    expect((err as Error).message).toMatch(/proxies disagree.*proxy-0 has \[shard-0, shard-1\].*proxy-1 has \[shard-0\]/);
    const now = await loadClusterState(config!);
    expect(now.components.filter((c) => c.kind === 'memcached')).toHaveLength(4);
    expect((await p0.getConfig()).epoch).toBe(1);
  }, 60_000);

  it('refuses to remove the last shard or an unknown one, with a hint', async () => {
    await start('scale-bad', 1);
    await expect(scaleRemove(config!, 'shard-7')).rejects.toThrow(/no shard "shard-7".*/);
    await scaleRemove(config!, '1', { drainMs: 100 });
    const err = await scaleRemove(config!, 'shard-0').catch((e: unknown) => e);
    expect(isCachectlError(err) && err.code).toBe('USAGE');
    expect((err as Error).message).toMatch(/only shard/);
  }, 60_000);
});
