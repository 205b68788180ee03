/**
 * diffusers' `Attention` (attention_processor.py, AttnProcessor2_0) in the two ways UNets and autoencoders
 * use it: inside transformer blocks on tokens (B, L, C), and as the spatial self-attention of AttnDownBlock2D,
 * the mid blocks and the autoencoder (built with `_from_deprecated_attn_block`: GroupNorm first, biased
 * projections, the input added back and the sum divided by rescale_output_factor).
 */
import { MAX_HEAD_DIM } from '../../kernels/attention';
import { gemm } from '../../kernels/matmul';
import type { Ops } from '../../kernels/registry';
import type { Tensor } from '../../tensor/tensor';
import type { RunContext } from './resnet';
import type { Affine, Linear, WeightSet } from './weights';

export interface AttentionSpec {
  queryDim: number;
  /** cross_attention_dim: the context's channels, or null for self-attention. */
  contextDim: number | null;
  heads: number;
  headDim: number;
  /** `bias`: whether to_q, to_k and to_v have biases (to_out.0 always has one here). */
  bias: boolean;
}

export class Attention {
  private readonly q: Linear;
  private readonly k: Linear;
  private readonly v: Linear;
  private readonly out: Linear;

  constructor(w: WeightSet, prefix: string, private readonly spec: AttentionSpec) {
    const inner = spec.heads * spec.headDim;
    const context = spec.contextDim ?? spec.queryDim;
    // Checkpoints saved before diffusers 0.15 name the spatial attention's layers as the old AttentionBlock
    // did; diffusers renames them on load, and so does this.
    const old = w.has(`${prefix}.query.weight`);
    this.q = w.linear(`${prefix}.${old ? 'query' : 'to_q'}`, spec.queryDim, inner, spec.bias);
    this.k = w.linear(`${prefix}.${old ? 'key' : 'to_k'}`, context, inner, spec.bias);
    this.v = w.linear(`${prefix}.${old ? 'value' : 'to_v'}`, context, inner, spec.bias);
    this.out = w.linear(`${prefix}.${old ? 'proj_attn' : 'to_out.0'}`, inner, spec.queryDim);
  }

  /** x (B, L, queryDim), context (B, Lk, contextDim) or null for self-attention -> (B, L, queryDim). */
  forward(ops: Ops, x: Tensor, context: Tensor | null): Tensor {
    const value = (layer: Linear) => ({ weight: layer.weight.value, bias: layer.bias?.value ?? null });
    const [q, k, v, out] = [this.q, this.k, this.v, this.out].map(value) as [Bias, Bias, Bias, Bias];
    if (this.spec.headDim <= MAX_HEAD_DIM) {
      return ops.multiHeadAttention(x, {
        heads: this.spec.heads, context,
        qWeight: q.weight, kWeight: k.weight, vWeight: v.weight, qBias: q.bias, kBias: k.bias, vBias: v.bias,
        outWeight: out.weight, outBias: out.bias,
      });
    }
    return this.unfused(ops, x, context ?? x, { q, k, v, out });
  }

  /**
   * Heads wider than the flash kernel holds in registers (DDPM's 256-channel single head, the SD VAE's 512)
   * take the textbook route: scores (B, H, L, Lk) in memory, softmax, then the weighted sum.
   */
  private unfused(ops: Ops, x: Tensor, context: Tensor, p: Record<'q' | 'k' | 'v' | 'out', Bias>): Tensor {
    const { heads, headDim: d } = this.spec;
    const [batch, l] = x.shape as [number, number];
    const lk = context.shape[1]!;
    // (B, L, H·D) -> (B, H, L, D)
    const split = (t: Tensor, rows: number) => {
      const view = t.reshape([batch, rows, heads, d]);
      const out = heads === 1 ? view.reshape([batch, 1, rows, d]) : ops.permute(view, [0, 2, 1, 3]);
      view.dispose();
      return out;
    };
    const project = (input: Tensor, layer: Bias, rows: number) => {
      const flat = ops.linear(input, layer.weight, layer.bias);
      const out = split(flat, rows);
      flat.dispose();
      return out;
    };
    const q = project(x, p.q, l);
    const k = project(context, p.k, lk);
    const v = project(context, p.v, lk);
    const scores = gemm(x.runtime, { a: q, b: k, m: l, n: lk, k: d, transB: true, batch: [batch, heads], alpha: 1 / Math.sqrt(d), label: 'attention:scores' });
    q.dispose();
    k.dispose();
    const probs = ops.softmax(scores, -1);
    scores.dispose();
    const weighted = gemm(x.runtime, { a: probs, b: v, m: l, n: d, k: lk, batch: [batch, heads], label: 'attention:values' });
    probs.dispose();
    v.dispose();
    const merged = heads === 1 ? weighted.reshape([batch, l, d]) : ops.permute(weighted, [0, 2, 1, 3]);
    weighted.dispose();
    const flat = merged.reshape([batch, l, heads * d]);
    merged.dispose();
    const out = ops.linear(flat, p.out.weight, p.out.bias);
    flat.dispose();
    return out;
  }
}

interface Bias {
  weight: Tensor;
  bias: Tensor | null;
}

export interface SpatialAttentionSpec {
  channels: number;
  /** attention_head_dim: channels per head (heads = channels // head dim, as diffusers computes it). */
  headDim: number;
  groups: number;
  eps: number;
  /** rescale_output_factor. */
  rescale: number;
}

/** The spatial self-attention: (x + Attention(GroupNorm(x))) / rescale_output_factor on (B, C, H, W). */
export class SpatialSelfAttention {
  private readonly norm: Affine;
  private readonly attention: Attention;

  constructor(w: WeightSet, prefix: string, private readonly spec: SpatialAttentionSpec) {
    this.norm = w.affine(`${prefix}.group_norm`, spec.channels);
    const heads = Math.floor(spec.channels / spec.headDim);
    this.attention = new Attention(w, prefix, { queryDim: spec.channels, contextDim: null, heads, headDim: spec.headDim, bias: true });
  }

  /** x (B, C, H, W) -> same shape; x stays the caller's. */
  forward(x: Tensor, ctx: RunContext): Tensor {
    const { ops } = ctx;
    const [batch, c, height, width] = x.shape as [number, number, number, number];
    const normed = ops.groupNorm(x, this.spec.groups, this.norm.weight.value, this.norm.bias.value, this.spec.eps);
    const tokens = toTokens(ops, normed); // (B, HW, C)
    normed.dispose();
    const attended = this.attention.forward(ops, tokens, null);
    tokens.dispose();
    const planes = ops.permute(attended, [0, 2, 1]); // (B, C, HW)
    attended.dispose();
    const image = planes.reshape([batch, c, height, width]);
    planes.dispose();
    const sum = ops.add(image, x);
    image.dispose();
    if (this.spec.rescale === 1) return sum;
    const out = ops.scale(sum, 1 / this.spec.rescale);
    sum.dispose();
    return out;
  }
}

/** (B, C, H, W) -> (B, H·W, C): the token layout attention and linear layers read. */
export function toTokens(ops: Ops, x: Tensor): Tensor {
  const [batch, c, height, width] = x.shape as [number, number, number, number];
  const flat = x.reshape([batch, c, height * width]);
  const tokens = ops.permute(flat, [0, 2, 1]);
  flat.dispose();
  return tokens;
}
