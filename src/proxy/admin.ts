import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual, createHash } from 'node:crypto';
import { isCachectlError } from '../errors.js';
import type { ProxyRuntimeConfig } from './config.js';
import type { ProxyEngine } from './engine.js';
import { renderPrometheus, type ProxyStatsView } from './stats.js';

/**
 * The proxy's admin HTTP API (loopback by default):
 *   GET /health, GET /config, PUT /config (Bearer token, strictly greater epoch), GET /stats, GET /metrics.
 */
/** What the admin API serves: one engine, or the primary of a multi-worker proxy (one config for all). */
export interface AdminTarget {
  readonly name: string;
  epoch(): number;
  getConfig(): ProxyRuntimeConfig;
  statsView(): ProxyStatsView | Promise<ProxyStatsView>;
  /** PUT /config: throws CONFIG_INVALID / STATE_CONFLICT (CachectlError) and changes nothing then */
  update(body: unknown): ProxyRuntimeConfig | Promise<ProxyRuntimeConfig>;
}

export function engineAdminTarget(engine: ProxyEngine, connections: () => { current: number; total: number }): AdminTarget {
  return {
    name: engine.name,
    epoch: () => engine.config.epoch,
    getConfig: () => engine.getConfig(),
    statsView: () => engine.statsView(connections()),
    update: (body) => engine.update(body),
  };
}

export interface AdminOptions {
  target: AdminTarget;
  token: string;
}

function send(res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  const text = type === 'application/json' ? `${JSON.stringify(body, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}\n` : String(body);
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** constant-time: compare digests so lengths leak nothing either */
function tokenMatches(given: string, expected: string): boolean {
  if (!expected) return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

function readBody(req: IncomingMessage, limit = 1024 * 1024): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new Error(`body larger than ${limit} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export function createAdminServer(options: AdminOptions): Server {
  const { target } = options;
  return createServer((req, res) => {
    void (async () => {
      const path = (req.url ?? '/').split('?')[0];
      try {
        if (req.method === 'GET' && path === '/health') {
          return send(res, 200, { status: 'ok', epoch: target.epoch(), name: target.name });
        }
        if (req.method === 'GET' && path === '/config') return send(res, 200, target.getConfig());
        if (req.method === 'GET' && path === '/stats') return send(res, 200, await target.statsView());
        if (req.method === 'GET' && path === '/metrics') {
          return send(res, 200, renderPrometheus(await target.statsView()), 'text/plain; version=0.0.4');
        }
        if (req.method === 'PUT' && path === '/config') {
          const auth = req.headers.authorization ?? '';
          const m = /^Bearer (.+)$/.exec(auth);
          if (!m || !tokenMatches(m[1], options.token)) {
            return send(res, 401, { error: 'unauthorized', message: 'missing or wrong admin token', hint: 'send Authorization: Bearer <CACHECTL_ADMIN_TOKEN>' });
          }
          let body: unknown;
          try {
            body = JSON.parse(await readBody(req));
          } catch (err) {
            return send(res, 400, { error: 'bad-request', message: `body is not valid JSON: ${(err as Error).message}`, hint: 'send a ProxyConfigUpdate JSON object' });
          }
          try {
            return send(res, 200, await target.update(body));
          } catch (err) {
            if (isCachectlError(err)) {
              const status = err.code === 'STATE_CONFLICT' ? 409 : 400;
              return send(res, status, { error: status === 409 ? 'stale-epoch' : 'bad-request', message: err.message, hint: err.hint, ...(err.details ? { details: err.details } : {}) });
            }
            throw err;
          }
        }
        if (['/health', '/config', '/stats', '/metrics'].includes(path)) {
          return send(res, 405, { error: 'method-not-allowed', message: `${req.method} is not allowed on ${path}` });
        }
        return send(res, 404, { error: 'not-found', message: `no such endpoint ${path}`, hint: 'endpoints: /health /config /stats /metrics' });
      } catch (err) {
        send(res, 500, { error: 'internal', message: (err as Error).message });
      }
    })();
  });
}
