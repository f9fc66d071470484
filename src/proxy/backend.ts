import type { Socket } from 'node:net';
import { connectWithReads } from './socket-reads.js';
import { WriteBatcher } from './write-batcher.js';
import { BinaryDecoder, MAGIC_RESPONSE, Op, encodeRequest, isProblem, type BinaryFrame } from '../protocol/binary.js';

/**
 * Pipelined binary-protocol connections to one memcached node.
 *
 * Why our own and not memjs: one socket per node carries every request back to back (memcached
 * answers in order), writes are batched per event-loop turn with cork/uncork, replies are decoded
 * zero-copy and forwarded to clients with only the opaque patched. memjs allocates per request,
 * keeps a timer per request and has no pipelining of quiet forms. (bench/proxy-bench.ts measures the result.)
 *
 * Failure rules: a timeout or a broken connection fails every request in flight on that socket
 * (a late reply must never be matched to a later request) and the socket is destroyed. After
 * `downAfterFailures` consecutive failures the node is marked down: requests fail fast while a
 * probe (noop) retries every `probeIntervalMs`; the first answered probe brings it back.
 */

export type FailureKind = 'timeout' | 'connection' | 'down' | 'overloaded' | 'protocol' | 'closed';

export class BackendFailure {
  constructor(
    readonly kind: FailureKind,
    readonly node: string,
    readonly detail: string,
  ) {}
  get message(): string {
    return `${this.node} ${this.kind === 'down' ? 'is marked down' : this.kind}${this.detail ? `: ${this.detail}` : ''}`;
  }
}

/** frames: one reply frame, or (multi requests such as stat) all frames up to the terminator */
export type BackendCallback = (failure: BackendFailure | null, frame: BinaryFrame | null, frames?: BinaryFrame[]) => void;

export interface BackendOptions {
  timeoutMs: number;
  downAfterFailures: number;
  probeIntervalMs: number;
  /** requests allowed in flight per node before new ones fail fast (bounded memory) */
  maxInFlight?: number;
  /** unsent bytes allowed per node before new requests fail fast */
  maxQueuedBytes?: number;
  maxValueLength?: number;
}

export interface NodeEvents {
  onRequestDone?(node: BackendNode, failure: BackendFailure | null): void;
  onStateChange?(node: BackendNode, up: boolean): void;
}

interface InFlight {
  opaque: number;
  sentAt: number;
  cb: BackendCallback;
  multi: boolean;
  frames?: BinaryFrame[];
}

class FifoQueue<T> {
  private items: (T | undefined)[] = [];
  private head = 0;
  get length(): number {
    return this.items.length - this.head;
  }
  push(v: T): void {
    this.items.push(v);
  }
  peek(): T | undefined {
    return this.items[this.head];
  }
  shift(): T | undefined {
    const v = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return v;
  }
  drain(): T[] {
    const all = this.items.slice(this.head) as T[];
    this.items = [];
    this.head = 0;
    return all;
  }
}

class BackendConnection {
  readonly socket: Socket;
  private readonly decoder: BinaryDecoder;
  private readonly inflight = new FifoQueue<InFlight>();
  private nextOpaque = 1;
  private readonly out: WriteBatcher;
  connected = false;
  dead = false;

  constructor(
    private readonly node: BackendNode,
    public onDead: (conn: BackendConnection, failure: BackendFailure | null, hadInFlight: boolean) => void,
  ) {
    this.decoder = new BinaryDecoder({ magic: MAGIC_RESPONSE, maxBodyLength: (node.options.maxValueLength ?? 1024 * 1024) + 64 * 1024 });
    this.socket = connectWithReads({ host: node.host, port: node.port }, (chunk) => this.onData(chunk));
    this.socket.setNoDelay(true);
    this.out = new WriteBatcher(this.socket);
    this.socket.setKeepAlive(true, 10_000);
    this.socket.on('connect', () => {
      this.connected = true;
    });
    this.socket.on('error', (err) => this.die(new BackendFailure('connection', node.name, err.message)));
    this.socket.on('close', () => this.die(new BackendFailure('connection', node.name, 'connection closed')));
  }

  get inFlight(): number {
    return this.inflight.length;
  }

  get queuedBytes(): number {
    return this.socket.writableLength + this.out.pendingBytes;
  }

  send(parts: Buffer[], multi: boolean, cb: BackendCallback, now: number): void {
    const opaque = this.nextOpaque;
    this.nextOpaque = (this.nextOpaque + 1) >>> 0 || 1;
    parts[0].writeUInt32BE(opaque, 12);
    this.inflight.push({ opaque, sentAt: now, cb, multi });
    for (const p of parts) this.out.write(p);
  }

  private onData(chunk: Buffer): void {
    const decoder = this.decoder;
    decoder.push(chunk);
    for (;;) {
      const r = decoder.next();
      if (r === undefined) return;
      if (isProblem(r)) {
        this.die(new BackendFailure('protocol', this.node.name, `garbled reply (${r.problem})`));
        return;
      }
      const head = this.inflight.peek();
      if (!head || head.opaque !== r.opaque) {
        this.die(new BackendFailure('protocol', this.node.name, 'reply does not match the oldest request'));
        return;
      }
      if (head.multi) {
        (head.frames ??= []).push(r);
        // stat replies end with an empty-key frame (or an error)
        if (r.keyLength !== 0 && r.status === 0) continue;
      }
      this.inflight.shift();
      this.node.succeeded();
      this.node.done(null);
      if (head.multi) head.cb(null, r, head.frames);
      else head.cb(null, r);
      if (this.dead) return;
    }
  }

