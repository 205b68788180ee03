/** Shape arithmetic shared by every op's shape rule. */
import { ShapeError } from '../errors';

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** Row-major strides of a contiguous tensor. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

/** Resolves a possibly negative dimension index, as PyTorch does. */
export function normalizeDim(dim: number, rank: number, op: string): number {
  const d = dim < 0 ? dim + rank : dim;
  if (!Number.isInteger(dim) || d < 0 || d >= rank) {
    throw new ShapeError(`${op}: dim ${dim} is out of range for a tensor of rank ${rank}`);
  }
  return d;
}

/** The broadcast shape of two shapes under NumPy/PyTorch rules. */
export function broadcastShapes(a: readonly number[], b: readonly number[], op: string): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(`${op}: shapes ${formatShape(a)} and ${formatShape(b)} cannot be broadcast (dim ${i}: ${da} vs ${db})`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides that read a tensor of `shape` as if it had `target` (broadcast dims get stride 0). */
export function broadcastStrides(shape: readonly number[], target: readonly number[]): number[] {
  const own = contiguousStrides(shape);
  const offset = target.length - shape.length;
  return target.map((_, i) => {
    const j = i - offset;
    if (j < 0 || shape[j] === 1) return 0;
    return own[j]!;
  });
}

/** Throws unless the tensor has the given rank. */
export function expectRank(shape: readonly number[], rank: number, op: string, what: string): void {
  if (shape.length !== rank) throw new ShapeError(`${op}: ${what} must be ${rank}-D, got shape ${formatShape(shape)}`);
}
