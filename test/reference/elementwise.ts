/**
 * Elementwise references: broadcasting binary ops (torch.add/sub/mul/div) and activations
 * (torch.nn.functional.*). Math is done in f64 and rounded once to f32 on store; scalar operands are first
 * rounded to f32 like PyTorch does for a float32 tensor op with a Python scalar.
 */
import { type CpuTensor, checkTensor, numel, shapeStr, strides } from './tensor';

// ---------------------------------------------------------------------------------------------------------
// Broadcasting
// ---------------------------------------------------------------------------------------------------------

/** Result shape of broadcasting `shapes` together (torch.broadcast_shapes); throws naming the shapes. */
export function broadcastShapes(...shapes: (readonly number[])[]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const o = rank - s.length + i;
      const d = s[i]!;
      if (d === 1) continue;
      if (out[o] === 1) out[o] = d;
      else if (out[o] !== d) {
        throw new Error(`broadcastShapes: shapes ${shapes.map(shapeStr).join(' and ')} are not broadcastable (dim ${o - rank}: ${out[o]} vs ${d})`);
      }
    }
  }
  return out;
}

/**
 * Strides for reading a tensor of `shape` as if it had been broadcast to `target` (0 on broadcast dims).
 * Throws if `shape` cannot be broadcast to `target` without changing `target`.
 */
export function broadcastStrides(shape: readonly number[], target: readonly number[], what = 'broadcast'): number[] {
  if (shape.length > target.length) throw new Error(`${what}: shape ${shapeStr(shape)} cannot broadcast to ${shapeStr(target)}`);
  const st = strides(shape);
  const out = new Array<number>(target.length).fill(0);
  for (let i = 0; i < shape.length; i++) {
    const o = target.length - shape.length + i;
    const d = shape[i]!;
    if (d === target[o]) out[o] = d === 1 ? 0 : st[i]!;
    else if (d === 1) out[o] = 0;
    else throw new Error(`${what}: shape ${shapeStr(shape)} cannot broadcast to ${shapeStr(target)}`);
  }
  return out;
}

/**
 * Flat offsets into a tensor read with `srcStrides`, one per element of `shape` in row-major order.
 * Used to precompute gather tables (e.g. per-batch offsets); allocates one Float64Array.
 */
export function broadcastOffsets(shape: readonly number[], srcStrides: readonly number[]): Float64Array {
  const n = numel(shape);
  const out = new Float64Array(n);
  const rank = shape.length;
  const idx = new Int32Array(rank);
  let off = 0;
  for (let i = 0; i < n; i++) {
    out[i] = off;
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      off += srcStrides[d]!;
      if (idx[d]! < shape[d]!) break;
      off -= srcStrides[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
  return out;
}

/** A tensor operand, or a number acting as a 0-d float32 tensor. */
export type Operand = CpuTensor | number;

function asTensor(x: Operand, what: string): CpuTensor {
  if (typeof x === 'number') return { data: Float32Array.of(x), shape: [] };
  checkTensor(x, what);
  return x;
}

/** Applies `op` elementwise with full NumPy/PyTorch broadcasting (f64 math, f32 store). */
export function broadcastBinary(a: Operand, b: Operand, op: (x: number, y: number) => number, what = 'binary'): CpuTensor {
  const A = asTensor(a, `${what} (first operand)`);
  const B = asTensor(b, `${what} (second operand)`);
  let outShape: number[];
  try {
    outShape = broadcastShapes(A.shape, B.shape);
  } catch {
    throw new Error(`${what}: shapes ${shapeStr(A.shape)} and ${shapeStr(B.shape)} are not broadcastable`);
  }
  const total = numel(outShape);
  const out = new Float32Array(total);
  const ad = A.data;
  const bd = B.data;
  if (total === 0) return { data: out, shape: outShape };

  // Fast paths: same shape, or one side a single element.
  if (ad.length === total && bd.length === total) {
    for (let i = 0; i < total; i++) out[i] = op(ad[i]!, bd[i]!);
    return { data: out, shape: outShape };
  }
  if (bd.length === 1 && ad.length === total) {
    const y = bd[0]!;
    for (let i = 0; i < total; i++) out[i] = op(ad[i]!, y);
    return { data: out, shape: outShape };
  }
  if (ad.length === 1 && bd.length === total) {
    const x = ad[0]!;
    for (let i = 0; i < total; i++) out[i] = op(x, bd[i]!);
    return { data: out, shape: outShape };
  }

  // General case: odometer over all but the last dim, strided inner loop over the last dim.
  const rank = outShape.length;
  const sa = broadcastStrides(A.shape, outShape, what);
  const sb = broadcastStrides(B.shape, outShape, what);
  const inner = outShape[rank - 1]!;
  const ia = sa[rank - 1]!;
  const ib = sb[rank - 1]!;
  const outer = total / inner;
  const idx = new Int32Array(rank);
  let offA = 0;
  let offB = 0;
  for (let o = 0; o < outer; o++) {
    let pa = offA;
    let pb = offB;
    const base = o * inner;
    for (let j = 0; j < inner; j++) {
      out[base + j] = op(ad[pa]!, bd[pb]!);
      pa += ia;
      pb += ib;
    }
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]!++;
      offA += sa[d]!;
      offB += sb[d]!;
      if (idx[d]! < outShape[d]!) break;
      offA -= sa[d]! * outShape[d]!;
      offB -= sb[d]! * outShape[d]!;
      idx[d] = 0;
    }
  }
  return { data: out, shape: outShape };
}

