/**
 * The cache client interface the workload uses. CAS tokens are unsigned 64-bit: bigint, never number.
 */
export type CasToken = bigint;

export interface CacheValue {
  value: Buffer;
  flags: number;
  cas: CasToken;
}

export type StoreOutcome = 'stored' | 'not_stored' | 'exists' | 'not_found';

export interface CacheClient {
  /** "host:port" this client talks to (for the history's record of who served an operation). */
  readonly endpoint?: string;
  get(key: string): Promise<CacheValue | null>;
  gets(key: string): Promise<CacheValue | null>;
  set(key: string, value: Buffer, options?: { expires?: number; flags?: number }): Promise<StoreOutcome>;
  add(key: string, value: Buffer, options?: { expires?: number; flags?: number }): Promise<StoreOutcome>;
  cas(key: string, value: Buffer, cas: CasToken, options?: { expires?: number; flags?: number }): Promise<StoreOutcome>;
  delete(key: string): Promise<boolean>;
  touch(key: string, expires: number): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * Why a cache request ended without a protocol answer.
 * - `refused`: the connection could not be made; the request never left this process.
 * - `timeout`: no reply within the deadline; the server may or may not have applied it.
 * - `connection`: the connection broke after the request may have been written.
 * - `server`: the server answered with an error status (e.g. the proxy could not reach the master).
 */
export type CacheErrorKind = 'refused' | 'timeout' | 'connection' | 'server';

/**
 * A cache request that did not get a normal answer. `maybeApplied` is the honest part: a
 * mutation that timed out or lost its connection may have happened (Jepsen's "info"/unknown);
 * only a refused connection proves it did not.
 */
export class CacheClientError extends Error {
  readonly kind: CacheErrorKind;
  readonly maybeApplied: boolean;
  readonly status?: number;
  readonly endpoint: string;

  constructor(kind: CacheErrorKind, message: string, options: { endpoint: string; maybeApplied: boolean; status?: number; cause?: unknown }) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CacheClientError';
    this.kind = kind;
    this.endpoint = options.endpoint;
    this.maybeApplied = options.maybeApplied;
    this.status = options.status;
  }
}

export function isCacheClientError(err: unknown): err is CacheClientError {
  return err instanceof CacheClientError;
}
