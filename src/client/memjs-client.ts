import memjs from 'memjs';
import type { Response as MemjsResponse, Server as MemjsServer } from 'memjs';
import type { Endpoint } from '../runtime/types.js';
import { CacheClientError, type CacheClient, type CacheValue, type CasToken, type StoreOutcome } from './types.js';

/**
 * CacheClient on memjs 1.3.2 (binary protocol). memjs has no CAS API, so every request is built
 * here and sent through memjs's `perform()` with the CAS field of the request header set.
 *
 * Honest outcomes, because memjs on its own is not:
 * - memjs retries failed requests (default 2): a retried CAS or add could apply twice. We create
 *   the client with `retries: 0`, so each call is exactly one request.
 * - memjs never fails in-flight requests when the server closes the socket cleanly, and keeps
 *   half-read bytes of a broken connection in its response buffer. Every request has our own
 *   deadline; on a timeout or any connection error the memjs Server object is thrown away (its
 *   socket destroyed, its pending requests failed) and a fresh one takes its place, so a late or
 *   partial reply can never be matched to a later request.
 */

const OP = { get: 0x00, set: 0x01, add: 0x02, delete: 0x04, getk: 0x0c, touch: 0x1c } as const;
const STATUS = { ok: 0x0000, notFound: 0x0001, exists: 0x0002, notStored: 0x0005 } as const;

/** Error statuses that mean memcached refused the request before applying anything. */
const NOT_APPLIED_STATUSES = new Set([0x0003, 0x0004, 0x0081, 0x0082, 0x0083, 0x0085]);

/**
 * The cachectl proxy answers TEMPORARY_FAILURE (0x0086) for every backend problem and says which in
 * the body. These say the request never reached the master (marked down, backing off, refused,
 * overloaded): a definite failure. Any other text (timeouts, connections that broke while the
 * request was in flight) stays "maybe applied".
 */
