/**
 * mulberry32: a small, fast seeded pseudo-random generator, so that seeded
 * work (training shuffles, reservoir sampling) repeats exactly. Quality is
 * ample for shuffling and sampling; it is not for cryptography.
 */

/** Returns a generator of numbers in [0, 1) determined by `seed`. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
