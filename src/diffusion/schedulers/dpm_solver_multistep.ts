/**
 * diffusers' DPMSolverMultistepScheduler with DPM-Solver++ (arXiv 2211.01095) of order 1 or 2, midpoint or
 * Heun, and its SDE variant: the model output becomes a data prediction x0, and each step combines it with
 * the previous step's x0 in log-SNR time λ = ln(α/σ). The previous x0 stays on the GPU between steps.
 */
import type { StepCoefficients } from '../../kernels/scheduler_step';
import type { Tensor } from '../../tensor/tensor';
import { betaSpec, floorTerminalAlpha, trainingSigmas, type BetaConfig } from './betas';
import { boolean, extendedNumber, integer, number, oneOf, onlyDefault, readConfig, type Spec } from './config';
import { predictionType, retain, Scheduler, timestepSpacing, type PredictionType, type SchedulerOutput, type TimestepSpacing } from './scheduler';
import { sigmasAt, solverTimesteps } from './timesteps';

const f32 = Math.fround;

export interface DPMSolverMultistepSchedulerConfig extends BetaConfig {
  solver_order: 1 | 2;
  prediction_type: PredictionType;
  thresholding: false;
  dynamic_thresholding_ratio: number;
  sample_max_value: number;
  algorithm_type: 'dpmsolver++' | 'sde-dpmsolver++';
  solver_type: 'midpoint' | 'heun';
  lower_order_final: boolean;
  euler_at_final: boolean;
  use_karras_sigmas: false;
  use_exponential_sigmas: false;
  use_beta_sigmas: false;
  use_lu_lambdas: false;
  use_flow_sigmas: false;
  final_sigmas_type: 'zero' | 'sigma_min';
  lambda_min_clipped: number;
  variance_type: null;
  timestep_spacing: TimestepSpacing;
  steps_offset: number;
}

const SPEC: Spec<DPMSolverMultistepSchedulerConfig> = {
  ...betaSpec(),
  solver_order: oneOf<1 | 2>(2, [1, 2], [3]),
  prediction_type: predictionType(),
  thresholding: onlyDefault(false),
  dynamic_thresholding_ratio: number(0.995),
  sample_max_value: number(1),
  // dpmsolver / sde-dpmsolver keep noise predictions as their history; synthe's step keeps x0.
  algorithm_type: oneOf('dpmsolver++', ['dpmsolver++', 'sde-dpmsolver++'], ['dpmsolver', 'sde-dpmsolver']),
  solver_type: oneOf('midpoint', ['midpoint', 'heun']),
  lower_order_final: boolean(true),
  euler_at_final: boolean(false),
  use_karras_sigmas: onlyDefault(false),
  use_exponential_sigmas: onlyDefault(false),
  use_beta_sigmas: onlyDefault(false),
  use_lu_lambdas: onlyDefault(false),
  use_flow_sigmas: onlyDefault(false),
  final_sigmas_type: oneOf('zero', ['zero', 'sigma_min']),
  lambda_min_clipped: extendedNumber(-Infinity),
  variance_type: onlyDefault(null),
  timestep_spacing: timestepSpacing('linspace'),
  steps_offset: integer(0),
};

/** α_t, σ_t and λ_t of the VP process at noise level `sigma` (diffusers' _sigma_to_alpha_sigma_t). */
function vp(sigma: number): { alpha: number; sigma: number; lambda: number } {
  const alpha = 1 / Math.sqrt(sigma * sigma + 1);
  const s = sigma * alpha;
  return { alpha, sigma: s, lambda: Math.log(alpha) - Math.log(s) };
}

export class DPMSolverMultistepScheduler extends Scheduler<DPMSolverMultistepSchedulerConfig> {
  readonly className = 'DPMSolverMultistepScheduler';
  /** The sigma of every inference step, then the final one. */
  sigmas: number[] = [];
  private readonly training: Float64Array;
  /** diffusers' lower_order_nums: steps taken so far, up to the solver order. */
  private lowerOrderNums = 0;
  /** The previous step's x0 (diffusers' model_outputs[-2]). */
  private previous: Tensor | null = null;

  static fromConfig(json: unknown): DPMSolverMultistepScheduler {
    return new DPMSolverMultistepScheduler(readConfig('DPMSolverMultistepScheduler', SPEC, json));
  }

