import type { CachectlConfig } from '../config/schema.js';

/**
 * The Runtime interface: what `local` (child processes) and `docker` (containers) both provide.
 * Both take the same topology and report the same endpoints, so chaos scenarios run unchanged.
 */

export interface Endpoint {
  host: string;
  port: number;
}

export type ComponentKind = 'memcached' | 'toxiproxy' | 'proxy';
export type NodeRole = 'master' | 'slave';
export type RuntimeName = 'local' | 'docker';

/** One started part of the cluster. Names are stable: "master", "slave", "toxiproxy", "proxy-0"
 *  (with shards: "shard-1-master", "shard-1-slave", ...). */
export interface ComponentState {
  name: string;
  kind: ComponentKind;
  /** memcached nodes only: the role at `up` time (a manual switch changes roles in the proxies) */
  role?: NodeRole;
  shard?: number;
  /** where clients (or Toxiproxy, for memcached) reach it */
  endpoint: Endpoint;
  /** proxy admin HTTP endpoint */
  adminEndpoint?: Endpoint;
  /** local runtime */
  pid?: number;
  logFile?: string;
  /** docker runtime */
  containerId?: string;
  containerName?: string;
  startedAt: string;
}

/** A Toxiproxy proxy in front of one memcached node ("master", "slave", "shard-1-master"...). */
export interface ToxiproxyLink {
  name: string;
  /** the memcached component it fronts */
  node: string;
  listen: Endpoint;
  upstream: Endpoint;
}

export interface ClusterState {
  version: 1;
  name: string;
  runtime: RuntimeName;
  createdAt: string;
  /** the fully resolved config, with free ports already picked */
  config: CachectlConfig;
  components: ComponentState[];
  toxiproxy: { api: Endpoint; links: ToxiproxyLink[] };
  /** admin token guarding mutating proxy admin calls */
  adminToken: string;
  /** docker runtime bookkeeping (network id, label) */
  docker?: {
    networkId?: string;
    networkName?: string;
    label: string;
    /** the engine the containers live on (unix:///... or tcp://...), so later commands use the same one */
    engine?: string;
  };
}

export interface ComponentStatus {
  name: string;
  kind: ComponentKind;
  role?: NodeRole;
  shard?: number;
  address: string;
  pid?: number;
  containerId?: string;
  healthy: boolean;
  error?: string;
  /** memcached: from `version` and `stats` */
  version?: string;
  uptimeSeconds?: number;
  items?: number;
  hitRatio?: number | null;
  /** toxiproxy: per link */
  links?: Array<{ name: string; enabled: boolean; toxics: string[]; listen: string; upstream: string }>;
  /** proxy: from its admin API */
  epoch?: number;
}

export interface UpOptions {
  signal?: AbortSignal;
  /** progress lines for stderr */
  onProgress?: (line: string) => void;
}

export interface Runtime {
  readonly name: RuntimeName;
  /** Start everything the config describes and wait until each part is healthy. */
  up(config: CachectlConfig, options?: UpOptions): Promise<ClusterState>;
  /** Stop exactly what the state names. Safe to call twice. */
  down(state: ClusterState): Promise<void>;
  /** Is the component's process/container alive (network health is checked by the caller)? */
  isRunning(state: ClusterState, name: string): Promise<boolean>;
  /** Graceful stop of one component (SIGTERM / docker stop). */
  stopNode(state: ClusterState, name: string): Promise<ClusterState>;
  /** Hard kill of one component (SIGKILL / docker kill). */
  killNode(state: ClusterState, name: string): Promise<ClusterState>;
  /** Start a stopped or killed component again (memcached comes back empty). */
  startNode(state: ClusterState, name: string): Promise<ClusterState>;
  /**
   * Start one more master/slave pair on a running cluster (shard index = highest + 1, both nodes
   * empty) with a Toxiproxy link in front of each node; records it in the state file. Proxies are
   * not touched: `cachectl scale add` moves them to the new shard map through their admin API.
   * Optional: a runtime without it makes `cachectl scale` fail with UNSUPPORTED (exit 2).
   */
  addShard?(state: ClusterState, options?: UpOptions): Promise<{ state: ClusterState; shard: number }>;
  /** Remove a pair's Toxiproxy links and stop its two nodes (after the proxies have moved off it). */
  removeShard?(state: ClusterState, shard: number, options?: UpOptions): Promise<ClusterState>;
}
