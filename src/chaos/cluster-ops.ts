import { CachectlError } from '../errors.js';
import type { ProxyNodeAddr } from '../proxy/config.js';
import type { Endpoint } from '../runtime/types.js';
import { asciiRequest } from '../util/net.js';
import type { NodeOps, SwitchProbe } from './switch.js';

/**
 * Small real operations on memcached-speaking endpoints (memcached nodes, Toxiproxy links,
 * cachectl proxies) over the ASCII protocol: flush a node, probe CAS through a proxy.
 */

const REPLY_END = /(STORED|NOT_STORED|EXISTS|NOT_FOUND|OK|END|DELETED|ERROR[^\r\n]*|SERVER_ERROR[^\r\n]*|CLIENT_ERROR[^\r\n]*)\r\n$/;

export async function flushNode(addr: ProxyNodeAddr | Endpoint, timeoutMs = 1000): Promise<void> {
  const reply = await asciiRequest(addr.host, addr.port, 'flush_all\r\n', { terminator: REPLY_END, timeoutMs });
  if (!reply.startsWith('OK')) throw new CachectlError('DEPENDENCY_FAILED', `flush_all on ${addr.host}:${addr.port} answered ${reply.trim()}`);
}

export const asciiNodeOps: NodeOps = { flush: (addr) => flushNode(addr) };

async function get(ep: Endpoint, key: string, withCas: boolean, timeoutMs: number): Promise<{ value: string; cas?: string } | null> {
  const reply = await asciiRequest(ep.host, ep.port, `${withCas ? 'gets' : 'get'} ${key}\r\n`, { terminator: /(END|ERROR[^\r\n]*)\r\n$/, timeoutMs });
  const m = /^VALUE \S+ \d+ (\d+)(?: (\d+))?\r\n/.exec(reply);
  if (!m) {
    if (reply.startsWith('END')) return null;
    throw new CachectlError('DEPENDENCY_FAILED', `unexpected reply to get ${key}: ${reply.trim().slice(0, 120)}`);
  }
  const start = m[0].length;
  return { value: reply.slice(start, start + Number(m[1])), cas: m[2] };
}

/** CAS probe through the cluster's proxies (client endpoints, in instance order). */
export function asciiSwitchProbe(proxies: Endpoint[], timeoutMs = 2000): SwitchProbe {
  return {
    async casRoundTrip(i, key) {
      const ep = proxies[i];
      const first = `v1-${Date.now()}`;
      const set = await asciiRequest(ep.host, ep.port, `set ${key} 0 60 ${first.length}\r\n${first}\r\n`, { terminator: REPLY_END, timeoutMs });
      if (!set.startsWith('STORED')) return { ok: false, value: first, message: `set through proxy-${i} answered ${set.trim()}` };
      const got = await get(ep, key, true, timeoutMs);
      if (!got?.cas) return { ok: false, value: first, message: `gets through proxy-${i} returned no CAS token` };
      const second = `v2-${Date.now()}`;
      const cas = await asciiRequest(ep.host, ep.port, `cas ${key} 0 60 ${second.length} ${got.cas}\r\n${second}\r\n`, { terminator: REPLY_END, timeoutMs });
      const stale = await asciiRequest(ep.host, ep.port, `cas ${key} 0 60 ${first.length} ${got.cas}\r\n${first}\r\n`, { terminator: REPLY_END, timeoutMs });
      const ok = cas.startsWith('STORED') && stale.startsWith('EXISTS');
      return {
        ok,
        value: second,
        message: ok
          ? `CAS works on the new master through proxy-${i} (cas STORED, reused token EXISTS)`
          : `CAS through proxy-${i}: cas answered ${cas.trim()}, reused token answered ${stale.trim()}`,
      };
    },
    async read(i, key) {
      return (await get(proxies[i], key, false, timeoutMs))?.value ?? null;
    },
  };
}
