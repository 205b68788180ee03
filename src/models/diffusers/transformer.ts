/**
 * diffusers' Transformer2DModel for continuous inputs (transformers/transformer_2d.py) with its
 * BasicTransformerBlocks (attention.py) as the cross-attention blocks of UNet2DConditionModel build them:
 * norm_type 'layer_norm', GEGLU feed-forward, no attention biases, self-attention then cross-attention.
 */
import { gemm } from '../../kernels/matmul';
import type { Ops } from '../../kernels/registry';
import type { Tensor } from '../../tensor/tensor';
import { Attention, toTokens } from './attention';
import type { RunContext } from './resnet';
import type { Affine, Linear, Slot, WeightSet } from './weights';

export interface TransformerSpec {
  /** in_channels of the image it attends over. */
  channels: number;
  heads: number;
  /** attention_head_dim: channels per head. */
  headDim: number;
  /** num_layers: BasicTransformerBlocks in a row. */
  layers: number;
  crossAttentionDim: number;
  /** norm_num_groups of the GroupNorm before proj_in. */
  groups: number;
  /** proj_in/proj_out are nn.Linear; else 1x1 nn.Conv2d (the same product, stored with two extra dims). */
  useLinearProjection: boolean;
}

/** Eps of the LayerNorms (the norm_eps default every UNet keeps). */
const LAYER_NORM_EPS = 1e-5;
/** Eps of Transformer2DModel's GroupNorm, fixed in diffusers. */
const GROUP_NORM_EPS = 1e-6;
/** FeedForward's mult: inner width = 4 · dim. */
const FF_MULT = 4;

export class BasicTransformerBlock {
  private readonly norm1: Affine;
  private readonly attn1: Attention;
  private readonly norm2: Affine;
  private readonly attn2: Attention;
  private readonly norm3: Affine;
  private readonly ffProj: Linear;
  private readonly ffOut: Linear;

  constructor(w: WeightSet, prefix: string, private readonly dim: number, heads: number, headDim: number, crossAttentionDim: number) {
    const inner = dim * FF_MULT;
    this.norm1 = w.affine(`${prefix}.norm1`, dim);
    this.attn1 = new Attention(w, `${prefix}.attn1`, { queryDim: dim, contextDim: null, heads, headDim, bias: false });
    this.norm2 = w.affine(`${prefix}.norm2`, dim);
    this.attn2 = new Attention(w, `${prefix}.attn2`, { queryDim: dim, contextDim: crossAttentionDim, heads, headDim, bias: false });
    this.norm3 = w.affine(`${prefix}.norm3`, dim);
    this.ffProj = w.linear(`${prefix}.ff.net.0.proj`, dim, 2 * inner);
    this.ffOut = w.linear(`${prefix}.ff.net.2`, inner, dim);
  }

  /** tokens (B, L, dim) -> same shape; tokens stay the caller's. */
  forward(tokens: Tensor, ctx: RunContext): Tensor {
    const { ops } = ctx;
    const norm = (x: Tensor, p: Affine) => ops.layerNorm(x, this.dim, p.weight.value, p.bias.value, LAYER_NORM_EPS);
    // h + f(norm(h)), three times.
    const residual = (h: Tensor, p: Affine, f: (normed: Tensor) => Tensor) => {
      const normed = norm(h, p);
      const update = f(normed);
      normed.dispose();
      const out = ops.add(update, h);
      update.dispose();
      return out;
    };
    const h1 = residual(tokens, this.norm1, (n) => this.attn1.forward(ops, n, null));
    const h2 = residual(h1, this.norm2, (n) => this.attn2.forward(ops, n, ctx.encoderHiddenStates));
    h1.dispose();
    const h3 = residual(h2, this.norm3, (n) => ops.feedForward(n, {
      projWeight: this.ffProj.weight.value, projBias: this.ffProj.bias?.value ?? null,
      outWeight: this.ffOut.weight.value, outBias: this.ffOut.bias?.value ?? null,
    }));
    h2.dispose();
    return h3;
  }
}

export class Transformer2DModel {
  private readonly norm: Affine;
  private readonly projIn: Slot<Tensor>;
  private readonly projInBias: Slot<Tensor>;
  private readonly blocks: BasicTransformerBlock[];
  private readonly projOut: Slot<Tensor>;
  private readonly projOutBias: Slot<Tensor>;
  private readonly inner: number;

  constructor(w: WeightSet, prefix: string, private readonly spec: TransformerSpec) {
    const { channels, heads, headDim } = spec;
    this.inner = heads * headDim;
    const extra = spec.useLinearProjection ? [] : [1, 1];
    this.norm = w.affine(`${prefix}.norm`, channels);
    this.projIn = w.tensor(`${prefix}.proj_in.weight`, [this.inner, channels, ...extra]);
    this.projInBias = w.tensor(`${prefix}.proj_in.bias`, [this.inner]);
    this.blocks = Array.from({ length: spec.layers }, (_, i) =>
      new BasicTransformerBlock(w, `${prefix}.transformer_blocks.${i}`, this.inner, heads, headDim, spec.crossAttentionDim));
    this.projOut = w.tensor(`${prefix}.proj_out.weight`, [channels, this.inner, ...extra]);
    this.projOutBias = w.tensor(`${prefix}.proj_out.bias`, [channels]);
  }

  /** x (B, C, H, W) -> same shape, with encoder_hidden_states from ctx; x stays the caller's. */
  forward(x: Tensor, ctx: RunContext): Tensor {
    const { ops } = ctx;
    const [batch, c, height, width] = x.shape as [number, number, number, number];
    const normed = ops.groupNorm(x, this.spec.groups, this.norm.weight.value, this.norm.bias.value, GROUP_NORM_EPS);
    const tokens = toTokens(ops, normed);
    normed.dispose();
    let h = linearWith(ops, tokens, this.projIn.value, this.projInBias.value, [this.inner, c]); // (B, HW, inner)
    tokens.dispose();
    for (const block of this.blocks) {
      const next = block.forward(h, ctx);
      h.dispose();
      h = next;
    }
    // proj_out written channel-major, (C, inner) @ hᵀ per image, so the result is NCHW with no transpose.
    const weight = this.projOut.value.reshape([c, this.inner]);
    const planes = gemm(x.runtime, {
      a: weight, b: h, m: c, n: height * width, k: this.inner, transB: true, batch: [batch], aBatchStrides: [0],
      bias: this.projOutBias.value, biasAlong: 'm', label: 'proj_out',
    });
    weight.dispose();
    h.dispose();
    const image = planes.reshape([batch, c, height, width]);
    planes.dispose();
    const out = ops.add(image, x);
    image.dispose();
    return out;
  }
}

/** `F.linear` with a weight stored as (out, in) or as a 1x1 conv's (out, in, 1, 1). */
function linearWith(ops: Ops, x: Tensor, weight: Tensor, bias: Tensor, shape: [number, number]): Tensor {
  const matrix = weight.reshape(shape);
  const out = ops.linear(x, matrix, bias);
  matrix.dispose();
  return out;
}
