/** Counters the admin API serves at /stats (JSON) and /metrics (Prometheus text). */

export interface Counters {
  requests: number;
  errors: number;
  timeouts: number;
  hits: number;
  misses: number;
}

function counters(): Counters {
  return { requests: 0, errors: 0, timeouts: 0, hits: 0, misses: 0 };
}

export interface NodeStatsView extends Counters {
  node: string;
  role: 'master' | 'slave' | 'detached';
  shard: string;
  up: boolean;
  consecutiveFailures: number;
  inFlight: number;
}

export interface ProxyStatsView {
  name: string;
  epoch: number;
  uptimeSeconds: number;
  connections: { current: number; total: number };
  commands: Record<string, Counters>;
  nodes: NodeStatsView[];
  replication: {
    replicated: number;
    failures: number;
    pendingInvalidations: number;
    /** multi-worker proxy, per worker: keys other workers owe (this worker reads them from the master) */
    owedByOtherWorkers?: number;
    invalidationsLanded: number;
    proxyDeletes: number;
  };
  masterFailures: number;
  failovers: number;
  writesRefusedFenced: number;
  memory: { rssBytes: number; heapUsedBytes: number; externalBytes: number; arrayBuffersBytes: number };
  /** multi-worker proxy only: each worker process (counters above are their sum) */
  workers?: { index: number; pid: number | null; up: boolean; epoch: number; restarts: number; connections: { current: number; total: number }; owedByOthers: number }[];
}

export class ProxyStats {
  readonly commands = new Map<string, Counters>();
  readonly nodes = new Map<string, Counters>();
  connectionsCurrent = 0;
  connectionsTotal = 0;
  replicated = 0;
  replicationFailures = 0;
  invalidationsLanded = 0;
  proxyDeletes = 0;
  masterFailures = 0;
  failovers = 0;
  writesRefusedFenced = 0;
  readonly startedAt = Date.now();

  command(name: string): Counters {
    let c = this.commands.get(name);
    if (!c) this.commands.set(name, (c = counters()));
    return c;
  }

  node(name: string): Counters {
    let c = this.nodes.get(name);
    if (!c) this.nodes.set(name, (c = counters()));
    return c;
  }
}

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Prometheus text exposition format 0.0.4. */
export function renderPrometheus(v: ProxyStatsView): string {
  const out: string[] = [];
  const proxy = `proxy="${esc(v.name)}"`;
  const metric = (name: string, type: string, help: string, rows: [string, number][]): void => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of rows) out.push(`${name}{${[proxy, labels].filter(Boolean).join(',')}} ${value}`);
  };
  metric('cachectl_proxy_epoch', 'gauge', 'Current config epoch.', [['', v.epoch]]);
  metric('cachectl_proxy_uptime_seconds', 'gauge', 'Seconds since start.', [['', v.uptimeSeconds]]);
  metric('cachectl_proxy_connections', 'gauge', 'Open client connections.', [['', v.connections.current]]);
  metric('cachectl_proxy_connections_total', 'counter', 'Client connections accepted.', [['', v.connections.total]]);
  for (const field of ['requests', 'errors', 'timeouts', 'hits', 'misses'] as const) {
    metric(`cachectl_proxy_command_${field}_total`, 'counter', `Client commands: ${field}.`, Object.entries(v.commands).map(([cmd, c]) => [`command="${esc(cmd)}"`, c[field]]));
    metric(`cachectl_proxy_node_${field}_total`, 'counter', `Backend requests: ${field}.`, v.nodes.map((n) => [`node="${esc(n.node)}",role="${n.role}",shard="${esc(n.shard)}"`, n[field]]));
  }
  metric('cachectl_proxy_node_up', 'gauge', '1 when the node is considered up.', v.nodes.map((n) => [`node="${esc(n.node)}",role="${n.role}",shard="${esc(n.shard)}"`, n.up ? 1 : 0]));
  metric('cachectl_proxy_replicated_total', 'counter', 'Mutations copied to the slave.', [['', v.replication.replicated]]);
  metric('cachectl_proxy_replication_failures_total', 'counter', 'Slave copies that failed (each becomes a pending invalidation).', [['', v.replication.failures]]);
  metric('cachectl_proxy_pending_invalidations', 'gauge', 'Slave invalidations still owed (durable log).', [['', v.replication.pendingInvalidations]]);
  metric('cachectl_proxy_invalidations_landed_total', 'counter', 'Owed invalidations that reached the slave.', [['', v.replication.invalidationsLanded]]);
  metric('cachectl_proxy_proxy_deletes_total', 'counter', 'proxy-delete mitigation deletes issued.', [['', v.replication.proxyDeletes]]);
  metric('cachectl_proxy_master_failures_total', 'counter', 'Client requests failed because the master failed.', [['', v.masterFailures]]);
  metric('cachectl_proxy_failovers_total', 'counter', 'Automatic promotions done by this proxy.', [['', v.failovers]]);
  metric('cachectl_proxy_resident_memory_bytes', 'gauge', 'Resident set size of the proxy process.', [['', v.memory.rssBytes]]);
  metric('cachectl_proxy_heap_used_bytes', 'gauge', 'V8 heap in use.', [['', v.memory.heapUsedBytes]]);
  metric('cachectl_proxy_writes_refused_fenced_total', 'counter', 'Mutations refused while writes were fenced.', [['', v.writesRefusedFenced]]);
  return `${out.join('\n')}\n`;
}
