import { createHash } from 'node:crypto';

/**
 * Ketama consistent hashing, the continuum twemproxy builds for `distribution: ketama` (and
 * libmemcached's weighted ketama): every server gets 160 points per unit of its share of the
 * total weight, four points per md5 digest of "<name>-<i>"; a key goes to the first point at or
 * after the little-endian first word of md5(key), wrapping at the end of the circle.
 *
 * Points hang off the server *name* (like a named twemproxy server), not its address, so a shard
 * whose master moves (a manual switch) keeps its keys, and adding or removing one shard moves only
 * about 1/N of the keys. With the same names, weights and the md5 key hash, placement matches
 * nutcracker's (test/proxy/ketama-nutcracker.int.test.ts checks it against the real binary).
 */

export const KETAMA_POINTS_PER_SERVER = 160;
const POINTS_PER_HASH = 4;

export interface KetamaServer {
  name: string;
  /** relative share of the keys; default 1 */
  weight?: number;
}

interface Point {
  value: number;
  index: number;
}

function md5(data: string | Buffer): Buffer {
  return createHash('md5').update(data).digest();
}

/** The 32-bit key hash of ketama with md5: the first four digest bytes, little-endian. */
export function ketamaKeyHash(key: string | Buffer): number {
  return md5(key).readUInt32LE(0);
}

export class KetamaRing {
  /** sorted point values and, in parallel, the index of the server owning each */
  private readonly values: Uint32Array;
  private readonly owners: Uint16Array;
  readonly servers: readonly KetamaServer[];

  constructor(servers: readonly KetamaServer[]) {
    if (servers.length === 0) throw new Error('a ketama ring needs at least one server');
    if (servers.length > 0xffff) throw new Error('a ketama ring holds at most 65535 servers');
    this.servers = servers.map((s) => ({ name: s.name, weight: s.weight ?? 1 }));
    const totalWeight = this.servers.reduce((sum, s) => sum + (s.weight as number), 0);
    const points: Point[] = [];
    this.servers.forEach((s, index) => {
      const weight = s.weight as number;
      if (!(weight >= 0) || !Number.isFinite(weight)) throw new Error(`server ${s.name}: weight must be a finite number >= 0`);
      if (weight === 0 || totalWeight === 0) return;
      // twemproxy: floor(pct * 160 / 4 * nservers + 1e-10) * 4 (float maths, as in C)
      const share = Math.fround(Math.fround(weight) / Math.fround(totalWeight));
      const perServer = Math.floor(Math.fround((share * KETAMA_POINTS_PER_SERVER) / POINTS_PER_HASH) * this.servers.length + 0.0000000001) * POINTS_PER_HASH;
      for (let i = 0; i < perServer / POINTS_PER_HASH; i++) {
        const d = md5(`${s.name}-${i}`);
        for (let x = 0; x < POINTS_PER_HASH; x++) points.push({ value: d.readUInt32LE(x * 4), index });
      }
    });
    if (points.length === 0) throw new Error('a ketama ring needs at least one server with a weight above 0');
    // Equal values (rare) are ordered by server index, so the ring never depends on sort stability.
    points.sort((a, b) => a.value - b.value || a.index - b.index);
    this.values = Uint32Array.from(points, (p) => p.value);
    this.owners = Uint16Array.from(points, (p) => p.index);
  }

  get pointCount(): number {
    return this.values.length;
  }

  /** Index (into `servers`) of the server owning a 32-bit hash. */
  indexForHash(hash: number): number {
    const values = this.values;
    let lo = 0;
    let hi = values.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (values[mid] < hash) lo = mid + 1;
      else hi = mid;
    }
    return this.owners[lo === values.length ? 0 : lo];
  }

  /** Index (into `servers`) of the server a key belongs to. */
  indexFor(key: string | Buffer): number {
    return this.indexForHash(ketamaKeyHash(key));
  }

  /** Name of the server a key belongs to. */
  serverFor(key: string | Buffer): string {
    return this.servers[this.indexFor(key)].name;
  }

  /**
   * The exact share of the 32-bit hash space whose server (by name) differs between two rings:
   * the fraction of keys a change from `before` to `after` moves. Walks the union of both rings'
   * points (a few hundred per server), so it costs microseconds, not a hash per sample key.
   */
  static movedFraction(before: KetamaRing, after: KetamaRing): number {
    const bounds = Array.from(new Set([...before.values, ...after.values])).sort((x, y) => x - y);
    let moved = 0;
    let prev = -1; // hashes in (prev, bound] all go to the first point >= them, i.e. to `bound`'s owner
    for (const bound of bounds) {
      if (before.servers[before.indexForHash(bound)].name !== after.servers[after.indexForHash(bound)].name) moved += bound - prev;
      prev = bound;
    }
    // (last bound, 2^32 - 1] wraps to the first point of each ring
    if (before.servers[before.indexForHash(0)].name !== after.servers[after.indexForHash(0)].name) moved += 0xffffffff - prev;
    return moved / 2 ** 32;
  }
}

export interface KeyMove {
  key: string;
  from: string;
  to: string;
}

/** Which keys change server between two rings (the cost of a topology change). */
export function movedKeys(before: KetamaRing, after: KetamaRing, keys: Iterable<string>): { total: number; moved: KeyMove[] } {
  let total = 0;
  const moved: KeyMove[] = [];
  for (const key of keys) {
    total++;
    const h = ketamaKeyHash(key);
    const from = before.servers[before.indexForHash(h)].name;
    const to = after.servers[after.indexForHash(h)].name;
    if (from !== to) moved.push({ key, from, to });
  }
  return { total, moved };
}
