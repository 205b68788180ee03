/**
 * Sampling a diffusers UNet: seeded noise → N scheduler steps → optional VAE decode → images in [-1, 1].
 * Everything stays on the GPU until the caller reads the images: each step is the UNet forward (conditional
 * and unconditional halves of classifier-free guidance in one batch) and one fused scheduler kernel; its
 * tensors are freed inside a tidy scope, so the pool hands the same buffers to the next step. Images are made
 * in batches, each image from its own seeded generator, so a batch size never changes an image.
 */
import type { Engine } from '../engine';
import { SyntheError } from '../errors';
import type { Scheduler } from '../diffusion/schedulers/index';
import { nchwToImage, type RgbaImage } from '../io/image';
import type { Model } from '../models/model';
import { makeRng, type Rng } from '../random';
import type { Tensor } from '../tensor/tensor';

/** Raised when a generation's AbortSignal fires; it stops between steps, with everything freed. */
export class GenerationCancelledError extends SyntheError {
  override name = 'GenerationCancelledError';
}

/** What the progress callback gets after every step. */
export interface DiffusionProgress {
  /** Steps done in this batch (1 … total). */
  step: number;
  /** Steps per batch. */
  total: number;
  /** The timestep the step started from. */
  timestep: number;
  /** This batch (0-based) and the number of batches. */
  batch: number;
  batches: number;
  /** Milliseconds since the generation started, the step's GPU work included. */
  elapsedMs: number;
  /** GPU bytes of the recorded UNet plan (its buffers are its own, outside `engine.memory()`); 0 when eager. */
  planBytes: number;
  /**
   * Reads the step's predicted x0 (N, C, H, W) back: an image estimate in [-1, 1] for pixel-space models,
   * latents for latent models; `'sample'` reads the step's result x_{t−1} instead. Only valid until the
   * callback's promise settles.
   */
  preview(what?: 'x0' | 'sample'): Promise<{ data: Float32Array; shape: number[] }>;
}

/** Options of {@link generate}. */
export interface DiffusionOptions {
  /** Images to make (default 1). */
  count?: number;
  /** Inference steps (default 50, as diffusers). */
  numInferenceSteps?: number;
  /** Classifier-free guidance scale; guidance runs when it is above 1 (default 1: none). */
  guidanceScale?: number;
  /** Seed of image i's generator is derived from (seed, i) (default 0). */
  seed?: number;
  /** Initial noise (count · C · H · W standard normal values), instead of drawing it; scaled by the scheduler's initNoiseSigma. */
  latents?: Float32Array;
  /** Class-conditional UNets: one label, or one per image; null for unconditional samples. */
  classLabels?: number | readonly number[] | null;
  /** The label meaning "no class" for guidance (default num_class_embeds − 1, this project's convention). */
  unconditionalClass?: number;
  /** Cross-attention UNets: (1 or count, L, D) conditioning states. */
  encoderHiddenStates?: Tensor;
  /** Cross-attention UNets with guidance: the unconditional states, shaped like encoderHiddenStates. */
  negativeEncoderHiddenStates?: Tensor;
  /** Sample size (H, W) in the UNet's units (latents for latent models); default the UNet's sample_size. */
  sampleSize?: [number, number];
  /** Images per batch; default the largest that keeps the UNet's widest activation under the binding limit, at most 16. */
  batchSize?: number;
  /** DDIMScheduler's eta. */
  eta?: number;
  /**
   * Record the UNet evaluation into a plan once per batch and replay it every step (default true); false
   * runs it eagerly, op by op.
   */
  record?: boolean;
  /** Called after every step; the next step waits for its promise. */
  onProgress?: (progress: DiffusionProgress) => void | Promise<void>;
  /** Stops the generation between steps with a {@link GenerationCancelledError}. */
  signal?: AbortSignal;
}

/** The models of a diffusion pipeline. */
export interface DiffusionParts {
  unet: Model;
  scheduler: Scheduler;
  /** AutoencoderKL for latent models; its `scaling_factor` config maps latents back to its space. */
  vae?: Model | null;
}

/** What the UNet's config must say for sampling. */
interface UnetShape {
  channels: number;
  size: [number, number];
  classes: number | null;
  crossAttention: boolean;
}

