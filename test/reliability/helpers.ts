import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getFreePort } from '../../src/util/net.js';

/**
 * Shared by the reliability tier and the soak script: raw exchanges, a proxy in its own process
 * (so its memory, file descriptors and signals can be measured), a black-hole TCP server and
 * /proc readers.
 */

export const REPO_ROOT = resolve(fileURLToPath(new URL('../../', import.meta.url)));

export interface Addr {
  host: string;
  port: number;
}

export interface RawExchange {
  reply: Buffer;
  /** the server closed (FIN or RST) before we stopped listening */
  closed: boolean;
}

/**
 * Connect, write each chunk as its own write (a macrotask apart so they arrive as separate TCP
 * segments), then collect until the connection is quiet for `idleMs` or closed.
 */
export function rawExchange(
  port: number,
  chunks: Buffer[],
  opts: { idleMs?: number; maxMs?: number; enough?: (reply: Buffer, closed: boolean) => boolean } = {},
): Promise<RawExchange> {
  const idleMs = opts.idleMs ?? 60;
  return new Promise((resolvePromise) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    sock.setNoDelay(true);
    const parts: Buffer[] = [];
    let closed = false;
    let done = false;
    let idle: NodeJS.Timeout | undefined;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(idle);
      clearTimeout(hard);
      sock.destroy();
      resolvePromise({ reply: Buffer.concat(parts), closed });
    };
    // once the reply is known to be complete enough, only a short grace for trailing bytes
    const armIdle = (): void => {
      clearTimeout(idle);
      const satisfied = opts.enough?.(Buffer.concat(parts), closed) ?? false;
      idle = setTimeout(finish, satisfied ? Math.min(idleMs, 25) : idleMs);
    };
    const hard = setTimeout(finish, opts.maxMs ?? 5000);
    sock.on('data', (d) => {
      parts.push(d);
      armIdle();
    });
    sock.on('end', () => {
      closed = true;
      // a half-close still lets late bytes arrive; give them the idle window
      armIdle();
    });
    sock.on('close', () => {
      closed = true;
      finish();
    });
    sock.on('error', () => {
      closed = true;
      finish();
    });
    sock.on('connect', async () => {
      for (const c of chunks) {
        if (sock.destroyed || closed) break;
        sock.write(c);
        await new Promise((r) => setTimeout(r, 0));
      }
      armIdle();
    });
  });
}

/** Split a buffer at the given sorted offsets. */
export function splitAt(buf: Buffer, offsets: number[]): Buffer[] {
  const cuts = [...new Set(offsets.filter((o) => o > 0 && o < buf.length))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let at = 0;
  for (const c of cuts) {
    out.push(buf.subarray(at, c));
    at = c;
  }
  out.push(buf.subarray(at));
  return out.filter((b) => b.length > 0);
}

/** Number of open file descriptors of a process (Linux /proc). */
export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** TCP sockets among a process's descriptors. */
export function socketFdCount(pid: number): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(join(`/proc/${pid}/fd`, fd)).startsWith('socket:')) n++;
    } catch {
      // closed while we looked
    }
  }
  return n;
}

