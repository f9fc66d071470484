/**
 * npm run bench:workload
 *
 * 1. Sustained ops/s of the CAS workload (cache-aside, gets+cas, SQLite source of truth), same
 *    settings, one target after the other in this one run:
 *      (a) directly against memcached,
 *      (b) through the cachectl proxy (separate process) in front of memcached master + slave,
 *          replication sync.
 *    Prints throughput, read/update p50/p99 and the proxy/direct ratio; every run is also checked
 *    (a fault-free run must report no anomaly).
 * 2. Checker time and memory for a synthetic 1,000,000-op history (reads 90%, updates 10% each
 *    with its CAS), against a peer measured in the same run: one JSON.stringify pass over the
 *    same history. Target: under 5 s.
 *
 * Env: BENCH_SECONDS (per target, default 5), BENCH_CLIENTS (16), BENCH_KEYS (1000),
 * BENCH_CHECK_OPS (1000000). A watchdog ends the whole bench after 10 minutes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { checkHistory } from '../src/checker/check.js';
import { startMemcached, stopPid, type ManagedProcess } from '../src/runtime/processes.js';
import { getFreePorts, isPortOpen, waitUntil } from '../src/util/net.js';
import { SqliteSourceOfTruth } from '../src/workload/database.js';
import type { HistoryOp } from '../src/workload/history.js';
import { createRng, zipfianPicker } from '../src/workload/random.js';
import { runWorkload, workloadKeyNames } from '../src/workload/runner.js';
import { scanCluster } from '../src/workload/scan.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 16);
const KEYS = Number(process.env.BENCH_KEYS ?? 1000);
const CHECK_OPS = Number(process.env.BENCH_CHECK_OPS ?? 1_000_000);

const watchdog = setTimeout(() => {
  process.stderr.write('bench:workload: watchdog fired after 10 minutes, stopping\n');
  process.exit(4);
}, 10 * 60_000);
watchdog.unref();

const started: ManagedProcess[] = [];
let proxyChild: ChildProcess | undefined;
async function cleanup(): Promise<void> {
  if (proxyChild?.pid) await stopPid(proxyChild.pid, 2000);
  await Promise.all(started.map((p) => p.stop(2000)));
}
process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));

interface Row {
  target: string;
  ops: number;
  opsPerSecond: number;
  readP50: number;
  readP99: number;
  updateP50: number;
  updateP99: number;
  anomalies: string;
}

async function measure(target: string, endpoint: { host: string; port: number }, scanNodes: { master: { host: string; port: number }; slave: { host: string; port: number } }): Promise<Row> {
  const db = new SqliteSourceOfTruth(':memory:');
  const result = await runWorkload({
    proxy: [endpoint],
    target: target === 'direct memcached' ? 'master' : 'proxy',
    clients: CLIENTS,
    durationMs: SECONDS * 1000,
    keys: KEYS,
    keyPrefix: `bench:${target.replace(/\W+/g, '-')}:`,
    distribution: 'zipfian',
    readRatio: 0.9,
    valueSize: 100,
    seed: 42,
    mitigation: 'none',
    shortTtlSeconds: 300,
    timeoutMs: 2000,
    database: db,
  });
  const scan = await scanCluster({ ...scanNodes, keys: workloadKeyNames(result.keyPrefix, result.keyCount), database: db });
  const report = checkHistory(result.history, scan);
  db.close();
  const failed = report.verdict.checks.filter((c) => c.ok === false).map((c) => `${c.name}=${c.value}`);
  return {
    target,
    ops: result.counts.ops,
    opsPerSecond: Math.round(result.opsPerSecond),
    readP50: report.latency.read?.p50Ms ?? 0,
    readP99: report.latency.read?.p99Ms ?? 0,
    updateP50: report.latency.update?.p50Ms ?? 0,
    updateP99: report.latency.update?.p99Ms ?? 0,
    anomalies: failed.length ? failed.join(' ') : `none (${result.counts.fail} fail, ${result.counts.unknown} unknown)`,
  };
}

/** A realistic synthetic history: clients interleave in time, updates commit then CAS, reads see the latest stored version. */
function syntheticHistory(logicalOps: number, keys: number): HistoryOp[] {
  const rng = createRng(7);
  const pick = zipfianPicker(keys);
  const ops: HistoryOp[] = [];
  const stored = new Int32Array(keys);
  const committed = new Int32Array(keys);
  let id = 1;
  let t = 0;
  const perMs = 50; // 50 ops per ms: 1M ops span 20 s
  for (let i = 0; i < logicalOps; i++) {
    t += 1 / perMs;
    const k = pick(rng);
    const key = `bench:${k}`;
    const client = i % 32;
    if (rng() < 0.9) {
      ops.push({ id: id++, client, op: 'read', key, invoke: t, complete: t + 0.3 + rng(), outcome: 'ok', version: stored[k], source: 'cache', node: 'proxy' });
    } else {
      const version = ++committed[k];
      const updateId = id++;
      ops.push({ id: id++, client, op: 'cas', key, invoke: t + 0.05, complete: t + 0.5, outcome: 'ok', version, parent: updateId, token: String(1000 + i), baseVersion: stored[k], reply: 'stored', node: 'proxy' });
      ops.push({ id: updateId, client, op: 'update', key, invoke: t, complete: t + 0.6, outcome: 'ok', version, commitAt: t + 0.04, cacheResult: 'stored', node: 'proxy' });
      stored[k] = version;
    }
  }
  return ops;
}

