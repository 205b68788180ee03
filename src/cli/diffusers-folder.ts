/**
 * A diffusers folder on disk as the CLI loads it: either a pipeline (model_index.json with unet/, an optional
 * vae/ and scheduler/) or a single UNet folder (config.json and diffusion_pytorch_model.safetensors, with its
 * scheduler_config.json beside them as google/ddpm-* repositories ship it, or without one). Each model folder
 * goes to `engine.loadModel`, which reads its config.json.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Engine } from '../engine';
import type { Model } from '../models/model';
import { UsageError } from './errors';

export interface DiffusersFolder {
  unet: Model;
  vae: Model | null;
  /** The parsed scheduler_config.json, or null when the folder has none. */
  schedulerConfig: Record<string, unknown> | null;
  dispose(): void;
}

/** Whether `dir` looks like a diffusers folder (so `--model DIR` means diffusion). */
export function isDiffusersFolder(dir: string): boolean {
  return existsSync(join(dir, 'unet', 'config.json')) || existsSync(join(dir, 'config.json'));
}

async function readJson(path: string): Promise<Record<string, unknown> | null> {
  if (!existsSync(path)) return null;
  try {
    const parsed: unknown = JSON.parse(await readFile(path, 'utf8'));
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    return parsed as Record<string, unknown>;
  } catch (error) {
    throw new UsageError(`${path} is not a JSON object: ${(error as Error).message}`);
  }
}

export async function loadDiffusersFolder(engine: Engine, dir: string): Promise<DiffusersFolder> {
  const pipeline = existsSync(join(dir, 'unet'));
  const schedulerConfig = await readJson(pipeline ? join(dir, 'scheduler', 'scheduler_config.json') : join(dir, 'scheduler_config.json'));
  const unet = await engine.loadModel(pipeline ? join(dir, 'unet') : dir);
  let vae: Model | null = null;
  try {
    if (pipeline && existsSync(join(dir, 'vae'))) vae = await engine.loadModel(join(dir, 'vae'));
  } catch (error) {
    unet.dispose();
    throw error;
  }
  return {
    unet,
    vae,
    schedulerConfig,
    dispose() {
      unet.dispose();
      vae?.dispose();
    },
  };
}
