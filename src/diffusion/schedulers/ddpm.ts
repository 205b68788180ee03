/** diffusers' DDPMScheduler: ancestral sampling of Ho et al. 2020 with the fixed variances. */
import type { StepCoefficients } from '../../kernels/scheduler_step';
import { betaSpec, type BetaConfig } from './betas';
import { boolean, integer, number, oneOf, onlyDefault, readConfig, type Spec } from './config';
import { predictionType, Scheduler, timestepSpacing, type PredictionType, type TimestepSpacing } from './scheduler';
import { discreteTimesteps } from './timesteps';

export interface DDPMSchedulerConfig extends BetaConfig {
  variance_type: 'fixed_small' | 'fixed_small_log' | 'fixed_large';
  clip_sample: boolean;
  clip_sample_range: number;
  prediction_type: PredictionType;
  thresholding: false;
  dynamic_thresholding_ratio: number;
  sample_max_value: number;
  timestep_spacing: TimestepSpacing;
  steps_offset: number;
}

const SPEC: Spec<DDPMSchedulerConfig> = {
  ...betaSpec({}, true),
  // fixed_large_log takes the square root of a log (NaN in diffusers too); learned variances need a model
  // that predicts them.
  variance_type: oneOf('fixed_small', ['fixed_small', 'fixed_small_log', 'fixed_large'], ['fixed_large_log', 'learned', 'learned_range']),
  clip_sample: boolean(true),
  clip_sample_range: number(1),
  prediction_type: predictionType(),
  thresholding: onlyDefault(false),
  dynamic_thresholding_ratio: number(0.995),
  sample_max_value: number(1),
  timestep_spacing: timestepSpacing('leading'),
  steps_offset: integer(0),
};

export class DDPMScheduler extends Scheduler<DDPMSchedulerConfig> {
  readonly className = 'DDPMScheduler';

  static fromConfig(json: unknown): DDPMScheduler {
    return new DDPMScheduler(readConfig('DDPMScheduler', SPEC, json));
  }

  private constructor(config: DDPMSchedulerConfig) {
    super(config, 'DDPMScheduler');
  }

  needsNoise(timestep: number): boolean {
    return timestep > 0;
  }

  protected computeTimesteps(n: number): number[] {
    const c = this.config;
    return discreteTimesteps(c.timestep_spacing, c.num_train_timesteps, n, c.steps_offset);
  }

  /** diffusers' previous_timestep: the next entry of the schedule, −1 after the last. */
  private previousTimestep(timestep: number): number {
    const i = this.timesteps.indexOf(timestep);
    return i >= 0 && i < this.timesteps.length - 1 ? this.timesteps[i + 1]! : -1;
  }

  protected coefficients(t: number): StepCoefficients {
    const c = this.config;
    const prevT = this.previousTimestep(t);
    const alphaProd = this.alphasCumprod[t]!;
    const alphaProdPrev = prevT >= 0 ? this.alphasCumprod[prevT]! : 1;
    const betaProd = 1 - alphaProd;
    const betaProdPrev = 1 - alphaProdPrev;
    const currentAlpha = alphaProd / alphaProdPrev;
    const currentBeta = 1 - currentAlpha;
    const x0 = x0FromPrediction(c.prediction_type, alphaProd);
    // µ_t = a · x0 + b · x_t (formula 7 of the DDPM paper), then σ_t · z for t > 0.
    let std = 0;
    if (t > 0) {
      const variance = Math.max((betaProdPrev / betaProd) * currentBeta, 1e-20);
      std = c.variance_type === 'fixed_large' ? Math.sqrt(currentBeta) : Math.sqrt(variance);
    }
    return {
      ...x0,
      clipRange: c.clip_sample ? c.clip_sample_range : null,
      sample: (Math.sqrt(currentAlpha) * betaProdPrev) / betaProd,
      model: 0,
      x0: (Math.sqrt(alphaProdPrev) * currentBeta) / betaProd,
      noise: std,
      history: 0,
    };
  }
}

/** x0 = x0Sample · x_t + x0Model · output for each prediction type, at ᾱ_t = `alphaProd`. */
export function x0FromPrediction(type: PredictionType, alphaProd: number): { x0Sample: number; x0Model: number } {
  switch (type) {
    case 'epsilon':
      return { x0Sample: 1 / Math.sqrt(alphaProd), x0Model: -Math.sqrt(1 - alphaProd) / Math.sqrt(alphaProd) };
    case 'sample':
      return { x0Sample: 0, x0Model: 1 };
    case 'v_prediction':
      return { x0Sample: Math.sqrt(alphaProd), x0Model: -Math.sqrt(1 - alphaProd) };
    default:
      return type satisfies never;
  }
}
