/**
 * Attention as diffusion UNets run it: `F.scaled_dot_product_attention` on (B, H, L, D) heads, self-attention
 * over a latent's tokens and cross-attention to 77 text tokens. Neither peer has a fused op for this on WebGPU
 * that we can check (ENVIRONMENT.md: ORT's com.microsoft MultiHeadAttention gave wrong values), so both run
 * the composite a PyTorch export gives: scale q, q·kᵀ, softmax, ·v. That composite materialises the
 * (B, H, Lq, Lk) score matrix: 512 MiB at 8 heads × 4096², over the 128 MiB a buffer binding may hold on most
 * GPUs and on lavapipe.
 */
import { exportedNames } from '../variants';
import type { OnnxGraphModel } from '../peers/onnx';
import { randomInputs } from './data';
import type { Workload } from './types';

/** Attention geometry; Lk defaults to Lq (self-attention). */
export interface AttentionShape {
  batch: number;
  heads: number;
  lq: number;
  lk?: number;
  /** Head dim of q, k and v. */
  d: number;
}

export function attentionWorkload(s: AttentionShape): Workload {
  const { batch: b, heads: h, lq, d } = s;
  const lk = s.lk ?? lq;
  const self = lk === lq;
  const scale = 1 / Math.sqrt(d);
  const qShape = [b, h, lq, d];
  const kvShape = [b, h, lk, d];
  return {
    name: self ? `attention B${b} H${h} L${lq} D${d}` : `cross-attention B${b} H${h} ${lq}×${lk} D${d}`,
    tags: ['attention', 'sdpa', self ? 'self' : 'cross'],
    // q·kᵀ and the weighted sum of v: two products of Lq × Lk × D per head; the softmax is not counted.
    flops: 4 * b * h * lq * lk * d,
    bytes: 4 * (2 * b * h * lq * d + 2 * b * h * lk * d),
    op: 'scaledDotProductAttention',
    variants: () => exportedNames('ATTENTION_VARIANTS'),
    outputShape: qShape,
    // Queries at scale 4 make the scores' spread about 1 (not a near-uniform softmax), so a wrong score or a
    // wrong normalisation shows in the outputs the peers are checked on.
    inputs: () => randomInputs(5, { q: { shape: qShape, scale: 4 }, k: { shape: kvShape }, v: { shape: kvShape } }),
    synthe: (ops, t, variant) => ops.scaledDotProductAttention(t.q!, t.k!, t.v!, variant ? { variant } : {}),
    tfjs: {
      inputs: (host) => host,
      run: (tf, t) => tf.tidy(() => tf.matMul(tf.softmax(tf.matMul(tf.mul(t.q!, scale), t.k!, false, true)), t.v!)),
    },
    onnx: (host): OnnxGraphModel => ({
      inputs: [
        { name: 'q', shape: host.q!.shape },
        { name: 'k', shape: host.k!.shape },
        { name: 'v', shape: host.v!.shape },
      ],
      initializers: [{ name: 'scale', shape: [], data: new Float32Array([scale]) }],
      nodes: [
        { opType: 'Mul', inputs: ['q', 'scale'], output: 'q_scaled' },
        { opType: 'Transpose', inputs: ['k'], output: 'k_t', attributes: { perm: [0, 1, 3, 2] } },
        { opType: 'MatMul', inputs: ['q_scaled', 'k_t'], output: 'scores' },
        { opType: 'Softmax', inputs: ['scores'], output: 'weights', attributes: { axis: -1 } },
        { opType: 'MatMul', inputs: ['weights', 'v'], output: 'out' },
      ],
      output: { name: 'out', shape: qShape },
    }),
  };
}