/** Resident set size of a process in bytes (Linux /proc). */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** A loopback TCP server that accepts connections and never reads a byte: a black-holed node. */
export async function startBlackHole(): Promise<{ port: number; sockets: Set<Socket>; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer({ pauseOnConnect: true }, (s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  const port = await new Promise<number>((r) => server.listen(0, '127.0.0.1', () => r((server.address() as { port: number }).port)));
  return {
    port,
    sockets,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

export interface ChildProxy {
  pid: number;
  port: number;
  adminPort: number;
  token: string;
  child: ChildProcess;
  stderr(): string;
  /** resolves with the exit code/signal when the process ends */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stats(): Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** SIGKILL if still alive (for cleanup) */
  kill(): Promise<void>;
}

/**
 * Run the proxy (what `cachectl proxy` runs, from the sources through tsx) in its own process on
 * free ports, and wait until its admin API answers. `flags` are `cachectl proxy` flags as an object.
 */
export async function startChildProxy(
  flags: Record<string, unknown>,
  opts: { token?: string; port?: number; adminPort?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<ChildProxy> {
  const port = opts.port ?? (await getFreePort());
  const adminPort = opts.adminPort ?? (await getFreePort());
  const token = opts.token ?? 'reliability-token';
  const all = { host: '127.0.0.1', 'admin-host': '127.0.0.1', port, 'admin-port': adminPort, ...flags };
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'test', 'reliability', 'proxy-process.ts'), JSON.stringify(all)], {
    cwd: REPO_ROOT,
    env: { ...process.env, NO_COLOR: '1', CACHECTL_ADMIN_TOKEN: token, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout!.on('data', () => undefined);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (gone) throw new Error(`proxy exited during start:\n${err}`);
    try {
      const res = await fetch(`http://127.0.0.1:${adminPort}/health`);
      if (res.ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`proxy did not start within 60 s:\n${err}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    pid: child.pid!,
    port,
    adminPort,
    token,
    child,
    stderr: () => err,
    exited,
    stats: async () => (await fetch(`http://127.0.0.1:${adminPort}/stats`)).json(),
    kill: async () => {
      if (gone) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Wait until `pred` holds or `ms` pass; returns whether it held. */
export async function eventually(pred: () => boolean | Promise<boolean>, ms: number, every = 50): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (await pred()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, every));
  }
}

/** One ASCII request on a fresh connection; resolves with the reply once `done` matches it. */
export function asciiOnce(port: number, request: string, done: RegExp = /\r\n$/, timeoutMs = 2000): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    let text = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no complete reply to ${JSON.stringify(request.slice(0, 40))} within ${timeoutMs} ms (got ${JSON.stringify(text)})`));
    }, timeoutMs);
    sock.on('data', (d) => {
      text += d.toString('latin1');
      if (done.test(text)) {
        clearTimeout(timer);
        sock.destroy();
        resolvePromise(text);
      }
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.on('connect', () => sock.write(request));
  });
}

/** A minimal ASCII client: one request at a time, replies framed by a terminator regex. */
export class AsciiConn {
  private buf = '';
  private waiter: { done: RegExp; resolve: (s: string) => void; reject: (e: Error) => void; timer: NodeJS.Timeout } | undefined;
  closed = false;
  private constructor(readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (d) => {
      this.buf += d.toString('latin1');
      const w = this.waiter;
      if (w && w.done.test(this.buf)) {
        const out = this.buf;
        this.buf = '';
        this.waiter = undefined;
        clearTimeout(w.timer);
        w.resolve(out);
      }
    });
    const fail = (e: Error): void => {
      this.closed = true;
      const w = this.waiter;
      this.waiter = undefined;
      if (w) {
        clearTimeout(w.timer);
        w.reject(e);
      }
    };
    socket.on('error', (e) => fail(e));
    socket.on('close', () => fail(new Error('connection closed')));
  }

  static open(port: number, timeoutMs = 5000): Promise<AsciiConn> {
    return new Promise((resolvePromise, reject) => {
      const s = createConnection({ host: '127.0.0.1', port });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error('connect timeout'));
      }, timeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        resolvePromise(new AsciiConn(s));
      });
      s.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  }

  request(text: string, done: RegExp = /\r\n$/, timeoutMs = 5000): Promise<string> {
    if (this.closed) return Promise.reject(new Error('connection closed'));
    return new Promise((resolvePromise, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`timeout after ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = { done, resolve: resolvePromise, reject, timer };
      this.socket.write(text);
    });
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Admin PUT /config with the bearer token. */
export async function putConfig(adminPort: number, token: string | undefined, body: unknown, raw?: string): Promise<{ status: number; body: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await fetch(`http://127.0.0.1:${adminPort}/config`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) },
    body: raw ?? JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body: parsed };
}
