/**
 * The engine: a device, its runtime, the ops bound to it, and the helpers that manage tensor lifetimes and
 * recorded plans. `createEngine` is the library's front door.
 */
import { SyntheError } from './errors';
import { acquireDevice, type DeviceOptions, type GpuContext } from './gpu/device';
import { Runtime } from './gpu/runtime';
import type { KernelTiming } from './gpu/timing';
import { Plan } from './graph/plan';
import type { SafetensorsFile, SafetensorsSource } from './io/safetensors';
import { loadTuned } from './kernels/autotune';
import { bindOps, type Ops } from './kernels/registry';
import { writeBuffer, writeTexture, type WriteTextureOptions } from './kernels/present';
import { loadModel, type LoadModelOptions } from './models/load';
import type { Model } from './models/model';
import type { DType } from './tensor/dtype';
import { Tensor, type TensorScope } from './tensor/tensor';

/** Options for {@link createEngine}. */
export interface EngineOptions extends DeviceOptions {}

export class Engine {
  /** Every op, named and behaving like `torch.nn.functional`, on NCHW tensors. */
  readonly ops: Ops;
  /** @internal The dispatch layer the ops use. */
  readonly runtime: Runtime;
  private disposed = false;

  /** @internal Use {@link createEngine}. */
  constructor(readonly gpu: GpuContext) {
    this.runtime = new Runtime(gpu);
    this.ops = bindOps(this.runtime);
  }

  /** The device the engine runs on (the host's when one was passed in). */
  get device(): GPUDevice {
    return this.gpu.device;
  }

  /** A tensor holding `data` (row-major), uploaded once. */
  tensor(data: ArrayLike<number>, shape: readonly number[], dtype: DType = 'f32'): Tensor {
    this.checkAlive();
    if (dtype === 'f16' && !this.gpu.features['shader-f16']) {
      throw new SyntheError('f16 tensors need the shader-f16 feature, which this device does not have');
    }
    return Tensor.fromData(this.runtime, data, shape, dtype);
  }

  /** An uninitialised tensor. */
  empty(shape: readonly number[], dtype: DType = 'f32'): Tensor {
    this.checkAlive();
    return Tensor.empty(this.runtime, shape, dtype);
  }

  /** Views a buffer the caller owns as a tensor (for results written into a host app's buffers). */
  wrap(buffer: GPUBuffer, shape: readonly number[], dtype: DType = 'f32'): Tensor {
    this.checkAlive();
    return Tensor.wrap(this.runtime, buffer, shape, dtype);
  }

  /**
   * Runs `fn` and disposes every tensor created inside it except those it returns (directly, or inside
   * arrays and plain objects). Scopes nest.
   */
  tidy<T>(fn: () => T): T {
    const created: Tensor[] = [];
    const scope: TensorScope = { track: (t) => created.push(t) };
    const outer = Tensor.scope;
    Tensor.scope = scope;
    let result: T;
    try {
      result = fn();
    } catch (error) {
      // A failed scope leaves nothing behind either.
      for (const t of created) t.dispose();
      throw error;
    } finally {
      Tensor.scope = outer;
    }
    if (result instanceof Promise) throw new SyntheError('tidy() takes a synchronous function; dispose tensors by hand around awaits');
    const kept = new Set<Tensor>();
    collectTensors(result, kept);
    for (const t of created) {
      if (kept.has(t)) outer?.track(t);
      else t.dispose();
    }
    return result;
  }

  /**
   * Records the dispatches of `fn(inputs)` once into a flat plan that can be replayed with new input data.
   * Inputs are tensors made for the plan from the given shapes; buffers freed inside `fn` are reused inside
   * the plan, which is how a forward's memory is planned.
   */
  record<I extends Record<string, readonly number[]>, O extends Record<string, Tensor>>(
    inputShapes: I,
    fn: (inputs: { [K in keyof I]: Tensor }) => O,
  ): Plan<keyof I & string, keyof O & string> {
    this.checkAlive();
    return Plan.record(this.runtime, inputShapes, fn);
  }

