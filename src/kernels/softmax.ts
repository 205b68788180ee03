/**
 * Softmax along any dim: the tensor is viewed as (outer, size, inner) and each of the outer·inner rows is
 * normalised by one invocation (`row`) or, for few long rows, by one workgroup (`wide`).
 */
import softmaxCode from '../../shaders/softmax.wgsl?raw';
import { ShapeError } from '../errors';
import type { Runtime } from '../gpu/runtime';
import { shader } from '../gpu/shader';
import { normalizeDim, numel } from '../tensor/shape';
import type { Tensor } from '../tensor/tensor';
import { expectF32, expectSameEngine, linearWorkgroups, output } from './common';

const SOFTMAX = shader('softmax.wgsl', softmaxCode);
const WORKGROUP = 64;

export type SoftmaxVariant = 'row' | 'wide';

/**
 * One row per invocation wins almost everywhere, since barriers are costly on the CPU adapters; a workgroup
 * per row only pays off for a handful of long rows, which would otherwise leave all but one core idle.
 * Measured on lavapipe / SwiftShader (ms): [1024, 256] row 1.1 / 13 vs wide 13 / 232; [8, 4096] 0.19 / 2.7
 * vs 0.29 / 1.3; [1, 65536] 1.2 / 9.6 vs 0.38 / 1.7.
 */
function defaultVariant(rows: number, size: number): SoftmaxVariant {
  return rows <= 8 && size >= 2048 ? 'wide' : 'row';
}

/** `torch.softmax(input, dim)`, max-subtracted; negative dims count from the end. */
export function softmax(rt: Runtime, input: Tensor, dim: number, options: { variant?: SoftmaxVariant } = {}): Tensor {
  expectSameEngine(rt, 'softmax', input);
  expectF32('softmax', { name: 'input', tensor: input });
  // A 0-d tensor is softmaxed as one row of one element, as torch does.
  const shape = input.rank === 0 ? [1] : input.shape;
  const d = normalizeDim(dim, shape.length, 'softmax');
  const size = shape[d]!;
  const inner = numel(shape.slice(d + 1));
  const rows = numel(shape.slice(0, d)) * inner;
  const out = output(rt, input.shape);
  if (out.size === 0) return out;
  const variant = options.variant ?? defaultVariant(rows, size);
  let workgroups: number;
  switch (variant) {
    case 'row':
      workgroups = linearWorkgroups(rows, 1, WORKGROUP);
      break;
    case 'wide':
      workgroups = rows;
      break;
    default:
      throw new ShapeError(`softmax: unknown variant '${String(variant satisfies never)}'`);
  }
  rt.dispatch({
    shader: SOFTMAX,
    entry: variant,
    overrides: { WORKGROUP },
    uniforms: { rows, size, inner },
    bindings: { x: input.buffer, y: out.buffer },
    workgroups,
    label: 'softmax',
  });
  return out;
}
