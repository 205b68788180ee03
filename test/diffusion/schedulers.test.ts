/**
 * The schedulers against diffusers: timestep lists and training sigmas documented by diffusers and the papers,
 * config refusal, and whole sampling schedules run step by step on the GPU against
 * weights/diffusion/schedulers.reference.json (written from a plain-PyTorch reimplementation of diffusers'
 * scheduler code, see weights/README.md), with classifier-free guidance and clipping folded into the step.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  createScheduler, DDIMScheduler, DPMSolverMultistepScheduler, EulerDiscreteScheduler, LCMScheduler, SchedulerConfigError,
} from '../../src/diffusion/schedulers/index';
import { describeEachDevice } from '../devices';
import { expectAllClose } from '../reference/compare';
import { makeRng } from '../reference/random';

/** Stable Diffusion 1.x's scheduler_config.json (a PNDMScheduler config other schedulers are built from). */
const SD_CONFIG = {
  _class_name: 'PNDMScheduler',
  _diffusers_version: '0.6.0',
  beta_end: 0.012,
  beta_schedule: 'scaled_linear',
  beta_start: 0.00085,
  num_train_timesteps: 1000,
  set_alpha_to_one: false,
  skip_prk_steps: true,
  steps_offset: 1,
  trained_betas: null,
  clip_sample: false,
};

describe('scheduler timesteps', () => {
  // Table 2 of arXiv 2305.08891 (T = 1000, 10 steps), as diffusers implements each spacing.
  it.each([
    ['linspace', [999, 888, 777, 666, 555, 444, 333, 222, 111, 0]],
    ['leading', [900, 800, 700, 600, 500, 400, 300, 200, 100, 0]],
    ['trailing', [999, 899, 799, 699, 599, 499, 399, 299, 199, 99]],
  ])('DDIMScheduler %s spacing', (spacing, expected) => {
    const s = createScheduler({ timestep_spacing: spacing }, 'DDIMScheduler');
    s.setTimesteps(10);
    expect(s.timesteps).toEqual(expected);
  });

  it('leading spacing adds steps_offset (Stable Diffusion: 50 steps end at 1)', () => {
    const s = DDIMScheduler.fromConfig(SD_CONFIG);
    s.setTimesteps(50);
    expect(s.timesteps.slice(0, 3)).toEqual([981, 961, 941]);
    expect(s.timesteps.at(-1)).toBe(1);
  });

  it('trailing spacing with a step that does not divide T rounds like np.round(np.arange(...))', () => {
    const s = createScheduler({ timestep_spacing: 'trailing' }, 'DDPMScheduler');
    s.setTimesteps(7);
    // np.round(np.arange(1000, 0, -1000 / 7)) - 1
    expect(s.timesteps).toEqual([999, 856, 713, 570, 428, 285, 142]);
  });

  it('DPMSolverMultistepScheduler drops the last of n + 1 linspace points, rounding half to even', () => {
    const s = createScheduler({}, 'DPMSolverMultistepScheduler');
    s.setTimesteps(10);
    // np.linspace(0, 999, 11).round()[::-1][:-1]: 499.5 rounds to 500
    expect(s.timesteps).toEqual([999, 899, 799, 699, 599, 500, 400, 300, 200, 100]);
  });

  it('EulerDiscreteScheduler keeps fractional linspace timesteps (float32)', () => {
    const s = createScheduler({}, 'EulerDiscreteScheduler');
    s.setTimesteps(4);
    expect(s.timesteps).toEqual([999, 666, 333, 0]);
    s.setTimesteps(7);
    expect(s.timesteps[1]).toBe(Math.fround(832.5));
  });

  it('LCMScheduler picks evenly from the 50-step distillation schedule (4 steps: 999, 759, 499, 259)', () => {
    const s = LCMScheduler.fromConfig({});
    s.setTimesteps(4);
    expect(s.timesteps).toEqual([999, 759, 499, 259]);
    expect(() => s.setTimesteps(51)).toThrow(/original_inference_steps/);
  });
});

