/**
 * The runtime encodes dispatches into one command encoder and submits only when a result is needed (a read,
 * an upload that must not overtake encoded work, or an explicit flush). While a plan is being recorded, each
 * dispatch is also kept as a flat command that the plan replays later without rebuilding anything.
 */
import { DeviceLostError, ShaderError, SyntheError } from '../errors';
import type { GpuContext } from './device';
import { PipelineCache, type Overrides, type PipelineEntry } from './pipelines';
import { BufferPool } from './pool';
import { packUniforms, type UniformValues } from './reflect';
import type { Shader } from './shader';
import { Profiler, type KernelTiming } from './timing';

/** A buffer, a range of one, or (for storage-texture variables) a texture view, bound to a shader variable. */
export type BufferBinding = GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number } | GPUTextureView;

/** One kernel launch. */
export interface Dispatch {
  shader: Shader;
  /** Entry point; defaults to `main`. */
  entry?: string;
  overrides?: Overrides;
  /** Values for the entry's uniform struct, by member name (required when it has one). */
  uniforms?: UniformValues;
  /** Buffers by the WGSL variable names of the entry's bindings. */
  bindings: Record<string, BufferBinding>;
  /**
   * Number of workgroups. It is folded over y and z when it exceeds the per-dimension limit, so shaders
   * compute their linear workgroup index as `wid.x + wid.y * nwg.x + wid.z * nwg.x * nwg.y` and bound-check.
   */
  workgroups: number;
  /** Op name for timings and errors. */
  label?: string;
}

/** A dispatch or a copy, resolved to GPU objects, ready to replay. */
export type Command =
  | { kind: 'dispatch'; pipeline: GPUComputePipeline; bindGroup: GPUBindGroup; grid: [number, number, number]; label: string }
  | { kind: 'copy'; source: GPUBuffer; sourceOffset: number; target: GPUBuffer; targetOffset: number; bytes: number };

/** Collects the commands and buffers of a recorded forward. */
export interface Recorder {
  commands: Command[];
  /** Uniform and constant buffers made during recording; the plan owns them. */
  uniforms: GPUBuffer[];
  /** Storage buffers made during recording; the plan owns them. */
  pool: BufferPool;
}

export class Runtime {
  readonly device: GPUDevice;
  readonly pipelines: PipelineCache;
  /** Where tensors get their buffers; a recording swaps in the plan's own pool. */
  pool: BufferPool;
  private readonly mainPool: BufferPool;
  private readonly uniformPool: BufferPool;
  private readonly readbackPool: BufferPool;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  /** Uniform buffers used by encoded but not yet submitted work; freed after the submit. */
  private pendingUniforms: GPUBuffer[] = [];
  private recorder: Recorder | null = null;
  private profiler: Profiler | null = null;
  private errors: SyntheError[] = [];
  private lost: GPUDeviceLostInfo | null = null;
  /** Number of submits so far, for benchmarks that count them. */
  submits = 0;

  /** Problems met while `engine.tune` runs, with the job that measures each (see kernels/autotune.ts). */
  untuned: Map<string, () => Promise<unknown>> | null = null;

  constructor(readonly ctx: GpuContext) {
    this.device = ctx.device;
    this.mainPool = new BufferPool(this.device, 'tensor');
    this.pool = this.mainPool;
    this.uniformPool = new BufferPool(this.device, 'uniform', 0x0040 /* UNIFORM */ | 0x0008 /* COPY_DST */);
    this.readbackPool = new BufferPool(this.device, 'readback', 0x0001 /* MAP_READ */ | 0x0008 /* COPY_DST */);
    this.pipelines = new PipelineCache(this.device, (error) => this.errors.push(error));
    void this.device.lost.then((info) => {
      this.lost = info;
    });
    this.device.addEventListener?.('uncapturederror', (event) => {
      const error = (event as GPUUncapturedErrorEvent).error;
      this.errors.push(new SyntheError(`WebGPU error: ${error.message}`));
    });
  }

  /** Encodes one kernel launch (and records it when a plan is being recorded). */
  dispatch(d: Dispatch): void {
    this.checkAlive();
    const entry = d.entry ?? 'main';
    const built = this.pipelines.get(d.shader, entry, d.overrides);
    const bindGroup = this.bindGroup(built, d);
    const label = d.label ?? built.key;
    this.submitOrRecord({ kind: 'dispatch', pipeline: built.pipeline, bindGroup, grid: this.grid(d.workgroups, label), label });
  }

  /** Encodes already-built commands (a plan's replay). */
  replay(commands: readonly Command[]): void {
    this.checkAlive();
    for (const command of commands) this.encode(command);
  }

