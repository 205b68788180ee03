/**
 * Latent sampling for GAN generators: Gaussian batches and spherical interpolation between two latents, and
 * running a generator over many latents batch by batch.
 */
import type { Engine } from '../engine';
import { SyntheError } from '../errors';
import { nchwToImage, type PixelRange, type RgbaImage } from '../io/image';
import type { Model } from '../models/model';
import type { Rng } from '../random';

/** `count` latents of `dim` standard normal values, row after row. */
export function sampleLatents(rng: Rng, count: number, dim: number): Float32Array {
  return rng.randn(count * dim);
}

/**
 * `steps` latents on the great circle from `a` to `b` (slerp), ends included: Gaussian latents live near a
 * sphere, and a straight line between two of them passes through unlikely, low-norm latents.
 */
export function slerpLatents(a: Float32Array, b: Float32Array, steps: number): Float32Array {
  const dim = a.length;
  const norm = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  let dot = 0;
  for (let i = 0; i < dim; i++) dot += a[i]! * b[i]!;
  const omega = Math.acos(Math.min(1, Math.max(-1, dot / (norm(a) * norm(b)))));
  const out = new Float32Array(steps * dim);
  for (let s = 0; s < steps; s++) {
    const t = steps === 1 ? 0 : s / (steps - 1);
    // Nearly parallel latents: slerp's weights are 0/0, and linear interpolation is the limit.
    const [wa, wb] = omega < 1e-6 ? [1 - t, t] : [Math.sin((1 - t) * omega) / Math.sin(omega), Math.sin(t * omega) / Math.sin(omega)];
    for (let i = 0; i < dim; i++) out[s * dim + i] = wa * a[i]! + wb * b[i]!;
  }
  return out;
}

/** Options for {@link generateImages}. */
export interface GenerateImagesOptions {
  /** Latents per forward (default 64). */
  batchSize?: number;
  /** Called after each batch with (images made, images asked for). */
  onProgress?: (done: number, total: number) => void;
  /** Checked before each batch; when it returns true, generation stops with the images made so far. */
  cancelled?: () => boolean;
}

/**
 * Runs a generator (input `latent`, output `image`) over (count, latentDim) latents, batch by batch, and
 * returns 8-bit images, mapped from the model's `outputRange` (default [-1, 1]).
 */
export async function generateImages(engine: Engine, model: Model, latents: Float32Array, options: GenerateImagesOptions = {}): Promise<RgbaImage[]> {
  const dim = Number(model.config.latentDim);
  const count = latents.length / dim;
  const batch = options.batchSize ?? 64;
  const range = (model.config.outputRange as PixelRange | undefined) ?? '-1-1';
  const images: RgbaImage[] = [];
  for (let start = 0; start < count && !options.cancelled?.(); start += batch) {
    const n = Math.min(batch, count - start);
    const z = engine.tensor(latents.subarray(start * dim, (start + n) * dim), [n, dim]);
    const { image } = model.forward({ latent: z });
    z.dispose();
    if (!image) throw new SyntheError(`model '${model.arch}' returned no 'image'; is it a GAN generator?`);
    const [, c, h, w] = image.shape as [number, number, number, number];
    const data = await image.read();
    image.dispose();
    for (let i = 0; i < n; i++) images.push(nchwToImage(data.subarray(i * c * h * w, (i + 1) * c * h * w), c, h, w, range));
    options.onProgress?.(images.length, count);
  }
  return images;
}
