/**
 * The seeded random source behind latents, diffusion noise and test inputs: mulberry32 for uniforms,
 * Box-Muller for normals. Not cryptographic, not bit-compatible with torch.manual_seed: the same seed gives
 * the same samples on every machine and browser, which is what reproducible generation needs.
 */

/** A deterministic random source. */
export interface Rng {
  /** Uniform float in [0, 1) with 32 bits of randomness. */
  next(): number;
  /** Uniform float in [lo, hi). */
  uniform(lo?: number, hi?: number): number;
  /** Standard normal sample (mean 0, variance 1). */
  normal(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** `count` standard normal samples. */
  randn(count: number): Float32Array;
}

/** Creates a mulberry32-based generator seeded with the 32-bit integer `seed`. */
export function makeRng(seed: number): Rng {
  if (!Number.isFinite(seed)) throw new Error(`makeRng: seed must be a finite number, got ${seed}`);
  let state = Math.trunc(seed) | 0;
  let spare: number | null = null;

  const next = (): number => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };

  const normal = (): number => {
    if (spare !== null) {
      const s = spare;
      spare = null;
      return s;
    }
    // u1 in (0, 1] so the log is finite.
    const u1 = 1 - next();
    const u2 = next();
    const r = Math.sqrt(-2 * Math.log(u1));
    const theta = 2 * Math.PI * u2;
    spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  };

  return {
    next,
    randn: (count: number) => Float32Array.from({ length: count }, normal),
    uniform: (lo = 0, hi = 1) => lo + (hi - lo) * next(),
    normal,
    int: (n: number) => {
      if (!Number.isInteger(n) || n <= 0) throw new Error(`Rng.int: n must be a positive integer, got ${n}`);
      return Math.floor(next() * n);
    },
  };
}
