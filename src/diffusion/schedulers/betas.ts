/**
 * The training noise schedule every scheduler starts from: betas, then alphas_cumprod. diffusers computes
 * them as float32 torch tensors (torch's CPU cumprod accumulates in double and rounds each output), so the
 * values here are f64 numbers rounded to f32 at the same points.
 */
import { SchedulerConfigError, betasList, boolean, integer, number, oneOf, type Spec } from './config';
import { linspace } from './numpy';

const f32 = Math.fround;

/** The beta schedule keys every scheduler shares, with diffusers' names. */
export interface BetaConfig {
  num_train_timesteps: number;
  beta_start: number;
  beta_end: number;
  beta_schedule: 'linear' | 'scaled_linear' | 'squaredcos_cap_v2' | 'sigmoid';
  trained_betas: number[] | null;
  rescale_betas_zero_snr: boolean;
}

/** The keys of {@link BetaConfig} with a class's defaults; `sigmoid` is DDPMScheduler's only. */
export function betaSpec(defaults: { beta_start?: number; beta_end?: number; beta_schedule?: BetaConfig['beta_schedule'] } = {}, sigmoid = false): Spec<BetaConfig> {
  const schedules: BetaConfig['beta_schedule'][] = ['linear', 'scaled_linear', 'squaredcos_cap_v2', ...(sigmoid ? (['sigmoid'] as const) : [])];
  return {
    num_train_timesteps: integer(1000, 1),
    beta_start: number(defaults.beta_start ?? 0.0001),
    beta_end: number(defaults.beta_end ?? 0.02),
    beta_schedule: oneOf(defaults.beta_schedule ?? 'linear', schedules, ['sigmoid', 'exp', 'laplace', 'cosine']),
    trained_betas: betasList(),
    rescale_betas_zero_snr: boolean(false),
  };
}

/** diffusers' betas_for_alpha_bar with the cosine (Glide) alpha_bar, in Python floats. */
function cosineBetas(n: number, maxBeta = 0.999): number[] {
  const alphaBar = (t: number) => Math.cos(((t + 0.008) / 1.008) * Math.PI / 2) ** 2;
  return Array.from({ length: n }, (_, i) => Math.min(1 - alphaBar((i + 1) / n) / alphaBar(i / n), maxBeta));
}

function betas(config: BetaConfig, className: string): number[] {
  const n = config.num_train_timesteps;
  if (config.trained_betas) {
    if (config.trained_betas.length !== n) {
      throw new SchedulerConfigError(`${className}: config 'trained_betas' holds ${config.trained_betas.length} values but num_train_timesteps is ${n}`);
    }
    return config.trained_betas.map(f32);
  }
  switch (config.beta_schedule) {
    case 'linear':
      return linspace(f32(config.beta_start), f32(config.beta_end), n).map(f32);
    case 'scaled_linear':
      return linspace(f32(Math.sqrt(config.beta_start)), f32(Math.sqrt(config.beta_end)), n).map((b) => f32(f32(b) * f32(b)));
    case 'squaredcos_cap_v2':
      return cosineBetas(n).map(f32);
    case 'sigmoid': {
      const range = f32(config.beta_end - config.beta_start);
      return linspace(-6, 6, n).map((x) => f32(f32(f32(1 / (1 + Math.exp(-f32(x)))) * range) + f32(config.beta_start)));
    }
    default:
      return config.beta_schedule satisfies never;
  }
}

/** Products of `alphas` as torch's CPU cumprod gives them for float32: a double accumulator, f32 outputs. */
function cumprod(alphas: readonly number[]): Float64Array {
  const out = new Float64Array(alphas.length);
  let acc = 1;
  alphas.forEach((a, i) => {
    acc *= a;
    out[i] = f32(acc);
  });
  return out;
}

/** diffusers' rescale_zero_terminal_snr (arXiv 2305.08891, Algorithm 1), in f32 steps. */
function rescaleZeroTerminalSnr(betaValues: number[]): number[] {
  const sqrt = Array.from(cumprod(betaValues.map((b) => f32(1 - b))), (a) => f32(Math.sqrt(a)));
  const first = sqrt[0]!;
  const last = sqrt[sqrt.length - 1]!;
  const factor = f32(first / f32(first - last));
  const bar = sqrt.map((s) => f32(f32(s - last) * factor)).map((s) => f32(s * s));
  const alphas = bar.map((b, i) => (i === 0 ? b : f32(b / bar[i - 1]!)));
  return alphas.map((a) => f32(1 - a));
}

/** The training schedule: alphas_cumprod[t] for t in 0 .. num_train_timesteps−1 (f32 values). */
export function alphasCumprod(config: BetaConfig, className: string): Float64Array {
  let b = betas(config, className);
  if (config.rescale_betas_zero_snr) b = rescaleZeroTerminalSnr(b);
  return cumprod(b.map((x) => f32(1 - x)));
}

/**
 * With a zero terminal SNR the last ᾱ is 0: the sigma-based schedulers move it to 2^-24 (as diffusers does)
 * so the first sigma stays finite.
 */
export function floorTerminalAlpha(alphasCumprodValues: Float64Array): void {
  alphasCumprodValues[alphasCumprodValues.length - 1] = 2 ** -24;
}

/** `((1 − ᾱ) / ᾱ) ** 0.5` per training timestep: the f32 array the sigma-based schedulers interpolate. */
export function trainingSigmas(alphasCumprodValues: Float64Array): Float64Array {
  return alphasCumprodValues.map((a) => f32(Math.sqrt(f32(f32(1 - a) / a))));
}
