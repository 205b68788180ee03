/**
 * The project's class-conditional MNIST DDPM through the sampling pipeline against PyTorch: its
 * reference.safetensors holds a 10-step DDIM trajectory with classifier-free guidance 2, from the noise in
 * `ddim.noise`; every step's sample must match within a relative error of 1e-3.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { beforeAll, expect, it } from 'vitest';
import { createScheduler } from '../../src/diffusion/schedulers/index';
import { openSafetensors } from '../../src/io/safetensors';
import type { Model } from '../../src/models/model';
import { generate } from '../../src/pipelines/diffusion';
import { describeEachDevice } from '../devices';
import { normalizedError } from '../reference/compare';

const DIR = new URL('../../weights/ddpm-mnist/', import.meta.url);

interface Trajectory {
  noise: Float32Array;
  labels: number[];
  timesteps: number[];
  /** (steps + 1) samples of count images, the noise first. */
  samples: Float32Array;
  guidance: number;
  metadata: Record<string, string>;
}

async function trajectory(): Promise<Trajectory> {
  const file = await openSafetensors(new URL('reference.safetensors', DIR).pathname);
  try {
    const metadata = { ...file.metadata };
    const guidance = Number(metadata.guidance_scale ?? 2);
    return {
      noise: await file.float32('ddim.noise'),
      labels: Array.from(await file.float32('ddim.class_labels')),
      timesteps: Array.from(await file.float32('ddim.timesteps')),
      samples: await file.float32('ddim.samples'),
      guidance,
      metadata,
    };
  } finally {
    await file.close();
  }
}

describeEachDevice('ddpm-mnist', (engine) => {
  let unet: Model;
  let schedulerConfig: Record<string, unknown>;
  let ref: Trajectory;
  beforeAll(async () => {
    if (!existsSync(DIR)) throw new Error(`${DIR.pathname} is missing (see weights/README.md)`);
    unet = await engine().loadModel(DIR.pathname);
    schedulerConfig = JSON.parse(await readFile(new URL('scheduler_config.json', DIR), 'utf8'));
    ref = await trajectory();
  });

  it('reproduces the 10-step DDIM trajectory with guidance 2, step by step', async () => {
    const e = engine();
    // The DDIM config the trajectory was made with, when the file records it.
    const recorded = ref.metadata.ddim_scheduler_config;
    const scheduler = createScheduler(recorded ? JSON.parse(recorded) : schedulerConfig, 'DDIMScheduler');
    const count = ref.labels.length;
    const perStep = ref.noise.length;
    const samples: Float32Array[] = [];
    const images = await generate(e, { unet, scheduler }, {
      count, numInferenceSteps: ref.timesteps.length, guidanceScale: ref.guidance, classLabels: ref.labels, latents: ref.noise,
      onProgress: async (p) => {
        samples.push((await p.preview('sample')).data);
      },
    });
    images.dispose();
    expect(scheduler.timesteps).toEqual(ref.timesteps);
    expect(samples).toHaveLength(ref.timesteps.length);
    samples.forEach((actual, k) => {
      const expected = ref.samples.subarray((k + 1) * perStep, (k + 2) * perStep);
      expect(normalizedError(actual, expected), `step ${k + 1} (t=${ref.timesteps[k]})`).toBeLessThan(1e-3);
    });
  });
});
