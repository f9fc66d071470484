import { createConnection } from 'node:net';
import { Toxiproxy } from 'toxiproxy-node-client';
import { afterEach, describe, expect, it } from 'vitest';
import { TestServers } from '../helpers/servers.js';
import { checkHistory } from '../../src/checker/index.js';
import { getFreePort, getFreePorts } from '../../src/util/net.js';
import { SqliteSourceOfTruth } from '../../src/workload/database.js';
import { runWorkload } from '../../src/workload/runner.js';
import { scanCluster } from '../../src/workload/scan.js';
import { asciiOnce, startChildProxy, type ChildProxy } from './helpers.js';

/**
 * Graceful shutdown: SIGTERM drains the requests in flight within the deadline (max(1 s, 2 x the
 * backend timeout)) and refuses new connections; SIGKILL of the proxy in the middle of a workload
 * is survived: errors while it is gone, then recovery once it is back, and no acknowledged write lost.
 */

const servers = new TestServers();
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await servers.stopAll();
});

async function slowMaster(latencyMs: number, kind: 'latency' | 'timeout'): Promise<{ port: number; masterPort: number }> {
  const master = await servers.memcached();
  const toxi = await servers.toxiproxy();
  const listen = await getFreePort();
  const api = new Toxiproxy(toxi.url);
  const link = await api.createProxy({ name: 'master', listen: `127.0.0.1:${listen}`, upstream: `127.0.0.1:${master.port}` });
  if (kind === 'latency') await link.addToxic({ name: 'slow', type: 'latency', stream: 'downstream', toxicity: 1, attributes: { latency: latencyMs, jitter: 0 } });
  else await link.addToxic({ name: 'hang', type: 'timeout', stream: 'downstream', toxicity: 1, attributes: { timeout: 0 } });
  return { port: listen, masterPort: master.port };
}

/** n connections, each pipelining `perConn` gets; resolves with each connection's reply text */
function pipelinedGets(port: number, n: number, perConn: number): { sent: Promise<void>; replies: Promise<string[]> } {
  let markSent!: () => void;
  const sent = new Promise<void>((r) => (markSent = r));
  let connected = 0;
  const replies = Promise.all(
    Array.from(
      { length: n },
      (_, c) =>
        new Promise<string>((resolve) => {
          const s = createConnection({ host: '127.0.0.1', port });
          let text = '';
          s.on('data', (d) => (text += d.toString('latin1')));
          s.on('connect', () => {
            s.write(Array.from({ length: perConn }, (_, i) => `get drain${c}x${i}\r\n`).join(''));
            if (++connected === n) markSent();
          });
          s.on('close', () => resolve(text));
          s.on('error', () => undefined);
          setTimeout(() => s.destroy(), 10_000).unref();
        }),
    ),
  );
  return { sent, replies };
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    s.on('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.on('error', () => resolve(true));
  });
}

