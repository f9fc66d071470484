import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Docker from 'dockerode';
import { pingDockerEngine } from '../../src/runtime/index.js';

/**
 * The private Docker engine the Docker tests run against (scripts/docker-test-env.sh): reused when
 * it already answers (e.g. .ci/run started it), otherwise started here and stopped by `release()`.
 * When no engine can be started, `available` is false and `reason` says why, so the tests are
 * reported as skipped with that reason, never passed.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const PRIVATE_SOCKET = `${process.env.CACHECTL_DOCKER_RUN_DIR ?? '/run/cachectl-docker'}/docker.sock`;

/** Test images built offline by scripts/docker-test-env.sh from this machine's own binaries. */
export const TEST_IMAGES = {
  memcachedImage: process.env.CACHECTL_TEST_MEMCACHED_IMAGE ?? 'cachectl-test/memcached:local',
  toxiproxyImage: process.env.CACHECTL_TEST_TOXIPROXY_IMAGE ?? 'cachectl-test/toxiproxy:local',
  proxyImage: process.env.CACHECTL_TEST_PROXY_IMAGE ?? 'cachectl-test/proxy:local',
};

export interface DockerTestEngine {
  available: boolean;
  reason: string;
  socketPath: string;
  startedHere: boolean;
  docker?: Docker;
  release(): Promise<void>;
}

function pings(socketPath: string): Promise<boolean> {
  return pingDockerEngine({ socketPath }, 2000);
}

async function imagesPresent(docker: Docker): Promise<string[]> {
  const missing: string[] = [];
  for (const image of Object.values(TEST_IMAGES)) {
    try {
      await docker.getImage(image).inspect();
    } catch {
      missing.push(image);
    }
  }
  return missing;
}

function runScript(args: string[]): { ok: boolean; output: string } {
  const r = spawnSync('bash', [`${ROOT}scripts/docker-test-env.sh`, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 240_000 });
  const output = `${r.stderr ?? ''}${r.stdout ?? ''}`.trim();
  return { ok: r.status === 0, output };
}

export async function acquireDockerEngine(): Promise<DockerTestEngine> {
  const socketPath = PRIVATE_SOCKET;
  let startedHere = false;
  const unavailable = (reason: string): DockerTestEngine => {
    console.warn(`[docker tests] SKIPPED: ${reason}`);
    return { available: false, reason, socketPath, startedHere, release: async () => undefined };
  };
  if (!(await pings(socketPath))) {
    if (process.getuid?.() !== 0) return unavailable(`no Docker engine at ${socketPath} and dockerd can only be started as root (run scripts/docker-test-env.sh as root first)`);
    const r = runScript(['start']);
    if (!r.ok) return unavailable(`scripts/docker-test-env.sh could not start an engine: ${r.output.split('\n').slice(-3).join(' | ')}`);
    startedHere = true;
  }
  const docker = new Docker({ socketPath });
  if (!startedHere) {
    // (Re)build the images from the current checkout (the proxy image carries dist/); an unchanged
    // image is kept, so this costs a few seconds.
    const r = runScript(['images']);
    const missing = await imagesPresent(docker);
    if (!r.ok || missing.length) return unavailable(`test images ${missing.join(', ') || ''} could not be built: ${r.output.split('\n').slice(-3).join(' | ')}`);
  }
  return {
    available: true,
    reason: '',
    socketPath,
    startedHere,
    docker,
    release: async () => {
      if (!startedHere) return;
      spawnSync('bash', [`${ROOT}scripts/docker-test-env-stop.sh`], { cwd: ROOT, stdio: 'inherit', timeout: 60_000 });
    },
  };
}

/** Is the cachectl proxy command built (dist/commands/proxy.js)? The proxy container runs it. */
export function proxyCommandBuilt(): boolean {
  return existsSync(`${ROOT}dist/commands/proxy.js`);
}
