/**
 * Seeded randomness so a run can be replayed: a small fast PRNG and a zipfian key picker.
 */
export type Rng = () => number;

/** mulberry32: 32-bit state, uniform floats in [0, 1). */
export function createRng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A derived seed for sub-stream `index` (one per client), so clients don't share a sequence. */
export function deriveSeed(seed: number, index: number): number {
  let h = (seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

export function randomSeed(): number {
  return Math.floor(Math.random() * 0xffffffff) >>> 0;
}

export type KeyPicker = (rng: Rng) => number;

export function uniformPicker(n: number): KeyPicker {
  return (rng) => Math.floor(rng() * n);
}

/**
 * Zipfian over [0, n) (Gray et al., as in YCSB), theta 0.99 by default: item 0 is the hottest.
 * Precomputes zeta(n) once: O(n) setup, O(1) per draw.
 */
export function zipfianPicker(n: number, theta = 0.99): KeyPicker {
  if (n === 1) return () => 0;
  let zetan = 0;
  for (let i = 1; i <= n; i++) zetan += 1 / Math.pow(i, theta);
  const zeta2 = 1 + 1 / Math.pow(2, theta);
  const alpha = 1 / (1 - theta);
  const eta = (1 - Math.pow(2 / n, 1 - theta)) / (1 - zeta2 / zetan);
  return (rng) => {
    const u = rng();
    const uz = u * zetan;
    if (uz < 1) return 0;
    if (uz < zeta2) return 1;
    const k = Math.floor(n * Math.pow(eta * u - eta + 1, alpha));
    return Math.min(n - 1, Math.max(0, k));
  };
}
