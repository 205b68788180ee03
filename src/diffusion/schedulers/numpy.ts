/**
 * The few numpy functions diffusers builds its timestep lists and sigmas with, reproduced to the last bit in
 * f64: a timestep off by one (round half to even, arange's accumulated step) changes every later step.
 */

/** `np.round`: halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** `np.linspace(start, stop, num, endpoint)`: `i · step + start`, and exactly `stop` last when endpoint. */
export function linspace(start: number, stop: number, num: number, endpoint = true): number[] {
  const div = endpoint ? num - 1 : num;
  // numpy multiplies by the span itself when the step is 0, or undefined (a single point).
  const step = div > 0 ? (stop - start) / div : NaN;
  const out = Array.from({ length: num }, (_, i) => (step === 0 || Number.isNaN(step) ? (div > 0 ? i / div : i) * (stop - start) : i * step) + start);
  if (endpoint && num > 1) out[num - 1] = stop;
  return out;
}

/**
 * `np.arange(start, stop, step)` for floats: numpy fills `start + i · delta` where delta is the difference of
 * the first two values, which is not always `step` exactly.
 */
export function arange(start: number, stop: number, step: number): number[] {
  const length = Math.max(0, Math.ceil((stop - start) / step));
  const delta = start + step - start;
  return Array.from({ length }, (_, i) => (i === 0 ? start : start + i * delta));
}

/** `np.interp(x, xp, fp)` for increasing xp: linear between neighbours, clamped at the ends. */
export function interp(x: number, xp: ArrayLike<number>, fp: ArrayLike<number>): number {
  const last = xp.length - 1;
  if (x <= xp[0]!) return fp[0]!;
  if (x >= xp[last]!) return fp[last]!;
  let lo = 0;
  let hi = last;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (xp[mid]! <= x) lo = mid;
    else hi = mid;
  }
  if (xp[lo] === x) return fp[lo]!;
  const slope = (fp[lo + 1]! - fp[lo]!) / (xp[lo + 1]! - xp[lo]!);
  return slope * (x - xp[lo]!) + fp[lo]!;
}