  /**
   * Writes bytes into a buffer, ordered after every dispatch encoded so far. Inside a recording the data is
   * kept in a buffer of the plan's and copied at each replay, since the target may be reused within the plan.
   */
  upload(buffer: GPUBuffer, data: ArrayBufferView, byteOffset = 0): void {
    this.checkAlive();
    if (data.byteLength === 0) return;
    const bytes = padTo4(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    if (this.recorder) {
      const constant = this.device.createBuffer({ size: bytes.byteLength, usage: 0x0004 /* COPY_SRC */ | 0x0008, label: 'plan:constant' });
      this.device.queue.writeBuffer(constant, 0, bytes);
      this.recorder.uniforms.push(constant);
      this.copy(constant, 0, buffer, byteOffset, bytes.byteLength);
      return;
    }
    // queue.writeBuffer runs before any command buffer submitted after it; encoded work must go first.
    if (this.encoder) this.flush();
    this.device.queue.writeBuffer(buffer, byteOffset, bytes);
  }

  /** Encodes (or records) a buffer-to-buffer copy in order with the dispatches. */
  copy(source: GPUBuffer, sourceOffset: number, target: GPUBuffer, targetOffset: number, bytes: number): void {
    this.checkAlive();
    this.submitOrRecord({ kind: 'copy', source, sourceOffset, target, targetOffset, bytes: Math.ceil(bytes / 4) * 4 });
  }

  /** Reads `bytes` bytes of a buffer back to the CPU; submits pending work first. */
  async read(buffer: GPUBuffer, bytes: number, byteOffset = 0): Promise<ArrayBuffer> {
    this.checkAlive();
    if (this.recorder) throw new SyntheError('tensors cannot be read while a plan is being recorded: nothing has run yet');
    const size = Math.ceil(bytes / 4) * 4;
    const staging = this.readbackPool.acquire(size);
    this.endPass();
    this.encoderOrNew().copyBufferToBuffer(buffer, byteOffset, staging, 0, size);
    this.flush();
    try {
      await staging.mapAsync(1 /* GPUMapMode.READ */, 0, size);
    } catch (error) {
      this.checkAlive();
      throw new SyntheError(`reading a tensor back failed: ${(error as Error).message}`);
    }
    const out = staging.getMappedRange(0, size).slice(0, bytes);
    staging.unmap();
    this.readbackPool.release(staging);
    this.throwPendingErrors();
    return out;
  }

  /** Submits all encoded work. Does not wait for it. */
  flush(): void {
    if (!this.encoder) return;
    this.endPass();
    this.profiler?.resolve(this.encoder);
    this.device.queue.submit([this.encoder.finish()]);
    this.submits += 1;
    this.encoder = null;
    for (const buffer of this.pendingUniforms) this.uniformPool.release(buffer);
    this.pendingUniforms = [];
  }

  /** Submits and waits until the GPU has finished everything so far. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.throwPendingErrors();
  }

  /** Starts recording dispatches into a plan; buffers allocated until `endRecording` belong to the plan. */
  beginRecording(): Recorder {
    if (this.recorder) throw new SyntheError('a plan is already being recorded');
    this.recorder = { commands: [], uniforms: [], pool: new BufferPool(this.device, 'plan') };
    this.pool = this.recorder.pool;
    return this.recorder;
  }

  endRecording(): void {
    this.recorder = null;
    this.pool = this.mainPool;
  }

  get recording(): boolean {
    return this.recorder !== null;
  }

  /** Times each dispatch with timestamp queries until `endProfiling`; needs the timestamp-query feature. */
  beginProfiling(): void {
    if (!this.ctx.features['timestamp-query']) throw new SyntheError('this device has no timestamp-query feature; timings are unavailable');
    this.flush();
    this.profiler = new Profiler(this.device);
  }

  /** Ends profiling and returns one timing per dispatch, in order. */
  async endProfiling(): Promise<KernelTiming[]> {
    const profiler = this.profiler;
    if (!profiler) throw new SyntheError('profiling was not started');
    this.flush();
    this.profiler = null;
    return profiler.collect();
  }

  /** Memory counters of the tensor pool. */
  memory() {
    return this.mainPool.snapshot();
  }

  /** Frees pooled buffers that are not in use. */
  trim(): void {
    // Free buffers may still be read by commands not yet submitted; destroying them first would fail those.
    this.flush();
    this.mainPool.trim();
    this.uniformPool.trim();
    this.readbackPool.trim();
  }

  destroy(): void {
    this.encoder = null;
    this.pass = null;
    this.mainPool.destroy();
    this.uniformPool.destroy();
    this.readbackPool.destroy();
  }

  /** Raises the first asynchronous error (a shader that failed to compile, a validation error) if any. */
  throwPendingErrors(): void {
    this.checkAlive();
    const first = this.errors.shift();
    if (first) {
      this.errors = [];
      throw first;
    }
  }

  private checkAlive(): void {
    if (this.lost) throw new DeviceLostError(`the GPU device was lost (${this.lost.reason}): ${this.lost.message || 'no message'}; create a new engine`);
  }

  private submitOrRecord(command: Command): void {
    if (this.recorder) this.recorder.commands.push(command);
    else this.encode(command);
  }

  private encode(command: Command): void {
    if (command.kind === 'copy') {
      this.endPass();
      this.encoderOrNew().copyBufferToBuffer(command.source, command.sourceOffset, command.target, command.targetOffset, command.bytes);
      return;
    }
    if (this.profiler) {
      this.endPass();
      const pass = this.encoderOrNew().beginComputePass({ label: command.label, timestampWrites: this.profiler.next(command.label) });
      pass.setPipeline(command.pipeline);
      pass.setBindGroup(0, command.bindGroup);
      pass.dispatchWorkgroups(...command.grid);
      pass.end();
      return;
    }
    this.pass ??= this.encoderOrNew().beginComputePass({ label: 'synthe' });
    this.pass.setPipeline(command.pipeline);
    this.pass.setBindGroup(0, command.bindGroup);
    this.pass.dispatchWorkgroups(...command.grid);
  }

  private encoderOrNew(): GPUCommandEncoder {
    this.encoder ??= this.device.createCommandEncoder({ label: 'synthe' });
    return this.encoder;
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
  }

  private bindGroup(built: PipelineEntry, d: Dispatch): GPUBindGroup {
    const where = d.label ?? built.key;
    const entries: GPUBindGroupEntry[] = [];
    const given = new Set(Object.keys(d.bindings));
    for (const b of built.info.bindings) {
      if (b.kind === 'uniform') {
        entries.push({ binding: b.binding, resource: { buffer: this.uniformBuffer(built, d.uniforms ?? {}, where) } });
        continue;
      }
      const bound = d.bindings[b.name];
      if (!bound) throw new ShaderError(`${where}: no resource given for binding '${b.name}'`);
      given.delete(b.name);
      entries.push({ binding: b.binding, resource: bindingResource(bound, b.kind === 'storage-texture', where, b.name) });
    }
    if (given.size > 0) throw new ShaderError(`${where}: the shader does not use binding(s) ${[...given].join(', ')}`);
    return this.device.createBindGroup({ layout: built.layout, entries, label: where });
  }

  private uniformBuffer(built: PipelineEntry, values: UniformValues, where: string): GPUBuffer {
    const bytes = packUniforms(built.info.uniform!, values, where);
    if (this.recorder) {
      const buffer = this.device.createBuffer({ size: bytes.byteLength, usage: 0x0040 | 0x0008, label: `${where}:uniform` });
      this.recorder.uniforms.push(buffer);
      this.device.queue.writeBuffer(buffer, 0, bytes);
      return buffer;
    }
    // A pooled uniform buffer is never reused before the work that reads it is submitted (see flush), so
    // writing it now cannot change what earlier encoded work sees.
    const buffer = this.uniformPool.acquire(bytes.byteLength);
    this.pendingUniforms.push(buffer);
    this.device.queue.writeBuffer(buffer, 0, bytes);
    return buffer;
  }

  private grid(workgroups: number, label: string): [number, number, number] {
    const max = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (!Number.isInteger(workgroups) || workgroups < 0) throw new SyntheError(`${label}: invalid workgroup count ${workgroups}`);
    if (workgroups <= max) return [workgroups, 1, 1];
    const x = max;
    const rest = Math.ceil(workgroups / x);
    if (rest <= max) return [x, rest, 1];
    const y = max;
    const z = Math.ceil(rest / y);
    if (z > max) throw new SyntheError(`${label}: ${workgroups} workgroups exceed what one dispatch can address`);
    return [x, y, z];
  }
}

function bindingResource(bound: BufferBinding, texture: boolean, where: string, name: string): GPUBindingResource {
  const isView = typeof GPUTextureView !== 'undefined' ? bound instanceof GPUTextureView : 'label' in bound && !('size' in bound) && !('buffer' in bound);
  if (texture !== isView) throw new ShaderError(`${where}: binding '${name}' needs a ${texture ? 'texture view' : 'buffer'}`);
  if (isView) return bound as GPUTextureView;
  return 'buffer' in bound ? { ...bound } : { buffer: bound as GPUBuffer };
}

/** writeBuffer wants 4-byte multiples, and Dawn rejects views of a SharedArrayBuffer: copy in both cases. */
function padTo4(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  if (bytes.byteLength % 4 === 0 && bytes.buffer instanceof ArrayBuffer) return bytes as Uint8Array<ArrayBuffer>;
  const padded = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
  padded.set(bytes);
  return padded;
}
