/**
 * npm run bench:proxy
 *
 * memaslap (Debian libmemcached-tools: memcaslap) drives the same ASCII get/set mix (90/10,
 * its default key and value distribution) with identical settings against:
 *   (a) memcached directly,
 *   (b) twemproxy (nutcracker) in front of that memcached,
 *   (c) the cachectl proxy in front of that memcached as master plus a slave, replication sync:
 *       `--workers auto` (one worker per core, at most 4) and 1 worker,
 *   (d) a Node.js process that only pipes bytes (the platform's reference point);
 * then (e) the cachectl proxy with a black-holed slave (accepts, never reads) to measure its peak
 * RSS under load. The targets take turns for BENCH_ROUNDS rounds, so a machine that drifts during
 * the run drifts for all of them; each row is the median of its rounds. Every load is bounded in
 * time. Prints throughput, p99, the proxies' CPU per request, and cachectl/twemproxy per round.
 *
 * p99 comes from memaslap's log2 latency histogram (buckets [2^k, 2^(k+1)) us), interpolated
 * linearly inside the bucket: coarse, but the same for every target.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getFreePorts, isPortOpen, waitUntil } from '../src/util/net.js';
import { findBinary, startMemcached, type ManagedProcess } from '../src/runtime/processes.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const THREADS = Number(process.env.BENCH_THREADS ?? 2);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
/** the multi-worker row: `cachectl proxy --workers <BENCH_WORKERS>` (default auto = min(cpus, 4)) */
const WORKERS = process.env.BENCH_WORKERS ?? 'auto';
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));

interface Result {
  name: string;
  tps: number;
  p99us: number;
  avgus: number;
  /** CPU (user + system) the proxy process(es) spent per request, in microseconds */
  cpuUsPerOp?: number;
  peakRssMb?: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function need(bin: string): string {
  const found = findBinary(bin);
  if (!found) {
    process.stderr.write(`bench:proxy needs \`${bin}\` (Debian: apt-get install ${bin === 'nutcracker' ? 'nutcracker' : 'libmemcached-tools'}; or run scripts/setup.sh)\n`);
    process.exit(3);
  }
  return found;
}

function p99FromLog2(text: string): { p99: number; avg: number } {
  const section = text.split('Total Statistics (').pop() ?? '';
  const avg = Number(/Avg:\s+(\d+)/.exec(section)?.[1] ?? NaN);
  const buckets: Array<[number, number]> = [];
  const dist = section.split('Log2 Dist:')[1] ?? '';
  for (const line of dist.split('\n')) {
    const m = /^\s*(\d+):\s+([\d\s]+)$/.exec(line);
    if (!m) {
      if (buckets.length) break;
      continue;
    }
    const base = Number(m[1]);
    m[2].trim().split(/\s+/).forEach((n, i) => buckets.push([base + i, Number(n)]));
  }
  const total = buckets.reduce((s, [, n]) => s + n, 0);
  let seen = 0;
  for (const [exp, n] of buckets) {
    if (seen + n >= 0.99 * total) {
      const lo = 2 ** exp;
      return { p99: Math.round(lo + (lo * (0.99 * total - seen)) / Math.max(1, n)), avg };
    }
    seen += n;
  }
  return { p99: NaN, avg };
}

function memaslap(bin: string, target: string, seconds: number): Promise<{ tps: number; p99: number; avg: number; raw: string }> {
  return new Promise((resolve, reject) => {
    const args = ['-s', target, '-t', `${seconds}s`, '-T', String(THREADS), '-c', String(CONCURRENCY), '-S', `${seconds}s`];
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const kill = setTimeout(() => child.kill('SIGKILL'), (seconds + 20) * 1000);
    child.on('close', () => {
      clearTimeout(kill);
      const tps = Number(/TPS: (\d+)/.exec(out)?.[1] ?? NaN);
      if (!Number.isFinite(tps)) return reject(new Error(`memaslap gave no TPS for ${target}:\n${out.slice(-2000)}`));
      const { p99, avg } = p99FromLog2(out);
      resolve({ tps, p99, avg, raw: out });
    });
  });
}

const ROOT = join(import.meta.dirname, '..');

/**
 * The proxy under test is the built CLI (`node bin/run.js proxy`), exactly what `cachectl up` runs.
 * Build first; type errors elsewhere in the tree do not stop tsc from emitting, so only a missing
 * output is fatal.
 */
function newestMtime(dir: string, ext: string): number {
  if (!existsSync(dir)) return 0;
  return Math.max(0, ...readdirSync(dir).filter((f) => f.endsWith(ext)).map((f) => statSync(join(dir, f)).mtimeMs));
}

function buildCli(): void {
  const sources = Math.max(...['proxy', 'protocol', 'commands', 'config', 'util', 'runtime'].map((d) => newestMtime(join(ROOT, 'src', d), '.ts')));
  const built = Math.min(...['proxy', 'protocol'].map((d) => newestMtime(join(ROOT, 'dist', d), '.js') || 0));
  if (built > sources && existsSync(join(ROOT, 'dist', 'commands', 'proxy.js'))) return; // dist is up to date
  process.stderr.write('building (npm run build) ...\n');
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.build.json')], { stdio: 'ignore' });
  if (!existsSync(join(ROOT, 'dist', 'commands', 'proxy.js'))) {
    process.stderr.write('bench:proxy: the build produced no dist/commands/proxy.js; run `npm run build` and fix what it reports\n');
    process.exit(2);
  }
  if (r.status !== 0) process.stderr.write('warning: tsc reported errors (elsewhere in the tree); using what it emitted\n');
}

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) / 1024;
}

