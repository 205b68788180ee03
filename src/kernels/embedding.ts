/**
 * `F.embedding` (shaders/embedding.wgsl): rows of a table picked by index, on the GPU, so that a class label
 * tensor can condition a model without being read back.
 */
import code from '../../shaders/embedding.wgsl?raw';
import { ShapeError } from '../errors';
import type { Runtime } from '../gpu/runtime';
import { shader } from '../gpu/shader';
import { formatShape } from '../tensor/shape';
import type { Tensor } from '../tensor/tensor';
import { expectF32, expectSameEngine, linearWorkgroups, output } from './common';

const EMBEDDING = shader('embedding.wgsl', code);

/** A quiet NaN's bits: what rows of invalid indices hold. */
const NAN_BITS = 0x7fc00000;

/**
 * `F.embedding(input, weight)`: input (…) holds row indices, as i32 or as f32 integers (how class labels
 * usually arrive); weight (num, dim) -> (…, dim). An index that is not an integer in 0..num−1 cannot raise an
 * error from the GPU, so its row is NaN.
 */
export function embedding(rt: Runtime, input: Tensor, weight: Tensor): Tensor {
  const label = 'embedding';
  expectSameEngine(rt, label, input, weight);
  expectF32(label, { name: 'weight', tensor: weight });
  if (input.dtype === 'f16') throw new ShapeError(`${label}: input must hold indices as i32 or f32, got f16`);
  if (weight.rank !== 2) throw new ShapeError(`${label}: weight must be (num_embeddings, embedding_dim), got ${formatShape(weight.shape)}`);
  const [num, dim] = weight.shape as [number, number];
  const out = output(rt, [...input.shape, dim]);
  if (out.size === 0) return out;
  rt.dispatch({
    shader: EMBEDDING,
    overrides: { FLOAT_INDEX: input.dtype === 'f32' },
    uniforms: { n: out.size, dim, num, nan_bits: NAN_BITS },
    bindings: { index: input.buffer, weight: weight.buffer, y: out.buffer },
    workgroups: linearWorkgroups(out.size, 1),
    label,
  });
  return out;
}
