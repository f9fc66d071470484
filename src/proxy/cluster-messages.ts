import type { ProxyRuntimeConfig } from './config.js';
import type { ProxyOptions } from './server.js';
import type { ProxyStatsView } from './stats.js';

/** IPC between the primary of a multi-worker proxy and its workers (JSON over the cluster channel). */

/** What a worker is started with (env CACHECTL_PROXY_WORKER, JSON). */
export interface WorkerInit {
  index: number;
  /** the primary's current config is in options.config; adminToken is never passed down */
  options: Omit<ProxyOptions, 'workers' | 'adminToken'>;
}

export const WORKER_INIT_ENV = 'CACHECTL_PROXY_WORKER';

export type PrimaryToWorker =
  | { t: 'apply'; id: number; config: ProxyRuntimeConfig }
  | { t: 'stats'; id: number }
  | { t: 'stop'; drainMs: number }
  /** every invalidation the other workers owe (the answer to hello: before the worker listens) */
  | { t: 'owed-init'; entries: [number, string][] }
  | { t: 'owed'; from: number; op: '+' | '-'; id: string }
  | { t: 'owed-reset'; from: number; ids: string[] }
  /** answer owed-barrier-ack once every owed message before this one was taken in */
  | { t: 'owed-barrier'; id: number }
  | { t: 'owed-barrier-done'; id: number };

export type WorkerToPrimary =
  /** the worker's message handler is in place (messages sent before it would be lost) */
  | { t: 'hello'; index: number }
  | { t: 'ready'; index: number; port: number; epoch: number; owed: string[] }
  | { t: 'owed'; index: number; op: '+' | '-'; id: string }
  | { t: 'owed-barrier'; index: number; id: number }
  | { t: 'owed-barrier-ack'; index: number; id: number }
  | { t: 'failed'; index: number; code: string; message: string; hint?: string }
  | { t: 'applied'; id: number; index: number; epoch: number; ok: boolean; message?: string }
  | { t: 'stats'; id: number; index: number; view: ProxyStatsView }
  | { t: 'promote'; index: number; shard: string; epoch: number };
