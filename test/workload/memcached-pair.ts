import type { TestServers } from '../helpers/servers.js';

export interface HostPort {
  host: string;
  port: number;
}

/** A real memcached master and slave on free ports, as plain addresses (what the workload and scans take). */
export async function startMasterAndSlave(servers: TestServers): Promise<{ master: HostPort; slave: HostPort }> {
  const [m, s] = await Promise.all([servers.memcached(), servers.memcached()]);
  return { master: { host: m.host, port: m.port }, slave: { host: s.host, port: s.port } };
}
