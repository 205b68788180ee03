/**
 * The fused sampler step (shaders/scheduler_step.wgsl): guidance, the predicted x0 with clip_sample, and the
 * next sample in one elementwise pass, with the scheduler's per-step scalars in the uniform. Every scheduler's
 * update is linear in (sample, model output, noise, previous x0) once x0 is clipped, which is why one kernel
 * serves them all.
 */
import code from '../../shaders/scheduler_step.wgsl?raw';
import { ShapeError } from '../errors';
import type { Runtime } from '../gpu/runtime';
import { shader } from '../gpu/shader';
import type { Tensor } from '../tensor/tensor';
import { expectF32, expectFinite, expectSameEngine, expectSameShape, linearWorkgroups, output } from './common';

const SCHEDULER_STEP = shader('scheduler_step.wgsl', code);

/** The scalars of one step: x0 = x0Sample·sample + x0Model·eps (clamped), prev = sample·… + model·… + x0·… + noise·… + history·…. */
export interface StepCoefficients {
  x0Sample: number;
  x0Model: number;
  /** clip_sample's range, or null for no clipping. */
  clipRange: number | null;
  sample: number;
  model: number;
  x0: number;
  /** Weight of the noise; 0 when the step draws none. */
  noise: number;
  /** Weight of the previous step's x0; 0 when the step does not use it. */
  history: number;
}

export interface SchedulerStepArgs {
  /** The current sample x_t (N, …). */
  sample: Tensor;
  /** The model output, shaped like sample, or with a doubled batch [uncond; cond] when guided. */
  modelOutput: Tensor;
  /** Classifier-free guidance scale; set when modelOutput holds [uncond; cond]. */
  guidanceScale?: number;
  noise?: Tensor | null;
  /** The previous step's x0. */
  history?: Tensor | null;
  coefficients: StepCoefficients;
}

/** One fused step: returns x_{t−1} and the x0 it was computed from. */
export function schedulerStep(rt: Runtime, args: SchedulerStepArgs): { prevSample: Tensor; predOriginalSample: Tensor } {
  const label = 'schedulerStep';
  const { sample, modelOutput, coefficients: c } = args;
  const noise = c.noise !== 0 ? args.noise : null;
  const history = c.history !== 0 ? args.history : null;
  const guided = args.guidanceScale !== undefined;
  expectSameEngine(rt, label, sample, modelOutput, ...(noise ? [noise] : []), ...(history ? [history] : []));
  expectF32(label, { name: 'sample', tensor: sample }, { name: 'modelOutput', tensor: modelOutput });
  const batch = sample.shape[0] ?? 1;
  const expected = guided ? [2 * batch, ...sample.shape.slice(1)] : sample.shape;
  expectSameShape(label, modelOutput.shape, expected, guided ? 'modelOutput ([uncond; cond]) and doubled sample' : 'modelOutput and sample');
  if (c.noise !== 0 && !noise) throw new ShapeError(`${label}: this step adds noise but none was given`);
  if (c.history !== 0 && !history) throw new ShapeError(`${label}: this step needs the previous x0 but none was given`);
  if (noise) expectSameShape(label, noise.shape, sample.shape, 'noise and sample');
  if (history) expectSameShape(label, history.shape, sample.shape, 'history and sample');
  const scalars = { ...c, clipRange: c.clipRange ?? 0, guidance: args.guidanceScale ?? 0 };
  for (const [name, v] of Object.entries(scalars)) expectFinite(label, name, v);

  const prevSample = output(rt, sample.shape);
  const predOriginalSample = output(rt, sample.shape);
  if (sample.size === 0) return { prevSample, predOriginalSample };
  rt.dispatch({
    shader: SCHEDULER_STEP,
    overrides: { GUIDED: guided, CLIP: c.clipRange !== null, NOISE: noise !== null, HISTORY: history !== null },
    uniforms: {
      n: sample.size,
      guidance: scalars.guidance,
      clip_range: scalars.clipRange,
      x0_sample: c.x0Sample,
      x0_model: c.x0Model,
      c_sample: c.sample,
      c_model: c.model,
      c_x0: c.x0,
      c_noise: c.noise,
      c_history: c.history,
    },
    // Unused inputs are bound to the sample buffer: the shader's layout has them, the override skips them.
    bindings: {
      sample: sample.buffer,
      model: modelOutput.buffer,
      noise: (noise ?? sample).buffer,
      history: (history ?? sample).buffer,
      prev: prevSample.buffer,
      x0: predOriginalSample.buffer,
    },
    workgroups: linearWorkgroups(sample.size),
    label,
  });
  return { prevSample, predOriginalSample };
}
