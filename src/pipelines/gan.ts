/** Latent sampling for GAN generators: Gaussian batches and spherical interpolation between two latents. */
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
