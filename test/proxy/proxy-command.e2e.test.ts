import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Toxiproxy } from 'toxiproxy-node-client';
import { getFreePort, getFreePorts, isPortOpen, waitUntil } from '../../src/util/net.js';
import { TestServers, exchange, peek, type Addr } from './harness.js';

/** `cachectl proxy` from the built CLI: flags, exit codes, --json, SIGTERM drain. */

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'run.js');
const servers = new TestServers();
let master: Addr;
let slave: Addr;
let toxiUrl: string;

beforeAll(async () => {
  const [m, s, t] = await Promise.all([servers.memcached(), servers.memcached(), servers.toxiproxy()]);
  master = m;
  slave = s;
  toxiUrl = t.url;
});
afterAll(async () => {
  await servers.stopAll();
});

interface Running {
  port: Promise<{ port: number; admin: number }>;
  exit: Promise<{ code: number | null; stdout: string; stderr: string }>;
  kill(sig: NodeJS.Signals): void;
}

function start(args: string[]): Running {
  const child = spawn(process.execPath, [BIN, 'proxy', ...args], { env: { ...process.env, CACHECTL_ADMIN_TOKEN: 'e2e-token', NO_COLOR: '1' } });
  let stdout = '';
  let stderr = '';
  let ready: (v: { port: number; admin: number }) => void;
  const port = new Promise<{ port: number; admin: number }>((r) => (ready = r));
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => {
    stderr += d;
    const m = /listening on 127\.0\.0\.1:(\d+), admin http:\/\/127\.0\.0\.1:(\d+)/.exec(stderr);
    if (m) ready({ port: Number(m[1]), admin: Number(m[2]) });
  });
  const exit = new Promise<{ code: number | null; stdout: string; stderr: string }>((r) => child.on('exit', (code) => r({ code, stdout, stderr })));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  void exit.then(() => clearTimeout(timer));
  return { port, exit, kill: (sig) => child.kill(sig) };
}

describe('cachectl proxy (built CLI)', () => {
  it('serves, answers the admin API, and exits 0 on SIGTERM with a --json result', { timeout: 40_000 }, async () => {
    // --json keeps stderr quiet, so the ports are chosen here
    const [port, admin] = await getFreePorts(2);
    const p = start(['--name', 'proxy-7', '--port', String(port), '--admin-port', String(admin), '--master', `127.0.0.1:${master.port}`, '--slave', `127.0.0.1:${slave.port}`, '--json']);
    await waitUntil('proxy admin API', () => isPortOpen('127.0.0.1', admin), { timeoutMs: 15_000 });
    expect((await exchange(port, [Buffer.from('set e2e 0 0 2\r\nok\r\nget e2e\r\n')])).reply.toString()).toBe('STORED\r\nVALUE e2e 0 2\r\nok\r\nEND\r\n');
    expect(await peek(slave, 'e2e')).toEqual({ value: 'ok', flags: 0 });
    const health = await (await fetch(`http://127.0.0.1:${admin}/health`)).json();
    expect(health).toEqual({ status: 'ok', epoch: 1, name: 'proxy-7' });
    p.kill('SIGTERM');
    const done = await p.exit;
    expect(done.code).toBe(0);
    expect(JSON.parse(done.stdout)).toMatchObject({ name: 'proxy-7', port, adminPort: admin, stopped: true });
  });

  it('drains a request in flight on SIGTERM: the client still gets its reply', { timeout: 40_000 }, async () => {
    const toxi = new Toxiproxy(toxiUrl);
    const slow = await toxi.createProxy({ name: 'slow', listen: `127.0.0.1:${await getFreePort()}`, upstream: `127.0.0.1:${master.port}` });
    await slow.addToxic({ name: 'lag', type: 'latency', stream: 'downstream', toxicity: 1, attributes: { latency: 300, jitter: 0 } });
    try {
      const p = start(['--port', '0', '--admin-port', '0', '--master', slow.listen, '--slave', `127.0.0.1:${slave.port}`, '--timeout-ms', '2000']);
      const { port } = await p.port;
      const reply = exchange(port, [Buffer.from('get drain\r\n')], { expectBytes: 5, idleMs: 3000 });
      await new Promise((r) => setTimeout(r, 100));
      p.kill('SIGTERM');
      expect((await reply).reply.toString()).toBe('END\r\n');
      expect((await p.exit).code).toBe(0);
    } finally {
      await slow.remove();
    }
  });

  it('bad flags exit 2 with what was wrong and what to do', { timeout: 60_000 }, async () => {
    const bad = await start(['--port', '0', '--admin-port', '0', '--master', 'nohostport']).exit;
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--master must be host:port, got "nohostport"/);
    const policy = await start(['--port', '0', '--admin-port', '0', '--master', '127.0.0.1:1', '--read-policy', 'sometimes']).exit;
    expect(policy.code).toBe(2);
    const missing = await start(['--port', '0', '--admin-port', '0']).exit;
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/missing --master/);
  });

  it('a port in use exits 3 (dependency) with a hint', { timeout: 40_000 }, async () => {
    const p = start(['--port', '0', '--admin-port', '0', '--master', `127.0.0.1:${master.port}`]);
    const { port } = await p.port;
    const clash = await start(['--port', String(port), '--admin-port', '0', '--master', `127.0.0.1:${master.port}`]).exit;
    expect(clash.code).toBe(3);
    expect(clash.stderr).toMatch(/pick another port/);
    p.kill('SIGTERM');
    await p.exit;
  });

  it('--workers 2: one admin API, SIGTERM drains a request in flight on every worker and exits 0; bad --workers exits 2; a port in use exits 3', { timeout: 60_000 }, async () => {
    const bad = await start(['--port', '0', '--admin-port', '0', '--master', `127.0.0.1:${master.port}`, '--workers', 'many']).exit;
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--workers must be an integer from 1 to 64 or "auto", got "many"/);
    const toxi = new Toxiproxy(toxiUrl);
    const slow = await toxi.createProxy({ name: 'slow-workers', listen: `127.0.0.1:${await getFreePort()}`, upstream: `127.0.0.1:${master.port}` });
    await slow.addToxic({ name: 'lag', type: 'latency', stream: 'downstream', toxicity: 1, attributes: { latency: 300, jitter: 0 } });
    try {
      const p = start(['--port', '0', '--admin-port', '0', '--master', slow.listen, '--slave', `127.0.0.1:${slave.port}`, '--timeout-ms', '2000', '--workers', '2']);
      const { port, admin } = await p.port;
      const stats = (await (await fetch(`http://127.0.0.1:${admin}/stats`)).json()) as { workers: unknown[] };
      expect(stats.workers).toHaveLength(2);
      const clash = await start(['--port', String(port), '--admin-port', '0', '--master', `127.0.0.1:${master.port}`, '--workers', '2']).exit;
      expect(clash.code).toBe(3);
      expect(clash.stderr).toMatch(/pick another port/);
      // four connections: round robin puts requests in flight on both workers
      const replies = Array.from({ length: 4 }, (_, i) => exchange(port, [Buffer.from(`get drain-w${i}\r\n`)], { expectBytes: 5, idleMs: 3000 }));
      await new Promise((r) => setTimeout(r, 150));
      p.kill('SIGTERM');
      for (const r of replies) expect((await r).reply.toString()).toBe('END\r\n');
      const done = await p.exit;
      expect(done.code).toBe(0);
      expect(await isPortOpen('127.0.0.1', port)).toBe(false);
    } finally {
      await slow.remove();
    }
  });
});