function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) / 1024;
}

const CLOCK_TICKS_PER_SECOND = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

function processTree(pid: number): number[] {
  const kids = spawnSync('ps', ['--ppid', String(pid), '-o', 'pid='], { encoding: 'utf8' }).stdout.split('\n').map(Number).filter((x) => x > 0);
  return [pid, ...kids];
}

/** user + system CPU seconds of a process and its children (a multi-worker proxy's workers) */
function cpuSeconds(pid: number): number {
  let ticks = 0;
  for (const p of processTree(pid)) {
    if (!existsSync(`/proc/${p}/stat`)) continue;
    // fields after the ")" of the command name: utime is the 12th, stime the 13th
    const fields = readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ');
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks / CLOCK_TICKS_PER_SECOND;
}

/** a multi-worker proxy: the primary plus its workers (peak RSS of each, summed) */
async function clusterPeakRssMb(pid: number): Promise<number> {
  return processTree(pid).reduce((sum, p) => sum + (existsSync(`/proc/${p}/status`) ? peakRssMb(p) : 0), 0);
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.pid === undefined) return;
  child.kill('SIGTERM');
  await new Promise<void>((r) => {
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      r();
    }, 3000);
    child.once('exit', () => {
      clearTimeout(t);
      r();
    });
  });
}

