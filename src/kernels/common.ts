/** Helpers every kernel module shares: output allocation and argument checks. */
import { ShapeError } from '../errors';
import type { Runtime } from '../gpu/runtime';
import type { DType } from '../tensor/dtype';
import { formatShape } from '../tensor/shape';
import { Tensor } from '../tensor/tensor';

/** Elements each invocation of the elementwise-style kernels handles. */
export const ELEMENTS_PER_THREAD = 4;
/** Default workgroup size of the one-dimensional kernels. */
export const LINEAR_WORKGROUP = 64;

/** Workgroups for a kernel where each invocation covers `perThread` of `n` elements. */
export function linearWorkgroups(n: number, perThread = ELEMENTS_PER_THREAD, workgroup = LINEAR_WORKGROUP): number {
  return Math.ceil(n / (perThread * workgroup));
}

/** Throws unless the tensor holds f32 data; f16 compute arrives per op with its own shader variant. */
export function expectF32(op: string, ...tensors: { name: string; tensor: Tensor }[]): void {
  for (const { name, tensor } of tensors) {
    if (tensor.dtype !== 'f32') throw new ShapeError(`${op}: ${name} must be f32, got ${tensor.dtype}`);
  }
}

/** Throws unless every tensor lives on this runtime's device. */
export function expectSameEngine(runtime: Runtime, op: string, ...tensors: Tensor[]): void {
  for (const t of tensors) {
    if (t.runtime !== runtime) throw new ShapeError(`${op}: ${t.toString()} belongs to another engine`);
  }
}

/** A new output tensor from the runtime's pool. */
export function output(runtime: Runtime, shape: readonly number[], dtype: DType = 'f32'): Tensor {
  return Tensor.empty(runtime, shape, dtype);
}

/** Throws unless a scalar argument is a finite number. */
export function expectFinite(op: string, name: string, value: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new ShapeError(`${op}: ${name} must be a finite number, got ${value}`);
}

/** Throws unless the two shapes are equal. */
export function expectSameShape(op: string, a: readonly number[], b: readonly number[], what: string): void {
  if (a.length !== b.length || a.some((d, i) => d !== b[i])) {
    throw new ShapeError(`${op}: ${what} shapes differ: ${formatShape(a)} vs ${formatShape(b)}`);
  }
}

/** A zero-filled input for timing: whatever a pooled buffer holds (denormals, NaNs) would skew CPU adapters. */
export function zeros(runtime: Runtime, shape: readonly number[]): Tensor {
  return Tensor.fromData(runtime, new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
}
