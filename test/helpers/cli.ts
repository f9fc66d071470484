import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isOurProcess } from '../../src/runtime/local-runtime.js';
import type { ComponentState } from '../../src/runtime/types.js';

/**
 * End-to-end helper: runs the BUILT cli (`node bin/run.js ...`, so `npm run build` first) in a temp
 * working directory with its own state dir, so tests never touch a real cluster or each other.
 *
 *   const cli = createCliSandbox();
 *   afterAll(() => cli.cleanup());                       // runs `down`, removes the temp dir
 *   await cli.run(['up', '--free-ports', '--json']);     // every port picked free
 *   const { exitCode, json } = await cli.run(['status', '--json']);
 */

export const REPO_ROOT = resolve(fileURLToPath(new URL('../../', import.meta.url)));
export const CLI_BIN = join(REPO_ROOT, 'bin', 'run.js');

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON when it is JSON (i.e. with --json), else undefined */
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  durationMs: number;
}

export interface RunOptions {
  /** extra environment (merged over the sandbox env) */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
  /** written to stdin, then closed */
  input?: string;
}

/** Run the built CLI once. Never throws for a non-zero exit; times out with SIGKILL (exitCode -1). */
export function runCli(args: string[], options: RunOptions = {}): Promise<CliResult> {
  if (!existsSync(join(REPO_ROOT, 'dist', 'commands'))) {
    throw new Error('the CLI is not built: run `npm run build` before the e2e tests');
  }
  const started = Date.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CLI_BIN, ...args], {
      cwd: options.cwd ?? REPO_ROOT,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      let json: unknown;
      try {
        json = stdout.trim() ? JSON.parse(stdout) : undefined;
      } catch {
        json = undefined;
      }
      resolvePromise({ exitCode: code ?? -1, stdout, stderr, json, durationMs: Date.now() - started });
    });
    child.stdin.end(options.input ?? '');
  });
}

export interface CliSandbox {
  /** temp working directory (put a cachectl.yaml here to test config files) */
  dir: string;
  stateDir: string;
  name: string;
  /** env that points every command at this sandbox's cluster (CACHECTL_STATE_DIR, CACHECTL_NAME) */
  env: NodeJS.ProcessEnv;
  run(args: string[], options?: RunOptions): Promise<CliResult>;
  /** `cachectl up --free-ports --json` plus extra args; throws with stderr when it fails */
  up(extraArgs?: string[], options?: RunOptions): Promise<CliResult>;
  /** the state file `up` wrote (undefined when none) */
  state(): any; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** `cachectl down` (if a state file exists), then remove the temp dir. Safe to call twice. */
  cleanup(): Promise<void>;
}

export function createCliSandbox(options: { name?: string; env?: NodeJS.ProcessEnv } = {}): CliSandbox {
  const dir = mkdtempSync(join(tmpdir(), 'cachectl-e2e-'));
  const stateDir = join(dir, 'state');
  const name = options.name ?? 'e2e';
  const env = { CACHECTL_STATE_DIR: stateDir, CACHECTL_NAME: name, ...options.env };
  const stateFile = join(stateDir, `${name}.state.json`);
  const sandbox: CliSandbox = {
    dir,
    stateDir,
    name,
    env,
    run: (args, o = {}) => runCli(args, { cwd: dir, ...o, env: { ...env, ...o.env } }),
    async up(extraArgs = [], o = {}) {
      const res = await sandbox.run(['up', '--free-ports', '--json', ...extraArgs], o);
      if (res.exitCode !== 0) throw new Error(`cachectl up failed (exit ${res.exitCode}):\n${res.stdout}\n${res.stderr}`);
      return res;
    },
    state() {
      return existsSync(stateFile) ? JSON.parse(readFileSync(stateFile, 'utf8')) : undefined;
    },
    async cleanup() {
      const state = sandbox.state();
      if (state) {
        const down = await sandbox.run(['down'], { timeoutMs: 60_000 });
        // A failed `down` must not leak a cluster into later tests: kill what the state recorded
        // (only pids still running the process `up` started), and say so.
        const left = (state.components as ComponentState[]).filter((c) => state.runtime === 'local' && isOurProcess(c));
        for (const c of left) process.kill(c.pid as number, 'SIGKILL');
        if (down.exitCode !== 0 || left.length) {
          process.stderr.write(`cli sandbox cleanup: \`cachectl down\` exited ${down.exitCode}; killed ${left.map((c) => `${c.name}(${c.pid})`).join(', ') || 'nothing'}\n${down.stderr}\n`);
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return sandbox;
}

/** Is a pid alive (and not a zombie)? For "down leaves no process" assertions. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}
