/**
 * Group normalization as diffusion UNets run it before every convolution: `F.group_norm(x, 32, weight, bias)`
 * on NCHW activations. Neither peer has a fused group norm: TF.js runs moments, then one batchNorm with the
 * group statistics repeated per channel and the affine weights; ORT runs the graph `torch.onnx.export` writes
 * for group_norm (reshape to groups, InstanceNormalization, reshape back, Mul, Add). Both stay NCHW, where a
 * group's values are contiguous.
 */
import type { NormStatsVariant } from '../../src/kernels/norm';
import type { OnnxGraphModel } from '../peers/onnx';
import { randomInputs } from './data';
import type { Workload } from './types';

/** The statistics kernels of groupNorm's `variant` option. */
const STATS_VARIANTS: readonly NormStatsVariant[] = ['group', 'row'];

export interface GroupNormShape {
  groups: number;
  channels: number;
  /** Height and width (square). */
  size: number;
  batch?: number;
}

export function groupNormWorkload(s: GroupNormShape): Workload {
  const { groups, channels: c, size } = s;
  const n = s.batch ?? 1;
  const eps = 1e-5;
  const shape = [n, c, size, size];
  const count = n * c * size * size;
  return {
    name: `groupNorm ${groups} groups ${c}ch @${size}x${size}`,
    tags: ['norm', 'groupNorm'],
    // Per element: the statistics' sum and squared deviation (3), then one multiply-add with the channel's
    // folded scale and shift (2).
    flops: 5 * count,
    bytes: 4 * (2 * count + 2 * c),
    op: 'groupNorm',
    variants: () => [...STATS_VARIANTS],
    outputShape: shape,
    inputs: () =>
      randomInputs(6, {
        x: { shape },
        w: { shape: [c], scale: 1 },
        b: { shape: [c], scale: 0.5 },
      }),
    synthe: (ops, t, variant) => ops.groupNorm(t.x!, groups, t.w!, t.b!, eps, variant ? { variant } : {}),
    tfjs: {
      inputs: (host) => host,
      run: (tf, t) =>
        tf.tidy(() => {
          const { mean, variance } = tf.moments(tf.reshape(t.x!, [n, groups, -1]), 2, true); // (N, G, 1)
          // Channel j of group g is channel g·C/G + j: tiling (N, G, 1) to (N, G, C/G) lines the statistics up.
          const perChannel = (stat: typeof mean) => tf.reshape(tf.tile(stat, [1, 1, c / groups]), [n, c, 1]);
          const y = tf.batchNorm(
            tf.reshape(t.x!, [n, c, -1]) as never,
            perChannel(mean) as never,
            perChannel(variance) as never,
            tf.reshape(t.b!, [1, c, 1]) as never,
            tf.reshape(t.w!, [1, c, 1]) as never,
            eps,
          );
          return tf.reshape(y, shape);
        }),
    },
    onnx: (host): OnnxGraphModel => ({
      inputs: [{ name: 'x', shape: host.x!.shape }],
      initializers: [
        { name: 'grouped_shape', shape: [3], data: new BigInt64Array([BigInt(n), BigInt(groups), -1n]) },
        { name: 'ones', shape: [groups], data: new Float32Array(groups).fill(1) },
        { name: 'zeros', shape: [groups], data: new Float32Array(groups) },
        { name: 'shape', shape: [4], data: BigInt64Array.from(shape, BigInt) },
        { name: 'w', shape: [c, 1, 1], data: host.w!.data },
        { name: 'b', shape: [c, 1, 1], data: host.b!.data },
      ],
      nodes: [
        { opType: 'Reshape', inputs: ['x', 'grouped_shape'], output: 'grouped' },
        { opType: 'InstanceNormalization', inputs: ['grouped', 'ones', 'zeros'], output: 'normed', attributes: { epsilon: { float: eps } } },
        { opType: 'Reshape', inputs: ['normed', 'shape'], output: 'unflat' },
        { opType: 'Mul', inputs: ['unflat', 'w'], output: 'scaled' },
        { opType: 'Add', inputs: ['scaled', 'b'], output: 'y' },
      ],
      output: { name: 'y', shape },
    }),
  };
}
