/**
 * diffusers' EulerDiscreteScheduler and EulerAncestralDiscreteScheduler (k-diffusion's Euler samplers): the
 * sample lives at noise level sigma, the model sees it scaled by 1/√(σ²+1), and each step follows the ODE
 * derivative (x − x0)/σ down to the next sigma, the ancestral one adding fresh noise on the way.
 */
import { scale } from '../../kernels/elementwise';
import type { StepCoefficients } from '../../kernels/scheduler_step';
import type { Tensor } from '../../tensor/tensor';
import { betaSpec, floorTerminalAlpha, trainingSigmas, type BetaConfig } from './betas';
import { extendedNumber, integer, oneOf, onlyDefault, readConfig, type Field, type Spec } from './config';
import { predictionType, Scheduler, timestepSpacing, type PredictionType, type TimestepSpacing } from './scheduler';
import { continuousTimesteps, sigmasAt } from './timesteps';

const f32 = Math.fround;

interface SigmaConfig extends BetaConfig {
  prediction_type: PredictionType;
  timestep_spacing: TimestepSpacing;
  steps_offset: number;
}

export interface EulerDiscreteSchedulerConfig extends SigmaConfig {
  interpolation_type: 'linear';
  use_karras_sigmas: false;
  use_exponential_sigmas: false;
  use_beta_sigmas: false;
  sigma_min: number | null;
  sigma_max: number | null;
  timestep_type: 'discrete' | 'continuous';
  final_sigmas_type: 'zero' | 'sigma_min';
}

export type EulerAncestralDiscreteSchedulerConfig = SigmaConfig;

/** sigma_min / sigma_max only shape Karras-style sigmas, which synthe refuses; any number or null is accepted. */
const optionalSigma: Field<number | null> = {
  default: null,
  read: (v) => (v === null ? { value: null } : extendedNumber(0).read(v)),
};

const SIGMA_SPEC = {
  ...betaSpec(),
  timestep_spacing: timestepSpacing('linspace'),
  steps_offset: integer(0),
};

const EULER_SPEC: Spec<EulerDiscreteSchedulerConfig> = {
  ...SIGMA_SPEC,
  prediction_type: predictionType(),
  interpolation_type: oneOf('linear', ['linear'], ['log_linear']),
  use_karras_sigmas: onlyDefault(false),
  use_exponential_sigmas: onlyDefault(false),
  use_beta_sigmas: onlyDefault(false),
  sigma_min: optionalSigma,
  sigma_max: optionalSigma,
  timestep_type: oneOf('discrete', ['discrete', 'continuous']),
  final_sigmas_type: oneOf('zero', ['zero', 'sigma_min']),
};

const ANCESTRAL_SPEC: Spec<EulerAncestralDiscreteSchedulerConfig> = {
  ...SIGMA_SPEC,
  // diffusers raises for 'sample' in this scheduler.
  prediction_type: predictionType(['epsilon', 'v_prediction']),
};

/** The two Euler samplers' shared part: sigmas, input scaling, the initial noise level and x0. */
abstract class SigmaScheduler<C extends SigmaConfig> extends Scheduler<C> {
  /** The sigma of every inference step, then the final one (0). */
  sigmas: number[];
  protected readonly training: Float64Array;

  protected constructor(config: C, className: string) {
    super(config, className);
    if (config.rescale_betas_zero_snr) floorTerminalAlpha(this.alphasCumprod);
    this.training = trainingSigmas(this.alphasCumprod);
    this.sigmas = [...Array.from(this.training).reverse(), 0];
  }

  /** The largest sigma, or √(σ²+1) of it for leading spacing (diffusers' init_noise_sigma). */
  override get initNoiseSigma(): number {
    const max = Math.max(...this.sigmas);
    return this.config.timestep_spacing === 'leading' ? f32(Math.sqrt(f32(f32(max * max) + 1))) : max;
  }

