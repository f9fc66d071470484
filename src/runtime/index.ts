import { request } from 'node:http';
import type { CachectlConfig } from '../config/schema.js';
import { LocalRuntime } from './local-runtime.js';
import type { ClusterState, Runtime, RuntimeName } from './types.js';

/**
 * The one place a Runtime is picked: `local` (child processes), `docker` (containers) or `auto`
 * (docker when an engine answers, else local).
 */

export interface RuntimeChoice {
  runtime: Runtime;
  /** what was asked for */
  requested: CachectlConfig['runtime'];
  /** what was chosen, and why (printed by `up` for `auto`) */
  chosen: RuntimeName;
  reason: string;
}

/** Where the Docker Engine API listens: DOCKER_HOST (unix:// or tcp://) or the configured socket. */
export function dockerEndpoint(config: CachectlConfig, env: NodeJS.ProcessEnv = process.env): { socketPath?: string; host?: string; port?: number } {
  const dockerHost = env.DOCKER_HOST;
  if (dockerHost?.startsWith('unix://')) return { socketPath: dockerHost.slice('unix://'.length) };
  if (dockerHost?.startsWith('tcp://')) {
    const url = new URL(dockerHost.replace(/^tcp:/, 'http:'));
    return { host: url.hostname, port: Number(url.port || 2375) };
  }
  return { socketPath: config.docker.socketPath };
}

/** Does a Docker Engine answer GET /_ping within timeoutMs? */
export function dockerEngineAnswers(config: CachectlConfig, timeoutMs = 1500, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  return pingDockerEngine(dockerEndpoint(config, env), timeoutMs);
}

/** GET /_ping on an engine endpoint (unix socket or host:port): true on 200, false on anything else. */
export function pingDockerEngine(target: ReturnType<typeof dockerEndpoint>, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ ...target, path: '/_ping', method: 'GET', timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.on('error', () => resolve(false));
    req.end();
  });
}

// ---------------------------------------------------------------------------------------------
// DOCKER RUNTIME (issue 6): src/runtime/docker-runtime.ts, loaded lazily so the local runtime never
// pays for dockerode.
async function loadDockerRuntime(config: CachectlConfig, env: NodeJS.ProcessEnv): Promise<Runtime> {
  const { DockerRuntime } = await import('./docker-runtime.js');
  return new DockerRuntime(config, env);
}
// ---------------------------------------------------------------------------------------------

/** Pick the runtime the config asks for. `auto` probes the Docker Engine and says what it chose. */
export async function chooseRuntime(config: CachectlConfig, env: NodeJS.ProcessEnv = process.env): Promise<RuntimeChoice> {
  switch (config.runtime) {
    case 'local':
      return { runtime: new LocalRuntime(config, env), requested: 'local', chosen: 'local', reason: 'runtime local requested' };
    case 'docker':
      return { runtime: await loadDockerRuntime(config, env), requested: 'docker', chosen: 'docker', reason: 'runtime docker requested' };
    case 'auto': {
      const where = dockerEndpoint(config, env);
      const label = where.socketPath ?? `${where.host}:${where.port}`;
      if (await dockerEngineAnswers(config, 1500, env)) {
        return { runtime: await loadDockerRuntime(config, env), requested: 'auto', chosen: 'docker', reason: `auto: a Docker Engine answers at ${label}` };
      }
      return { runtime: new LocalRuntime(config, env), requested: 'auto', chosen: 'local', reason: `auto: no Docker Engine answers at ${label}, using local processes` };
    }
  }
}

/** The runtime for a config (see chooseRuntime for the reason it was picked). */
export async function createRuntime(config: CachectlConfig, env: NodeJS.ProcessEnv = process.env): Promise<Runtime> {
  return (await chooseRuntime(config, env)).runtime;
}

/** The runtime that started an existing cluster (recorded in its state), never re-probed. */
export async function runtimeForState(state: ClusterState, env: NodeJS.ProcessEnv = process.env): Promise<Runtime> {
  return createRuntime({ ...state.config, runtime: state.runtime }, env);
}

export type { Runtime } from './types.js';