function unetShape(unet: Model, sampleSize?: [number, number]): UnetShape {
  const c = unet.config;
  if (unet.arch !== 'unet2d' && unet.arch !== 'unet2d-condition') throw new SyntheError(`diffusion: model '${unet.arch}' is not a diffusers UNet`);
  const channels = Number(c.in_channels);
  const configured = c.sample_size;
  const size = sampleSize ?? (Array.isArray(configured) ? (configured as [number, number]) : [Number(configured), Number(configured)]);
  if (!Number.isInteger(channels) || channels < 1) throw new SyntheError('diffusion: the UNet config has no in_channels');
  if (!size.every((d) => Number.isInteger(d) && d > 0)) throw new SyntheError('diffusion: the UNet config has no sample_size; pass sampleSize');
  const classes = c.num_class_embeds === undefined || c.num_class_embeds === null ? null : Number(c.num_class_embeds);
  return { channels, size, classes, crossAttention: unet.arch === 'unet2d-condition' };
}

/**
 * Images per batch: the UNet's widest activations are about three times its first block's width at full
 * resolution (an up block's concatenated skip), per image, doubled under guidance.
 */
function defaultBatchSize(engine: Engine, unet: Model, shape: UnetShape, guided: boolean): number {
  const widths = unet.config.block_out_channels;
  const first = Array.isArray(widths) && typeof widths[0] === 'number' ? widths[0] : 128;
  const perImage = 4 * shape.size[0] * shape.size[1] * first * 3 * (guided ? 2 : 1);
  const limit = engine.device.limits.maxStorageBufferBindingSize;
  return Math.max(1, Math.min(16, Math.floor(limit / 2 / perImage)));
}

/** Image i's generator: a seed mixed from (seed, i), so images do not share streams across neighbouring seeds. */
function imageRng(seed: number, index: number): Rng {
  const mixed = Math.imul((seed | 0) ^ 0x5bd1e995, 0x27d4eb2d) ^ Math.imul(index + 1, 0x165667b1);
  return makeRng(mixed);
}

/** One row of each image's generator, concatenated: the batch's noise, independent of how images are batched. */
function drawBatch(rngs: readonly Rng[], perImage: number): Float32Array {
  const out = new Float32Array(rngs.length * perImage);
  rngs.forEach((rng, i) => out.set(rng.randn(perImage), i * perImage));
  return out;
}

function checkCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new GenerationCancelledError('generation cancelled');
}

/**
 * Runs the sampling loop and returns the images as one (count, C, H, W) tensor in [-1, 1], on the GPU. The
 * caller disposes it (or reads it with {@link imagesToRgba}).
 */
export async function generate(engine: Engine, parts: DiffusionParts, options: DiffusionOptions = {}): Promise<Tensor> {
  const { unet, vae } = parts;
  const count = options.count ?? 1;
  const steps = options.numInferenceSteps ?? 50;
  const guidance = options.guidanceScale ?? 1;
  const guided = guidance > 1;
  const shape = unetShape(unet, options.sampleSize);
  if (!Number.isInteger(count) || count < 1) throw new SyntheError(`diffusion: count must be a positive integer, got ${count}`);
  const perImage = shape.channels * shape.size[0] * shape.size[1];
  if (options.latents && options.latents.length !== count * perImage) {
    throw new SyntheError(`diffusion: latents hold ${options.latents.length} values, ${count} × ${shape.channels}×${shape.size.join('×')} needed`);
  }
  const conditioning = conditioningFor(shape, options, count, guided);
  const batchSize = options.batchSize ?? defaultBatchSize(engine, unet, shape, guided);
  const batches = Math.ceil(count / batchSize);
  const started = performance.now();
  const images: Tensor[] = [];
  try {
    for (let b = 0; b < batches; b++) {
      const first = b * batchSize;
      const n = Math.min(batchSize, count - first);
      const rngs = Array.from({ length: n }, (_, i) => imageRng(options.seed ?? 0, first + i));
      const initial = options.latents?.subarray(first * perImage, (first + n) * perImage) ?? drawBatch(rngs, perImage);
      const latents = await sampleBatch(engine, parts, {
        ...options, steps, guidance: guided ? guidance : undefined, shape, n, first, rngs, initial, conditioning, started, batch: b, batches,
      });
      images.push(vae ? decodeLatents(engine, vae, latents) : latents);
      if (vae) latents.dispose();
    }
    if (images.length === 1) return images.pop()!;
    return engine.ops.concat(images, 0);
  } finally {
    for (const t of images) t.dispose();
  }
}