/** a + b with broadcasting (torch.add). Numbers act as 0-d float32 tensors. */
export function add(a: Operand, b: Operand): CpuTensor {
  return broadcastBinary(a, b, (x, y) => x + y, 'add');
}

/** a − b with broadcasting (torch.sub). */
export function sub(a: Operand, b: Operand): CpuTensor {
  return broadcastBinary(a, b, (x, y) => x - y, 'sub');
}

/** a · b with broadcasting (torch.mul). */
export function mul(a: Operand, b: Operand): CpuTensor {
  return broadcastBinary(a, b, (x, y) => x * y, 'mul');
}

/** a / b with broadcasting, true division (torch.div); x/0 gives ±Infinity or NaN like IEEE. */
export function div(a: Operand, b: Operand): CpuTensor {
  return broadcastBinary(a, b, (x, y) => x / y, 'div');
}

// ---------------------------------------------------------------------------------------------------------
// Unary
// ---------------------------------------------------------------------------------------------------------

/** Applies `fn` to every element (f64 math, f32 store). */
export function mapUnary(x: CpuTensor, fn: (v: number) => number, what = 'map'): CpuTensor {
  checkTensor(x, what);
  const src = x.data;
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) out[i] = fn(src[i]!);
  return { data: out, shape: [...x.shape] };
}

const TWO_OVER_SQRT_PI = 1.1283791670955126; // 2/√π
const INV_SQRT_PI = 0.5641895835477563; // 1/√π
const SQRT1_2 = Math.SQRT1_2;
const SQRT_2_OVER_PI = 0.7978845608028654; // √(2/π)

/**
 * Error function in f64, absolute error below 2e-15 everywhere (checked against libm erf):
 * |x| < 2.5: erf(x) = 2/√π · e^(−x²) · Σ_n 2ⁿ x^(2n+1) / (1·3·…·(2n+1)) (all terms positive, no cancellation);
 * |x| ≥ 2.5: erf(x) = 1 − erfc(x), erfc from its continued fraction e^(−x²)/√π · 1/(x + ½/(x + 1/(x + (3/2)/(x + …)))),
 * evaluated bottom-up with 60 terms; |x| ≥ 6 returns ±1 (erfc(6) ≈ 2e-17).
 */
export function erf(x: number): number {
  if (x !== x) return NaN;
  if (x === 0) return x; // keeps the sign of −0
  const ax = Math.abs(x);
  if (ax < 2.5) {
    const x2 = ax * ax;
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 200; n++) {
      term *= (2 * x2) / (2 * n + 1);
      sum += term;
      if (term <= sum * 1e-17) break;
    }
    const r = TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
    return x < 0 ? -r : r;
  }
  if (ax >= 6) return x < 0 ? -1 : 1;
  let f = ax;
  for (let n = 60; n >= 1; n--) f = ax + n / 2 / f;
  const erfc = (Math.exp(-ax * ax) * INV_SQRT_PI) / f;
  return x < 0 ? erfc - 1 : 1 - erfc;
}

/** max(x, 0) (torch.nn.functional.relu); NaN and −0 pass through as in torch. */
export function relu(x: CpuTensor): CpuTensor {
  return mapUnary(x, (v) => (v < 0 ? 0 : v), 'relu');
}

