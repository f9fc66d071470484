import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TestServers } from '../helpers/servers.js';
import { flushNode } from '../../src/chaos/cluster-ops.js';
import { HttpProxyAdmin, type ProxyAdmin } from '../../src/chaos/proxy-admin.js';
import { runSwitch } from '../../src/chaos/switch.js';
import ProxyCommand from '../../src/commands/proxy.js';
import type { ProxyConfigUpdate } from '../../src/proxy/config.js';
import { startProxy, type RunningProxy } from '../../src/proxy/server.js';
import { spawn } from 'node:child_process';
import { getFreePorts } from '../../src/util/net.js';
import { REPO_ROOT, eventually, putConfig } from './helpers.js';

/**
 * Admin API safety: loopback by default, a token (compared in constant time) on every mutating
 * call, stale or malformed configs refused with a clear error and nothing changed, and a switch
 * interrupted half-way leaving every proxy on one epoch.
 */

const servers = new TestServers();
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await servers.stopAll();
});

async function pair(): Promise<{ master: { host: string; port: number }; slave: { host: string; port: number } }> {
  const [m, s] = await Promise.all([servers.memcached(), servers.memcached()]);
  return { master: { host: '127.0.0.1', port: m.port }, slave: { host: '127.0.0.1', port: s.port } };
}

async function inProcessProxy(name: string, nodes: Awaited<ReturnType<typeof pair>>, token = 'right-token'): Promise<RunningProxy> {
  const p = await startProxy({
    name,
    host: '127.0.0.1',
    port: 0,
    adminHost: '127.0.0.1',
    adminPort: 0,
    adminToken: token,
    config: {
      epoch: 1,
      shards: [{ name: 'shard-0', master: nodes.master, slave: nodes.slave }],
      readPolicy: 'master',
      mitigation: 'none',
      replication: 'sync',
      failover: 'manual',
      failoverThreshold: 3,
      timeoutMs: 300,
      downAfterFailures: 3,
      probeIntervalMs: 100,
      writesFenced: false,
    },
  });
  cleanups.push(() => p.stop(100));
  return p;
}

async function getConfig(adminPort: number): Promise<unknown> {
  return (await fetch(`http://127.0.0.1:${adminPort}/config`)).json();
}

/** local address of every LISTEN socket on `port` (from /proc/net/tcp and tcp6) */
function listenAddresses(port: number): string[] {
  const out: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 4 || cols[3] !== '0A') continue; // 0A = LISTEN
      const [addr, hexPort] = cols[1].split(':');
      if (parseInt(hexPort, 16) === port) out.push(addr);
    }
  }
  return out;
}