describe('graceful shutdown', () => {
  it('SIGTERM drains every in-flight request, refuses new connections, and exits 0 within the deadline', async () => {
    const link = await slowMaster(300, 'latency');
    const proxy = await startChildProxy({ master: `127.0.0.1:${link.port}`, slave: 'none', 'timeout-ms': 1000 });
    cleanups.push(() => proxy.kill());
    const { sent, replies } = pipelinedGets(proxy.port, 5, 10);
    await sent;
    await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    proxy.child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    const newRefused = await refused(proxy.port);
    const texts = await replies;
    const exit = await proxy.exited;
    const exitMs = Date.now() - t0;
    const answered = texts.map((t) => t.split('END\r\n').length - 1);
    console.log(`[shutdown] SIGTERM with 50 requests in flight (master 300 ms away): answered ${answered.join('+')}, exit ${exit.code ?? exit.signal} after ${exitMs} ms (deadline 2000 ms), new connection refused: ${newRefused}`);
    expect(answered).toEqual([10, 10, 10, 10, 10]);
    expect(newRefused).toBe(true);
    expect(exit.code).toBe(0);
    expect(exitMs).toBeLessThan(2000 + 1000);
  });

  it('SIGTERM with requests that cannot finish: they get an error, and the proxy still exits by the deadline', async () => {
    const link = await slowMaster(0, 'timeout');
    const proxy = await startChildProxy({ master: `127.0.0.1:${link.port}`, slave: 'none', 'timeout-ms': 1000 });
    cleanups.push(() => proxy.kill());
    const { sent, replies } = pipelinedGets(proxy.port, 3, 5);
    await sent;
    await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    proxy.child.kill('SIGTERM');
    const texts = await replies;
    const exit = await proxy.exited;
    const exitMs = Date.now() - t0;
    const errors = texts.map((t) => t.split('SERVER_ERROR').length - 1);
    console.log(`[shutdown] SIGTERM with 15 requests stuck on a hung master: server errors ${errors.join('+')}, exit ${exit.code ?? exit.signal} after ${exitMs} ms`);
    expect(errors).toEqual([5, 5, 5]);
    expect(exit.code).toBe(0);
    expect(exitMs).toBeLessThan(2000 + 1000);
  });

  it('SIGKILL of the proxy mid-run: the workload sees errors, then recovers when it is back; no acknowledged write lost', async () => {
    const [master, slave] = await Promise.all([servers.memcached(), servers.memcached()]);
    const [port, adminPort] = await getFreePorts(2);
    const flags = { master: `127.0.0.1:${master.port}`, slave: `127.0.0.1:${slave.port}`, 'timeout-ms': 300 };
    let proxy: ChildProxy = await startChildProxy(flags, { port, adminPort });
    cleanups.push(() => proxy.kill());
    const db = new SqliteSourceOfTruth(':memory:');
    cleanups.push(() => db.close());
    const started = Date.now();
    const run = runWorkload({
      proxy: [{ host: '127.0.0.1', port }],
      clients: 4,
      durationMs: 10_000,
      keys: 30,
      keyPrefix: 'kill9:',
      distribution: 'uniform',
      readRatio: 0.5,
      valueSize: 32,
      seed: 42,
      mitigation: 'none',
      shortTtlSeconds: 2,
      timeoutMs: 300,
      database: db,
    });
    await new Promise((r) => setTimeout(r, 1500));
    const killedAt = Date.now() - started;
    await proxy.kill(); // SIGKILL
    await new Promise((r) => setTimeout(r, 1500));
    proxy = await startChildProxy(flags, { port, adminPort });
    const backAt = Date.now() - started;
    const result = await run;
    const scan = await scanCluster({ master: { host: '127.0.0.1', port: master.port }, slave: { host: '127.0.0.1', port: slave.port }, keys: Array.from({ length: 30 }, (_, i) => `kill9:${i}`), database: db });
    const report = checkHistory(result.history, scan, { maxExamples: 1000 });
    const offset = result.startedAtMs - started;
    const down = report.perSecond.filter((s) => s.second * 1000 + offset >= killedAt && (s.second + 1) * 1000 + offset <= backAt);
    // clients reconnect with their own backoff: judge recovery from 1.5 s after the proxy is back
    const after = report.perSecond.filter((s) => s.second * 1000 + offset >= backAt + 1500 && (s.second + 1) * 1000 <= result.durationMs);
    const failsDown = down.reduce((n, s) => n + s.fails + s.unknowns, 0);
    const okDown = down.reduce((n, s) => n + s.ok, 0);
    const okAfter = after.reduce((n, s) => n + s.ok, 0);
    const failsAfter = after.reduce((n, s) => n + s.fails + s.unknowns, 0);
    const overwritten = report.missingAckedWrites.examples.filter((e) => typeof e.master === 'number').length;
    console.log(
      `[shutdown] SIGKILL at ${killedAt} ms, back at ${backAt} ms: while down ${okDown} ok / ${failsDown} failed; after ${okAfter} ok / ${failsAfter} failed; ` +
        `totals ${report.totals.ok} ok, ${report.totals.fail} fail, ${report.totals.unknown} unknown; lost updates ${report.lostUpdates.count}; acked writes overwritten ${overwritten}`,
    );
    expect(failsDown, 'errors while the proxy is gone').toBeGreaterThan(0);
    expect(okDown, 'nothing succeeds through a dead proxy').toBe(0);
    expect(okAfter, 'recovery once it is back').toBeGreaterThan(0);
    expect(failsAfter, 'no errors once recovered').toBe(0);
    expect(report.lostUpdates.count).toBe(0);
    expect(overwritten).toBe(0);
    // and the restarted proxy serves
    expect(await asciiOnce(port, 'version\r\n')).toMatch(/^VERSION/);
  });
});
