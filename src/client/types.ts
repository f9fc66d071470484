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
  get(key: string): Promise<CacheValue | null>;
  gets(key: string): Promise<CacheValue | null>;
  set(key: string, value: Buffer, options?: { expires?: number; flags?: number }): Promise<StoreOutcome>;
  add(key: string, value: Buffer, options?: { expires?: number; flags?: number }): Promise<StoreOutcome>;
  cas(key: string, value: Buffer, cas: CasToken, options?: { expires?: number; flags?: number }): Promise<StoreOutcome>;
  delete(key: string): Promise<boolean>;
  touch(key: string, expires: number): Promise<boolean>;
  close(): Promise<void>;
}
