/**
 * Numeric comparison helpers for checking kernel outputs against the references. They throw plain Errors,
 * so they work inside vitest (or anywhere else) without depending on `expect`.
 */
import { type CpuTensor, shapeStr, unravelIndex } from './tensor';

/** Something holding numbers: a plain array, a typed array, or a CpuTensor. */
export type NumericLike = ArrayLike<number> | CpuTensor;

function isTensor(x: NumericLike): x is CpuTensor {
  return typeof x === 'object' && x !== null && 'data' in x && 'shape' in x && !('length' in x);
}

function valuesOf(x: NumericLike): ArrayLike<number> {
  return isTensor(x) ? x.data : x;
}

function checkSameLength(a: NumericLike, b: NumericLike, what: string): void {
  const av = valuesOf(a);
  const bv = valuesOf(b);
  if (isTensor(a) && isTensor(b) && shapeStr(a.shape) !== shapeStr(b.shape)) {
    throw new Error(`${what}: shape mismatch, ${shapeStr(a.shape)} vs ${shapeStr(b.shape)}`);
  }
  if (av.length !== bv.length) throw new Error(`${what}: length mismatch, ${av.length} vs ${bv.length}`);
}

/**
 * |a - b| for one pair, with NaN/Infinity rules: two NaNs, or two equal infinities, differ by 0;
 * a NaN against a non-NaN, or mismatched infinities, differ by Infinity.
 */
function absDiff(a: number, b: number): number {
  if (a === b) return 0; // covers equal infinities
  const aNan = a !== a;
  const bNan = b !== b;
  if (aNan && bNan) return 0;
  if (aNan || bNan) return Infinity;
  return Math.abs(a - b);
}

/** max_i |a_i − b_i| (NaN equals NaN, same-signed infinities are equal, any other NaN/inf mismatch gives Infinity). */
export function maxAbsDiff(a: NumericLike, b: NumericLike): number {
  checkSameLength(a, b, 'maxAbsDiff');
  const av = valuesOf(a);
  const bv = valuesOf(b);
  let m = 0;
  for (let i = 0; i < av.length; i++) {
    const d = absDiff(av[i]!, bv[i]!);
    if (d > m) m = d;
  }
  return m;
}

/** maxAbsDiff(actual, expected) / max(1, max_i |expected_i|) over finite expected values: an absolute error for small data, relative for large. */
export function normalizedError(actual: NumericLike, expected: NumericLike): number {
  const ev = valuesOf(expected);
  let scale = 1;
  for (let i = 0; i < ev.length; i++) {
    const v = Math.abs(ev[i]!);
    if (Number.isFinite(v) && v > scale) scale = v;
  }
  return maxAbsDiff(actual, expected) / scale;
}

/** Tolerances for {@link expectAllClose}; element i passes when |a − e| <= atol + rtol·|e|. */
export interface AllCloseOptions {
  /** Absolute tolerance, default 1e-5 (torch.testing's float32 default). */
  atol?: number;
  /** Relative tolerance, default 1.3e-6 (torch.testing's float32 default). */
  rtol?: number;
  /** Whether NaN matches NaN (default true: the references produce NaN where torch does). */
  equalNan?: boolean;
  /** Shape used to report the multi-index of the worst element (defaults to a CpuTensor argument's shape). */
  shape?: readonly number[];
}

function fmt(v: number): string {
  return Number.isFinite(v) ? v.toPrecision(9) : String(v);
}

/**
 * Throws an Error unless every element satisfies |actual − expected| <= atol + rtol·|expected|
 * (like torch.testing.assert_close / numpy.allclose). The message names the worst element (flat index,
 * multi-index within the shape when known, actual, expected), the number of mismatches and the first few.
 */
export function expectAllClose(actual: NumericLike, expected: NumericLike, options: AllCloseOptions = {}, label?: string): void {
  const what = label ?? 'expectAllClose';
  checkSameLength(actual, expected, what);
  const atol = options.atol ?? 1e-5;
  const rtol = options.rtol ?? 1.3e-6;
  const equalNan = options.equalNan ?? true;
  const shape = options.shape ?? (isTensor(expected) ? expected.shape : isTensor(actual) ? actual.shape : undefined);
  const av = valuesOf(actual);
  const ev = valuesOf(expected);

  let bad = 0;
  let worst = -1;
  let worstExcess = -Infinity;
  let maxAbs = 0;
  const firstBad: number[] = [];
  for (let i = 0; i < av.length; i++) {
    const a = av[i]!;
    const e = ev[i]!;
    let excess: number; // > 0 means a mismatch
    if (a !== a || e !== e) {
      excess = a !== a && e !== e && equalNan ? -1 : Infinity;
    } else if (a === e) {
      excess = -1; // includes equal infinities
    } else {
      const d = Math.abs(a - e);
      if (d > maxAbs) maxAbs = d;
      excess = Number.isFinite(d) ? d - (atol + rtol * Math.abs(e)) : Infinity;
    }
    if (excess > 0) {
      bad++;
      if (firstBad.length < 5) firstBad.push(i);
      if (excess > worstExcess) {
        worstExcess = excess;
        worst = i;
      }
    }
  }
  if (bad === 0) return;

  const where = (i: number): string =>
    shape && shape.reduce((p, d) => p * d, 1) === av.length ? ` (position ${shapeStr(unravelIndex(i, shape))} in shape ${shapeStr(shape)})` : '';
  const describe = (i: number): string => {
    const a = av[i]!;
    const e = ev[i]!;
    return `index ${i}${where(i)}: actual ${fmt(a)}, expected ${fmt(e)}, |diff| ${fmt(absDiff(a, e))}, tol ${fmt(atol + rtol * Math.abs(e))}`;
  };
  const lines = [
    `${what}: ${bad} of ${av.length} elements not close (atol=${atol}, rtol=${rtol}); max |diff| over finite pairs ${fmt(maxAbs)}`,
    `  worst at ${describe(worst)}`,
    ...firstBad.filter((i) => i !== worst).map((i) => `  also ${describe(i)}`),
  ];
  throw new Error(lines.join('\n'));
}
