/**
 * The CPU tensor used by the reference implementations: a contiguous, row-major Float32Array plus a shape.
 * Images are NCHW. A 0-d tensor has shape [] and one element.
 */
import type { Rng } from './random';

/** Contiguous row-major float32 tensor. */
export interface CpuTensor {
  data: Float32Array;
  shape: number[];
}

/** A tensor of truth values (nonzero / true = true), e.g. a boolean attention mask. */
export interface BoolTensorLike {
  data: ArrayLike<number | boolean>;
  shape: readonly number[];
}

/** Formats a shape for error messages: `[2, 3, 4]`. */
export function shapeStr(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** Throws unless every entry of `shape` is a non-negative integer. */
export function checkShape(shape: readonly number[], what = 'shape'): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`${what}: invalid shape ${shapeStr(shape)} (dims must be non-negative integers)`);
  }
}

/** Number of elements of a tensor with this shape (1 for a 0-d shape). */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major (C-contiguous) strides in elements: strides([2, 3, 4]) = [12, 4, 1]. */
export function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

/** Creates a tensor, copying `data` into a new Float32Array unless it already is one (then it is shared). */
export function cpuTensor(data: Float32Array | ArrayLike<number>, shape: readonly number[]): CpuTensor {
  checkShape(shape, 'cpuTensor');
  const n = numel(shape);
  if (data.length !== n) {
    throw new Error(`cpuTensor: data has ${data.length} elements but shape ${shapeStr(shape)} needs ${n}`);
  }
  const arr = data instanceof Float32Array ? data : Float32Array.from(data);
  return { data: arr, shape: [...shape] };
}

/** A tensor of zeros. */
export function zeros(shape: readonly number[]): CpuTensor {
  checkShape(shape, 'zeros');
  return { data: new Float32Array(numel(shape)), shape: [...shape] };
}

/** A tensor filled with `value`. */
export function full(shape: readonly number[], value: number): CpuTensor {
  const t = zeros(shape);
  t.data.fill(value);
  return t;
}

/** Standard-normal samples (like torch.randn, but from our own generator). */
export function randn(shape: readonly number[], rng: Rng): CpuTensor {
  const t = zeros(shape);
  const d = t.data;
  for (let i = 0; i < d.length; i++) d[i] = rng.normal();
  return t;
}

/** Uniform samples in [lo, hi) (like torch.empty(shape).uniform_(lo, hi)). */
export function uniform(shape: readonly number[], rng: Rng, lo = 0, hi = 1): CpuTensor {
  const t = zeros(shape);
  const d = t.data;
  for (let i = 0; i < d.length; i++) d[i] = rng.uniform(lo, hi);
  return t;
}

/** 0, 1, 2, ... laid out in `shape` (like torch.arange(numel).reshape(shape)), handy for layout tests. */
export function arange(shape: readonly number[]): CpuTensor {
  const t = zeros(shape);
  for (let i = 0; i < t.data.length; i++) t.data[i] = i;
  return t;
}

/** Deep copy. */
export function clone(x: CpuTensor): CpuTensor {
  return { data: x.data.slice(), shape: [...x.shape] };
}

/** Normalizes a possibly negative dim into [0, rank); throws naming the shape when out of range. */
export function normalizeDim(dim: number, rank: number, what: string, shape?: readonly number[]): number {
  // Like torch, a 0-d tensor accepts dim 0 and -1.
  const r = Math.max(rank, 1);
  if (!Number.isInteger(dim) || dim < -r || dim >= r) {
    const s = shape ? ` for shape ${shapeStr(shape)}` : '';
    throw new Error(`${what}: dim ${dim} out of range [${-r}, ${r - 1}]${s}`);
  }
  return dim < 0 ? dim + r : dim;
}

/** Multi-index of flat row-major `index` within `shape`. */
export function unravelIndex(index: number, shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length);
  let rem = index;
  for (let i = shape.length - 1; i >= 0; i--) {
    const d = shape[i]!;
    out[i] = d === 0 ? 0 : rem % d;
    rem = d === 0 ? 0 : Math.floor(rem / d);
  }
  return out;
}

/** Element at a multi-index (for tests and debugging). */
export function at(x: CpuTensor, ...index: number[]): number {
  if (index.length !== x.shape.length) {
    throw new Error(`at: got ${index.length} indices for shape ${shapeStr(x.shape)}`);
  }
  const st = strides(x.shape);
  let off = 0;
  for (let i = 0; i < index.length; i++) {
    const v = index[i]!;
    if (!Number.isInteger(v) || v < 0 || v >= x.shape[i]!) throw new Error(`at: index ${shapeStr(index)} out of bounds for shape ${shapeStr(x.shape)}`);
    off += v * st[i]!;
  }
  return x.data[off]!;
}

/** Throws unless `x` is a valid CpuTensor (Float32Array data whose length matches the shape). */
export function checkTensor(x: CpuTensor, what: string): void {
  if (!x || !(x.data instanceof Float32Array) || !Array.isArray(x.shape)) {
    throw new Error(`${what}: expected a CpuTensor { data: Float32Array, shape: number[] }`);
  }
  checkShape(x.shape, what);
  if (x.data.length !== numel(x.shape)) {
    throw new Error(`${what}: data length ${x.data.length} does not match shape ${shapeStr(x.shape)}`);
  }
}

/** Throws unless `x` has exactly `rank` dims. */
export function checkRank(x: CpuTensor, rank: number, what: string, layout?: string): void {
  checkTensor(x, what);
  if (x.shape.length !== rank) {
    const l = layout ? ` ${layout}` : '';
    throw new Error(`${what}: expected a ${rank}-D tensor${l}, got shape ${shapeStr(x.shape)}`);
  }
}

/** Normalizes a number | [h, w] pair argument. */
export function pair(v: number | readonly number[], what: string): [number, number] {
  if (typeof v === 'number') return [v, v];
  if (v.length !== 2) throw new Error(`${what}: expected a number or a pair, got [${v.join(', ')}]`);
  return [v[0]!, v[1]!];
}