describe('admin API safety', () => {
  it('listens on loopback only by default', async () => {
    expect(ProxyCommand.flags['admin-host'].default).toBe('127.0.0.1');
    expect(ProxyCommand.flags.host.default).toBe('127.0.0.1');
    const nodes = await pair();
    // the built CLI started with no --host/--admin-host: what does the kernel say it bound?
    const [port, adminPort] = await getFreePorts(2);
    const cli = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'run.js'), 'proxy', '--port', String(port), '--admin-port', String(adminPort), '--master', `127.0.0.1:${nodes.master.port}`, '--slave', `127.0.0.1:${nodes.slave.port}`], {
      env: { ...process.env, CACHECTL_ADMIN_TOKEN: 't', NO_COLOR: '1' },
      stdio: 'ignore',
    });
    cleanups.push(() => new Promise<void>((r) => (cli.exitCode !== null || cli.signalCode !== null ? r() : (cli.once('exit', () => r()), cli.kill('SIGKILL')))));
    expect(await eventually(async () => (await fetch(`http://127.0.0.1:${adminPort}/health`).catch(() => null))?.ok === true, 30_000, 100)).toBe(true);
    const child = { adminPort, port };
    const addrs = listenAddresses(child.adminPort);
    const clientAddrs = listenAddresses(child.port);
    console.log(`[admin] built CLI with default flags: admin port bound to ${addrs.join(', ')}, client port to ${clientAddrs.join(', ')} (0100007F = 127.0.0.1)`);
    expect(addrs).toEqual(['0100007F']);
    expect(clientAddrs).toEqual(['0100007F']);
  });

  it('the token is compared in constant time: sha256 digests of equal length through crypto.timingSafeEqual', () => {
    const src = readFileSync(join(REPO_ROOT, 'src', 'proxy', 'admin.ts'), 'utf8');
    const fn = /function tokenMatches[\s\S]*?\n}/.exec(src)?.[0] ?? '';
    expect(fn, 'tokenMatches exists').not.toBe('');
    expect(fn).toMatch(/createHash\('sha256'\)\.update\(given\)\.digest\(\)/);
    expect(fn).toMatch(/createHash\('sha256'\)\.update\(expected\)\.digest\(\)/);
    expect(fn).toMatch(/timingSafeEqual\(a, b\)/);
    expect(fn).toMatch(/if \(!expected\) return false/);
    // and no direct string comparison of the token anywhere in the admin API
    expect(src).not.toMatch(/===\s*options\.token|options\.token\s*===/);
  });

  it('every mutating call needs the right token; nothing changes without it', async () => {
    const nodes = await pair();
    const p = await inProcessProxy('tok', nodes);
    const before = await getConfig(p.adminPort);
    const update = { epoch: 5, mitigation: 'proxy-delete' };
    const attempts: [string, string | undefined][] = [
      ['no header', undefined],
      ['empty bearer', ''],
      ['wrong token, same length', 'wrong-token'],
      ['wrong token, other length', 'x'],
      ['right token with a suffix', 'right-token2'],
      ['right token prefix', 'right-tok'],
    ];
    for (const [what, token] of attempts) {
      const r = await putConfig(p.adminPort, token, update);
      expect(r.status, what).toBe(401);
      expect(r.body.message, what).toMatch(/token/);
    }
    const basic = await fetch(`http://127.0.0.1:${p.adminPort}/config`, { method: 'PUT', headers: { authorization: 'Basic cmlnaHQtdG9rZW4=' }, body: JSON.stringify(update) });
    expect(basic.status).toBe(401);
    for (const method of ['POST', 'DELETE', 'PATCH']) {
      const r = await fetch(`http://127.0.0.1:${p.adminPort}/config`, { method, headers: { authorization: 'Bearer right-token' }, body: method === 'DELETE' ? undefined : JSON.stringify(update) });
      expect(r.status, `${method} /config`).toBe(405);
    }
    expect(await getConfig(p.adminPort)).toEqual(before);
    const ok = await putConfig(p.adminPort, 'right-token', update);
    expect(ok.status).toBe(200);
    expect(ok.body.mitigation).toBe('proxy-delete');
  });

  it('a proxy started without a token refuses every change', async () => {
    const nodes = await pair();
    const p = await inProcessProxy('notoken', nodes, '');
    for (const token of ['', 'anything']) {
      const r = await putConfig(p.adminPort, token, { epoch: 2, mitigation: 'proxy-delete' });
      expect(r.status).toBe(401);
    }
    expect(((await getConfig(p.adminPort)) as { epoch: number }).epoch).toBe(1);
  });

  it('stale or malformed configs are refused with a clear error and change nothing', async () => {
    const nodes = await pair();
    const p = await inProcessProxy('bad', nodes);
    expect((await putConfig(p.adminPort, 'right-token', { epoch: 3, readPolicy: 'balanced' })).status).toBe(200);
    const before = await getConfig(p.adminPort);
    const cases: { what: string; body?: unknown; raw?: string; status: number; message: RegExp }[] = [
      { what: 'same epoch', body: { epoch: 3, mitigation: 'proxy-delete' }, status: 409, message: /stale epoch 3.*epoch 3/ },
      { what: 'older epoch', body: { epoch: 2, mitigation: 'proxy-delete' }, status: 409, message: /stale epoch 2/ },
      { what: 'not JSON', raw: '{"epoch": 9,', status: 400, message: /not valid JSON/ },
      { what: 'no epoch', body: { mitigation: 'proxy-delete' }, status: 400, message: /epoch/ },
      { what: 'epoch not an integer', body: { epoch: 4.5 }, status: 400, message: /epoch/ },
      { what: 'unknown field', body: { epoch: 9, masterr: 'x' }, status: 400, message: /masterr|Unrecognized/ },
      { what: 'bad enum', body: { epoch: 9, readPolicy: 'random' }, status: 400, message: /readPolicy/ },
      { what: 'port out of range', body: { epoch: 9, shards: [{ name: 's', master: { host: '127.0.0.1', port: 70000 }, slave: null }] }, status: 400, message: /port/ },
      { what: 'no shards', body: { epoch: 9, shards: [] }, status: 400, message: /shards/ },
      {
        what: 'duplicate shard names',
        body: { epoch: 9, shards: [{ name: 'a', master: nodes.master, slave: null }, { name: 'a', master: nodes.slave, slave: null }] },
        status: 400,
        message: /unique/,
      },
      { what: 'timeout of 0', body: { epoch: 9, timeoutMs: 0 }, status: 400, message: /timeoutMs/ },
      { what: 'an array', body: [1, 2], status: 400, message: /invalid config update/ },
      { what: 'a body over 1 MiB', raw: JSON.stringify({ epoch: 9, pad: 'x'.repeat(1_100_000) }), status: 0, message: /./ },
    ];
    for (const c of cases) {
      let status: number;
      let message = '';
      try {
        const r = await putConfig(p.adminPort, 'right-token', c.body, c.raw);
        status = r.status;
        message = `${r.body?.message ?? ''} ${r.body?.hint ?? ''}`;
        if (c.status !== 0) {
          expect(r.body?.hint, `${c.what}: a hint says what to do`).toBeTruthy();
        }
      } catch {
        status = -1; // the server cut the oversized upload: refused, also fine
      }
      if (c.status === 0) expect(status === -1 || (status >= 400 && status < 500), `${c.what}: refused (${status})`).toBe(true);
      else {
        expect(status, c.what).toBe(c.status);
        expect(message, c.what).toMatch(c.message);
      }
      expect(await getConfig(p.adminPort), `${c.what} changed nothing`).toEqual(before);
    }
  });

  it('a switch interrupted half-way leaves every proxy on one epoch and one set of roles', async () => {
    const nodes = await pair();
    const proxies = await Promise.all(['p0', 'p1', 'p2'].map((n) => inProcessProxy(n, nodes)));
    // bring the proxies to different epochs first, as a real fleet would be
    await putConfig(proxies[1].adminPort, 'right-token', { epoch: 4 });
    const admins = proxies.map((p, i) => new HttpProxyAdmin(`p${i}`, { host: '127.0.0.1', port: p.adminPort }, 'right-token'));

    // (a) p2's admin link dies at the promote step and stays dead for the retries: the switch must roll back
    const cut = new CutAdmin(admins[2], (u) => u.shards !== undefined);
    const rolled = await runSwitch({ proxies: [admins[0], admins[1], cut], nodeOps: { flush: (a) => flushNode(a) }, drainMs: 50, retries: 2 });
    const afterRollback = await Promise.all(proxies.map((p) => getConfig(p.adminPort) as Promise<{ epoch: number; writesFenced: boolean; shards: { master: { port: number } }[] }>));
    console.log(`[admin] interrupted switch: outcome ${rolled.outcome}; epochs ${afterRollback.map((c) => c.epoch).join(', ')}; masters ${afterRollback.map((c) => c.shards[0].master.port).join(', ')}`);
    expect(['rolled-back', 'inconsistent']).toContain(rolled.outcome);
    expect(new Set(afterRollback.map((c) => c.epoch)).size, 'one epoch everywhere').toBe(1);
    expect(afterRollback.every((c) => c.shards[0].master.port === nodes.master.port && !c.writesFenced), 'old roles, unfenced').toBe(true);

    // (b) p1's reply to the promote is lost after the proxy applied it: the retry sees 409 with our change: still one epoch
    const lossy = new LostReplyAdmin(admins[1], (u) => u.shards !== undefined);
    const switched = await runSwitch({ proxies: [admins[0], lossy, admins[2]], nodeOps: { flush: (a) => flushNode(a) }, drainMs: 50 });
    const afterSwitch = await Promise.all(proxies.map((p) => getConfig(p.adminPort) as Promise<{ epoch: number; writesFenced: boolean; shards: { master: { port: number } }[] }>));
    console.log(`[admin] switch with a lost reply: outcome ${switched.outcome}; epochs ${afterSwitch.map((c) => c.epoch).join(', ')}; masters ${afterSwitch.map((c) => c.shards[0].master.port).join(', ')}`);
    expect(switched.outcome).toBe('switched');
    expect(new Set(afterSwitch.map((c) => c.epoch)).size).toBe(1);
    expect(afterSwitch.every((c) => c.shards[0].master.port === nodes.slave.port && !c.writesFenced)).toBe(true);
  });
});

