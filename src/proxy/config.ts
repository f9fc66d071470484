import type { FAILOVER_MODES, MITIGATIONS, READ_POLICIES, REPLICATION_MODES } from '../config/schema.js';

/**
 * The live configuration of one cachectl proxy: what the admin API serves at GET /config and
 * accepts at PUT /config (with a strictly greater epoch). Shared by the proxy, `cachectl switch`
 * (moves roles) and `cachectl scale` (changes the shard map).
 */
export interface ProxyNodeAddr {
  host: string;
  port: number;
}

/** One master/slave pair. `slave: null` = no replica (e.g. an old master kept detached after a switch). */
export interface ProxyShard {
  name: string;
  master: ProxyNodeAddr;
  slave: ProxyNodeAddr | null;
}

export interface ProxyRuntimeConfig {
  /** monotonically increasing; a PUT with epoch <= current is refused */
  epoch: number;
  /** one entry for a plain master/slave pair; keys are routed to shards by consistent hashing */
  shards: ProxyShard[];
  readPolicy: (typeof READ_POLICIES)[number];
  mitigation: (typeof MITIGATIONS)[number];
  replication: (typeof REPLICATION_MODES)[number];
  failover: (typeof FAILOVER_MODES)[number];
  failoverThreshold: number;
  timeoutMs: number;
  downAfterFailures: number;
  probeIntervalMs: number;
  /** while true every mutation is refused with a server error (manual switch: fence writes) */
  writesFenced: boolean;
}

/** Body of PUT /config: the new epoch plus the fields to change. */
export type ProxyConfigUpdate = { epoch: number } & Partial<Omit<ProxyRuntimeConfig, 'epoch'>>;
