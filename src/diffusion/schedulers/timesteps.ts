/**
 * timestep_spacing as diffusers implements it (Table 2 of arXiv 2305.08891): which training timesteps the
 * inference steps visit, and the sigmas there. `T` is num_train_timesteps, `n` the number of inference steps.
 */
import { arange, interp, linspace, roundHalfEven } from './numpy';
import type { TimestepSpacing } from './scheduler';

const f32 = Math.fround;

/** Integer timesteps, first (noisiest) to last: DDPMScheduler and DDIMScheduler. */
export function discreteTimesteps(spacing: TimestepSpacing, T: number, n: number, stepsOffset: number): number[] {
  switch (spacing) {
    case 'linspace':
      return linspace(0, T - 1, n).map(roundHalfEven).reverse();
    case 'leading': {
      const ratio = Math.floor(T / n);
      return Array.from({ length: n }, (_, i) => (n - 1 - i) * ratio + stepsOffset);
    }
    case 'trailing':
      return arange(T, 0, -T / n).map((t) => roundHalfEven(t) - 1);
    default:
      return spacing satisfies never;
  }
}

/** Float timesteps (float32 values): EulerDiscreteScheduler and EulerAncestralDiscreteScheduler. */
export function continuousTimesteps(spacing: TimestepSpacing, T: number, n: number, stepsOffset: number): number[] {
  switch (spacing) {
    case 'linspace':
      return linspace(0, T - 1, n).map(f32).reverse();
    case 'leading': {
      const ratio = Math.floor(T / n);
      return Array.from({ length: n }, (_, i) => f32((n - 1 - i) * ratio) + stepsOffset);
    }
    case 'trailing':
      return arange(T, 0, -T / n).map((t) => f32(roundHalfEven(t)) - 1);
    default:
      return spacing satisfies never;
  }
}

/**
 * DPMSolverMultistepScheduler's integer timesteps: n + 1 points with the last dropped, up to `last`
 * (num_train_timesteps minus the steps lambda_min_clipped removes).
 */
export function solverTimesteps(spacing: TimestepSpacing, T: number, n: number, stepsOffset: number, last: number): number[] {
  switch (spacing) {
    case 'linspace':
      return linspace(0, last - 1, n + 1).map(roundHalfEven).reverse().slice(0, n);
    case 'leading': {
      const ratio = Math.floor(last / (n + 1));
      return Array.from({ length: n }, (_, i) => (n - i) * ratio + stepsOffset);
    }
    case 'trailing':
      return arange(last, 0, -T / n).map((t) => roundHalfEven(t) - 1);
    default:
      return spacing satisfies never;
  }
}

/**
 * Sigmas at the given timesteps, interpolated in the f32 training sigmas, then a final sigma appended; all
 * rounded to f32 as diffusers' `np.concatenate([...]).astype(np.float32)`.
 */
export function sigmasAt(timesteps: readonly number[], trainingSigmas: Float64Array, finalSigma: number): number[] {
  const grid = Array.from(trainingSigmas, (_, i) => i);
  return [...timesteps.map((t) => interp(t, grid, trainingSigmas)), finalSigma].map(f32);
}
