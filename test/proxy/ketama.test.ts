import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { KETAMA_POINTS_PER_SERVER, KetamaRing, ketamaKeyHash, movedKeys } from '../../src/proxy/ketama.js';

const keys = (n: number, prefix = 'user:'): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
const shards = (names: string[]): { name: string }[] => names.map((name) => ({ name }));

function shareOf(ring: KetamaRing, ks: string[]): Map<string, number> {
  const count = new Map<string, number>();
  for (const k of ks) count.set(ring.serverFor(k), (count.get(ring.serverFor(k)) ?? 0) + 1);
  return count;
}

describe('ketama key hash and continuum', () => {
  it('hashes a key to the little-endian first word of its md5 (libmemcached/twemproxy md5)', () => {
    // md5("foo") = acbd18db 4cc2f85c edef654f ccc4a4d8 -> first word little-endian 0xdb18bdac
    expect(ketamaKeyHash('foo')).toBe(0xdb18bdac);
    expect(ketamaKeyHash(Buffer.from('foo'))).toBe(0xdb18bdac);
    expect(ketamaKeyHash('bar')).toBe(createHash('md5').update('bar').digest().readUInt32LE(0));
  });

  it('puts 160 points per equal-weight server, four per md5 of "<name>-<i>"', () => {
    const ring = new KetamaRing(shards(['a', 'b', 'c']));
    expect(ring.pointCount).toBe(3 * KETAMA_POINTS_PER_SERVER);
    // the first point of "a" (md5("a-0") word 0) must belong to "a": a key hashing exactly onto it lands there
    const point = createHash('md5').update('a-0').digest().readUInt32LE(0);
    expect(ring.servers[ring.indexForHash(point)].name).toBe('a');
    // a hash just past the last point wraps to the owner of the first point
    expect(ring.indexForHash(0xffffffff)).toBe(ring.indexForHash(0));
  });

  it('is deterministic: the same names give the same placement, whatever the order they are listed in', () => {
    const ks = keys(5000);
    const a = new KetamaRing(shards(['s0', 's1', 's2', 's3']));
    const b = new KetamaRing(shards(['s0', 's1', 's2', 's3']));
    const c = new KetamaRing(shards(['s3', 's1', 's0', 's2']));
    for (const k of ks) {
      expect(b.serverFor(k)).toBe(a.serverFor(k));
      expect(c.serverFor(k)).toBe(a.serverFor(k));
    }
    // pinned placements, so a change to the hashing can never slip through unnoticed
    expect(['user:0', 'user:1', 'user:2', 'user:3', 'user:4'].map((k) => a.serverFor(k))).toMatchInlineSnapshot(`
      [
        "s0",
        "s0",
        "s3",
        "s1",
        "s2",
      ]
    `);
  });

  it('spreads 100k keys evenly enough over 4 shards (each within 25% ± 6%)', () => {
    const ks = keys(100_000);
    const share = shareOf(new KetamaRing(shards(['shard-0', 'shard-1', 'shard-2', 'shard-3'])), ks);
    expect(share.size).toBe(4);
    for (const n of share.values()) expect(Math.abs(n / ks.length - 0.25)).toBeLessThan(0.06);
  });

  it('honours weights: a weight-2 server gets about twice the keys of a weight-1 server', () => {
    const ks = keys(60_000);
    const share = shareOf(new KetamaRing([{ name: 'big', weight: 2 }, { name: 'small', weight: 1 }]), ks);
    const ratio = (share.get('big') ?? 0) / (share.get('small') ?? 1);
    expect(ratio).toBeGreaterThan(1.6);
    expect(ratio).toBeLessThan(2.5);
    expect(() => new KetamaRing([{ name: 'x', weight: 0 }])).toThrow(/weight above 0/);
    expect(() => new KetamaRing([])).toThrow(/at least one/);
  });
});

describe('keys moved by a topology change (100k keys)', () => {
  const ks = keys(100_000);

  it('adding a 4th shard to 3 moves ~1/4 of the keys (25% ± 3%), all of them onto the new shard', () => {
    const before = new KetamaRing(shards(['shard-0', 'shard-1', 'shard-2']));
    const after = new KetamaRing(shards(['shard-0', 'shard-1', 'shard-2', 'shard-3']));
    const { total, moved } = movedKeys(before, after, ks);
    expect(total).toBe(100_000);
    expect(Math.abs(moved.length / total - 0.25)).toBeLessThan(0.03);
    expect(moved.every((m) => m.to === 'shard-3')).toBe(true);
    // every old shard gives up some keys (the new one takes from all, not from one neighbour)
    expect(new Set(moved.map((m) => m.from)).size).toBe(3);
  });

  it('removing one of 4 shards moves only that shard\'s keys (~1/4), spread over the rest', () => {
    const before = new KetamaRing(shards(['shard-0', 'shard-1', 'shard-2', 'shard-3']));
    const after = new KetamaRing(shards(['shard-0', 'shard-2', 'shard-3']));
    const { moved } = movedKeys(before, after, ks);
    expect(Math.abs(moved.length / ks.length - 0.25)).toBeLessThan(0.03);
    expect(moved.every((m) => m.from === 'shard-1')).toBe(true);
    expect(new Set(moved.map((m) => m.to)).size).toBe(3);
  });

  it('growing 1 -> 2 -> ... -> 8 shards moves about 1/N each step (within 15% of 1/N: 160 points per server leave some spread)', () => {
    const hashes = ks.map((k) => ketamaKeyHash(k)); // hash once, place on every ring
    let names = ['shard-0'];
    let ring = new KetamaRing(shards(names));
    for (let n = 2; n <= 8; n++) {
      names = [...names, `shard-${n - 1}`];
      const next = new KetamaRing(shards(names));
      const moved = hashes.filter((h) => ring.servers[ring.indexForHash(h)].name !== next.servers[next.indexForHash(h)].name).length;
      expect(Math.abs(moved / ks.length - 1 / n) * n).toBeLessThan(0.15);
      ring = next;
    }
  });

  it('the exact moved share of the hash space agrees with 100k sampled keys (within 1 point)', () => {
    const three = new KetamaRing(shards(['shard-0', 'shard-1', 'shard-2']));
    const four = new KetamaRing(shards(['shard-0', 'shard-1', 'shard-2', 'shard-3']));
    const sampled = movedKeys(three, four, ks).moved.length / ks.length;
    const exact = KetamaRing.movedFraction(three, four);
    expect(Math.abs(exact - sampled)).toBeLessThan(0.01);
    expect(KetamaRing.movedFraction(four, three)).toBeCloseTo(exact, 12);
    expect(KetamaRing.movedFraction(three, new KetamaRing(shards(['shard-2', 'shard-0', 'shard-1'])))).toBe(0);
    expect(KetamaRing.movedFraction(new KetamaRing(shards(['a'])), new KetamaRing(shards(['b'])))).toBeCloseTo(1, 9);
  });

  it('add then remove the same shard puts every key back where it was (so a returning home must not hold old values)', () => {
    const three = new KetamaRing(shards(['shard-0', 'shard-1', 'shard-2']));
    const four = new KetamaRing(shards(['shard-0', 'shard-1', 'shard-2', 'shard-3']));
    const back = new KetamaRing(shards(['shard-0', 'shard-1', 'shard-2']));
    const there = movedKeys(three, four, ks).moved;
    const home = movedKeys(four, back, ks).moved;
    expect(home.length).toBe(there.length);
    expect(movedKeys(three, back, ks).moved).toHaveLength(0);
  });
});
