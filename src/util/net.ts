import { createServer, createConnection, type Socket } from 'node:net';
import { CachectlError } from '../errors.js';

/** Ask the kernel for a free loopback TCP port. */
export function getFreePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Several distinct free ports at once (held open together so they differ). */
export async function getFreePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<import('node:net').Server>((resolve, reject) => {
          const srv = createServer();
          srv.on('error', reject);
          srv.listen(0, host, () => resolve(srv));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const a = s.address();
    return typeof a === 'object' && a ? a.port : 0;
  });
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  return ports;
}

/** Is something accepting TCP connections on host:port? */
export function isPortOpen(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const sock: Socket = createConnection({ host, port });
    const done = (ok: boolean): void => {
      sock.removeAllListeners();
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/** Send one ASCII request to a memcached-speaking server and read until `terminator` appears. */
export function asciiRequest(
  host: string,
  port: number,
  request: string,
  options: { terminator?: RegExp; timeoutMs?: number } = {},
): Promise<string> {
  const terminator = options.terminator ?? /\r\n$/;
  const timeoutMs = options.timeoutMs ?? 1000;
  return new Promise((resolve, reject) => {
    const sock = createConnection({ host, port });
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new CachectlError('TIMEOUT', `no reply from ${host}:${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      if (terminator.test(buf)) {
        clearTimeout(timer);
        sock.end();
        resolve(buf);
      }
    });
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.on('connect', () => sock.write(request));
  });
}

/** Poll `check` until it returns true or the deadline passes. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  options: { timeoutMs?: number; intervalMs?: number; hint?: string } = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not ready yet
    }
    if (Date.now() >= deadline) {
      throw new CachectlError('TIMEOUT', `timed out after ${timeoutMs} ms waiting for ${what}`, {
        hint: options.hint ?? 'check the component log in the state directory',
        details: { what, timeoutMs },
      });
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