const NOT_SENT_MESSAGES = /is marked down: after \d+ consecutive failures|reconnecting \(backoff|requests in flight, \d+ bytes unsent|ECONNREFUSED|removed from the configuration/;

const STATUS_TEXT: Record<number, string> = {
  0x0003: 'value too large',
  0x0004: 'invalid arguments',
  0x0006: 'non-numeric value',
  0x0081: 'unknown command',
  0x0082: 'out of memory',
  0x0083: 'not supported',
  0x0084: 'internal error',
  0x0085: 'busy',
  0x0086: 'temporary failure',
};

export interface MemjsClientOptions {
  /** Deadline for each request, connecting included (ms). */
  timeoutMs?: number;
}

/** The parts of memjs's Client we use; `perform` and `incrSeq` are not in @types/memjs. */
interface MemjsClientInternals {
  servers: MemjsServer[];
  seq: number;
  incrSeq(): void;
  perform(key: string, request: Buffer, seq: number, callback: (err: Error | null, response: MemjsResponse | null) => void, retries?: number): void;
}

const silentLogger = { log: (): void => undefined };

export function endpointText(e: Endpoint): string {
  return e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}

export function casToBigint(cas: Buffer | undefined): CasToken {
  if (!cas || cas.length !== 8) return 0n;
  return cas.readBigUInt64BE(0);
}

function casToBuffer(cas: CasToken): Buffer {
  if (cas < 0n || cas > 0xffff_ffff_ffff_ffffn) throw new RangeError(`CAS token out of the unsigned 64-bit range: ${cas}`);
  const buf = Buffer.alloc(8);
  buf.writeBigUInt64BE(cas, 0);
  return buf;
}

function storeExtras(flags: number, expires: number): Buffer {
  const extras = Buffer.alloc(8);
  extras.writeUInt32BE(flags >>> 0, 0);
  extras.writeUInt32BE(expires >>> 0, 4);
  return extras;
}

export class MemjsCacheClient implements CacheClient {
  readonly endpoint: string;
  private readonly host: string;
  private readonly port: number;
  private readonly timeoutMs: number;
  private readonly client: MemjsClientInternals;
  private closed = false;
  private readonly connectedServers = new WeakSet<MemjsServer>();

  constructor(endpoint: Endpoint, options: MemjsClientOptions = {}) {
    this.host = endpoint.host;
    this.port = endpoint.port;
    this.endpoint = endpointText(endpoint);
    this.timeoutMs = options.timeoutMs ?? 500;
    const memjsClient = new memjs.Client([this.newServer()], { retries: 0, failover: false, logger: silentLogger });
    this.client = memjsClient as unknown as MemjsClientInternals;
  }

  private newServer(): MemjsServer {
    // memjs's own timers are a backstop only (2x ours): our deadline decides the outcome.
    const seconds = (this.timeoutMs * 2) / 1000;
    const server = new memjs.Server(this.host, this.port, undefined, undefined, { timeout: seconds, conntimeout: seconds, keepAlive: false });
    // memjs emits 'authenticated' once the socket is connected, right before it writes queued
    // requests: until then nothing was sent, so a timeout cannot have applied anything.
    server.once('authenticated', () => this.connectedServers.add(server));
    return server;
  }

  /** Drop a broken connection: fail whatever is still pending on it, start clean next time. */
  private resetServer(server: MemjsServer, reason: Error): void {
    if (this.client.servers[0] !== server) return;
    this.client.servers[0] = this.newServer();
    server.error(reason);
  }

  private request(opcode: number, key: string, extras: Buffer, value: Buffer, cas: CasToken, mutation: boolean): Promise<MemjsResponse> {
    if (this.closed) {
      return Promise.reject(new CacheClientError('refused', `client for ${this.endpoint} is closed`, { endpoint: this.endpoint, maybeApplied: false }));
    }
    this.client.incrSeq();
    const seq = this.client.seq;
    const buf = memjs.Utils.makeRequestBuffer(opcode, key, extras, value, seq);
    if (cas !== 0n) casToBuffer(cas).copy(buf, 16);
    const server = this.client.servers[0];
    return new Promise<MemjsResponse>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        const connected = this.connectedServers.has(server);
        reject(
          new CacheClientError('timeout', connected ? `no reply from ${this.endpoint} within ${this.timeoutMs} ms` : `could not connect to ${this.endpoint} within ${this.timeoutMs} ms`, {
            endpoint: this.endpoint,
            maybeApplied: mutation && connected,
          }),
        );
        this.resetServer(server, new Error('request deadline passed; connection reset'));
      }, this.timeoutMs);
      this.client.perform(key, buf, seq, (err, response) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err || !response) {
          const code = (err as NodeJS.ErrnoException | null)?.code;
          const refused = code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EADDRNOTAVAIL';
          const message = err?.message ?? 'no response';
          reject(
            new CacheClientError(refused ? 'refused' : 'connection', `${this.endpoint}: ${message}`, {
              endpoint: this.endpoint,
              // A refused connect never sent the request; any other break may have come after the write.
              maybeApplied: mutation && !refused && !/timed out connecting/.test(message),
              cause: err ?? undefined,
            }),
          );
          this.resetServer(server, err ?? new Error('no response'));
          return;
        }
        resolve(response);
      });
    });
  }

  private serverError(op: string, response: MemjsResponse, mutation: boolean): CacheClientError {
    const status = response.header.status;
    const text = STATUS_TEXT[status] ?? `status 0x${status.toString(16).padStart(4, '0')}`;
    const detail = response.val.length > 0 && response.val.length < 512 ? `: ${response.val.toString('utf8')}` : '';
    return new CacheClientError('server', `${op} on ${this.endpoint} failed: ${text}${detail}`, {
      endpoint: this.endpoint,
      status,
      maybeApplied: mutation && !NOT_APPLIED_STATUSES.has(status) && !(status === 0x0086 && NOT_SENT_MESSAGES.test(detail)),
    });
  }

  /** A plain read: binary GET (the proxy may serve it from either replica, per its read policy). */
  async get(key: string): Promise<CacheValue | null> {
    return this.read(OP.get, 'get', key);
  }

  /**
   * A read whose CAS token will be used for a `cas`. The binary protocol has no separate "gets"
   * (every GET carries the item's CAS), so a proxy cannot tell a token fetch from a plain read; we
   * send it as GETK, which a CAS-aware proxy routes to the master only (tokens are per server).
   * memcached answers GETK like GET plus the key, which we also check.
   */
  async gets(key: string): Promise<CacheValue | null> {
    return this.read(OP.getk, 'gets', key);
  }

  private async read(opcode: number, op: string, key: string): Promise<CacheValue | null> {
    const response = await this.request(opcode, key, Buffer.alloc(0), Buffer.alloc(0), 0n, false);
    const status = response.header.status;
    if (status === STATUS.notFound) return null;
    if (status !== STATUS.ok) throw this.serverError(op, response, false);
    if (opcode === OP.getk && response.key.length > 0 && response.key.toString('utf8') !== key) {
      throw new CacheClientError('server', `${op} on ${this.endpoint}: reply is for key ${JSON.stringify(response.key.toString('utf8'))}, not ${JSON.stringify(key)}`, {
        endpoint: this.endpoint,
        maybeApplied: false,
      });
    }
    const flags = response.extras.length >= 4 ? response.extras.readUInt32BE(0) : 0;
    // Copy: memjs hands out slices of its shared response buffer.
    return { value: Buffer.from(response.val), flags, cas: casToBigint(response.header.cas) };
  }

  private async store(op: 'set' | 'add' | 'cas', opcode: number, key: string, value: Buffer, cas: CasToken, options: { expires?: number; flags?: number }): Promise<StoreOutcome> {
    const response = await this.request(opcode, key, storeExtras(options.flags ?? 0, options.expires ?? 0), value, cas, true);
    switch (response.header.status) {
      case STATUS.ok:
        return 'stored';
      case STATUS.exists:
        // Binary add on an existing key answers EXISTS; to callers that is "not stored".
        return op === 'add' ? 'not_stored' : 'exists';
      case STATUS.notFound:
        return 'not_found';
      case STATUS.notStored:
        return 'not_stored';
      default:
        throw this.serverError(op, response, true);
    }
  }

  set(key: string, value: Buffer, options: { expires?: number; flags?: number } = {}): Promise<StoreOutcome> {
    return this.store('set', OP.set, key, value, 0n, options);
  }

  add(key: string, value: Buffer, options: { expires?: number; flags?: number } = {}): Promise<StoreOutcome> {
    return this.store('add', OP.add, key, value, 0n, options);
  }

  /** Store only if the item's CAS is still `cas`: 'stored', 'exists' (stale token) or 'not_found'. */
  cas(key: string, value: Buffer, cas: CasToken, options: { expires?: number; flags?: number } = {}): Promise<StoreOutcome> {
    if (cas === 0n) throw new RangeError('a CAS token of 0 means "no CAS" in the binary protocol; get a real token with gets() first');
    return this.store('cas', OP.set, key, value, cas, options);
  }

  async delete(key: string): Promise<boolean> {
    const response = await this.request(OP.delete, key, Buffer.alloc(0), Buffer.alloc(0), 0n, true);
    if (response.header.status === STATUS.ok) return true;
    if (response.header.status === STATUS.notFound) return false;
    throw this.serverError('delete', response, true);
  }

  async touch(key: string, expires: number): Promise<boolean> {
    const extras = Buffer.alloc(4);
    extras.writeUInt32BE(expires >>> 0, 0);
    const response = await this.request(OP.touch, key, extras, Buffer.alloc(0), 0n, true);
    if (response.header.status === STATUS.ok) return true;
    if (response.header.status === STATUS.notFound) return false;
    throw this.serverError('touch', response, true);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const server = this.client.servers[0];
    server.error(new Error('client closed'));
  }
}