interface BatchJob extends DiffusionOptions {
  steps: number;
  guidance: number | undefined;
  shape: UnetShape;
  n: number;
  first: number;
  rngs: Rng[];
  initial: Float32Array;
  conditioning: Conditioning;
  started: number;
  batch: number;
  batches: number;
}

/**
 * The UNet evaluation of one step, recorded once per batch shape into a plan: guidance's doubled batch and
 * the conditioning (constant tensors) inside, so a step replays prepared dispatches over the plan's own
 * buffers. `record: false` runs the same forward eagerly.
 */
interface UnetStep {
  run(sample: Tensor, timestep: Tensor): Tensor;
  /** Bytes the plan owns. */
  readonly bytes: number;
  dispose(): void;
}

function unetStep(engine: Engine, unet: Model, sampleShape: number[], condition: Record<string, Tensor>, guided: boolean, record: boolean): UnetStep {
  const evaluate = (sample: Tensor, timestep: Tensor): Tensor => {
    const input = guided ? engine.ops.concat([sample, sample], 0) : sample;
    const { sample: prediction } = unet.forward({ sample: input, timestep, ...condition });
    if (input !== sample) input.dispose();
    if (!prediction) throw new SyntheError(`diffusion: the ${unet.arch} forward returned no 'sample'`);
    return prediction;
  };
  if (!record) return { run: evaluate, bytes: 0, dispose() {} };
  const plan = engine.record({ sample: sampleShape, timestep: [1] }, (inputs) => ({ prediction: evaluate(inputs.sample, inputs.timestep) }));
  return {
    run: (sample, timestep) => plan.run({ sample, timestep }).prediction,
    bytes: plan.allocatedBytes,
    dispose: () => plan.dispose(),
  };
}

/** The denoising loop of one batch; returns its final sample (n, C, H, W). */
async function sampleBatch(engine: Engine, parts: DiffusionParts, job: BatchJob): Promise<Tensor> {
  const { unet, scheduler } = parts;
  const { n, shape } = job;
  const sampleShape = [n, shape.channels, ...shape.size];
  const perImage = shape.channels * shape.size[0] * shape.size[1];
  scheduler.setTimesteps(job.steps);
  const sigma = scheduler.initNoiseSigma;
  let latents = engine.tensor(sigma === 1 ? job.initial : job.initial.map((v) => v * sigma), sampleShape);
  let x0: Tensor | null = null;
  const held: { dispose(): void }[] = [];
  try {
    // Every upload happens before the loop encodes anything, so a step is one submit.
    const timesteps = scheduler.timesteps.map((t) => engine.tensor([t], [1]));
    held.push(...timesteps);
    const condition = job.conditioning.inputs(engine, job.first, n);
    held.push(...Object.values(condition));
    const evaluate = unetStep(engine, unet, sampleShape, condition, job.guidance !== undefined, job.record ?? true);
    held.push(evaluate);
    for (const [i, t] of scheduler.timesteps.entries()) {
      checkCancelled(job.signal);
      const noise = scheduler.needsNoise(t, { eta: job.eta }) ? engine.tensor(drawBatch(job.rngs, perImage), sampleShape) : undefined;
      if (noise) held.push(noise);
      const out = engine.tidy(() => {
        const prediction = evaluate.run(scheduler.scaleModelInput(latents, t), timesteps[i]!);
        return scheduler.step(prediction, t, latents, {
          ...(noise ? { noise } : {}),
          ...(job.guidance !== undefined ? { guidanceScale: job.guidance } : {}),
          ...(job.eta !== undefined ? { eta: job.eta } : {}),
        });
      });
      if (noise) held.splice(held.indexOf(noise), 1)[0]!.dispose();
      latents.dispose();
      x0?.dispose();
      latents = out.prevSample;
      x0 = out.predOriginalSample;
      await engine.sync();
      if (job.onProgress) await report(job, i, t, { x0, sample: latents }, evaluate.bytes);
    }
    return latents;
  } catch (error) {
    latents.dispose();
    throw error;
  } finally {
    x0?.dispose();
    for (const t of held) t.dispose();
    scheduler.dispose();
  }
}

