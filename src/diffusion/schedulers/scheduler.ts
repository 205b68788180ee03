/**
 * What every scheduler shares: diffusers' API (set_timesteps, timesteps, init_noise_sigma, scale_model_input,
 * step), the training schedule, and the step itself, which is one fused GPU kernel whose scalars each
 * scheduler computes on the CPU. A step never reads the latents back.
 */
import { SyntheError } from '../../errors';
import { schedulerStep, type StepCoefficients } from '../../kernels/scheduler_step';
import type { Rng } from '../../random';
import { Tensor } from '../../tensor/tensor';
import { alphasCumprod, type BetaConfig } from './betas';
import { oneOf } from './config';

/** What the model predicts (diffusers' prediction_type). */
export type PredictionType = 'epsilon' | 'v_prediction' | 'sample';

/** prediction_type with diffusers' default; `flow_prediction` is refused by name. */
export const predictionType = (supported: readonly PredictionType[] = ['epsilon', 'v_prediction', 'sample']) =>
  oneOf<PredictionType>('epsilon', supported, ['epsilon', 'v_prediction', 'sample', 'flow_prediction']);

/** diffusers' timestep_spacing. */
export type TimestepSpacing = 'leading' | 'trailing' | 'linspace';
export const timestepSpacing = (fallback: TimestepSpacing) => oneOf<TimestepSpacing>(fallback, ['leading', 'trailing', 'linspace']);

/** Options of {@link Scheduler.step}. */
export interface StepOptions {
  /** The step's random draw (diffusers' `variance_noise`), shaped like the sample. */
  noise?: Tensor;
  /** Draws the noise when `noise` is not given (uploaded once per step that needs it). */
  generator?: Rng;
  /**
   * Classifier-free guidance: `modelOutput` holds [uncond; cond] (a doubled batch) and is combined as
   * `uncond + guidanceScale · (cond − uncond)` inside the step's kernel.
   */
  guidanceScale?: number;
  /** DDIMScheduler's eta (0: deterministic DDIM). */
  eta?: number;
  /** DDIMScheduler's use_clipped_model_output. */
  useClippedModelOutput?: boolean;
}

/** diffusers' SchedulerOutput: the next sample and the x0 it was computed from (a cheap preview). */
export interface SchedulerOutput {
  prevSample: Tensor;
  /** The predicted original sample x0, clipped as the step used it (DPM-Solver++: its data prediction). */
  predOriginalSample: Tensor;
}

export class SchedulerError extends SyntheError {
  override name = 'SchedulerError';
}

export abstract class Scheduler<C extends BetaConfig = BetaConfig> {
  /** diffusers' class name, e.g. `DDIMScheduler`. */
  abstract readonly className: string;
  /** ᾱ_t for every training timestep (f32 values, as diffusers' float32 tensor holds them). */
  readonly alphasCumprod: Float64Array;
  /** The inference timesteps, first to last, set by {@link setTimesteps}. */
  timesteps: number[] = [];
  numInferenceSteps: number | null = null;
  /** diffusers' `_step_index`: which timestep the next step is at, found from the first step's timestep. */
  protected stepIndex: number | null = null;

  constructor(
    readonly config: Readonly<C>,
    className: string,
  ) {
    this.alphasCumprod = alphasCumprod(config, className);
  }

  /** The standard deviation of the initial noise: latents are `randn · initNoiseSigma`. */
  get initNoiseSigma(): number {
    return 1;
  }

  /** Sets the `n` inference timesteps; resets the step state. */
  setTimesteps(n: number): void {
    if (!Number.isInteger(n) || n < 1 || n > this.config.num_train_timesteps) {
      throw new SchedulerError(`${this.className}.setTimesteps: the number of steps must be an integer from 1 to num_train_timesteps (${this.config.num_train_timesteps}), got ${n}`);
    }
    this.timesteps = this.computeTimesteps(n);
    this.numInferenceSteps = n;
    this.stepIndex = null;
    this.reset();
  }

  /** The model input at `timestep`: `sample` itself for schedulers that do not scale it, else a new tensor. */
  scaleModelInput(sample: Tensor, _timestep: number): Tensor {
    return sample;
  }

  /** Whether the step at `timestep` adds noise (so a pipeline can draw it before encoding the step). */
  abstract needsNoise(timestep: number, options?: StepOptions): boolean;

  /**
   * One denoising step from `timestep`: the model output and the current sample give x_{t−1}, in one GPU
   * kernel. Returns new tensors the caller disposes.
   */
  step(modelOutput: Tensor, timestep: number, sample: Tensor, options: StepOptions = {}): SchedulerOutput {
    if (this.numInferenceSteps === null) throw new SchedulerError(`${this.className}.step: call setTimesteps first`);
    const index = this.currentIndex(timestep);
    if (index >= this.timesteps.length) throw new SchedulerError(`${this.className}.step: all ${this.timesteps.length} steps were taken; call setTimesteps again`);
    const coefficients = this.coefficients(timestep, index, options);
    let drawn: Tensor | null = null;
    if (this.needsNoise(timestep, options) && !options.noise) {
      if (!options.generator) throw new SchedulerError(`${this.className}.step at timestep ${timestep} adds noise: pass { noise } or { generator }`);
      drawn = Tensor.fromData(sample.runtime, options.generator.randn(sample.size), sample.shape);
    }
    try {
      const out = schedulerStep(sample.runtime, {
        sample,
        modelOutput,
        ...(options.guidanceScale !== undefined ? { guidanceScale: options.guidanceScale } : {}),
        noise: options.noise ?? drawn,
        history: this.history(),
        coefficients,
      });
      this.stepIndex = index + 1;
      this.afterStep(out);
      return out;
    } finally {
      drawn?.dispose();
    }
  }

  /** Frees what the scheduler keeps between steps (multistep history). */
  dispose(): void {
    this.reset();
  }

  /** The timesteps for `n` inference steps (diffusers' set_timesteps). */
  protected abstract computeTimesteps(n: number): number[];

  /** The scalars of the step at `timestep`, the `index`-th of the schedule. Must not change state. */
  protected abstract coefficients(timestep: number, index: number, options: StepOptions): StepCoefficients;

  /** The previous x0 a multistep scheduler feeds the step, if any. */
  protected history(): Tensor | null {
    return null;
  }

  /** Updates multistep state after a step was encoded. */
  protected afterStep(_out: SchedulerOutput): void {}

  /** Clears per-run state. */
  protected reset(): void {}

  /** The step index: counted from the first step, which finds its timestep in the schedule as diffusers does. */
  protected currentIndex(timestep: number): number {
    if (this.stepIndex !== null) return this.stepIndex;
    const matches = this.timesteps.flatMap((t, i) => (t === timestep ? [i] : []));
    // diffusers takes the second match when a timestep repeats, so image-to-image starting there skips none.
    const index = matches.length > 1 ? matches[1] : matches[0];
    if (index === undefined) throw new SchedulerError(`${this.className}.step: timestep ${timestep} is not in the schedule (${this.timesteps.slice(0, 4).join(', ')}, …)`);
    return index;
  }
}

/**
 * Keeps a tensor alive beyond the `tidy` scope it was made in: a view that no scope tracks, which the caller
 * disposes. Multistep schedulers keep the previous x0 this way while pipelines dispose each step's tensors.
 */
export function retain(tensor: Tensor): Tensor {
  const outer = Tensor.scope;
  Tensor.scope = null;
  try {
    return tensor.reshape(tensor.shape);
  } finally {
    Tensor.scope = outer;
  }
}
