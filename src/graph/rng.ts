/**
 * Seeded randomness for the build. Every random choice is drawn from a stream keyed by
 * (seed, purpose, item), never from shared mutable state, so results do not depend on how work
 * is split across threads.
 */

/** murmur3's 32-bit finaliser: a cheap bijective mix. */
export function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** A 32-bit hash of three integers. */
export function hash3(a: number, b: number, c: number): number {
  return mix32((a ^ mix32((b ^ mix32(c + 0x9e3779b9)) + 0x7f4a7c15)) >>> 0);
}

/** mulberry32: small, fast, good enough for sampling. */
export class Rng {
  s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  u32(): number {
    this.s = (this.s + 0x6d2b79f5) | 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Uniform integer in [0, n), n <= 2^32. */
  below(n: number): number {
    return Math.floor((this.u32() / 4294967296) * n);
  }
  /** Uniform in [0, 1). */
  float(): number {
    return this.u32() / 4294967296;
  }
}

/** A seeded stream of uniforms in [0, 1) (mulberry32), for reproducible orders and sampling. */
export function uniformStream(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.float();
}