async function report(job: BatchJob, index: number, timestep: number, tensors: { x0: Tensor; sample: Tensor }, planBytes: number): Promise<void> {
  let live = true;
  const preview = async (what: 'x0' | 'sample' = 'x0') => {
    if (!live) throw new SyntheError('diffusion: preview() is only valid during the progress callback');
    const t = tensors[what];
    return { data: await t.read(), shape: [...t.shape] };
  };
  try {
    await job.onProgress!({
      step: index + 1, total: job.steps, timestep, batch: job.batch, batches: job.batches,
      elapsedMs: performance.now() - job.started, planBytes, preview,
    });
  } finally {
    live = false;
  }
}

/** The UNet's conditioning inputs for a batch: class labels or encoder states, doubled for guidance. */
interface Conditioning {
  inputs(engine: Engine, first: number, n: number): Record<string, Tensor>;
}

function conditioningFor(shape: UnetShape, options: DiffusionOptions, count: number, guided: boolean): Conditioning {
  if (shape.crossAttention) {
    const states = options.encoderHiddenStates;
    if (!states) throw new SyntheError('diffusion: a UNet2DConditionModel needs encoderHiddenStates');
    const negative = options.negativeEncoderHiddenStates;
    if (guided && !negative) throw new SyntheError('diffusion: guidance with a UNet2DConditionModel needs negativeEncoderHiddenStates');
    for (const [name, t] of [['encoderHiddenStates', states], ['negativeEncoderHiddenStates', negative]] as const) {
      if (t && (t.rank !== 3 || (t.shape[0] !== 1 && t.shape[0] !== count))) {
        throw new SyntheError(`diffusion: ${name} must be (1 or ${count}, L, D), got ${t.toString()}`);
      }
    }
    return {
      inputs: (engine, first, n) =>
        engine.tidy(() => {
          const rows = (t: Tensor) => (t.shape[0] === 1 ? Array<Tensor>(n).fill(t) : [engine.ops.narrow(t, 0, first, n)]);
          return { encoder_hidden_states: engine.ops.concat([...(guided ? rows(negative!) : []), ...rows(states)], 0) };
        }),
    };
  }
  if (shape.classes === null) {
    if (options.classLabels !== undefined && options.classLabels !== null) throw new SyntheError('diffusion: this UNet has no class embedding (num_class_embeds); classLabels cannot be used');
    if (guided) throw new SyntheError('diffusion: guidance needs a class-conditional or cross-attention UNet');
    return { inputs: () => ({}) };
  }
  const classes = shape.classes;
  const uncond = options.unconditionalClass ?? classes - 1;
  const given = options.classLabels ?? null;
  const labels = given === null ? Array<number>(count).fill(uncond) : typeof given === 'number' ? Array<number>(count).fill(given) : [...given];
  if (labels.length !== count) throw new SyntheError(`diffusion: ${labels.length} class labels for ${count} images`);
  for (const l of [...labels, uncond]) {
    if (!Number.isInteger(l) || l < 0 || l >= classes) throw new SyntheError(`diffusion: class label ${l} is outside 0..${classes - 1}`);
  }
  return {
    inputs: (engine, first, n) => {
      const batch = labels.slice(first, first + n);
      return { class_labels: engine.tensor(guided ? [...Array<number>(n).fill(uncond), ...batch] : batch, [guided ? 2 * n : n]) };
    },
  };
}

/** AutoencoderKL's decode of latents / scaling_factor + shift_factor, as diffusers' pipelines call it. */
function decodeLatents(engine: Engine, vae: Model, latents: Tensor): Tensor {
  const decoder = vae.parts?.decode;
  if (!decoder) throw new SyntheError(`diffusion: the ${vae.arch} model has no decode part`);
  const factor = Number(vae.config.scaling_factor ?? 0.18215);
  const shift = Number(vae.config.shift_factor ?? 0);
  return engine.tidy(() => {
    const scaled = engine.ops.scale(latents, 1 / factor);
    const shifted = shift ? engine.ops.add(scaled, shift) : scaled;
    const { sample } = decoder.forward({ latent: shifted });
    if (!sample) throw new SyntheError(`diffusion: the ${vae.arch} decoder returned no 'sample'`);
    return sample;
  });
}

/** Reads (N, C, H, W) images in [-1, 1] back as RGBA (C = 1 gray, 3 or 4). */
export async function imagesToRgba(images: Tensor): Promise<RgbaImage[]> {
  const [n, c, h, w] = images.shape as [number, number, number, number];
  const data = await images.read();
  return Array.from({ length: n }, (_, i) => nchwToImage(data.subarray(i * c * h * w, (i + 1) * c * h * w), c, h, w, '-1-1'));
}
