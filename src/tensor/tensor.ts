/**
 * A tensor is a shape, a dtype and a GPU buffer. Creating one from data and reading one back are the only
 * copies between CPU and GPU; views (reshape) share the buffer and free it when the last one is disposed.
 */
import { SyntheError } from '../errors';
import type { Runtime } from '../gpu/runtime';
import { f16ToF32, f32ToF16 } from './f16';
import { bytesPerElement, type DType } from './dtype';
import { formatShape, numel } from './shape';

/** The buffer behind one or more tensor views. */
class Storage {
  refs = 1;
  constructor(
    readonly buffer: GPUBuffer,
    /** The pool it goes back to, or null for a buffer the tensor does not own. */
    readonly release: ((buffer: GPUBuffer) => void) | null,
  ) {}
}

/** Tracks tensors created inside `tidy` so they can be freed together. */
export interface TensorScope {
  track(tensor: Tensor): void;
}

export class Tensor {
  private disposed = false;

  /** @internal Use `engine.tensor`, `engine.empty` or an op to make tensors. */
  constructor(
    readonly runtime: Runtime,
    private readonly storage: Storage,
    /** Dimensions, outermost first: NCHW for images. */
    readonly shape: readonly number[],
    readonly dtype: DType,
  ) {
    Tensor.scope?.track(this);
  }

  /** The innermost `tidy` scope, if any. */
  static scope: TensorScope | null = null;

  /** Allocates an uninitialised tensor from the runtime's pool. */
  static empty(runtime: Runtime, shape: readonly number[], dtype: DType = 'f32'): Tensor {
    validateShape(shape);
    const pool = runtime.pool;
    const buffer = pool.acquire(Math.max(4, numel(shape) * bytesPerElement(dtype)));
    return new Tensor(runtime, new Storage(buffer, (b) => pool.release(b)), [...shape], dtype);
  }

  /** Wraps a buffer the caller owns (e.g. a host app's); disposing the tensor leaves the buffer alone. */
  static wrap(runtime: Runtime, buffer: GPUBuffer, shape: readonly number[], dtype: DType = 'f32'): Tensor {
    validateShape(shape);
    const need = numel(shape) * bytesPerElement(dtype);
    if (buffer.size < need) throw new SyntheError(`buffer of ${buffer.size} bytes is too small for a ${dtype} tensor ${formatShape(shape)} (${need} bytes)`);
    return new Tensor(runtime, new Storage(buffer, null), [...shape], dtype);
  }

  /** Uploads data (converted to the dtype) into a new tensor. */
  static fromData(runtime: Runtime, data: ArrayLike<number>, shape: readonly number[], dtype: DType = 'f32'): Tensor {
    validateShape(shape);
    const n = numel(shape);
    if (data.length !== n) throw new SyntheError(`data has ${data.length} values but shape ${formatShape(shape)} needs ${n}`);
    const tensor = Tensor.empty(runtime, shape, dtype);
    runtime.upload(tensor.buffer, encode(data, dtype));
    return tensor;
  }

  get buffer(): GPUBuffer {
    this.checkAlive();
    return this.storage.buffer;
  }

  /** Number of elements. */
  get size(): number {
    return numel(this.shape);
  }

  get rank(): number {
    return this.shape.length;
  }

  /** Bytes of data (not of the pooled buffer, which may be larger). */
  get byteLength(): number {
    return this.size * bytesPerElement(this.dtype);
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Copies the values to the CPU: f32 and f16 tensors read as Float32Array, i32 as Int32Array. */
  async read(): Promise<Float32Array> {
    const bytes = await this.runtime.read(this.buffer, this.byteLength);
    switch (this.dtype) {
      case 'f32':
        return new Float32Array(bytes);
      case 'f16':
        return f16ToF32(new Uint16Array(bytes));
      case 'i32':
        return Float32Array.from(new Int32Array(bytes));
      default:
        return this.dtype satisfies never;
    }
  }

  /** Copies an i32 tensor's values to the CPU exactly. */
  async readInt(): Promise<Int32Array> {
    if (this.dtype !== 'i32') throw new SyntheError(`readInt needs an i32 tensor, this one is ${this.dtype}`);
    return new Int32Array(await this.runtime.read(this.buffer, this.byteLength));
  }

  /** A view with another shape of the same number of elements; `-1` infers one dimension. */
  reshape(shape: readonly number[]): Tensor {
    const resolved = inferShape(shape, this.size, this.shape);
    this.checkAlive();
    this.storage.refs += 1;
    return new Tensor(this.runtime, this.storage, resolved, this.dtype);
  }

  /** Frees the tensor; its buffer returns to the pool when no other view uses it. Safe to call twice. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.storage.refs -= 1;
    if (this.storage.refs === 0) this.storage.release?.(this.storage.buffer);
  }

  toString(): string {
    return `Tensor(${formatShape(this.shape)}, ${this.dtype})`;
  }

  private checkAlive(): void {
    if (this.disposed) throw new SyntheError(`${this.toString()} was used after dispose()`);
  }
}

function validateShape(shape: readonly number[]): void {
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new SyntheError(`invalid shape ${formatShape(shape)}: dimensions must be non-negative integers`);
  }
}

function inferShape(shape: readonly number[], size: number, from: readonly number[]): number[] {
  const out = [...shape];
  const unknown = out.indexOf(-1);
  if (unknown !== -1) {
    const known = out.reduce((p, d, i) => (i === unknown ? p : p * d), 1);
    out[unknown] = known === 0 ? 0 : size / known;
  }
  if (out.some((d) => !Number.isSafeInteger(d) || d < 0) || numel(out) !== size) {
    throw new SyntheError(`cannot reshape ${formatShape(from)} (${size} elements) to ${formatShape(shape)}`);
  }
  return out;
}

function encode(data: ArrayLike<number>, dtype: DType): ArrayBufferView {
  switch (dtype) {
    case 'f32':
      return data instanceof Float32Array ? data : Float32Array.from(data);
    case 'f16':
      return f32ToF16(data instanceof Float32Array ? data : Float32Array.from(data));
    case 'i32':
      return data instanceof Int32Array ? data : Int32Array.from(data);
    default:
      return dtype satisfies never;
  }
}