  private constructor(config: DPMSolverMultistepSchedulerConfig) {
    super(config, 'DPMSolverMultistepScheduler');
    if (config.rescale_betas_zero_snr) floorTerminalAlpha(this.alphasCumprod);
    this.training = trainingSigmas(this.alphasCumprod);
  }

  needsNoise(): boolean {
    return this.config.algorithm_type === 'sde-dpmsolver++';
  }

  protected computeTimesteps(n: number): number[] {
    const c = this.config;
    const T = c.num_train_timesteps;
    const timesteps = solverTimesteps(c.timestep_spacing, T, n, c.steps_offset, T - this.clippedSteps());
    const last = c.final_sigmas_type === 'zero' ? 0 : this.training[0]!;
    this.sigmas = sigmasAt(timesteps, this.training, last);
    return timesteps;
  }

  /**
   * How many of the noisiest training steps lambda_min_clipped removes: the count of λ_t (f32, increasing
   * once flipped) below the bound, as torch.searchsorted finds it.
   */
  private clippedSteps(): number {
    const bound = this.config.lambda_min_clipped;
    let count = 0;
    for (const a of this.alphasCumprod) {
      const lambda = f32(f32(Math.log(f32(Math.sqrt(a)))) - f32(Math.log(f32(Math.sqrt(f32(1 - a))))));
      if (lambda < bound) count += 1;
    }
    return count;
  }

  protected coefficients(_t: number, index: number): StepCoefficients {
    const c = this.config;
    const n = this.timesteps.length;
    // diffusers' lower_order_final; its lower_order_second only chooses between orders 2 and 3 (refused here).
    const lowerOrderFinal = index === n - 1 && (c.euler_at_final || (c.lower_order_final && n < 15) || c.final_sigmas_type === 'zero');
    const firstOrder = c.solver_order === 1 || this.lowerOrderNums < 1 || lowerOrderFinal;

    const s0 = vp(this.sigmas[index]!);
    const t = vp(this.sigmas[index + 1]!);
    const h = t.lambda - s0.lambda;
    const sde = c.algorithm_type === 'sde-dpmsolver++';
    // x0 from the model output at this step's sigma (convert_model_output).
    const x0 = this.x0(s0);
    // x_t = a · x + b · D0 + c · D1 [+ noise] with D0 = x0 and D1 = (x0 − x0_prev) / r0.
    const a = sde ? (t.sigma / s0.sigma) * Math.exp(-h) : t.sigma / s0.sigma;
    const b = sde ? t.alpha * -Math.expm1(-2 * h) : -t.alpha * Math.expm1(-h);
    const noise = sde ? t.sigma * Math.sqrt(-Math.expm1(-2 * h)) : 0;
    let d1 = 0;
    if (!firstOrder) {
      const s1 = vp(this.sigmas[index - 1]!);
      const r0 = (s0.lambda - s1.lambda) / h;
      if (c.solver_type === 'midpoint') d1 = 0.5 * b;
      else d1 = sde ? t.alpha * (-Math.expm1(-2 * h) / (-2 * h) + 1) : t.alpha * (Math.expm1(-h) / h + 1);
      d1 /= r0;
    }
    return { ...x0, clipRange: null, sample: a, model: 0, x0: b + d1, noise, history: -d1 };
  }

  private x0(s: { alpha: number; sigma: number }): { x0Sample: number; x0Model: number } {
    switch (this.config.prediction_type) {
      case 'epsilon':
        return { x0Sample: 1 / s.alpha, x0Model: -s.sigma / s.alpha };
      case 'sample':
        return { x0Sample: 0, x0Model: 1 };
      case 'v_prediction':
        return { x0Sample: s.alpha, x0Model: -s.sigma };
      default:
        return this.config.prediction_type satisfies never;
    }
  }

  protected override history(): Tensor | null {
    return this.previous;
  }

  protected override afterStep(out: SchedulerOutput): void {
    this.previous?.dispose();
    this.previous = retain(out.predOriginalSample);
    if (this.lowerOrderNums < this.config.solver_order) this.lowerOrderNums += 1;
  }

  protected override reset(): void {
    this.previous?.dispose();
    this.previous = null;
    this.lowerOrderNums = 0;
  }
}
