import { createServer, type Server, type Socket } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import { CachectlError } from '../errors.js';
import { MAGIC_REQUEST } from '../protocol/binary.js';
import { createAdminServer, engineAdminTarget } from './admin.js';
import { AsciiSession } from './ascii-session.js';
import { BinarySession } from './binary-session.js';
import type { ProxyRuntimeConfig } from './config.js';
import { ProxyEngine, type OwedElsewhere } from './engine.js';
import { tuneGcForProxy } from './gc-tuning.js';
import { adoptAccepted } from './socket-reads.js';

/** adopted sockets are not in net.Server's count, so the bound is kept here */
const MAX_CLIENT_CONNECTIONS = 10_000;

interface Client {
  /** chosen by the first byte the client sends */
  session: AsciiSession | BinarySession | undefined;
  /** the idle sweep's tick at the client's last read */
  lastReadTick: number;
}

/** Everything `cachectl proxy` needs; the command maps its flags onto this. */
export interface ProxyOptions {
  name: string;
  host: string;
  port: number;
  adminHost: string;
  adminPort: number;
  adminToken: string;
  config: ProxyRuntimeConfig;
  pendingLogFile?: string;
  /** largest value the proxy buffers (memcached -I); larger sets get "object too large" */
  maxValueLength?: number;
  /** close a client that stalls half-way through a request for this long (0 = never) */
  clientIdleTimeoutMs?: number;
  /**
   * worker processes accepting clients on the same port (node:cluster); 1 = this process does
   * everything. With N > 1 the primary serves the admin API and owns the one config/epoch.
   */
  workers?: number;
}

/** How a cluster worker runs startProxy: no admin API of its own, promotions asked of the primary. */
export interface WorkerRole {
  requestPromotion: (shard: string, epoch: number) => void;
  owedElsewhere: OwedElsewhere;
  afterOwed: (done: () => void) => void;
}

export interface RunningProxy {
  port: number;
  adminPort: number;
  engine: ProxyEngine;
  /** client connections open now and accepted since start */
  connections(): { current: number; total: number };
  /** stop accepting, let in-flight requests finish (up to drainMs), close everything */
  stop(drainMs?: number): Promise<void>;
}

export function listen(server: Server | HttpServer, host: string, port: number, what: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(
        new CachectlError(err.code === 'EADDRINUSE' ? 'PORT_IN_USE' : 'DEPENDENCY_FAILED', `cannot listen for ${what} on ${host}:${port}: ${err.message}`, {
          hint: err.code === 'EADDRINUSE' ? `pick another port than ${port} (or 0 for a free one)` : 'check the address',
        }),
      );
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : port);
    });
  });
}

export async function startProxy(options: ProxyOptions, worker?: WorkerRole): Promise<RunningProxy> {
  const maxValueLength = options.maxValueLength ?? 1024 * 1024;
  const engine = new ProxyEngine({
    name: options.name,
    config: options.config,
    pendingLogFile: options.pendingLogFile,
    maxValueLength,
    requestPromotion: worker?.requestPromotion,
    owedElsewhere: worker?.owedElsewhere,
    afterOwed: worker?.afterOwed,
  });
  const sockets = new Map<Socket, Client>();
  let total = 0;
  const idleMs = options.clientIdleTimeoutMs ?? 30_000;
  // One sweep for all clients instead of socket.setTimeout, which re-arms a timer on every read
  // and every write (two timer-list updates per request on the hot path).
  const sweepMs = Math.max(10, Math.min(1000, Math.floor(idleMs / 4)));
  let tick = 0;
  const idleSweep =
    idleMs > 0
      ? setInterval(() => {
          tick++;
          for (const [socket, client] of sockets) {
            if (client.session?.partial && (tick - client.lastReadTick) * sweepMs >= idleMs) socket.destroy();
          }
        }, sweepMs).unref()
      : undefined;

  // pauseOnConnect: nothing is read before adoptAccepted gives the socket our read path
  const server = createServer({ noDelay: true, pauseOnConnect: true }, (accepted) => {
    if (sockets.size >= MAX_CLIENT_CONNECTIONS) {
      accepted.destroy();
      return;
    }
    total++;
    const client: Client = { session: undefined, lastReadTick: tick };
    const socket = adoptAccepted(accepted, (chunk) => {
      client.lastReadTick = tick;
      // the first byte picks the protocol for the whole connection, like memcached
      client.session ??= chunk[0] === MAGIC_REQUEST ? new BinarySession(socket, engine, maxValueLength) : new AsciiSession(socket, engine, maxValueLength);
      client.session.onData(chunk);
    });
    sockets.set(socket, client);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => sockets.delete(socket));
  });

  let port: number;
  try {
    port = await listen(server, options.host, options.port, 'memcached clients');
  } catch (err) {
    clearInterval(idleSweep);
    engine.close();
    throw err;
  }
  const connections = (): { current: number; total: number } => ({ current: sockets.size, total });
  const admin = worker ? null : createAdminServer({ target: engineAdminTarget(engine, connections), token: options.adminToken });
  let adminPort = 0;
  if (admin) {
    try {
      adminPort = await listen(admin, options.adminHost, options.adminPort, 'the admin API');
    } catch (err) {
      server.close();
      clearInterval(idleSweep);
      engine.close();
      throw err;
    }
  }

  let stopped: Promise<void> | undefined;
  const stop = (drainMs = 2000): Promise<void> =>
    (stopped ??= (async () => {
      server.close();
      admin?.close();
      clearInterval(idleSweep);
      // Stop reading new requests, let the replies owed for requests in flight go out, then close.
      const deadline = Date.now() + drainMs;
      for (const s of sockets.keys()) s.pause();
      const owed = (): number => [...sockets.values()].reduce((n, c) => n + (c.session?.owed ?? 0), 0);
      while (owed() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      // replies are batched and written in a setImmediate: let those go out before end(), or
      // replies completed by a timer (e.g. backend timeouts) are dropped by the close
      await new Promise((r) => setImmediate(r));
      for (const s of sockets.keys()) s.end();
      while (sockets.size > 0 && Date.now() < deadline + 200) await new Promise((r) => setTimeout(r, 10));
      for (const s of sockets.keys()) s.destroy();
      admin?.closeAllConnections();
      engine.close();
    })());

  return { port, adminPort, engine, connections, stop };
}

/** Run in the foreground until SIGTERM/SIGINT, then drain and resolve. With workers > 1: node:cluster (cluster.ts). */
export async function runProxy(
  options: ProxyOptions,
  onReady?: (p: { port: number; adminPort: number; workers: number }) => void,
  log: (line: string) => void = () => undefined,
): Promise<{ name: string; port: number; adminPort: number; workers: number }> {
  const workers = options.workers ?? 1;
  let proxy: { port: number; adminPort: number; stop(drainMs?: number): Promise<void> };
  if (workers > 1) {
    const { startProxyCluster } = await import('./cluster.js');
    proxy = await startProxyCluster(options, log);
  } else {
    tuneGcForProxy();
    proxy = await startProxy(options);
  }
  onReady?.({ port: proxy.port, adminPort: proxy.adminPort, workers });
  await new Promise<void>((resolve) => {
    const onSignal = (): void => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      void proxy.stop(Math.max(1000, options.config.timeoutMs * 2)).then(resolve);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  return { name: options.name, port: proxy.port, adminPort: proxy.adminPort, workers };
}
