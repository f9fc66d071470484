import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { CLUSTER_LABEL } from '../../src/runtime/docker-spec.js';
import { asciiRequest } from '../../src/util/net.js';
import { acquireDockerEngine, proxyCommandBuilt, TEST_IMAGES } from './docker-test-env.js';

/**
 * The built CLI on the docker runtime: `cachectl up --runtime docker|auto`, `status`, `down`, with
 * their exit codes and --json shapes, against the private test engine (host networking).
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = join(ROOT, 'bin', 'run.js');
const built = existsSync(join(ROOT, 'dist', 'commands', 'up.js'));
const engine = built ? await acquireDockerEngine() : undefined;
const available = Boolean(engine?.available);
const skipReason = !built ? 'dist/ is not built (npm run build)' : engine?.reason ?? '';
const withProxy = proxyCommandBuilt();
const withChaos = withProxy && existsSync(join(ROOT, 'dist', 'commands', 'chaos', 'master-down.js'));

const stateDir = mkdtempSync(join(tmpdir(), 'cachectl-docker-cli-'));
const name = `dcli-${process.pid}`;

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    NO_COLOR: '1',
    DOCKER_HOST: `unix://${engine?.socketPath ?? '/nonexistent'}`,
    CACHECTL_DOCKER_NETWORK: 'host',
    CACHECTL_DOCKER_MEMCACHED_IMAGE: TEST_IMAGES.memcachedImage,
    CACHECTL_DOCKER_TOXIPROXY_IMAGE: TEST_IMAGES.toxiproxyImage,
    CACHECTL_DOCKER_PROXY_IMAGE: TEST_IMAGES.proxyImage,
    ...extra,
  };
}

function cachectl(args: string[], extraEnv: Record<string, string> = {}): { code: number | null; json: any; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args, '--state-dir', stateDir, '--json'], { cwd: ROOT, env: env(extraEnv), encoding: 'utf8', timeout: 180_000 });
  let json: any;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    json = undefined;
  }
  return { code: r.status, json, stderr: r.stderr };
}

afterAll(async () => {
  if (available) {
    cachectl(['down', '--name', name]);
    cachectl(['down', '--name', `${name}-auto`]);
    cachectl(['down', '--name', `${name}-chaos`]);
  }
  rmSync(stateDir, { recursive: true, force: true });
  await engine?.release();
});

describe.skipIf(!available)(`cachectl CLI on the docker runtime${available ? '' : ` (skipped: ${skipReason})`}`, () => {
  it('up --runtime docker --json, status --json, down --json (twice) with exit code 0', async () => {
    const proxies = withProxy ? '1' : '0';
    const up = cachectl(['up', '--runtime', 'docker', '--free-ports', '--proxies', proxies, '--memory', '16', '--name', name]);
    expect(up.code, up.stderr).toBe(0);
    expect(up.json.runtime).toBe('docker');
    expect(up.json.alreadyRunning).toBe(false);
    const components = up.json.endpoints.filter((e: { kind: string }) => e.kind !== 'toxiproxy-link');
    expect(components.map((e: { component: string }) => e.component)).toEqual(withProxy ? ['master', 'slave', 'toxiproxy', 'proxy-0'] : ['master', 'slave', 'toxiproxy']);
    for (const e of components) expect(e.containerId).toMatch(/^[0-9a-f]{64}$/);
    expect(up.json.state.docker.label).toBe(`${CLUSTER_LABEL}=${name}`);

    // memcached clients connect to what up reports
    const [host, port] = up.json.clientEndpoint.split(':');
    expect(await asciiRequest(host, Number(port), 'set cli-key 0 0 2\r\nok\r\n', { timeoutMs: 3000 })).toBe('STORED\r\n');

    const status = cachectl(['status', '--name', name]);
    expect(status.code, status.stderr).toBe(0);
    expect(status.json.runtime).toBe('docker');
    expect(status.json.healthy).toBe(true);
    const master = status.json.components.find((c: { name: string }) => c.name === 'master');
    expect(master.items).toBe(1);
    expect(master.containerId).toBe(components[0].containerId);

    const down = cachectl(['down', '--name', name]);
    expect(down.code, down.stderr).toBe(0);
    expect(down.json.wasRunning).toBe(true);
    const left = await engine!.docker!.listContainers({ all: true, filters: { label: [`${CLUSTER_LABEL}=${name}`] } });
    expect(left).toEqual([]);
    const again = cachectl(['down', '--name', name]);
    expect(again.code).toBe(0);
    expect(again.json.wasRunning).toBe(false);
  });

  it('up --runtime auto picks docker when the engine answers, and says so', () => {
    const up = cachectl(['up', '--runtime', 'auto', '--free-ports', '--proxies', '0', '--memory', '16', '--name', `${name}-auto`]);
    expect(up.code, up.stderr).toBe(0);
    expect(up.json.runtime).toBe('docker');
    expect(up.json.runtimeReason).toContain('Docker Engine answers');
    expect(cachectl(['down', '--name', `${name}-auto`]).code).toBe(0);
  });

  it.skipIf(!withChaos)(`chaos master-down --fault crash runs end to end on a running Docker cluster: the master container is killed and restarted, the incident is reproduced${withChaos ? '' : ' (skipped: the chaos command is not built)'}`, async () => {
    const cluster = `${name}-chaos`;
    const up = cachectl(['up', '--runtime', 'docker', '--free-ports', '--proxies', '1', '--memory', '16', '--name', cluster]);
    expect(up.code, up.stderr).toBe(0);
    const masterId: string = up.json.state.components.find((c: { name: string }) => c.name === 'master').containerId;
    const before = await engine!.docker!.getContainer(masterId).inspect();
    try {
      const run = cachectl(
        ['chaos', 'master-down', '--fault', 'crash', '--mitigation', 'none', '--seed', '7', '--warmup', '1s', '--fault-duration', '3s', '--heal', '1s', '--settle', '1s', '--clients', '4', '--keys', '100', '--rate', '400', '--expect', 'staleReadsDuringFault > 0', '--name', cluster],
      );
      expect(run.code, run.stderr).toBe(0);
      expect(run.json.scenario).toBe('master-down');
      expect(run.json.config.cluster).toEqual({ name: cluster, runtime: 'docker', ephemeral: false });
      expect(run.json.verdict).toBe('pass');
      const [result] = run.json.runs;
      expect(result.verdict).toBe('incident-reproduced');
      expect(result.metrics.staleReadsDuringFault).toBeGreaterThan(0);
      expect(result.metrics.failedWrites).toBeGreaterThan(0);
      // the same container was killed and started again (not replaced), and it is running now
      const after = await engine!.docker!.getContainer(masterId).inspect();
      expect(after.State.Running).toBe(true);
      expect(Date.parse(after.State.StartedAt)).toBeGreaterThan(Date.parse(before.State.StartedAt));
      const status = cachectl(['status', '--name', cluster]);
      expect(status.json.healthy).toBe(true);
    } finally {
      const down = cachectl(['down', '--name', cluster]);
      expect(down.code, down.stderr).toBe(0);
    }
    expect(await engine!.docker!.listContainers({ all: true, filters: { label: [`${CLUSTER_LABEL}=${cluster}`] } })).toEqual([]);
  });

  it('an unreachable engine exits 3 with an error naming the socket and what to do', () => {
    const missing = join(tmpdir(), `cachectl-no-engine-${process.pid}.sock`);
    const up = cachectl(['up', '--runtime', 'docker', '--free-ports', '--name', `${name}-none`], { DOCKER_HOST: `unix://${missing}` });
    expect(up.code).toBe(3);
    expect(up.json.error.code).toBe('DEPENDENCY_UNREACHABLE');
    expect(up.json.error.message).toContain(missing);
    expect(up.json.error.hint).toContain('--runtime local');
  });

  it('a missing image exits 3 naming the image', () => {
    const up = cachectl(['up', '--runtime', 'docker', '--free-ports', '--proxies', '1', '--name', `${name}-noimg`], { CACHECTL_DOCKER_PROXY_IMAGE: 'cachectl-test/not-built:none' });
    expect(up.code).toBe(3);
    expect(up.json.error.message).toContain('cachectl-test/not-built:none');
    expect(up.json.error.hint).toContain('docker build');
  });
});
