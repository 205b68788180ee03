/**
 * The class-conditional diffusion digits model as the demo uses it: the diffusers UNet (config.json +
 * safetensors), a scheduler built from its scheduler_config.json, and the library's sampling pipeline, behind
 * one `generate` call with per-step previews and cancellation between steps.
 */
import { createScheduler, SCHEDULER_CLASSES, type SchedulerClassName } from '../diffusion/schedulers/index';
import type { Engine } from '../engine';
import { nchwToImage, type RgbaImage } from '../io/image';
import { generate, GenerationCancelledError, imagesToRgba } from '../pipelines/diffusion';
import type { CatalogueEntry } from './catalogue';
import type { ModelFiles } from './models';
import { WeightsError } from './weights-cache';

/** Digit classes 0–9; the model's 11th class embedding means "no class" (classifier-free guidance). */
export const DIGIT_CLASSES = 10;

const LABELS: Record<SchedulerClassName, string> = {
  DDIMScheduler: 'DDIM',
  DPMSolverMultistepScheduler: 'DPM-Solver++ 2M',
  EulerDiscreteScheduler: 'Euler',
  EulerAncestralDiscreteScheduler: 'Euler ancestral',
  DDPMScheduler: 'DDPM',
  LCMScheduler: 'LCM',
};

/** The schedulers offered, by diffusers class name; LCM needs a consistency-distilled model, which this is not. */
export const SCHEDULERS = (Object.keys(LABELS) as SchedulerClassName[])
  .filter((className) => SCHEDULER_CLASSES.includes(className) && className !== 'LCMScheduler')
  .map((className) => ({ className, label: LABELS[className] }));

export interface DiffusionRequest {
  /** 0–9, or null for any digit. */
  classLabel: number | null;
  steps: number;
  scheduler: string;
  guidanceScale: number;
  count: number;
  seed: number;
}

export interface DiffusionHooks {
  signal: AbortSignal;
  /** After each step; `preview` holds the current estimate of the images (the step's predicted x0). */
  onStep(step: number, total: number, preview: RgbaImage[] | null): void;
}

export interface DiffusionDigits {
  /** The images, or null when cancelled. */
  generate(request: DiffusionRequest, hooks: DiffusionHooks): Promise<RgbaImage[] | null>;
  dispose(): void;
}

export async function loadDiffusionDigits(engine: Engine, entry: CatalogueEntry, files: ModelFiles): Promise<DiffusionDigits> {
  const file = (suffix: string) => {
    const path = entry.files.find((f) => f.endsWith(suffix));
    const bytes = path && files.get(path);
    if (!bytes) throw new WeightsError(`${entry.label}: no ${suffix} among its files`);
    return bytes;
  };
  const config = json(file('/config.json'), 'config.json');
  const schedulerConfig = json(file('/scheduler_config.json'), 'scheduler_config.json');
  const unet = await engine.loadModel(file('.safetensors'), { config });
  return {
    async generate(request, hooks) {
      const scheduler = createScheduler(schedulerConfig, request.scheduler);
      try {
        const images = await generate(engine, { unet, scheduler }, {
          count: request.count,
          numInferenceSteps: request.steps,
          guidanceScale: request.guidanceScale,
          seed: request.seed,
          classLabels: request.classLabel,
          signal: hooks.signal,
          onProgress: async (p) => {
            // Batches run one after another: the bar covers them all, the preview shows the current one.
            const { data, shape } = await p.preview();
            const [n, c, h, w] = shape as [number, number, number, number];
            const preview = Array.from({ length: n }, (_, i) => nchwToImage(data.subarray(i * c * h * w, (i + 1) * c * h * w), c, h, w, '-1-1'));
            hooks.onStep(p.batch * p.total + p.step, p.batches * p.total, preview);
          },
        });
        try {
          return await imagesToRgba(images);
        } finally {
          images.dispose();
        }
      } catch (error) {
        if (error instanceof GenerationCancelledError) return null;
        throw error;
      }
    },
    dispose: () => unet.dispose(),
  };
}

function json(bytes: Uint8Array, name: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(new TextDecoder().decode(bytes));
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
    throw new Error('not a JSON object');
  } catch (error) {
    throw new WeightsError(`${name} is not readable: ${(error as Error).message}`);
  }
}
