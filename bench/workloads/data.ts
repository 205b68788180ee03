/** Deterministic inputs and the layout conversions TF.js needs (it runs NHWC with HWIO filters). */
import { makeRng } from '../../test/reference/random';
import { permute } from '../../test/reference/shape_ops';
import { uniform, type CpuTensor } from '../../test/reference/tensor';
import type { HostInputs } from './types';

/**
 * Uniform values in [-scale, scale) for each named shape, from one seed: activations at scale 1 and weights at
 * 1/sqrt(fan-in) keep every output near unit size, so normalized errors compare like with like.
 */
export function randomInputs(seed: number, shapes: Record<string, { shape: readonly number[]; scale?: number }>): HostInputs {
  const rng = makeRng(seed);
  const out: HostInputs = {};
  for (const [name, { shape, scale = 1 }] of Object.entries(shapes)) out[name] = uniform(shape, rng, -scale, scale);
  return out;
}

/** (N, C, H, W) → (N, H, W, C). */
export function toNhwc(t: CpuTensor): CpuTensor {
  return permute(t, [0, 2, 3, 1]);
}

/** Flat (N, H, W, C) data → (N, C, H, W) data. */
export function fromNhwc(data: Float32Array, nchw: readonly number[]): Float32Array {
  const [n, c, h, w] = nchw as [number, number, number, number];
  return permute({ data, shape: [n, h, w, c] }, [0, 3, 1, 2]).data;
}

/**
 * A PyTorch weight → TF.js's filter layout: conv2d (O, I, KH, KW) → (KH, KW, I, O), and conv_transpose2d
 * (I, O, KH, KW) → conv2dTranspose's (KH, KW, O, I): the same permutation. A depthwise (C, 1, KH, KW) weight
 * becomes (KH, KW, 1, C), which holds the values of depthwiseConv2d's (KH, KW, C, 1) in the same order.
 */
export function weightToTf(t: CpuTensor): CpuTensor {
  return permute(t, [2, 3, 1, 0]);
}
