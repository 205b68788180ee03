/**
 * diffusers' LCMScheduler (latent consistency models, arXiv 2310.04378): each step predicts the denoised
 * sample through the consistency boundary condition, then re-noises it to the next timestep (except the last).
 */
import type { StepCoefficients } from '../../kernels/scheduler_step';
import { betaSpec, type BetaConfig } from './betas';
import { boolean, integer, number, onlyDefault, readConfig, type Spec } from './config';
import { x0FromPrediction } from './ddpm';
import { linspace } from './numpy';
import { predictionType, Scheduler, SchedulerError, timestepSpacing, type PredictionType, type TimestepSpacing } from './scheduler';

export interface LCMSchedulerConfig extends BetaConfig {
  original_inference_steps: number;
  clip_sample: boolean;
  clip_sample_range: number;
  set_alpha_to_one: boolean;
  steps_offset: number;
  prediction_type: PredictionType;
  thresholding: false;
  dynamic_thresholding_ratio: number;
  sample_max_value: number;
  /** Read for compatibility; LCM's schedule does not use it. */
  timestep_spacing: TimestepSpacing;
  timestep_scaling: number;
}

const SPEC: Spec<LCMSchedulerConfig> = {
  ...betaSpec({ beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear' }),
  original_inference_steps: integer(50, 1),
  clip_sample: boolean(false),
  clip_sample_range: number(1),
  set_alpha_to_one: boolean(true),
  steps_offset: integer(0),
  prediction_type: predictionType(),
  thresholding: onlyDefault(false),
  dynamic_thresholding_ratio: number(0.995),
  sample_max_value: number(1),
  timestep_spacing: timestepSpacing('leading'),
  timestep_scaling: number(10),
};

/** σ_data of the consistency parameterisation. */
const SIGMA_DATA = 0.5;

export class LCMScheduler extends Scheduler<LCMSchedulerConfig> {
  readonly className = 'LCMScheduler';

  static fromConfig(json: unknown): LCMScheduler {
    return new LCMScheduler(readConfig('LCMScheduler', SPEC, json));
  }

  private constructor(config: LCMSchedulerConfig) {
    super(config, 'LCMScheduler');
  }

  /** Every step but the last re-noises its denoised sample. */
  needsNoise(timestep: number): boolean {
    return this.currentIndex(timestep) !== this.timesteps.length - 1;
  }

  /**
   * The distillation schedule (original_inference_steps timesteps k − 1, 2k − 1, …, k = T // original),
   * reversed, sampled at n evenly spaced indices.
   */
  protected computeTimesteps(n: number): number[] {
    const c = this.config;
    const original = c.original_inference_steps;
    if (original > c.num_train_timesteps) {
      throw new SchedulerError(`LCMScheduler: original_inference_steps (${original}) cannot exceed num_train_timesteps (${c.num_train_timesteps})`);
    }
    if (n > original) throw new SchedulerError(`LCMScheduler.setTimesteps: ${n} steps exceed original_inference_steps (${original})`);
    const k = Math.floor(c.num_train_timesteps / original);
    const origin = Array.from({ length: original }, (_, i) => (original - i) * k - 1);
    return linspace(0, origin.length, n, false).map((i) => origin[Math.floor(i)]!);
  }

  protected coefficients(t: number, index: number): StepCoefficients {
    const c = this.config;
    const prevT = index + 1 < this.timesteps.length ? this.timesteps[index + 1]! : t;
    const alphaProd = this.alphasCumprod[t]!;
    const finalAlphaProd = c.set_alpha_to_one ? 1 : this.alphasCumprod[0]!;
    const alphaProdPrev = prevT >= 0 ? this.alphasCumprod[prevT]! : finalAlphaProd;
    // Boundary condition: denoised = c_out · x0 + c_skip · x_t.
    const scaled = t * c.timestep_scaling;
    const cSkip = SIGMA_DATA ** 2 / (scaled * scaled + SIGMA_DATA ** 2);
    const cOut = scaled / Math.sqrt(scaled * scaled + SIGMA_DATA ** 2);
    const last = index === this.timesteps.length - 1;
    // x_{t−1} = √ᾱ_prev · denoised + √(1 − ᾱ_prev) · z, or the denoised sample itself at the end.
    const keep = last ? 1 : Math.sqrt(alphaProdPrev);
    return {
      ...x0FromPrediction(c.prediction_type, alphaProd),
      clipRange: c.clip_sample ? c.clip_sample_range : null,
      sample: keep * cSkip,
      model: 0,
      x0: keep * cOut,
      noise: last ? 0 : Math.sqrt(1 - alphaProdPrev),
      history: 0,
    };
  }
}
