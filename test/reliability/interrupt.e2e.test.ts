import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_BIN, createCliSandbox, type CliSandbox } from '../helpers/cli.js';
import { pidAlive } from './helpers.js';

/**
 * Ctrl-C (SIGINT to the built CLI) in the middle of any long command leaves nothing behind: no
 * process, no toxic, no disabled Toxiproxy link, no fenced proxy, and one epoch on every proxy.
 * Run `npm run build` first (the e2e tier runs the built CLI).
 */

interface Spawned {
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
  interrupt(): void;
  output(): string;
}



function spawnCli(sandbox: CliSandbox, args: string[]): Spawned {
  const child = spawn(process.execPath, [CLI_BIN, ...args], {
    cwd: sandbox.dir,
    env: { ...process.env, NO_COLOR: '1', ...sandbox.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  return {
    exit: new Promise((r) =>
      child.on('exit', (code, signal) => {
        clearTimeout(killer);
        r({ code, signal, stdout, stderr });
      }),
    ),
    interrupt: () => child.kill('SIGINT'),
    output: () => stdout + stderr,
  };
}

/** processes started on behalf of this sandbox (they inherit its CACHECTL_STATE_DIR) that are still alive */
function leftovers(sandbox: CliSandbox): string[] {
  const marker = `CACHECTL_STATE_DIR=${sandbox.stateDir}\0`;
  const out: string[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      if (!readFileSync(`/proc/${d}/environ`, 'latin1').includes(marker)) continue;
      if (!pidAlive(Number(d))) continue;
      out.push(`${d}: ${readFileSync(`/proc/${d}/cmdline`, 'latin1').replace(/\0/g, ' ').trim()}`);
    } catch {
      // gone or not ours to read
    }
  }
  return out;
}

async function waitFor(pred: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (pred()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return pred();
}

async function linksState(sandbox: CliSandbox): Promise<{ name: string; enabled: boolean; toxics: unknown[] }[]> {
  const api = sandbox.state().toxiproxy.api;
  const res = await fetch(`http://${api.host}:${api.port}/proxies`);
  return Object.values((await res.json()) as Record<string, { name: string; enabled: boolean; toxics: unknown[] }>);
}

async function proxyConfigs(sandbox: CliSandbox): Promise<{ name: string; epoch: number; writesFenced: boolean; master: string }[]> {
  const state = sandbox.state();
  const proxies = state.components.filter((c: { kind: string }) => c.kind === 'proxy');
  return Promise.all(
    proxies.map(async (p: { name: string; adminEndpoint: { host: string; port: number } }) => {
      const admin = p.adminEndpoint;
      const cfg = (await (await fetch(`http://${admin.host}:${admin.port}/config`)).json()) as { epoch: number; writesFenced: boolean; shards: { master: { port: number } }[] };
      return { name: p.name, epoch: cfg.epoch, writesFenced: cfg.writesFenced, master: String(cfg.shards[0].master.port) };
    }),
  );
}

describe('Ctrl-C leaves nothing behind', () => {
  const cluster = createCliSandbox({ name: 'interrupt' });
  beforeAll(async () => {
    await cluster.up(['--proxies', '2']);
  }, 120_000);
  afterAll(async () => {
    await cluster.cleanup();
    expect(leftovers(cluster), 'down removed every process').toEqual([]);
  }, 120_000);

  it('SIGINT during `cachectl up` stops what it had started', async () => {
    // interrupt once the first component process exists, and once three do (mid-start)
    for (const started of [1, 3]) {
      const sandbox = createCliSandbox({ name: `int-up-${started}` });
      try {
        const run = spawnCli(sandbox, ['up', '--free-ports', '--proxies', '2']);
        const reached = await waitFor(() => leftovers(sandbox).filter((l) => !l.includes('run.js up')).length >= started, 30_000);
        const seen = leftovers(sandbox).length;
        run.interrupt();
        const exit = await run.exit;
        // if it finished before the signal, `down` is the user's way back; else nothing may remain
        const finished = exit.code === 0;
        if (finished) await sandbox.run(['down']);
        const gone = await waitFor(() => leftovers(sandbox).length === 0, 10_000);
        console.log(`[interrupt] up interrupted with ${seen - 1} component processes started (reached=${reached}): exit ${exit.code ?? exit.signal}${finished ? ' (had finished; ran down)' : ''}; leftovers: ${JSON.stringify(leftovers(sandbox))}`);
        expect(reached).toBe(true);
        expect(gone, `processes left: ${leftovers(sandbox).join('; ')}\n${exit.stderr}`).toBe(true);
      } finally {
        await sandbox.cleanup();
      }
    }
  });

  for (const fault of ['partition', 'crash', 'slow']) {
    it(`SIGINT during chaos master-down --fault ${fault}: every fault reverted, no proxy left fenced`, async () => {
      const run = spawnCli(cluster, ['chaos', 'master-down', '--fault', fault, '--mitigation', 'proxy-delete', '--warmup', '1s', '--fault-duration', '20s', '--keys', '50', '--clients', '2']);
      // interrupt inside the fault phase (warm-up is 1 s; allow for start-up)
      await new Promise((r) => setTimeout(r, 3500));
      run.interrupt();
      const exit = await run.exit;
      const links = await linksState(cluster);
      const configs = await proxyConfigs(cluster);
      const status = await cluster.run(['status', '--json']);
      console.log(`[interrupt] chaos master-down --fault ${fault} interrupted in the fault phase: exit ${exit.code ?? exit.signal}; links ${JSON.stringify(links.map((l) => ({ n: l.name, on: l.enabled, toxics: l.toxics.length })))}; proxies ${JSON.stringify(configs)}`);
      expect(exit.code, exit.stderr).toBe(130);
      expect(links.every((l) => l.enabled && l.toxics.length === 0), 'no toxic, no disabled link').toBe(true);
      expect(configs.every((c) => !c.writesFenced)).toBe(true);
      expect(new Set(configs.map((c) => c.epoch)).size, 'one epoch on every proxy').toBe(1);
      expect(status.exitCode, `every component running again:\n${status.stdout}`).toBe(0);
    });
  }

  it('SIGINT during `cachectl switch`: every proxy on one epoch, unfenced, one master', async () => {
    // interrupt right after each step the switch reports (fence, promote...) in turn
    for (const step of ['fence', 'promote', 'unfence']) {
      const run = spawnCli(cluster, ['switch']);
      const seen = await waitFor(() => new RegExp(`switch: ${step}`).test(run.output()), 30_000);
      run.interrupt();
      const exit = await run.exit;
      // give a handler that reverts a moment; then the fleet must be consistent
      await new Promise((r) => setTimeout(r, 500));
      const configs = await proxyConfigs(cluster);
      console.log(`[interrupt] switch interrupted after step "${step}" (seen=${seen}): exit ${exit.code ?? exit.signal}; proxies ${JSON.stringify(configs)}`);
      expect(new Set(configs.map((c) => c.epoch)).size, `one epoch: ${JSON.stringify(configs)}`).toBe(1);
      expect(new Set(configs.map((c) => c.master)).size, 'one master').toBe(1);
      expect(configs.every((c) => !c.writesFenced), `nobody left fenced: ${JSON.stringify(configs)}\n${exit.stderr}`).toBe(true);
    }
  });

  it('SIGINT during `cachectl workload` stops cleanly', async () => {
    const run = spawnCli(cluster, ['workload', '--duration', '20s', '--keys', '50', '--clients', '2']);
    await new Promise((r) => setTimeout(r, 2500));
    const before = leftovers(cluster).length;
    run.interrupt();
    const exit = await run.exit;
    await new Promise((r) => setTimeout(r, 300));
    console.log(`[interrupt] workload interrupted: exit ${exit.code ?? exit.signal}; processes for the cluster before ${before}, after ${leftovers(cluster).length}`);
    expect(exit.signal === 'SIGINT' || [0, 1, 130].includes(exit.code ?? -1), `exit ${exit.code ?? exit.signal}`).toBe(true);
    expect(leftovers(cluster).length).toBe(before - 1); // only the workload process itself went away
  });
});

