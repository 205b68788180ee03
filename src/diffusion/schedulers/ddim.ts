/** diffusers' DDIMScheduler: the DDIM update (Song et al. 2020, formulas 12 and 16), deterministic at eta 0. */
import type { StepCoefficients } from '../../kernels/scheduler_step';
import { betaSpec, type BetaConfig } from './betas';
import { boolean, integer, number, onlyDefault, readConfig, type Spec } from './config';
import { x0FromPrediction } from './ddpm';
import { predictionType, Scheduler, SchedulerError, timestepSpacing, type PredictionType, type StepOptions, type TimestepSpacing } from './scheduler';
import { discreteTimesteps } from './timesteps';

export interface DDIMSchedulerConfig extends BetaConfig {
  clip_sample: boolean;
  clip_sample_range: number;
  set_alpha_to_one: boolean;
  steps_offset: number;
  prediction_type: PredictionType;
  thresholding: false;
  dynamic_thresholding_ratio: number;
  sample_max_value: number;
  timestep_spacing: TimestepSpacing;
}

const SPEC: Spec<DDIMSchedulerConfig> = {
  ...betaSpec(),
  clip_sample: boolean(true),
  clip_sample_range: number(1),
  set_alpha_to_one: boolean(true),
  steps_offset: integer(0),
  prediction_type: predictionType(),
  thresholding: onlyDefault(false),
  dynamic_thresholding_ratio: number(0.995),
  sample_max_value: number(1),
  timestep_spacing: timestepSpacing('leading'),
};

export class DDIMScheduler extends Scheduler<DDIMSchedulerConfig> {
  readonly className = 'DDIMScheduler';

  static fromConfig(json: unknown): DDIMScheduler {
    return new DDIMScheduler(readConfig('DDIMScheduler', SPEC, json));
  }

  private constructor(config: DDIMSchedulerConfig) {
    super(config, 'DDIMScheduler');
  }

  needsNoise(_timestep: number, options: StepOptions = {}): boolean {
    return (options.eta ?? 0) > 0;
  }

  protected computeTimesteps(n: number): number[] {
    const c = this.config;
    return discreteTimesteps(c.timestep_spacing, c.num_train_timesteps, n, c.steps_offset);
  }

  protected coefficients(t: number, _index: number, options: StepOptions): StepCoefficients {
    const c = this.config;
    const eta = options.eta ?? 0;
    if (!(eta >= 0)) throw new SchedulerError(`DDIMScheduler.step: eta must be ≥ 0, got ${eta}`);
    // diffusers steps back by T // n whatever the spacing.
    const prevT = t - Math.floor(c.num_train_timesteps / this.numInferenceSteps!);
    const finalAlphaProd = c.set_alpha_to_one ? 1 : this.alphasCumprod[0]!;
    const alphaProd = this.alphasCumprod[t]!;
    const alphaProdPrev = prevT >= 0 ? this.alphasCumprod[prevT]! : finalAlphaProd;
    const betaProd = 1 - alphaProd;
    const variance = ((1 - alphaProdPrev) / betaProd) * (1 - alphaProd / alphaProdPrev);
    const std = eta * Math.sqrt(variance);
    const x0 = x0FromPrediction(c.prediction_type, alphaProd);
    // The predicted noise, linear in (x_t, output) before clipping, or re-derived from the clipped x0.
    let epsSample: number;
    let epsModel: number;
    let epsX0 = 0;
    if (options.useClippedModelOutput) {
      [epsSample, epsModel, epsX0] = [1 / Math.sqrt(betaProd), 0, -Math.sqrt(alphaProd) / Math.sqrt(betaProd)];
    } else {
      switch (c.prediction_type) {
        case 'epsilon':
          [epsSample, epsModel] = [0, 1];
          break;
        case 'sample':
          [epsSample, epsModel] = [1 / Math.sqrt(betaProd), -Math.sqrt(alphaProd) / Math.sqrt(betaProd)];
          break;
        case 'v_prediction':
          [epsSample, epsModel] = [Math.sqrt(betaProd), Math.sqrt(alphaProd)];
          break;
        default:
          return c.prediction_type satisfies never;
      }
    }
    const direction = Math.sqrt(1 - alphaProdPrev - std * std);
    return {
      ...x0,
      clipRange: c.clip_sample ? c.clip_sample_range : null,
      sample: direction * epsSample,
      model: direction * epsModel,
      x0: Math.sqrt(alphaProdPrev) + direction * epsX0,
      noise: std,
      history: 0,
    };
  }
}
