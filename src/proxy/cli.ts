import { availableParallelism } from 'node:os';
import { CachectlError, usageError } from '../errors.js';
import { FAILOVER_MODES, MITIGATIONS, READ_POLICIES, REPLICATION_MODES, proxySchema } from '../config/schema.js';
import type { ProxyNodeAddr, ProxyRuntimeConfig, ProxyShard } from './config.js';
import { runProxy, type ProxyOptions } from './server.js';

/** The flags of `cachectl proxy`, already parsed by oclif (strings and numbers). */
export interface ProxyCommandFlags {
  name?: string;
  host: string;
  port: number;
  'admin-host': string;
  'admin-port': number;
  master?: string;
  slave?: string;
  shard?: string[];
  'read-policy'?: string;
  mitigation?: string;
  replication?: string;
  failover?: string;
  'failover-threshold'?: number;
  'timeout-ms'?: number;
  'down-after'?: number;
  'probe-interval-ms'?: number;
  epoch?: number;
  'pending-log'?: string;
  'max-item-size'?: string;
  /** worker processes: an integer >= 1 or "auto" (min(cpus, 4)) */
  workers?: string;
}

export interface ProxyRunResult {
  name: string;
  port: number;
  adminPort: number;
  workers: number;
  stopped: true;
}

export function parseAddr(text: string, what: string): ProxyNodeAddr {
  const m = /^(\[[^\]]+\]|[^:\s]+):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) {
    throw usageError(`${what} must be host:port, got "${text}"`, `e.g. ${what.replace(/^--/, '--')} 127.0.0.1:11311`);
  }
  return { host: m[1].replace(/^\[|\]$/g, ''), port };
}

/** --shard name=masterHost:port/slaveHost:port (slave may be "none") */
export function parseShard(text: string): ProxyShard {
  const m = /^([^=\s]+)=([^/\s]+)(?:\/(\S+))?$/.exec(text.trim());
  if (!m) throw usageError(`--shard must be name=masterHost:port/slaveHost:port, got "${text}"`, 'e.g. --shard s0=127.0.0.1:11311/127.0.0.1:11312');
  return { name: m[1], master: parseAddr(m[2], '--shard master'), slave: !m[3] || m[3] === 'none' ? null : parseAddr(m[3], '--shard slave') };
}

function oneOf<T extends readonly string[]>(value: string | undefined, allowed: T, flag: string, fallback: T[number]): T[number] {
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value)) throw usageError(`${flag} must be one of ${allowed.join(', ')}, got "${value}"`);
  return value as T[number];
}

export function parseSize(text: string): number {
  const m = /^(\d+)([kKmM]?)$/.exec(text);
  if (!m) throw usageError(`--max-item-size must be a size like 1m or 512k, got "${text}"`);
  const mult = m[2].toLowerCase() === 'm' ? 1024 * 1024 : m[2].toLowerCase() === 'k' ? 1024 : 1;
  return Number(m[1]) * mult;
}

/** --workers: "auto" = one per core, at most 4 (more only adds IPC and backend connections) */
export function parseWorkers(text: string | undefined, cpus = availableParallelism()): number {
  if (text === undefined) return 1;
  if (text === 'auto') return Math.max(1, Math.min(cpus, 4));
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 64) {
    throw usageError(`--workers must be an integer from 1 to 64 or "auto", got "${text}"`, 'e.g. --workers 2 (or auto: one per core, at most 4)');
  }
  return Number(text);
}

export function proxyOptionsFromFlags(flags: ProxyCommandFlags, env: NodeJS.ProcessEnv = process.env): ProxyOptions {
  const d = proxySchema.parse({});
  let shards: ProxyShard[];
  if (flags.shard && flags.shard.length > 0) {
    if (flags.master || flags.slave) throw usageError('give either --master/--slave or --shard, not both');
    shards = flags.shard.map(parseShard);
    if (new Set(shards.map((s) => s.name)).size !== shards.length) throw usageError('--shard names must be unique');
  } else {
    if (!flags.master) throw usageError('missing --master', 'e.g. cachectl proxy --master 127.0.0.1:11311 --slave 127.0.0.1:11312');
    shards = [{ name: 'shard-0', master: parseAddr(flags.master, '--master'), slave: flags.slave && flags.slave !== 'none' ? parseAddr(flags.slave, '--slave') : null }];
  }
  const positive = (v: number | undefined, flag: string, fallback: number, min = 1): number => {
    if (v === undefined) return fallback;
    if (!Number.isInteger(v) || v < min) throw usageError(`${flag} must be an integer >= ${min}, got ${v}`);
    return v;
  };
  const config: ProxyRuntimeConfig = {
    epoch: positive(flags.epoch, '--epoch', 1, 0),
    shards,
    readPolicy: oneOf(flags['read-policy'], READ_POLICIES, '--read-policy', d.readPolicy),
    mitigation: oneOf(flags.mitigation, MITIGATIONS, '--mitigation', d.mitigation),
    replication: oneOf(flags.replication, REPLICATION_MODES, '--replication', d.replication),
    failover: oneOf(flags.failover, FAILOVER_MODES, '--failover', d.failover),
    failoverThreshold: positive(flags['failover-threshold'], '--failover-threshold', d.failoverThreshold),
    timeoutMs: positive(flags['timeout-ms'], '--timeout-ms', d.timeoutMs),
    downAfterFailures: positive(flags['down-after'], '--down-after', d.downAfterFailures),
    probeIntervalMs: positive(flags['probe-interval-ms'], '--probe-interval-ms', d.probeIntervalMs, 10),
    writesFenced: false,
  };
  const token = env.CACHECTL_ADMIN_TOKEN ?? '';
  return {
    name: flags.name ?? 'proxy-0',
    host: flags.host,
    port: flags.port,
    adminHost: flags['admin-host'],
    adminPort: flags['admin-port'],
    adminToken: token,
    config,
    pendingLogFile: flags['pending-log'],
    maxValueLength: flags['max-item-size'] ? parseSize(flags['max-item-size']) : 1024 * 1024,
    workers: parseWorkers(flags.workers),
  };
}

/** `cachectl proxy`: parse, run in the foreground until SIGTERM/SIGINT, report. */
export async function runProxyCommand(
  flags: ProxyCommandFlags,
  log: (line: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ProxyRunResult> {
  const options = proxyOptionsFromFlags(flags, env);
  if (!options.adminToken) log('warning: CACHECTL_ADMIN_TOKEN is empty: PUT /config will refuse every request');
  try {
    const r = await runProxy(
      options,
      (p) => {
        const s = options.config.shards.map((sh) => `${sh.name}: master ${sh.master.host}:${sh.master.port}, slave ${sh.slave ? `${sh.slave.host}:${sh.slave.port}` : 'none'}`);
        const w = p.workers > 1 ? `${p.workers} workers; ` : '';
        log(`${options.name} listening on ${options.host}:${p.port}, admin http://${options.adminHost}:${p.adminPort} (${w}epoch ${options.config.epoch}; ${s.join('; ')})`);
      },
      log,
    );
    return { ...r, stopped: true };
  } catch (err) {
    if (err instanceof CachectlError) throw err;
    throw new CachectlError('INTERNAL', `proxy failed: ${(err as Error).message}`, { cause: err });
  }
}
