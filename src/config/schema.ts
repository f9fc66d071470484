import { z } from 'zod';

/**
 * The cachectl configuration: cachectl.yaml, overridden by CACHECTL_* environment variables,
 * overridden by flags. Every field has a documented default so `cachectl up` works with none.
 */

const port = z.number().int().min(1).max(65535);
/** A port, or 0 meaning "pick a free one at `up` time" (tests use this so clusters can coexist). */
const portOrFree = z.number().int().min(0).max(65535);

export const RUNTIMES = ['local', 'docker', 'auto'] as const;
export const READ_POLICIES = ['master', 'slave', 'balanced'] as const;
export const MITIGATIONS = ['none', 'proxy-delete', 'client-short-ttl'] as const;
export const REPLICATION_MODES = ['sync', 'async'] as const;
export const FAILOVER_MODES = ['manual', 'auto'] as const;
export const DOCKER_NETWORKS = ['bridge', 'host'] as const;

/** Fixed default ports, documented in the README. */
export const DEFAULT_PORTS = {
  master: 11311,
  slave: 11312,
  toxiproxyApi: 8474,
  toxiMaster: 21311,
  toxiSlave: 21312,
  proxy: 21211,
  admin: 21280,
} as const;

export const portsSchema = z
  .object({
    /** memcached master listen port */
    master: portOrFree.default(DEFAULT_PORTS.master),
    /** memcached slave listen port */
    slave: portOrFree.default(DEFAULT_PORTS.slave),
    /** Toxiproxy HTTP API */
    toxiproxyApi: portOrFree.default(DEFAULT_PORTS.toxiproxyApi),
    /** Toxiproxy listener in front of the master */
    toxiMaster: portOrFree.default(DEFAULT_PORTS.toxiMaster),
    /** Toxiproxy listener in front of the slave */
    toxiSlave: portOrFree.default(DEFAULT_PORTS.toxiSlave),
    /** first cachectl proxy client port (instance i listens on proxy + i) */
    proxy: portOrFree.default(DEFAULT_PORTS.proxy),
    /** first cachectl proxy admin HTTP port (instance i on admin + i) */
    admin: portOrFree.default(DEFAULT_PORTS.admin),
  })
  .strict()
  .default({});

export const memcachedSchema = z
  .object({
    /** memory limit per node, MiB (memcached -m) */
    memoryMb: z.number().int().min(8).max(65536).default(64),
    /** item size limit (memcached -I), e.g. "1m", "512k" */
    maxItemSize: z
      .string()
      .regex(/^\d+[kKmM]?$/, 'a size like "1m" or "512k"')
      .default('1m'),
    /** worker threads per node (memcached -t) */
    threads: z.number().int().min(1).max(64).default(2),
    /** max simultaneous connections (memcached -c) */
    maxConnections: z.number().int().min(16).max(1_000_000).default(4096),
  })
  .strict()
  .default({});

export const proxySchema = z
  .object({
    /** how many cachectl proxy instances `up` starts (two for split-brain scenarios) */
    instances: z.number().int().min(0).max(16).default(1),
    readPolicy: z.enum(READ_POLICIES).default('master'),
    mitigation: z.enum(MITIGATIONS).default('none'),
    replication: z.enum(REPLICATION_MODES).default('sync'),
    failover: z.enum(FAILOVER_MODES).default('manual'),
    /** auto failover: consecutive master failures before this proxy promotes the slave */
    failoverThreshold: z.number().int().min(1).max(1000).default(3),
    /** per backend request timeout */
    timeoutMs: z.number().int().min(1).max(600_000).default(500),
    /** consecutive failures before a node is marked down */
    downAfterFailures: z.number().int().min(1).max(1000).default(3),
    /** how often a down node is probed */
    probeIntervalMs: z.number().int().min(10).max(600_000).default(250),
    /** token for mutating admin calls; generated at `up` when empty */
    adminToken: z.string().default(''),
    /** admin HTTP bind address: loopback by default */
    adminHost: z.string().default('127.0.0.1'),
    /** client listen address */
    host: z.string().default('127.0.0.1'),
    /** worker processes per proxy instance sharing its port (`cachectl proxy --workers`); auto = one per core, at most 4 */
    workers: z
      .union([z.number().int().min(1).max(64), z.literal('auto'), z.string().regex(/^\d+$/).transform(Number).pipe(z.number().int().min(1).max(64))])
      .default(1),
  })
  .strict()
  .default({});

export const dockerSchema = z
  .object({
    /** Docker Engine socket (or DOCKER_HOST) */
    socketPath: z.string().default('/var/run/docker.sock'),
    network: z.enum(DOCKER_NETWORKS).default('bridge'),
    memcachedImage: z.string().min(1).default('memcached:1.6.38-alpine'),
    toxiproxyImage: z.string().min(1).default('ghcr.io/shopify/toxiproxy:2.12.0'),
    proxyImage: z.string().min(1).default('cachectl-proxy:0.1.0'),
  })
  .strict()
  .default({});

/** "1m" -> 1048576, "512k" -> 524288, "2048" -> 2048 (memcached -I syntax). */
export function sizeToBytes(size: string): number {
  const m = /^(\d+)([kKmM]?)$/.exec(size);
  if (!m) return NaN;
  const unit = m[2].toLowerCase();
  return Number(m[1]) * (unit === 'k' ? 1024 : unit === 'm' ? 1024 * 1024 : 1);
}

export const configSchema = z
  .object({
    runtime: z.enum(RUNTIMES).default('local'),
    /** where `up` records what it started (relative to the working directory) */
    stateDir: z.string().min(1).default('.cachectl'),
    /** cluster name: several clusters can run side by side with different names and ports */
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,40}$/, 'lowercase letters, digits and dashes, at most 41 characters')
      .default('default'),
    /** number of master/slave shards */
    shards: z.number().int().min(1).max(16).default(1),
    /** short TTL the client-short-ttl mitigation writes to the slave (seconds) */
    shortTtlSeconds: z.number().int().min(1).max(30 * 24 * 3600).default(300),
    ports: portsSchema,
    memcached: memcachedSchema,
    proxy: proxySchema,
    docker: dockerSchema,
  })
  .strict()
  // memcached refuses to start otherwise; say so before anything starts, naming the field.
  .superRefine((c, ctx) => {
    const bytes = sizeToBytes(c.memcached.maxItemSize);
    if (!Number.isFinite(bytes)) return;
    const path = ['memcached', 'maxItemSize'];
    if (bytes < 1024) ctx.addIssue({ code: z.ZodIssueCode.custom, path, message: 'memcached needs at least 1k (1024 bytes)' });
    else if (bytes > 1024 * 1024 * 1024) ctx.addIssue({ code: z.ZodIssueCode.custom, path, message: 'memcached allows at most 1024m' });
    else if (bytes > (c.memcached.memoryMb * 1024 * 1024) / 2) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path, message: `memcached allows at most half of memcached.memoryMb (${c.memcached.memoryMb} MiB): raise memoryMb or lower the item size` });
    }
  });

export type CachectlConfig = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export type Runtime = CachectlConfig['runtime'];
export type ReadPolicy = CachectlConfig['proxy']['readPolicy'];
export type Mitigation = CachectlConfig['proxy']['mitigation'];
