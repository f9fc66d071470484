import { createConnection, type Socket } from 'node:net';
import { CacheClientError, type CacheClient, type CacheValue, type CasToken, type StoreOutcome } from '../../src/client/types.js';
import type { Endpoint } from '../../src/runtime/types.js';

/**
 * A CacheClient over the memcached ASCII protocol (memjs speaks only binary), so the workload and
 * checker can drive the proxy through both client protocols. One pipelined connection; replies
 * matched in order; a deadline per request that resets the connection (a late reply must never
 * be matched to a later request), with honest maybeApplied like the memjs client.
 */

type Kind = 'retrieval' | 'line';
interface Pending {
  kind: Kind;
  mutation: boolean;
  resolve: (reply: { line: string; values: CacheValue[] }) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class AsciiCacheClient implements CacheClient {
  readonly endpoint: string;
  private socket: Socket | null = null;
  private connected = false;
  private buf = Buffer.alloc(0);
  private pending: Pending[] = [];
  private values: CacheValue[] = [];
  private closed = false;

  constructor(
    private readonly at: Endpoint,
    private readonly timeoutMs = 500,
  ) {
    this.endpoint = `${at.host}:${at.port}`;
  }

  private ensureSocket(): Socket {
    if (this.socket) return this.socket;
    const s = createConnection({ host: this.at.host, port: this.at.port });
    s.setNoDelay(true);
    this.socket = s;
    this.connected = false;
    this.buf = Buffer.alloc(0);
    this.values = [];
    s.on('connect', () => {
      if (this.socket === s) this.connected = true;
    });
    s.on('data', (d) => {
      if (this.socket !== s) return;
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      this.drain();
    });
    const broken = (err?: Error): void => {
      if (this.socket !== s) return;
      const wasConnected = this.connected;
      this.reset(
        (p) =>
          new CacheClientError(wasConnected ? 'connection' : 'refused', `${this.endpoint}: ${err?.message ?? 'connection closed'}`, {
            endpoint: this.endpoint,
            maybeApplied: wasConnected && p.mutation,
          }),
      );
    };
    s.on('error', broken);
    s.on('close', () => broken());
    return s;
  }

  /** fail everything pending and drop the socket */
  private reset(errorFor: (p: Pending) => Error): void {
    const s = this.socket;
    this.socket = null;
    this.connected = false;
    s?.destroy();
    const pending = this.pending;
    this.pending = [];
    for (const p of pending) {
      clearTimeout(p.timer);
      p.reject(errorFor(p));
    }
  }

  private drain(): void {
    for (;;) {
      const head = this.pending[0];
      if (!head) return;
      const nl = this.buf.indexOf('\r\n');
      if (nl < 0) return;
      const line = this.buf.subarray(0, nl).toString('latin1');
      if (head.kind === 'retrieval' && line.startsWith('VALUE ')) {
        const [, , flags, bytes, cas] = line.split(' ');
        const n = Number(bytes);
        if (this.buf.length < nl + 2 + n + 2) return;
        const value = Buffer.from(this.buf.subarray(nl + 2, nl + 2 + n));
        this.values.push({ value, flags: Number(flags), cas: cas ? BigInt(cas) : 0n });
        this.buf = this.buf.subarray(nl + 2 + n + 2);
        continue;
      }
      this.buf = this.buf.subarray(nl + 2);
      this.pending.shift();
      clearTimeout(head.timer);
      const values = this.values;
      this.values = [];
      if (line === 'ERROR' || line.startsWith('SERVER_ERROR') || line.startsWith('CLIENT_ERROR')) {
        head.reject(new CacheClientError('server', `${this.endpoint}: ${line}`, { endpoint: this.endpoint, maybeApplied: false }));
      } else head.resolve({ line, values });
    }
  }

  private send(text: Buffer, kind: Kind, mutation: boolean): Promise<{ line: string; values: CacheValue[] }> {
    if (this.closed) return Promise.reject(new CacheClientError('refused', `client for ${this.endpoint} is closed`, { endpoint: this.endpoint, maybeApplied: false }));
    const s = this.ensureSocket();
    return new Promise((resolve, reject) => {
      const p: Pending = {
        kind,
        mutation,
        resolve,
        reject,
        timer: setTimeout(() => {
          const connected = this.connected;
          this.reset((q) =>
            q === p
              ? new CacheClientError('timeout', `no reply from ${this.endpoint} within ${this.timeoutMs} ms`, { endpoint: this.endpoint, maybeApplied: connected && q.mutation })
              : new CacheClientError('connection', `${this.endpoint}: connection reset after a deadline`, { endpoint: this.endpoint, maybeApplied: connected && q.mutation }),
          );
        }, this.timeoutMs),
      };
      this.pending.push(p);
      s.write(text);
    });
  }

  async get(key: string): Promise<CacheValue | null> {
    const r = await this.send(Buffer.from(`get ${key}\r\n`), 'retrieval', false);
    return r.values[0] ?? null;
  }

  async gets(key: string): Promise<CacheValue | null> {
    const r = await this.send(Buffer.from(`gets ${key}\r\n`), 'retrieval', false);
    return r.values[0] ?? null;
  }

  private async store(cmd: string, key: string, value: Buffer, options: { expires?: number; flags?: number } = {}, cas?: CasToken): Promise<StoreOutcome> {
    const head = `${cmd} ${key} ${options.flags ?? 0} ${options.expires ?? 0} ${value.length}${cas !== undefined ? ` ${cas}` : ''}\r\n`;
    const r = await this.send(Buffer.concat([Buffer.from(head), value, Buffer.from('\r\n')]), 'line', true);
    switch (r.line) {
      case 'STORED':
        return 'stored';
      case 'NOT_STORED':
        return 'not_stored';
      case 'EXISTS':
        return 'exists';
      case 'NOT_FOUND':
        return 'not_found';
      default:
        throw new CacheClientError('server', `${this.endpoint}: unexpected reply ${r.line}`, { endpoint: this.endpoint, maybeApplied: true });
    }
  }

  set(key: string, value: Buffer, options?: { expires?: number; flags?: number }): Promise<StoreOutcome> {
    return this.store('set', key, value, options);
  }

  add(key: string, value: Buffer, options?: { expires?: number; flags?: number }): Promise<StoreOutcome> {
    return this.store('add', key, value, options);
  }

  cas(key: string, value: Buffer, cas: CasToken, options?: { expires?: number; flags?: number }): Promise<StoreOutcome> {
    return this.store('cas', key, value, options, cas);
  }

  async delete(key: string): Promise<boolean> {
    const r = await this.send(Buffer.from(`delete ${key}\r\n`), 'line', true);
    return r.line === 'DELETED';
  }

  async touch(key: string, expires: number): Promise<boolean> {
    const r = await this.send(Buffer.from(`touch ${key} ${expires}\r\n`), 'line', true);
    return r.line === 'TOUCHED';
  }

  async close(): Promise<void> {
    this.closed = true;
    this.reset(() => new CacheClientError('refused', `client for ${this.endpoint} is closed`, { endpoint: this.endpoint, maybeApplied: false }));
  }
}