const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

try {
  process.stderr.write(`bench:workload: ${CLIENTS} clients, ${KEYS} keys (zipfian), 90% reads, ${SECONDS} s per target\n`);
  const [mPort, sPort, pPort, aPort] = await getFreePorts(4);
  const master = await startMemcached({ port: mPort });
  started.push(master);
  const slave = await startMemcached({ port: sPort });
  started.push(slave);
  const m = { host: '127.0.0.1', port: mPort };
  const s = { host: '127.0.0.1', port: sPort };

  const rows: Row[] = [];
  rows.push(await measure('direct memcached', m, { master: m, slave: m }));

  proxyChild = spawn(
    process.execPath,
    ['--import', 'tsx', join(import.meta.dirname, 'proxy-server.ts'), '--port', String(pPort), '--admin-port', String(aPort), '--master', `127.0.0.1:${mPort}`, '--slave', `127.0.0.1:${sPort}`, '--replication', 'sync'],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  let proxyAvailable = true;
  try {
    await waitUntil('the cachectl proxy', () => isPortOpen('127.0.0.1', pPort), { timeoutMs: 20_000 });
  } catch {
    proxyAvailable = false;
    process.stderr.write('bench:workload: the cachectl proxy did not start: measuring direct only\n');
  }
  if (proxyAvailable) rows.push(await measure('cachectl proxy', { host: '127.0.0.1', port: pPort }, { master: m, slave: s }));

  process.stdout.write('\nworkload throughput (same settings, same run)\n');
  process.stdout.write('target            ops      ops/s   read p50/p99 ms   update p50/p99 ms   anomalies\n');
  for (const r of rows) {
    process.stdout.write(
      `${r.target.padEnd(16)}  ${String(r.ops).padStart(7)}  ${String(r.opsPerSecond).padStart(7)}   ${`${r.readP50}/${r.readP99}`.padEnd(16)}  ${`${r.updateP50}/${r.updateP99}`.padEnd(18)}  ${r.anomalies}\n`,
    );
  }
  if (rows.length === 2) process.stdout.write(`proxy/direct throughput ratio: ${(rows[1].opsPerSecond / rows[0].opsPerSecond).toFixed(2)}\n`);
  await cleanup();

  // ---- checker on a 1M-op history ----
  const genStart = performance.now();
  const history = syntheticHistory(CHECK_OPS, KEYS);
  const genMs = performance.now() - genStart;
  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  const peakBefore = process.resourceUsage().maxRSS * 1024;
  const peerStart = performance.now();
  let bytes = 0;
  for (const op of history) bytes += JSON.stringify(op).length;
  const peerMs = performance.now() - peerStart;
  const cpuBefore = process.cpuUsage();
  const checkStart = performance.now();
  const report = checkHistory(history);
  const checkMs = performance.now() - checkStart;
  const cpu = process.cpuUsage(cpuBefore);
  const checkCpuMs = (cpu.user + cpu.system) / 1000;
  const peakRss = process.resourceUsage().maxRSS * 1024;
  process.stdout.write(`\nchecker: ${CHECK_OPS} logical ops (${history.length} history entries, ${mb(bytes)} as JSON lines), generated in ${(genMs / 1000).toFixed(2)} s\n`);
  process.stdout.write(
    `  checkHistory: ${(checkMs / 1000).toFixed(2)} s wall, ${(checkCpuMs / 1000).toFixed(2)} s CPU  (target < 5 s: ${checkMs < 5000 ? 'met' : 'MISSED'}; load average ${loadavg()[0].toFixed(1)} on ${cpus().length} cores)\n`,
  );
  process.stdout.write(`  peer, one JSON.stringify pass over the same history: ${(peerMs / 1000).toFixed(2)} s  -> checker/peer ${(checkMs / peerMs).toFixed(2)}x\n`);
  process.stdout.write(
    `  memory: RSS with the history loaded ${mb(rssBefore)}; peak RSS before the check ${mb(peakBefore)}, after ${mb(peakRss)} (the checker added ${mb(Math.max(0, peakRss - Math.max(peakBefore, rssBefore)))} at peak)\n`,
  );
  process.stdout.write(`  verdict on the synthetic (clean) history: ${report.verdict.summary}\n`);
  if (!report.verdict.ok) process.exitCode = 1;
} finally {
  await cleanup();
}