/** An admin whose link to the proxy is cut for the first matching update (and every retry of it). */
class CutAdmin implements ProxyAdmin {
  private cutEpoch: number | undefined;
  constructor(
    private readonly inner: ProxyAdmin,
    private readonly cutWhen: (u: ProxyConfigUpdate) => boolean,
  ) {}
  get name(): string {
    return this.inner.name;
  }
  get address(): string {
    return this.inner.address;
  }
  getConfig() {
    return this.inner.getConfig();
  }
  stats() {
    return this.inner.stats();
  }
  async putConfig(u: ProxyConfigUpdate) {
    if (this.cutEpoch === undefined && this.cutWhen(u)) this.cutEpoch = u.epoch;
    if (u.epoch === this.cutEpoch) throw new Error(`connection reset (interrupted at epoch ${u.epoch})`);
    return this.inner.putConfig(u);
  }
}

/** An admin whose proxy applies the matching update but whose reply is lost once. */
class LostReplyAdmin implements ProxyAdmin {
  private lost = false;
  constructor(
    private readonly inner: ProxyAdmin,
    private readonly when: (u: ProxyConfigUpdate) => boolean,
  ) {}
  get name(): string {
    return this.inner.name;
  }
  get address(): string {
    return this.inner.address;
  }
  getConfig() {
    return this.inner.getConfig();
  }
  stats() {
    return this.inner.stats();
  }
  async putConfig(u: ProxyConfigUpdate) {
    const r = await this.inner.putConfig(u);
    if (!this.lost && this.when(u)) {
      this.lost = true;
      throw new Error('reply lost');
    }
    return r;
  }
}