  /** oldest request older than the timeout? */
  expired(now: number, timeoutMs: number): boolean {
    const head = this.inflight.peek();
    return head !== undefined && now - head.sentAt >= timeoutMs;
  }

  die(failure: BackendFailure | null): void {
    if (this.dead) return;
    this.dead = true;
    this.socket.destroy();
    const pending = this.inflight.drain();
    this.onDead(this, failure, pending.length > 0);
    const f = failure ?? new BackendFailure('closed', this.node.name, 'connection closed');
    for (const p of pending) {
      this.node.done(f);
      p.cb(f, null);
    }
  }
}

export class BackendNode {
  readonly name: string;
  private conn: BackendConnection | null = null;
  up = true;
  consecutiveFailures = 0;
  private retryAt = 0;
  private sweep: NodeJS.Timeout | undefined;
  private probe: NodeJS.Timeout | undefined;
  private probing: BackendConnection | null = null;
  private closed = false;

  constructor(
    readonly host: string,
    readonly port: number,
    readonly options: BackendOptions,
    private readonly events: NodeEvents = {},
  ) {
    this.name = `${host}:${port}`;
    const every = Math.max(5, Math.min(100, Math.floor(options.timeoutMs / 5)));
    this.sweep = setInterval(() => this.checkTimeouts(), every);
    this.sweep.unref();
  }

  get inFlight(): number {
    return this.conn?.inFlight ?? 0;
  }

  /** Send one request (parts[0] starts with its 24-byte header; the opaque is assigned here). */
  request(parts: Buffer[], cb: BackendCallback, multi = false): void {
    if (this.closed) return this.fail(cb, 'closed', 'node removed from the configuration');
    if (!this.up) return this.fail(cb, 'down', `after ${this.consecutiveFailures} consecutive failures; probing every ${this.options.probeIntervalMs} ms`);
    const now = Date.now();
    let conn = this.conn;
    if (!conn) {
      if (now < this.retryAt) return this.fail(cb, 'connection', `reconnecting (backoff ${this.retryAt - now} ms)`);
      conn = this.conn = new BackendConnection(this, (c, f, had) => this.connectionDied(c, f, had));
    } else if (conn.inFlight >= (this.options.maxInFlight ?? 20_000) || conn.queuedBytes > (this.options.maxQueuedBytes ?? 16 * 1024 * 1024)) {
      return this.fail(cb, 'overloaded', `${conn.inFlight} requests in flight, ${conn.queuedBytes} bytes unsent`);
    }
    conn.send(parts, multi, cb, now);
  }

  private fail(cb: BackendCallback, kind: FailureKind, detail: string): void {
    const f = new BackendFailure(kind, this.name, detail);
    this.events.onRequestDone?.(this, f);
    cb(f, null);
  }

  /** every request ends here exactly once (reply or failure), for the per-node counters */
  done(failure: BackendFailure | null): void {
    this.events.onRequestDone?.(this, failure);
  }

  succeeded(): void {
    this.consecutiveFailures = 0;
  }

  private checkTimeouts(): void {
    const conn = this.conn;
    if (conn && conn.expired(Date.now(), this.options.timeoutMs)) {
      conn.die(new BackendFailure('timeout', this.name, `no reply within ${this.options.timeoutMs} ms`));
    }
    const probe = this.probing;
    if (probe && probe.expired(Date.now(), this.options.timeoutMs)) probe.die(new BackendFailure('timeout', this.name, 'probe'));
  }

  private connectionDied(conn: BackendConnection, failure: BackendFailure | null, hadInFlight: boolean): void {
    if (this.conn === conn) this.conn = null;
    // An idle connection that was closed is not a failure: the next request reconnects.
    const isFailure = hadInFlight || (failure !== null && !conn.connected);
    if (!isFailure || this.closed) return;
    this.recordFailure();
  }

  private recordFailure(): void {
    this.consecutiveFailures++;
    const backoff = Math.min(1000, 25 * 2 ** Math.min(6, this.consecutiveFailures - 1));
    this.retryAt = Date.now() + backoff;
    if (this.up && this.consecutiveFailures >= this.options.downAfterFailures) {
      this.up = false;
      this.conn?.die(new BackendFailure('down', this.name, 'marked down'));
      this.events.onStateChange?.(this, false);
      this.scheduleProbe();
    }
  }

  private scheduleProbe(): void {
    if (this.closed || this.probe) return;
    this.probe = setTimeout(() => {
      this.probe = undefined;
      this.runProbe();
    }, this.options.probeIntervalMs);
    this.probe.unref();
  }

  private runProbe(): void {
    if (this.closed || this.up) return;
    const conn = new BackendConnection(this, (c) => {
      if (this.probing === c) this.probing = null;
      if (!this.up) this.scheduleProbe();
    });
    this.probing = conn;
    conn.send([encodeRequest({ opcode: Op.Noop })], false, (f) => {
      if (f || this.closed) return;
      this.probing = null;
      this.up = true;
      this.consecutiveFailures = 0;
      this.retryAt = 0;
      // reuse the probed socket for traffic
      const old = this.conn;
      conn.onDead = (c, df, had) => this.connectionDied(c, df, had);
      this.conn = conn;
      old?.die(null);
      this.events.onStateChange?.(this, true);
    }, Date.now());
  }

  /** Stop using this node (config change or shutdown); requests in flight still complete or time out. */
  close(graceMs = 0): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.probe);
    this.probing?.die(null);
    const conn = this.conn;
    const finish = (): void => {
      clearInterval(this.sweep);
      conn?.die(new BackendFailure('closed', this.name, 'node removed from the configuration'));
    };
    if (conn && conn.inFlight > 0 && graceMs > 0) setTimeout(finish, graceMs).unref();
    else finish();
  }
}