describe('scheduler schedules', () => {
  it("Stable Diffusion's training sigmas run from 0.0292 to 14.6146 (k-diffusion's sigma_min and sigma_max)", () => {
    const euler = EulerDiscreteScheduler.fromConfig({ ...SD_CONFIG, timestep_spacing: 'leading' });
    expect(euler.sigmas[0]).toBeCloseTo(14.6146, 3);
    expect(euler.sigmas.at(-2)).toBeCloseTo(0.0292, 4);
    // leading spacing: init_noise_sigma = √(σ_max² + 1)
    expect(euler.initNoiseSigma).toBeCloseTo(Math.sqrt(14.6146 ** 2 + 1), 3);
    const linspace = EulerDiscreteScheduler.fromConfig(SD_CONFIG);
    linspace.setTimesteps(30);
    expect(linspace.initNoiseSigma).toBeCloseTo(14.6146, 3);
    expect(linspace.sigmas.at(-1)).toBe(0);
  });

  it('the linear schedule ends at ᾱ_999 ≈ 4.036e-5 (DDPM, Ho et al.)', () => {
    const s = createScheduler({}, 'DDPMScheduler');
    expect(s.alphasCumprod[999]! / 4.0358e-5).toBeCloseTo(1, 3);
    expect(s.alphasCumprod[0]).toBe(Math.fround(1 - 0.0001));
  });

  it('rescale_betas_zero_snr drives the last ᾱ to 0 and keeps the first', () => {
    const plain = createScheduler({ ...SD_CONFIG }, 'DDIMScheduler');
    const zero = createScheduler({ ...SD_CONFIG, rescale_betas_zero_snr: true }, 'DDIMScheduler');
    expect(zero.alphasCumprod[999]).toBe(0);
    expect(zero.alphasCumprod[0]! / plain.alphasCumprod[0]!).toBeCloseTo(1, 6);
  });
});

