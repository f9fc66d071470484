import { CachectlError } from '../errors.js';
import type { ProxyConfigUpdate, ProxyNodeAddr, ProxyRuntimeConfig } from '../proxy/config.js';

/**
 * The proxy admin API behind an interface (switch orchestration and scenarios use it; unit tests
 * swap in an in-memory fake). Contract: src/proxy/config.ts.
 */
export interface ProxyAdmin {
  /** "proxy-0" */
  readonly name: string;
  /** "127.0.0.1:21280" */
  readonly address: string;
  getConfig(): Promise<ProxyRuntimeConfig>;
  /** PUT /config; throws StaleEpochError on 409 */
  putConfig(update: ProxyConfigUpdate): Promise<ProxyRuntimeConfig>;
  stats(): Promise<unknown>;
}

export class StaleEpochError extends CachectlError {
  constructor(
    readonly proxy: string,
    readonly sentEpoch: number,
    body: string,
  ) {
    super('STATE_CONFLICT', `${proxy} refused epoch ${sentEpoch} as stale: ${body.slice(0, 200)}`, {
      hint: 'another operator or an auto failover changed the config; read it again and retry',
      details: { proxy, sentEpoch },
    });
  }
}

export function addrText(a: ProxyNodeAddr | null | undefined): string | null {
  if (!a) return null;
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

export function sameAddr(a: ProxyNodeAddr | null | undefined, b: ProxyNodeAddr | null | undefined): boolean {
  if (!a || !b) return !a && !b;
  return a.port === b.port && normaliseHost(a.host) === normaliseHost(b.host);
}

function normaliseHost(h: string): string {
  return h === 'localhost' ? '127.0.0.1' : h;
}

function unwrapConfig(body: unknown): ProxyRuntimeConfig {
  const b = body as Record<string, unknown>;
  const cfg = (b && typeof b === 'object' && 'config' in b && typeof b.config === 'object' ? b.config : b) as ProxyRuntimeConfig;
  if (!cfg || typeof cfg.epoch !== 'number' || !Array.isArray(cfg.shards)) {
    throw new CachectlError('DEPENDENCY_FAILED', `the proxy admin API answered an unexpected config: ${JSON.stringify(body).slice(0, 200)}`);
  }
  return cfg;
}

export class HttpProxyAdmin implements ProxyAdmin {
  readonly address: string;

  constructor(
    readonly name: string,
    endpoint: { host: string; port: number },
    private readonly token: string,
    private readonly timeoutMs = 2000,
  ) {
    this.address = endpoint.host.includes(':') ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`;
  }

  private async call(method: 'GET' | 'PUT', path: string, body?: unknown): Promise<{ status: number; text: string }> {
    let res: Response;
    try {
      res = await fetch(`http://${this.address}${path}`, {
        method,
        signal: AbortSignal.timeout(this.timeoutMs),
        headers: {
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(method !== 'GET' ? { authorization: `Bearer ${this.token}` } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (err) {
      throw new CachectlError('DEPENDENCY_UNREACHABLE', `${this.name} admin API at http://${this.address}${path} did not answer: ${(err as Error).message}`, {
        hint: 'is the proxy running? see `cachectl status`',
        details: { proxy: this.name, address: this.address },
        cause: err,
      });
    }
    return { status: res.status, text: await res.text() };
  }

  async getConfig(): Promise<ProxyRuntimeConfig> {
    const { status, text } = await this.call('GET', '/config');
    if (status !== 200) throw new CachectlError('DEPENDENCY_FAILED', `${this.name} GET /config answered HTTP ${status}: ${text.slice(0, 200)}`);
    return unwrapConfig(JSON.parse(text));
  }

  async putConfig(update: ProxyConfigUpdate): Promise<ProxyRuntimeConfig> {
    const { status, text } = await this.call('PUT', '/config', update);
    if (status === 409) throw new StaleEpochError(this.name, update.epoch, text);
    if (status === 401 || status === 403) {
      throw new CachectlError('USAGE', `${this.name} refused the admin token (HTTP ${status})`, { hint: 'the token is in the cluster state file; run against the cluster `cachectl up` started' });
    }
    if (status < 200 || status >= 300) throw new CachectlError('DEPENDENCY_FAILED', `${this.name} PUT /config answered HTTP ${status}: ${text.slice(0, 300)}`);
    if (!text.trim()) return this.getConfig();
    return unwrapConfig(JSON.parse(text));
  }

  async stats(): Promise<unknown> {
    const { status, text } = await this.call('GET', '/stats');
    if (status !== 200) throw new CachectlError('DEPENDENCY_FAILED', `${this.name} GET /stats answered HTTP ${status}`);
    return JSON.parse(text) as unknown;
  }
}