  /**
   * Loads a model from a safetensors checkpoint (a path in Node, a URL, a Blob, bytes, or an opened file),
   * recognising its architecture from the key names unless `arch` is given, or from a diffusers model folder
   * (a directory in Node, or a URL ending in '/'), whose config.json and its `_class_name` say what it is.
   */
  async loadModel(source: SafetensorsSource | SafetensorsFile, options: LoadModelOptions = {}): Promise<Model> {
    this.checkAlive();
    return loadModel(this, source, options);
  }

  /**
   * Runs `fn` once (e.g. a model's forward on inputs of the sizes it will see), then, for every problem it
   * met that has several kernel variants and no measured winner yet, times the variants and keeps the
   * fastest for this adapter (persisted: localStorage in browsers, a cache file in Node). Later calls with
   * the same sizes run the winners. Returns what `fn` returned.
   */
  async tune<T>(fn: () => T | Promise<T>): Promise<T> {
    this.checkAlive();
    const rt = this.runtime;
    if (rt.untuned) throw new SyntheError('engine.tune: already tuning (calls cannot nest)');
    const jobs = new Map<string, () => Promise<unknown>>();
    rt.untuned = jobs;
    let result: T;
    try {
      result = await fn();
    } finally {
      rt.untuned = null;
    }
    await rt.sync();
    for (const job of jobs.values()) await job();
    return result;
  }

  /** Runs `fn` with every dispatch timed by timestamp queries (needs the timestamp-query feature). */
  async profile<T>(fn: () => T | Promise<T>): Promise<{ result: T; timings: KernelTiming[] }> {
    this.runtime.beginProfiling();
    let result: T;
    try {
      result = await fn();
    } finally {
      this.runtime.flush();
    }
    return { result, timings: await this.runtime.endProfiling() };
  }

  /**
   * Writes one image of an (N, C, H, W) tensor into the host's `rgba8unorm` or `rgba16float` texture (with
   * STORAGE_BINDING usage), with no CPU round trip. Call {@link submit} before the host uses the texture.
   */
  writeTexture(image: Tensor, texture: GPUTexture, options: WriteTextureOptions = {}): void {
    this.checkAlive();
    writeTexture(this.runtime, image, texture, options);
  }

  /** Copies a tensor's bytes into the host's buffer (COPY_DST usage). Call {@link submit} before the host reads it. */
  writeBuffer(tensor: Tensor, buffer: GPUBuffer, byteOffset = 0): void {
    this.checkAlive();
    writeBuffer(this.runtime, tensor, buffer, byteOffset);
  }

  /**
   * Submits the engine's queued work to the device queue without waiting. Work the host submits afterwards
   * on the same queue runs after it, which is how a host orders its render pass after the engine's output.
   */
  submit(): void {
    this.checkAlive();
    this.runtime.flush();
  }

  /** Submits queued work and waits for the GPU to finish it. */
  async sync(): Promise<void> {
    await this.runtime.sync();
  }

  /** Memory counters: bytes allocated by the tensor pool, in use, and the peak. */
  memory() {
    return this.runtime.memory();
  }

  /** Frees the engine's buffers, and its device when the engine created it. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.runtime.flush();
    this.runtime.destroy();
    if (this.gpu.ownsDevice) this.gpu.device.destroy();
  }

  private checkAlive(): void {
    if (this.disposed) throw new SyntheError('this engine was disposed');
  }
}

/** Creates an engine on a new device, or on the host app's `device`. */
export async function createEngine(options: EngineOptions = {}): Promise<Engine> {
  // Winners measured in earlier runs apply from the first op on.
  const [gpu] = await Promise.all([acquireDevice(options), loadTuned()]);
  return new Engine(gpu);
}

function collectTensors(value: unknown, into: Set<Tensor>): void {
  if (value instanceof Tensor) {
    into.add(value);
  } else if (Array.isArray(value)) {
    for (const v of value) collectTensors(v, into);
  } else if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collectTensors(v, into);
  }
}