describe('scheduler configs', () => {
  it('_class_name picks the class; a named class overrides it; keys of other classes are ignored', () => {
    expect(createScheduler({ _class_name: 'EulerAncestralDiscreteScheduler' }).className).toBe('EulerAncestralDiscreteScheduler');
    expect(createScheduler(SD_CONFIG, 'DPMSolverMultistepScheduler').className).toBe('DPMSolverMultistepScheduler');
    expect(() => createScheduler(SD_CONFIG)).toThrow(/PNDMScheduler.*not supported/);
    expect(() => createScheduler({})).toThrow(/no _class_name/);
  });

  it.each([
    ['DDIMScheduler', { thresholding: true }, /'thresholding' true is not supported/],
    ['EulerDiscreteScheduler', { use_karras_sigmas: true }, /'use_karras_sigmas' true is not supported/],
    ['DPMSolverMultistepScheduler', { solver_order: 3 }, /'solver_order' 3 is not supported/],
    ['DPMSolverMultistepScheduler', { algorithm_type: 'dpmsolver' }, /'algorithm_type' "dpmsolver" is not supported/],
    ['DPMSolverMultistepScheduler', { variance_type: 'learned_range' }, /'variance_type' "learned_range" is not supported/],
    ['DDPMScheduler', { variance_type: 'learned' }, /'variance_type' "learned" is not supported/],
    ['EulerAncestralDiscreteScheduler', { prediction_type: 'sample' }, /'prediction_type' "sample" is not supported/],
    ['DDIMScheduler', { beta_schedule: 'sigmoid' }, /'beta_schedule' "sigmoid" is not supported/],
    ['DDIMScheduler', { timestep_spacing: 'sideways' }, /'timestep_spacing' must be one of/],
    ['DDIMScheduler', { num_train_timesteps: 'many' }, /'num_train_timesteps' must be an integer/],
    ['DDIMScheduler', { trained_betas: [0.1, 0.2] }, /trained_betas' holds 2 values/],
  ])('%s refuses %j by name', (name, config, message) => {
    expect(() => createScheduler(config, name)).toThrow(SchedulerConfigError);
    expect(() => createScheduler(config, name)).toThrow(message);
  });
});

/** One case of weights/diffusion/schedulers.reference.json. */
interface ReferenceCase {
  name: string;
  class: string;
  config: Record<string, unknown>;
  numInferenceSteps: number;
  timesteps: number[];
  initNoiseSigma: number;
  steps: { t: number; sample: number[]; modelOutput: number[]; noise: number[] | null; scaledInput: number[]; prevSample: number[] }[];
}

const REFERENCE = new URL('../../weights/diffusion/schedulers.reference.json', import.meta.url);

describeEachDevice('schedulers on the GPU', (engine) => {
  const cases: ReferenceCase[] = existsSync(REFERENCE) ? JSON.parse(readFileSync(REFERENCE, 'utf8')) : [];

  it('the reference file exists', () => {
    expect(cases.length, `${REFERENCE.pathname} is missing`).toBeGreaterThan(0);
  });

  it.each(cases.map((c) => [`${c.class}: ${c.name}, ${c.numInferenceSteps} steps`, c] as const))('%s', async (_, c) => {
    const e = engine();
    const s = createScheduler(c.config, c.class);
    s.setTimesteps(c.numInferenceSteps);
    expect(s.timesteps.length).toBe(c.timesteps.length);
    s.timesteps.forEach((t, i) => expect(t, `timestep ${i}`).toBeCloseTo(c.timesteps[i]!, 3));
    expect(s.initNoiseSigma / c.initNoiseSigma).toBeCloseTo(1, 5);
    const shape = [c.steps[0]!.sample.length];
    for (const [i, step] of c.steps.entries()) {
      const where = `${c.class} step ${i} (t=${step.t})`;
      // Each step starts from the reference's own sample, so one step's rounding does not carry over.
      const sample = e.tensor(step.sample, shape);
      const output = e.tensor(step.modelOutput, shape);
      const noise = step.noise ? e.tensor(step.noise, shape) : undefined;
      const scaled = s.scaleModelInput(sample, step.t);
      expectAllClose(await scaled.read(), step.scaledInput, { atol: 1e-6, rtol: 1e-4 }, `${where} scaleModelInput`);
      const { prevSample, predOriginalSample } = s.step(output, step.t, sample, noise ? { noise } : {});
      expectAllClose(await prevSample.read(), step.prevSample, { atol: 1e-5, rtol: 1e-4 }, `${where} prevSample`);
      for (const t of new Set([sample, output, noise, scaled, prevSample, predOriginalSample])) t?.dispose();
    }
    s.dispose();
  });

  it('guidance in the step equals stepping on uncond + g · (cond − uncond), and clip_sample clamps x0', async () => {
    const e = engine();
    const rng = makeRng(5);
    const n = 37;
    const sample = rng.randn(n);
    const uncond = rng.randn(n);
    const cond = rng.randn(n);
    const g = 3.5;
    const combined = uncond.map((u, i) => u + g * (cond[i]! - u));
    const run = async (output: Float32Array, guidanceScale?: number) => {
      const s = DDIMScheduler.fromConfig({ clip_sample: true, clip_sample_range: 0.8 });
      s.setTimesteps(10);
      const x = e.tensor(sample, [1, n]);
      const m = e.tensor(output, [guidanceScale ? 2 : 1, n]);
      const out = s.step(m, s.timesteps[0]!, x, guidanceScale ? { guidanceScale } : {});
      const result = { prev: await out.prevSample.read(), x0: await out.predOriginalSample.read() };
      for (const t of [x, m, out.prevSample, out.predOriginalSample]) t.dispose();
      return result;
    };
    const guided = await run(Float32Array.from([...uncond, ...cond]), g);
    const plain = await run(combined);
    expectAllClose(guided.prev, plain.prev, { atol: 1e-5, rtol: 1e-5 }, 'guided prevSample');
    expect(Math.max(...guided.x0.map(Math.abs))).toBeLessThanOrEqual(Math.fround(0.8));
  });

  it('DPM-Solver++ keeps its previous x0 across tidy scopes and frees it on dispose', async () => {
    const e = engine();
    const s = DPMSolverMultistepScheduler.fromConfig({});
    s.setTimesteps(5);
    let x = e.tensor(makeRng(1).randn(16), [16]);
    const before = e.memory().inUseBytes;
    for (const t of s.timesteps) {
      const next = e.tidy(() => {
        const m = e.ops.scale(x, 0.5);
        return s.step(m, t, x).prevSample;
      });
      x.dispose();
      x = next;
    }
    const values = await x.read();
    expect(values.every(Number.isFinite)).toBe(true);
    x.dispose();
    s.dispose();
    expect(e.memory().inUseBytes).toBeLessThan(before);
  });

  it('a stochastic step without noise or generator says so, and so does a step past the last', () => {
    const e = engine();
    const s = createScheduler({}, 'EulerAncestralDiscreteScheduler');
    s.setTimesteps(3);
    const x = e.tensor([1, 2, 3], [3]);
    expect(() => s.step(x, s.timesteps[0]!, x)).toThrow(/adds noise: pass \{ noise \} or \{ generator \}/);
    for (const t of s.timesteps) {
      const out = s.step(x, t, x, { generator: makeRng(3) });
      out.prevSample.dispose();
      out.predOriginalSample.dispose();
    }
    expect(() => s.step(x, 0, x, { generator: makeRng(3) })).toThrow(/all 3 steps were taken/);
    x.dispose();
  });
});
