/** Timing statistics and output checks shared by every runner. */
import { normalizedError } from '../test/reference/compare';

/** Summary of repeated wall-clock timings, in milliseconds. */
export interface Stats {
  median: number;
  min: number;
  max: number;
  runs: number;
}

export function stats(samples: readonly number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length === 0 ? NaN : sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0] ?? NaN, max: sorted.at(-1) ?? NaN, runs: sorted.length };
}

/** Milliseconds `fn` takes, wall clock. */
export async function elapsed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

/**
 * Normalized error tolerated between two engines' f32 outputs: sums of hundreds of products taken in
 * different orders differ by ~1e-6 relative; a wrong index or a missed tap shows up as 1e-1 or more.
 */
export const TOLERANCE = 1e-3;

/** max|a − b| / max(1, max|reference|), or Infinity when the lengths differ. */
export function outputError(actual: Float32Array, reference: Float32Array): number {
  if (actual.length !== reference.length) return Infinity;
  return normalizedError(actual, reference);
}
