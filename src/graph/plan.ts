/**
 * A recorded forward: a flat list of prepared dispatches and copies over buffers the plan owns. Replaying it
 * builds nothing and allocates nothing; it writes the inputs, encodes the list, and the outputs are ready.
 */
import { ShapeError, SyntheError } from '../errors';
import type { BufferPool } from '../gpu/pool';
import type { Command, Runtime } from '../gpu/runtime';
import { formatShape, numel } from '../tensor/shape';
import { Tensor } from '../tensor/tensor';

export class Plan<In extends string, Out extends string> {
  private disposed = false;

  private constructor(
    private readonly runtime: Runtime,
    private readonly commands: readonly Command[],
    /** The plan's own input tensors; `run` fills them. */
    readonly inputs: Readonly<Record<In, Tensor>>,
    /** The plan's output tensors; their contents are replaced by every `run`. */
    readonly outputs: Readonly<Record<Out, Tensor>>,
    private readonly owned: GPUBuffer[],
    private readonly pool: BufferPool,
  ) {}

  /** @internal Use `engine.record`. */
  static record<I extends Record<string, readonly number[]>, O extends Record<string, Tensor>>(
    runtime: Runtime,
    inputShapes: I,
    fn: (inputs: { [K in keyof I]: Tensor }) => O,
  ): Plan<keyof I & string, keyof O & string> {
    runtime.flush();
    const recorder = runtime.beginRecording();
    let outputs: O;
    const inputs = {} as { [K in keyof I]: Tensor };
    try {
      for (const [name, shape] of Object.entries(inputShapes)) {
        (inputs as Record<string, Tensor>)[name] = Tensor.empty(runtime, shape);
      }
      outputs = fn(inputs);
    } finally {
      runtime.endRecording();
    }
    for (const [name, t] of Object.entries(outputs)) {
      if (!(t instanceof Tensor)) throw new SyntheError(`recorded function returned a non-tensor output '${name}'`);
    }
    return new Plan(runtime, recorder.commands, inputs, outputs, recorder.uniforms, recorder.pool);
  }

  /** Number of dispatches and copies per run. */
  get length(): number {
    return this.commands.length;
  }

  /** Bytes of GPU memory the plan owns (intermediates, inputs, outputs). */
  get allocatedBytes(): number {
    return this.pool.snapshot().allocatedBytes;
  }

  /**
   * Writes the inputs (CPU data or tensors of the same shape) and encodes the whole forward. The returned
   * tensors are the plan's own outputs: read or copy them before the next run.
   */
  run(inputs: Record<In, ArrayLike<number> | Tensor>): Readonly<Record<Out, Tensor>> {
    if (this.disposed) throw new SyntheError('this plan was disposed');
    for (const [name, target] of Object.entries(this.inputs) as [In, Tensor][]) {
      const value = inputs[name];
      if (value === undefined) throw new SyntheError(`plan input '${name}' was not given`);
      if (value instanceof Tensor) {
        if (value.size !== target.size || value.dtype !== target.dtype) {
          throw new ShapeError(`plan input '${name}' must be ${formatShape(target.shape)} ${target.dtype}, got ${value.toString()}`);
        }
        this.runtime.copy(value.buffer, 0, target.buffer, 0, target.byteLength);
      } else {
        if (value.length !== numel(target.shape)) {
          throw new ShapeError(`plan input '${name}' needs ${target.size} values (${formatShape(target.shape)}), got ${value.length}`);
        }
        this.runtime.upload(target.buffer, value instanceof Float32Array ? value : Float32Array.from(value));
      }
    }
    this.runtime.replay(this.commands);
    return this.outputs;
  }

  /** Frees every buffer the plan owns. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.runtime.flush();
    this.pool.destroy();
    for (const buffer of this.owned) buffer.destroy();
  }
}