  /** sample / √(σ²+1) at the current step's sigma. */
  override scaleModelInput(sample: Tensor, timestep: number): Tensor {
    const sigma = this.sigmas[this.currentIndex(timestep)]!;
    return scale(sample.runtime, sample, 1 / Math.sqrt(sigma * sigma + 1));
  }

  protected computeTimesteps(n: number): number[] {
    const c = this.config;
    const timesteps = continuousTimesteps(c.timestep_spacing, c.num_train_timesteps, n, c.steps_offset);
    this.sigmas = sigmasAt(timesteps, this.training, this.finalSigma());
    return timesteps;
  }

  protected finalSigma(): number {
    return 0;
  }

  /** x0 from the model output at noise level `sigma`. */
  protected x0(sigma: number): { x0Sample: number; x0Model: number } {
    switch (this.config.prediction_type) {
      case 'epsilon':
        return { x0Sample: 1, x0Model: -sigma };
      case 'v_prediction':
        return { x0Sample: 1 / (sigma * sigma + 1), x0Model: -sigma / Math.sqrt(sigma * sigma + 1) };
      case 'sample':
        return { x0Sample: 0, x0Model: 1 };
      default:
        return this.config.prediction_type satisfies never;
    }
  }

  /** x + (x − x0)/σ · (σ_to − σ) [+ σ_up · noise]: the Euler step to `sigmaTo`, as coefficients. */
  protected eulerStep(sigma: number, sigmaTo: number, noise: number): StepCoefficients {
    const dt = sigmaTo - sigma;
    return { ...this.x0(sigma), clipRange: null, sample: 1 + dt / sigma, model: 0, x0: -dt / sigma, noise, history: 0 };
  }
}

export class EulerDiscreteScheduler extends SigmaScheduler<EulerDiscreteSchedulerConfig> {
  readonly className = 'EulerDiscreteScheduler';

  static fromConfig(json: unknown): EulerDiscreteScheduler {
    return new EulerDiscreteScheduler(readConfig('EulerDiscreteScheduler', EULER_SPEC, json));
  }

  private constructor(config: EulerDiscreteSchedulerConfig) {
    super(config, 'EulerDiscreteScheduler');
  }

  needsNoise(): boolean {
    return false;
  }

  protected override computeTimesteps(n: number): number[] {
    const timesteps = super.computeTimesteps(n);
    // EDM-style v-prediction models take c_noise = ¼·ln σ as their timestep.
    if (this.config.timestep_type === 'continuous' && this.config.prediction_type === 'v_prediction') {
      return this.sigmas.slice(0, -1).map((s) => f32(0.25 * Math.log(s)));
    }
    return timesteps;
  }

  protected override finalSigma(): number {
    return this.config.final_sigmas_type === 'sigma_min' ? this.training[0]! : 0;
  }

  protected coefficients(_t: number, index: number): StepCoefficients {
    return this.eulerStep(this.sigmas[index]!, this.sigmas[index + 1]!, 0);
  }
}

export class EulerAncestralDiscreteScheduler extends SigmaScheduler<EulerAncestralDiscreteSchedulerConfig> {
  readonly className = 'EulerAncestralDiscreteScheduler';

  static fromConfig(json: unknown): EulerAncestralDiscreteScheduler {
    return new EulerAncestralDiscreteScheduler(readConfig('EulerAncestralDiscreteScheduler', ANCESTRAL_SPEC, json));
  }

  private constructor(config: EulerAncestralDiscreteSchedulerConfig) {
    super(config, 'EulerAncestralDiscreteScheduler');
  }

  needsNoise(): boolean {
    return true;
  }

  protected coefficients(_t: number, index: number): StepCoefficients {
    const from = this.sigmas[index]!;
    const to = this.sigmas[index + 1]!;
    // Split the step into a deterministic part down to sigma_down and fresh noise of sigma_up.
    const up = Math.sqrt((to * to * (from * from - to * to)) / (from * from));
    const down = Math.sqrt(Math.max(0, to * to - up * up));
    return this.eulerStep(from, down, up);
  }
}