/** x if x > 0 else slope·x (torch.nn.functional.leaky_relu(x, negative_slope=slope)). */
export function leakyRelu(x: CpuTensor, slope = 0.01): CpuTensor {
  const s = Math.fround(slope);
  return mapUnary(x, (v) => (v > 0 ? v : v * s), 'leakyRelu');
}

/** 1 / (1 + e^(−x)) (torch.sigmoid). */
export function sigmoid(x: CpuTensor): CpuTensor {
  return mapUnary(x, (v) => 1 / (1 + Math.exp(-v)), 'sigmoid');
}

/** e^x (torch.exp). */
export function exp(x: CpuTensor): CpuTensor {
  return mapUnary(x, Math.exp, 'exp');
}

/** x · sigmoid(x) (torch.nn.functional.silu); like torch, silu(−inf) is NaN (−inf / inf). */
export function silu(x: CpuTensor): CpuTensor {
  return mapUnary(x, (v) => v / (1 + Math.exp(-v)), 'silu');
}

/** tanh(x) (torch.tanh). */
export function tanh(x: CpuTensor): CpuTensor {
  return mapUnary(x, Math.tanh, 'tanh');
}

/** Scalar GELU: exact x·Φ(x) = ½x(1 + erf(x/√2)), or the tanh approximation ½x(1 + tanh(√(2/π)(x + 0.044715x³))). */
export function geluScalar(v: number, approximate: 'none' | 'tanh' = 'none'): number {
  if (approximate === 'tanh') return 0.5 * v * (1 + Math.tanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v)));
  return 0.5 * v * (1 + erf(v * SQRT1_2));
}

/** torch.nn.functional.gelu(x, approximate=approximate). */
export function gelu(x: CpuTensor, approximate: 'none' | 'tanh' = 'none'): CpuTensor {
  if (approximate !== 'none' && approximate !== 'tanh') throw new Error(`gelu: approximate must be 'none' or 'tanh', got '${String(approximate)}'`);
  return mapUnary(x, (v) => geluScalar(v, approximate), 'gelu');
}

/**
 * min(max(x, min), max) (torch.clamp(x, min, max)); at least one bound is required. As in torch, NaN
 * propagates, and min > max sets every element to max.
 */
export function clamp(x: CpuTensor, min?: number | null, max?: number | null): CpuTensor {
  const hasMin = min !== undefined && min !== null;
  const hasMax = max !== undefined && max !== null;
  if (!hasMin && !hasMax) throw new Error(`clamp: at least one of min or max must be given (x shape ${shapeStr(x.shape)})`);
  const lo = hasMin ? Math.fround(min) : -Infinity;
  const hi = hasMax ? Math.fround(max) : Infinity;
  return mapUnary(
    x,
    (v) => {
      if (v !== v) return v;
      // torch applies min first, then max, so min > max yields max.
      return Math.min(Math.max(v, lo), hi);
    },
    'clamp',
  );
}

/** x · s (torch.mul(x, s) with a Python scalar). */
export function scale(x: CpuTensor, s: number): CpuTensor {
  const f = Math.fround(s);
  return mapUnary(x, (v) => v * f, 'scale');
}

/**
 * x if x > 0 else weight·x, with one weight per channel (dim 1) or a single shared weight
 * (torch.nn.functional.prelu). For inputs of rank < 2 there is no channel dim and weight must have 1 element.
 */
export function prelu(x: CpuTensor, weight: CpuTensor): CpuTensor {
  checkTensor(x, 'prelu input');
  checkTensor(weight, 'prelu weight');
  const channels = x.shape.length >= 2 ? x.shape[1]! : 1;
  const nw = weight.data.length;
  if (weight.shape.length > 1 || (nw !== 1 && nw !== channels)) {
    throw new Error(`prelu: weight shape ${shapeStr(weight.shape)} must be [1] or [${channels}] for input shape ${shapeStr(x.shape)}`);
  }
  const inner = x.shape.length >= 2 ? numel(x.shape.slice(2)) : 1; // H·W·…
  const src = x.data;
  const w = weight.data;
  const out = new Float32Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const v = src[i]!;
    const c = nw === 1 ? 0 : Math.floor(i / inner) % channels;
    out[i] = v > 0 ? v : w[c]! * v;
  }
  return { data: out, shape: [...x.shape] };
}
