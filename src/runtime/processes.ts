import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, closeSync, existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { accessSync, constants } from 'node:fs';
import { CachectlError } from '../errors.js';
import { asciiRequest, waitUntil } from '../util/net.js';

/**
 * Starting the real memcached and Toxiproxy server binaries as child processes.
 * Used by the local runtime and by integration tests (which need the same real parts).
 */

export interface ManagedProcess {
  pid: number;
  child: ChildProcess;
  /** SIGTERM, then SIGKILL after graceMs; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
  kill(): Promise<void>;
}

const INSTALL_HINTS: Record<string, string> = {
  memcached: 'install memcached 1.6 (Debian/Ubuntu: apt-get install memcached; macOS: brew install memcached), or run scripts/setup.sh',
  'toxiproxy-server':
    'install the Toxiproxy server 2.12 (go install github.com/Shopify/toxiproxy/v2/cmd/server@v2.12.0 and copy it to toxiproxy-server on PATH; macOS: brew install toxiproxy), or run scripts/setup.sh',
};

/** Find an executable on PATH (plus /usr/sbin, where Debian puts some daemons, and ~/.local/bin). */
export function findBinary(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const override = env[binaryOverrideVar(name)];
  if (override) {
    // An explicit override is used as given, or not at all (never silently replaced by PATH).
    try {
      accessSync(override, constants.X_OK);
      return override;
    } catch {
      return undefined;
    }
  }
  // ~/.local/bin: where scripts/setup.sh installs toxiproxy-server when it is not run as root.
  const home = env.HOME ? join(env.HOME, '.local', 'bin') : '';
  const dirs = [...(env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', home].filter(Boolean);
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // keep looking
    }
  }
  return undefined;
}

/** CACHECTL_MEMCACHED_BIN, CACHECTL_TOXIPROXY_SERVER_BIN: use this executable instead of searching PATH. */
export function binaryOverrideVar(name: string): string {
  return `CACHECTL_${name.replace(/-/g, '_').toUpperCase()}_BIN`;
}

export function requireBinary(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const found = findBinary(name, env);
  if (!found) {
    const override = env[binaryOverrideVar(name)];
    const where = override ? `${binaryOverrideVar(name)}=${override} is not an executable file` : `cannot find \`${name}\` on PATH`;
    throw new CachectlError('BINARY_MISSING', where, {
      hint: INSTALL_HINTS[name] ?? `install ${name} and put it on PATH`,
      details: { binary: name },
    });
  }
  return found;
}

function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  // A zombie has exited; only its parent (init, for the detached processes of `cachectl up`) has
  // not reaped it yet, which some init processes do only every second or two.
  try {
    return /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return !existsSync('/proc/self/stat');
  }
}