async function main(): Promise<void> {
  const memaslapBin = need('memcaslap');
  const nutcracker = need('nutcracker');
  buildCli();
  const dir = mkdtempSync(join(tmpdir(), 'cachectl-bench-'));
  const started: ManagedProcess[] = [];
  const children: ChildProcess[] = [];
  const held: Socket[] = [];
  const hole = createServer((s) => {
    s.pause();
    held.push(s);
  });
  const results: Result[] = [];
  try {
    const [mcPort, slavePort, twemPort, twemStats, proxyPort, proxyAdmin, bhProxyPort, bhAdmin, holePort, pipePort, multiPort, multiAdmin] = await getFreePorts(12);
    const mc = await startMemcached({ port: mcPort, memoryMb: 256, threads: 2 });
    const slave = await startMemcached({ port: slavePort, memoryMb: 256, threads: 2 });
    started.push(mc, slave);

    writeFileSync(
      join(dir, 'twemproxy.yml'),
      `bench:\n  listen: 127.0.0.1:${twemPort}\n  hash: fnv1a_64\n  distribution: ketama\n  timeout: 1000\n  servers:\n   - 127.0.0.1:${mcPort}:1\n`,
    );
    const twem = spawn(nutcracker, ['-c', join(dir, 'twemproxy.yml'), '-s', String(twemStats), '-a', '127.0.0.1', '-o', join(dir, 'twemproxy.log')], { stdio: 'ignore' });
    children.push(twem);

    const proxyArgs = (port: number, admin: number, slaveAddr: string, workers = '1'): string[] => [
      join(ROOT, 'bin', 'run.js'), 'proxy', '--name', 'bench-proxy',
      '--port', String(port), '--admin-port', String(admin), '--master', `127.0.0.1:${mcPort}`, '--slave', slaveAddr, '--replication', 'sync', '--timeout-ms', '500',
      '--workers', workers,
    ];
    const proxy = spawn(process.execPath, proxyArgs(proxyPort, proxyAdmin, `127.0.0.1:${slavePort}`), { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, CACHECTL_ADMIN_TOKEN: 'bench' } });
    children.push(proxy);
    const multi = spawn(process.execPath, proxyArgs(multiPort, multiAdmin, `127.0.0.1:${slavePort}`, WORKERS), { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, CACHECTL_ADMIN_TOKEN: 'bench' } });
    children.push(multi);
    // Reference for the platform's ceiling: a Node.js process that only pipes bytes (no parsing,
    // no routing, no replication, one backend connection per client).
    const pipeCode = `const net=require('net');net.createServer({noDelay:true},c=>{const s=net.connect(${mcPort},'127.0.0.1');s.setNoDelay(true);c.pipe(s);s.pipe(c);c.on('error',()=>s.destroy());s.on('error',()=>c.destroy());c.on('close',()=>s.destroy());}).listen(${pipePort},'127.0.0.1')`;
    const pipe = spawn(process.execPath, ['-e', pipeCode], { stdio: 'ignore' });
    children.push(pipe);
    await waitUntil('twemproxy, node pipe and cachectl proxy listening', async () => (await isPortOpen('127.0.0.1', twemPort)) && (await isPortOpen('127.0.0.1', proxyPort)) && (await isPortOpen('127.0.0.1', pipePort)) && (await isPortOpen('127.0.0.1', multiAdmin)), { timeoutMs: 30_000 });
    const workerCount = ((await (await fetch(`http://127.0.0.1:${multiAdmin}/stats`)).json()) as { workers?: unknown[] }).workers?.length ?? 1;

    const multiName = `cachectl proxy, --workers ${WORKERS} = ${workerCount} (sync replication)`;
    const targets: Array<[string, number, ChildProcess | undefined]> = [
      ['memcached (direct)', mcPort, undefined],
      ['twemproxy', twemPort, twem],
      [multiName, multiPort, multi],
      ['cachectl proxy, 1 worker (sync replication)', proxyPort, proxy],
      ['node raw pipe (reference)', pipePort, pipe],
    ];
    process.stderr.write(`memaslap: ${SECONDS}s per target, ${THREADS} threads, concurrency ${CONCURRENCY}, ASCII, get/set 90/10; ${ROUNDS} rounds, targets taking turns\n`);
    const runs = new Map<string, Array<{ tps: number; p99: number; avg: number; cpuUsPerOp?: number }>>();
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [name, port, child] of targets) {
        await exchangeFlush(port);
        const cpu0 = child?.pid ? cpuSeconds(child.pid) : 0;
        const r = await memaslap(memaslapBin, `127.0.0.1:${port}`, SECONDS);
        const cpuUsPerOp = child?.pid ? ((cpuSeconds(child.pid) - cpu0) * 1e6) / (r.tps * SECONDS) : undefined;
        runs.set(name, [...(runs.get(name) ?? []), { tps: r.tps, p99: r.p99, avg: r.avg, cpuUsPerOp }]);
        process.stderr.write(`  round ${round}/${ROUNDS} ${name}: ${r.tps} ops/s${cpuUsPerOp === undefined ? '' : `, ${cpuUsPerOp.toFixed(1)} us CPU per request`}\n`);
      }
    }
    for (const [name, , child] of targets) {
      const rs = runs.get(name)!;
      const cpus = rs.map((x) => x.cpuUsPerOp).filter((x): x is number => x !== undefined);
      const rss = child?.pid ? (child === multi ? await clusterPeakRssMb(child.pid) : peakRssMb(child.pid)) : undefined;
      results.push({
        name,
        tps: Math.round(median(rs.map((x) => x.tps))),
        p99us: Math.round(median(rs.map((x) => x.p99))),
        avgus: Math.round(median(rs.map((x) => x.avg))),
        ...(cpus.length ? { cpuUsPerOp: median(cpus) } : {}),
        ...(rss !== undefined ? { peakRssMb: rss } : {}),
      });
    }

    // black-holed slave: the proxy must keep answering and its memory must stay bounded
    await new Promise<void>((r) => hole.listen(holePort, '127.0.0.1', () => r()));
    const bh = spawn(process.execPath, proxyArgs(bhProxyPort, bhAdmin, `127.0.0.1:${holePort}`), { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, CACHECTL_ADMIN_TOKEN: 'bench' } });
    children.push(bh);
    await waitUntil('cachectl proxy (black-holed slave) listening', () => isPortOpen('127.0.0.1', bhProxyPort), { timeoutMs: 15_000 });
    const samples: number[] = [];
    const sampler = setInterval(() => samples.push(rssMb(bh.pid!)), 1000);
    const r = await memaslap(memaslapBin, `127.0.0.1:${bhProxyPort}`, SECONDS).finally(() => clearInterval(sampler));
    const stats = (await (await fetch(`http://127.0.0.1:${bhAdmin}/stats`)).json()) as { replication: { failures: number; pendingInvalidations: number } };
    results.push({ name: 'cachectl proxy, black-holed slave', tps: r.tps, p99us: r.p99, avgus: r.avg, peakRssMb: peakRssMb(bh.pid!) });

    const rows = results.map((x) => [x.name, String(x.tps), String(x.p99us), String(x.avgus), x.cpuUsPerOp === undefined ? '-' : x.cpuUsPerOp.toFixed(1), x.peakRssMb === undefined ? '-' : x.peakRssMb.toFixed(1)]);
    const head = ['target', 'ops/s', 'p99 us', 'avg us', 'CPU us/req', 'peak RSS MB'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
    const fmt = (row: string[]): string => row.map((c, i) => c.padEnd(widths[i])).join('  ');
    console.log(fmt(head));
    for (const row of rows) console.log(fmt(row));
    // a ratio pairs two targets measured back to back in the same round: the median of those
    // pairs is steadier than a ratio of two medians taken from different rounds
    const roundRatios = (name: string, peer: string): number[] => runs.get(name)!.map((r, i) => r.tps / runs.get(peer)![i].tps);
    const summary = (name: string, peer: string): string => {
      const rs = roundRatios(name, peer);
      return `${median(rs).toFixed(2)}  (median of ${rs.length} rounds: ${rs.map((x) => x.toFixed(2)).join(' ')})`;
    };
    const one = 'cachectl proxy, 1 worker (sync replication)';
    console.log(`\nratio cachectl/twemproxy (throughput, --workers ${WORKERS} = ${workerCount}): ${summary(multiName, 'twemproxy')}  target >= 1.0; cachectl also writes every set to the slave, twemproxy does not`);
    console.log(`ratio cachectl 1 worker/twemproxy (throughput): ${summary(one, 'twemproxy')}  twemproxy is one C process, a 1-worker cachectl one Node.js event loop`);
    console.log(`ratio cachectl 1 worker/node-raw-pipe (throughput): ${summary(one, 'node raw pipe (reference)')}  the pipe opens a backend connection per client; the proxy multiplexes`);
    console.log(`black-holed slave: ${stats.replication.failures} replication failures, ${stats.replication.pendingInvalidations} pending invalidations, peak RSS ${results[results.length - 1].peakRssMb?.toFixed(1)} MB`);
    console.log(`black-holed slave RSS per second under load (MB): ${samples.map((x) => x.toFixed(0)).join(' ')}`);
  } finally {
    for (const s of held) s.destroy();
    hole.close();
    for (const c of children) await stopChild(c);
    await Promise.all(started.map((p) => p.stop(2000)));
    rmSync(dir, { recursive: true, force: true });
  }
}

async function exchangeFlush(port: number): Promise<void> {
  const { asciiRequest } = await import('../src/util/net.js');
  await asciiRequest('127.0.0.1', port, 'flush_all\r\n', { timeoutMs: 2000 }).catch(() => undefined);
}

await main();
