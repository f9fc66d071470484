import { closeSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, fsyncSync } from 'node:fs';
import { join } from 'node:path';
import { CachectlError } from '../errors.js';
import type { ClusterState, ComponentState } from './types.js';

/**
 * The state file `${stateDir}/${name}.state.json`: what `up` started, so later commands (status,
 * chaos, down) find the cluster. Logs and per-cluster files live under `${stateDir}/${name}/`.
 */

export function stateFilePath(stateDir: string, name: string): string {
  return join(stateDir, `${name}.state.json`);
}

/** Per-cluster directory: logs, proxy pending-invalidation logs. */
export function clusterDir(stateDir: string, name: string): string {
  return join(stateDir, name);
}

export function logDir(stateDir: string, name: string): string {
  return join(clusterDir(stateDir, name), 'logs');
}

export function logFilePath(stateDir: string, name: string, component: string): string {
  return join(logDir(stateDir, name), `${component}.log`);
}

/** Read the state file; undefined when there is none. A corrupt file is an error, never silently ignored. */
export function readState(stateDir: string, name: string): ClusterState | undefined {
  const file = stateFilePath(stateDir, name);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CachectlError('STATE_CONFLICT', `cannot read the state file ${file}: ${(err as Error).message}`, {
      hint: 'check the permissions of the state directory (--state-dir)',
      details: { file },
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new CachectlError('STATE_CONFLICT', `the state file ${file} is not valid JSON: ${(err as Error).message}`, {
      hint: `stop any processes it started by hand, then delete ${file}`,
      details: { file },
    });
  }
  const state = parsed as Partial<ClusterState>;
  if (state.version !== 1 || typeof state.name !== 'string' || !Array.isArray(state.components)) {
    throw new CachectlError('STATE_CONFLICT', `the state file ${file} has an unknown format (version ${String(state.version)})`, {
      hint: `it was written by another cachectl version; stop its processes by hand, then delete ${file}`,
      details: { file },
    });
  }
  return state as ClusterState;
}

/** Write the state atomically (temp file + fsync + rename), so a reader never sees half a file. */
export function writeState(state: ClusterState): string {
  const { stateDir } = state.config;
  mkdirSync(stateDir, { recursive: true });
  const file = stateFilePath(stateDir, state.name);
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
  const fd = openSync(tmp, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  return file;
}

/** Remove the state file; safe when it is already gone. */
export function removeState(stateDir: string, name: string): void {
  rmSync(stateFilePath(stateDir, name), { force: true });
}

/** The named component of a cluster, or a usage error listing the names there are. */
export function requireComponent(state: ClusterState, name: string): ComponentState {
  const c = state.components.find((x) => x.name === name);
  if (!c) {
    throw new CachectlError('USAGE', `cluster "${state.name}" has no component "${name}"`, {
      hint: `pick one of: ${state.components.map((x) => x.name).join(', ')}`,
    });
  }
  return c;
}

/** A copy of the state with `patch` merged into the named component (the caller writes it). */
export function withComponentPatch(state: ClusterState, name: string, patch: Partial<ComponentState>): ClusterState {
  const next: ClusterState = structuredClone(state);
  const idx = next.components.findIndex((x) => x.name === name);
  next.components[idx] = { ...next.components[idx], ...patch };
  return next;
}
