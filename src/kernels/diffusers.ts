/**
 * diffusers building blocks that are not plain torch ops: GEGLU, the transformer FeedForward, and
 * get_timestep_embedding (shaders/diffusers.wgsl). Matrix products go through `gemm`/`linear`.
 */
import diffusersCode from '../../shaders/diffusers.wgsl?raw';
import { ShapeError } from '../errors';
import type { Runtime } from '../gpu/runtime';
import { shader } from '../gpu/shader';
import { formatShape, numel } from '../tensor/shape';
import { Tensor } from '../tensor/tensor';
import { expectF32, expectFinite, expectSameEngine, linearWorkgroups, output } from './common';
import { gemm, linear } from './matmul';

const DIFFUSERS = shader('diffusers.wgsl', diffusersCode);

/** Frequencies the timestep-embedding uniform holds (its `freqs` array of vec4). */
const MAX_HALF_DIM = 1024;

/**
 * diffusers `GEGLU` after its projection: hidden, gate = input.chunk(2, dim=-1); hidden · gelu(gate).
 * input (…, 2H) -> (…, H).
 */
export function geglu(rt: Runtime, input: Tensor, options: { approximate?: 'none' | 'tanh' } = {}): Tensor {
  const label = 'geglu';
  expectSameEngine(rt, label, input);
  expectF32(label, { name: 'input', tensor: input });
  const last = input.shape[input.rank - 1];
  if (last === undefined || last % 2 !== 0) throw new ShapeError(`${label}: last dim must be even (hidden, gate halves), got ${formatShape(input.shape)}`);
  const approximate = options.approximate ?? 'none';
  if (approximate !== 'none' && approximate !== 'tanh') throw new ShapeError(`${label}: approximate must be 'none' or 'tanh', got '${String(approximate)}'`);
  const h = last / 2;
  const out = output(rt, [...input.shape.slice(0, -1), h]);
  if (out.size === 0) return out;
  rt.dispatch({
    shader: DIFFUSERS,
    entry: 'geglu',
    overrides: { APPROX: approximate === 'tanh' },
    uniforms: { n: out.size, h },
    bindings: { x: input.buffer, y: out.buffer },
    workgroups: linearWorkgroups(out.size),
    label,
  });
  return out;
}

/** Weights of {@link feedForward}, named after diffusers' FeedForward (`net.0.proj`, `net.2`). */
export interface FeedForwardOptions {
  /** net.0.proj.weight: (2·inner, C) for GEGLU, (inner, C) for GELU. */
  projWeight: Tensor;
  projBias?: Tensor | null;
  /** net.2.weight (Cout, inner). */
  outWeight: Tensor;
  outBias?: Tensor | null;
  /** diffusers' activation_fn. Default `'geglu'`. */
  activation?: 'geglu' | 'gelu' | 'gelu-approximate';
}

/** diffusers `FeedForward` (inference: dropout is the identity): x (…, C) -> (…, Cout). */
export function feedForward(rt: Runtime, x: Tensor, options: FeedForwardOptions): Tensor {
  const activation = options.activation ?? 'geglu';
  let hidden: Tensor;
  switch (activation) {
    case 'geglu': {
      const projected = linear(rt, x, options.projWeight, options.projBias ?? null);
      hidden = geglu(rt, projected);
      projected.dispose();
      break;
    }
    case 'gelu':
    case 'gelu-approximate': {
      // The projection with its GELU fused into the matmul's epilogue.
      const { projWeight } = options;
      if (projWeight.rank !== 2 || x.rank === 0 || x.shape[x.rank - 1] !== projWeight.shape[1]) {
        throw new ShapeError(`feedForward: input ${formatShape(x.shape)} must end in the ${projWeight.shape[1]} input features of projWeight ${formatShape(projWeight.shape)}`);
      }
      const lead = x.shape.slice(0, -1);
      const [inner, features] = projWeight.shape as [number, number];
      const product = gemm(rt, {
        a: x, b: projWeight, m: numel(lead), n: inner, k: features, transB: true, bias: options.projBias ?? null,
        activation: activation === 'gelu' ? 'gelu' : 'geluTanh', label: 'feedForward',
      });
      hidden = product.reshape([...lead, inner]);
      product.dispose();
      break;
    }
    default:
      throw new ShapeError(`feedForward: activation must be 'geglu', 'gelu' or 'gelu-approximate', got '${String(activation satisfies never)}'`);
  }
  try {
    return linear(rt, hidden, options.outWeight, options.outBias ?? null);
  } finally {
    hidden.dispose();
  }
}

/** Options of {@link timestepEmbedding}, as diffusers' get_timestep_embedding arguments. */
export interface TimestepEmbeddingOptions {
  /** Output [cos, sin] instead of [sin, cos]. Default false. */
  flipSinToCos?: boolean;
  /** Default 1. */
  downscaleFreqShift?: number;
  /** Default 1. */
  scale?: number;
  /** Default 10000. */
  maxPeriod?: number;
}

/**
 * `diffusers.models.embeddings.get_timestep_embedding(timesteps, dim, flip_sin_to_cos, downscale_freq_shift,
 * scale, max_period)`: timesteps (T), an f32 or i32 tensor or plain numbers -> (T, dim); odd dims end in a
 * zero column. The frequencies are rounded to f32 as torch rounds them.
 */
export function timestepEmbedding(rt: Runtime, timesteps: Tensor | readonly number[], dim: number, options: TimestepEmbeddingOptions = {}): Tensor {
  const label = 'timestepEmbedding';
  const flip = options.flipSinToCos ?? false;
  const shift = options.downscaleFreqShift ?? 1;
  const scale = options.scale ?? 1;
  const maxPeriod = options.maxPeriod ?? 10000;
  for (const [name, v] of [['downscaleFreqShift', shift], ['scale', scale], ['maxPeriod', maxPeriod]] as const) expectFinite(label, name, v);
  const half = Math.floor(dim / 2);
  if (!Number.isInteger(dim) || dim < 0 || half > MAX_HALF_DIM) throw new ShapeError(`${label}: dim must be an integer in 0..${2 * MAX_HALF_DIM + 1}, got ${dim}`);
  if (half > 0 && half === shift) throw new ShapeError(`${label}: dim ${dim} with downscaleFreqShift ${shift} divides by zero (half dim − shift)`);

  const given = timesteps instanceof Tensor;
  const steps = given ? timesteps : Tensor.fromData(rt, timesteps, [timesteps.length]);
  try {
    if (given) {
      expectSameEngine(rt, label, steps);
      if (steps.rank !== 1 || steps.dtype === 'f16') throw new ShapeError(`${label}: timesteps must be a 1-D f32 or i32 tensor, got ${steps.toString()}`);
    }
    const out = output(rt, [steps.size, dim]);
    if (out.size === 0) return out;
    // exponent = −ln(max_period) · arange(half) / (half − shift), each step rounded to f32 like torch's.
    const f32 = Math.fround;
    const negLog = f32(-Math.log(maxPeriod));
    const denom = f32(half - shift);
    const freqs = Array.from({ length: half }, (_, i) => f32(Math.exp(f32(f32(negLog * i) / denom))));
    rt.dispatch({
      shader: DIFFUSERS,
      entry: 'timestep_embedding',
      uniforms: { steps: steps.size, dim, half, flip: Number(flip), int_steps: Number(steps.dtype === 'i32'), scale, freqs },
      bindings: { steps: steps.buffer, y: out.buffer },
      workgroups: linearWorkgroups(out.size, 1),
      label,
    });
    return out;
  } finally {
    if (!given) steps.dispose();
  }
}
