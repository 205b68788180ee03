/**
 * The sampling pipeline's contract: images depend on the seed only (not on batching), one progress call per
 * step with a preview read only on request, cancellation between steps with nothing leaked, no read-back
 * during sampling, one submit per step and a pool that stops growing after the first step.
 */
import { beforeAll, expect, it } from 'vitest';
import { createScheduler } from '../../src/diffusion/schedulers/index';
import type { Model } from '../../src/models/model';
import { generate, GenerationCancelledError, type DiffusionProgress } from '../../src/pipelines/diffusion';
import { describeEachDevice } from '../devices';
import { expectAllClose } from '../reference/compare';
import { makeRng } from '../reference/random';

/** A class-conditional UNet2DModel with random weights (5 classes, 3×16×16), from weights/diffusion/make_references.py. */
const TINY = new URL('../../weights/diffusion/tiny/unet2d/', import.meta.url);

describeEachDevice('diffusion pipeline', (engine) => {
  let unet: Model;
  beforeAll(async () => {
    unet = await engine().loadModel(TINY.pathname);
  });

  const run = async (schedulerClass: string, options: Parameters<typeof generate>[2]) => {
    const e = engine();
    const scheduler = createScheduler({ clip_sample: false }, schedulerClass);
    const images = await generate(e, { unet, scheduler }, { numInferenceSteps: 4, ...options });
    const data = await images.read();
    const shape = [...images.shape];
    images.dispose();
    return { data, shape };
  };

  it('images depend on the seed, not on the batch size (ancestral noise included)', async () => {
    const options = { count: 2, seed: 7, classLabels: [1, 3], guidanceScale: 2, numInferenceSteps: 3 };
    const a = await run('EulerAncestralDiscreteScheduler', { ...options, batchSize: 2 });
    const b = await run('EulerAncestralDiscreteScheduler', { ...options, batchSize: 1 });
    const c = await run('EulerAncestralDiscreteScheduler', { ...options, batchSize: 2, seed: 8 });
    const eager = await run('EulerAncestralDiscreteScheduler', { ...options, batchSize: 2, record: false });
    expect(a.shape).toEqual([2, 3, 16, 16]);
    expect(Array.from(b.data)).toEqual(Array.from(a.data));
    expect(Array.from(eager.data)).toEqual(Array.from(a.data));
    expect(Array.from(c.data)).not.toEqual(Array.from(a.data));
  });

  it('reports every step with its timestep, and reads a preview only when asked', async () => {
    const e = engine();
    const scheduler = createScheduler({}, 'DDIMScheduler');
    const calls: Omit<DiffusionProgress, 'preview'>[] = [];
    const reads: number[] = [];
    const submits: number[] = [];
    const allocated: number[] = [];
    const originalRead = e.runtime.read.bind(e.runtime);
    e.runtime.read = async (...args) => {
      reads.push(calls.length);
      return originalRead(...args);
    };
    let late: DiffusionProgress['preview'] | null = null;
    try {
      const images = await generate(e, { unet: unet, scheduler }, {
        count: 2, numInferenceSteps: 5, classLabels: 4, guidanceScale: 3,
        onProgress: async (p) => {
          const { preview, ...rest } = p;
          calls.push(rest);
          submits.push(e.runtime.submits);
          allocated.push(e.memory().allocatedBytes);
          if (p.step === 3) {
            const { data, shape } = await preview();
            expect(shape).toEqual([2, 3, 16, 16]);
            expect(data.every(Number.isFinite)).toBe(true);
          }
          late = preview;
        },
      });
      expect(reads).toEqual([3]); // the one preview, nothing else
      images.dispose();
    } finally {
      e.runtime.read = originalRead;
    }
    expect(calls.map((c) => c.step)).toEqual([1, 2, 3, 4, 5]);
    expect(calls.every((c) => c.total === 5 && c.batch === 0 && c.batches === 1)).toBe(true);
    expect(calls.map((c) => c.timestep)).toEqual(scheduler.timesteps);
    expect(calls.map((c) => c.elapsedMs)).toEqual([...calls.map((c) => c.elapsedMs)].sort((x, y) => x - y));
    // One submit per step (the preview's read-back adds one after step 3), and no new buffers after step 1.
    expect(submits.slice(1).map((s, i) => s - submits[i]!)).toEqual([1, 1, 2, 1]);
    expect(new Set(allocated.slice(1)).size).toBe(1);
    await expect(late!()).rejects.toThrow(/only valid during the progress callback/);
  });

  it('cancels between steps with a GenerationCancelledError and frees everything', async () => {
    const e = engine();
    await e.sync();
    const before = e.memory().inUseBytes;
    const controller = new AbortController();
    const steps: number[] = [];
    const scheduler = createScheduler({}, 'DPMSolverMultistepScheduler');
    const done = generate(e, { unet: unet, scheduler }, {
      count: 2, numInferenceSteps: 8, signal: controller.signal,
      onProgress: (p) => {
        steps.push(p.step);
        if (p.step === 2) controller.abort();
      },
    });
    await expect(done).rejects.toThrow(GenerationCancelledError);
    expect(steps).toEqual([1, 2]);
    expect(e.memory().inUseBytes).toBe(before);
  });

  it('latent diffusion: cross-attention guidance in one batch, then the VAE decodes latents / scaling_factor', async () => {
    const e = engine();
    const conditioned = await e.loadModel(new URL('../../weights/diffusion/tiny/unet2d-condition/', import.meta.url).pathname);
    const vae = await e.loadModel(new URL('../../weights/diffusion/tiny/autoencoder-kl/', import.meta.url).pathname);
    const rng = makeRng(4);
    const states = e.tensor(rng.randn(7 * 24), [1, 7, 24]);
    const negative = e.tensor(rng.randn(7 * 24), [1, 7, 24]);
    const options = { count: 2, numInferenceSteps: 2, guidanceScale: 4, seed: 11, encoderHiddenStates: states, negativeEncoderHiddenStates: negative };
    try {
      const latents = await generate(e, { unet: conditioned, scheduler: createScheduler({}, 'EulerDiscreteScheduler') }, options);
      const images = await generate(e, { unet: conditioned, scheduler: createScheduler({}, 'EulerDiscreteScheduler'), vae }, options);
      expect(latents.shape).toEqual([2, 4, 8, 8]);
      expect(images.shape).toEqual([2, 3, 16, 16]);
      const scaled = e.ops.scale(latents, 1 / 0.18215);
      const { sample: expected } = vae.parts!.decode!.forward({ latent: scaled });
      expectAllClose(await images.read(), await expected!.read(), { atol: 1e-5, rtol: 1e-5 }, 'decoded images');
      const unguided = await generate(e, { unet: conditioned, scheduler: createScheduler({}, 'EulerDiscreteScheduler') }, { ...options, guidanceScale: 1 });
      expect(Array.from(await unguided.read())).not.toEqual(Array.from(await latents.read()));
      for (const t of [latents, images, scaled, expected!, unguided]) t.dispose();
    } finally {
      for (const t of [states, negative]) t.dispose();
      conditioned.dispose();
      vae.dispose();
    }
  });

  it('refuses class labels out of range and guidance without conditioning', async () => {
    await expect(run('DDIMScheduler', { classLabels: 5 })).rejects.toThrow(/class label 5 is outside 0..4/);
    await expect(run('DDIMScheduler', { count: 2, classLabels: [1] })).rejects.toThrow(/1 class labels for 2 images/);
  });
});