/** Wait until a pid (not necessarily our child) has exited. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (processGone(pid)) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return processGone(pid);
}

/** Stop a pid we started: SIGTERM, then SIGKILL after graceMs. Safe when it is already gone. */
export async function stopPid(pid: number, graceMs = 3000): Promise<void> {
  if (processGone(pid)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  if (await waitForExit(pid, graceMs)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  await waitForExit(pid, 5000);
}

export async function killPid(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  await waitForExit(pid, 5000);
}

export interface SpawnOptions {
  /** append stdout/stderr to this file; otherwise ignored */
  logFile?: string;
  /** keep running after this Node process exits (cachectl up) */
  detached?: boolean;
  env?: NodeJS.ProcessEnv;
}

export function spawnManaged(bin: string, args: string[], options: SpawnOptions = {}): ManagedProcess {
  let fd: number | undefined;
  if (options.logFile) fd = openSync(options.logFile, 'a');
  const child = spawn(bin, args, {
    detached: options.detached ?? false,
    stdio: ['ignore', fd ?? 'ignore', fd ?? 'ignore'],
    env: options.env ?? process.env,
  });
  if (fd !== undefined) closeSync(fd);
  if (options.detached) child.unref();
  if (child.pid === undefined) {
    throw new CachectlError('DEPENDENCY_FAILED', `could not start ${bin}`, { hint: 'check that the binary runs by hand' });
  }
  const pid = child.pid;
  // A failed spawn emits 'error' asynchronously; swallow it here, the health wait reports it.
  child.on('error', () => undefined);
  return {
    pid,
    child,
    stop: (graceMs) => stopPid(pid, graceMs),
    kill: () => killPid(pid),
  };
}

function exited(proc: ManagedProcess): boolean {
  return proc.child.exitCode !== null || proc.child.signalCode !== null;
}

function exitText(proc: ManagedProcess): string {
  return proc.child.exitCode !== null ? `code ${proc.child.exitCode}` : `signal ${proc.child.signalCode}`;
}

export interface MemcachedOptions extends SpawnOptions {
  port: number;
  host?: string;
  memoryMb?: number;
  maxItemSize?: string;
  threads?: number;
  maxConnections?: number;
  startTimeoutMs?: number;
}

/** memcached answers `version`. */
export async function memcachedHealthy(host: string, port: number, timeoutMs = 500): Promise<string | undefined> {
  try {
    const reply = await asciiRequest(host, port, 'version\r\n', { timeoutMs });
    const m = /^VERSION (\S+)\r\n/.exec(reply);
    return m?.[1];
  } catch {
    return undefined;
  }
}

/** Start a real memcached and wait until it answers `version`. */
export async function startMemcached(options: MemcachedOptions): Promise<ManagedProcess> {
  const bin = requireBinary('memcached', options.env);
  const host = options.host ?? '127.0.0.1';
  const args = [
    '-l', host,
    '-p', String(options.port),
    '-U', '0',
    '-m', String(options.memoryMb ?? 64),
    '-I', options.maxItemSize ?? '1m',
    '-t', String(options.threads ?? 2),
    '-c', String(options.maxConnections ?? 4096),
  ];
  if (process.getuid?.() === 0) args.push('-u', 'root');
  const proc = spawnManaged(bin, args, options);
  try {
    // An early exit ends the wait at once (waitUntil would treat a thrown error as "not ready yet").
    await waitUntil(`memcached on ${host}:${options.port}`, async () => exited(proc) || (await memcachedHealthy(host, options.port)) !== undefined, {
      timeoutMs: options.startTimeoutMs ?? 10_000,
    });
    if (exited(proc)) {
      throw new CachectlError('DEPENDENCY_FAILED', `memcached exited with ${exitText(proc)} (port ${options.port} in use?)`, {
        hint: options.logFile ? `see ${options.logFile}` : 'pick another port',
      });
    }
  } catch (err) {
    await proc.kill();
    throw err;
  }
  return proc;
}

export interface ToxiproxyOptions extends SpawnOptions {
  port: number;
  host?: string;
  startTimeoutMs?: number;
}

/** Toxiproxy answers GET /version. */
export async function toxiproxyHealthy(host: string, port: number, timeoutMs = 500): Promise<string | undefined> {
  try {
    const res = await fetch(`http://${host}:${port}/version`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return undefined;
    const text = (await res.text()).trim();
    try {
      const parsed = JSON.parse(text) as { version?: string };
      return parsed.version ?? text;
    } catch {
      return text;
    }
  } catch {
    return undefined;
  }
}

/** Start the real Toxiproxy server and wait until its API answers /version. */
export async function startToxiproxy(options: ToxiproxyOptions): Promise<ManagedProcess> {
  const bin = requireBinary('toxiproxy-server', options.env);
  const host = options.host ?? '127.0.0.1';
  const proc = spawnManaged(bin, ['-host', host, '-port', String(options.port)], options);
  try {
    await waitUntil(`toxiproxy on ${host}:${options.port}`, async () => exited(proc) || (await toxiproxyHealthy(host, options.port)) !== undefined, {
      timeoutMs: options.startTimeoutMs ?? 10_000,
    });
    if (exited(proc)) {
      throw new CachectlError('DEPENDENCY_FAILED', `toxiproxy-server exited with ${exitText(proc)} (port ${options.port} in use?)`, {
        hint: options.logFile ? `see ${options.logFile}` : 'pick another port',
      });
    }
  } catch (err) {
    await proc.kill();
    throw err;
  }
  return proc;
}
