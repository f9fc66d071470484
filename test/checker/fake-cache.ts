import type { CacheClient, CacheValue, CasToken, StoreOutcome } from '../../src/client/types.js';
import { createRng } from '../../src/workload/random.js';

/**
 * Unit-test stand-in for memcached: an in-memory store with real CAS semantics, shared by many
 * clients, whose replies come back after a seeded random number of event-loop turns so client
 * operations interleave differently for each seed.
 */
export class FakeCacheStore {
  readonly items = new Map<string, { value: Buffer; flags: number; cas: bigint }>();
  private casCounter = 1n;
  private readonly rng: () => number;
  /** when set, every request fails like an unreachable node */
  down = false;

  constructor(seed: number) {
    this.rng = createRng(seed);
  }

  async delay(): Promise<void> {
    const turns = Math.floor(this.rng() * 4);
    for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
  }

  nextCas(): bigint {
    return this.casCounter++;
  }

  client(endpoint = 'fake:1'): CacheClient {
    const store = this;
    const check = (): void => {
      if (store.down) throw Object.assign(new Error(`${endpoint} down`), { name: 'CacheClientError' });
    };
    const get = async (key: string): Promise<CacheValue | null> => {
      await store.delay();
      check();
      const item = store.items.get(key);
      return item ? { value: Buffer.from(item.value), flags: item.flags, cas: item.cas } : null;
    };
    return {
      endpoint,
      get,
      gets: get,
      async set(key, value, options = {}): Promise<StoreOutcome> {
        await store.delay();
        check();
        store.items.set(key, { value: Buffer.from(value), flags: options.flags ?? 0, cas: store.nextCas() });
        return 'stored';
      },
      async add(key, value, options = {}): Promise<StoreOutcome> {
        await store.delay();
        check();
        if (store.items.has(key)) return 'not_stored';
        store.items.set(key, { value: Buffer.from(value), flags: options.flags ?? 0, cas: store.nextCas() });
        return 'stored';
      },
      async cas(key, value, cas: CasToken, options = {}): Promise<StoreOutcome> {
        await store.delay();
        check();
        const item = store.items.get(key);
        if (!item) return 'not_found';
        if (item.cas !== cas) return 'exists';
        store.items.set(key, { value: Buffer.from(value), flags: options.flags ?? 0, cas: store.nextCas() });
        return 'stored';
      },
      async delete(key) {
        await store.delay();
        check();
        return store.items.delete(key);
      },
      async touch(key) {
        await store.delay();
        check();
        return store.items.has(key);
      },
      async close() {},
    };
  }
}
