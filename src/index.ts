/**
 * synthe: a WebGPU compute engine for image synthesis.
 *
 * ```ts
 * import { createEngine } from 'synthe';
 * const engine = await createEngine();
 * const x = engine.tensor([1, -2, 3, -4], [1, 1, 2, 2]);
 * console.log(await engine.ops.relu(x).read());
 * ```
 */
export { createEngine, Engine, type EngineOptions } from './engine';
export type { WriteTextureOptions } from './kernels/present';
export type { PixelRange } from './io/image';
export { Tensor } from './tensor/tensor';
export type { DType } from './tensor/dtype';
export type { Ops } from './kernels/registry';
export { Plan } from './graph/plan';
export type { DeviceOptions, GpuContext, OptionalFeature } from './gpu/device';
export type { KernelTiming } from './gpu/timing';
export { SyntheError, ShapeError, DeviceLostError, ShaderError } from './errors';
export { NoAdapterError } from './gpu/device';
export type { Model, ModelPart } from './models/model';
export type { LoadModelOptions } from './models/load';
export { CheckpointError } from './models/checkpoint';
export { DiffusersConfigError } from './models/diffusers/config';
export type { Architecture } from './models/recognize';
export { openSafetensors, writeSafetensors, SafetensorsError, type SafetensorsFile, type SafetensorsSource } from './io/safetensors';
export { readTfjsModel, TfjsError, type TfjsLayersModel, type TfjsSource } from './io/tfjs';
export { convertTfjsModel, tfjsToSafetensors, type KerasConvertOptions } from './models/keras-convert';
export { loadKerasGraphModel, type KerasGraphModel } from './models/keras-graph';
export { KerasGraphError } from './models/keras-graph-spec';
export {
  createScheduler, Scheduler, DDPMScheduler, DDIMScheduler, EulerDiscreteScheduler, EulerAncestralDiscreteScheduler,
  DPMSolverMultistepScheduler, LCMScheduler, SCHEDULER_ALIASES, SCHEDULER_CLASSES, SchedulerConfigError, SchedulerError,
  type SchedulerClassName, type SchedulerOutput, type StepOptions, type PredictionType, type TimestepSpacing,
} from './diffusion/schedulers/index';
export {
  generate as generateDiffusion, imagesToRgba, GenerationCancelledError,
  type DiffusionOptions, type DiffusionParts, type DiffusionProgress,
} from './pipelines/diffusion';
