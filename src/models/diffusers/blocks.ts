/**
 * The blocks of unet_2d_blocks.py that UNets and autoencoders stack: each repeats "a resnet, then its
 * attention layer (if the block type has one)" and ends in an optional down- or upsampler. Down blocks hand
 * every layer's output to the skip list; up blocks concatenate one skip before each resnet.
 */
import type { Tensor } from '../../tensor/tensor';
import { SpatialSelfAttention } from './attention';
import { Downsample2D, ResnetBlock2D, Upsample2D, type RunContext } from './resnet';
import { Transformer2DModel } from './transformer';
import type { WeightSet } from './weights';

/** Block types synthe builds, by the names config.json uses. */
export const DOWN_BLOCKS = ['DownBlock2D', 'AttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownEncoderBlock2D', 'AttnDownEncoderBlock2D'] as const;
export const UP_BLOCKS = ['UpBlock2D', 'AttnUpBlock2D', 'CrossAttnUpBlock2D', 'UpDecoderBlock2D', 'AttnUpDecoderBlock2D'] as const;
export type DownBlockType = (typeof DOWN_BLOCKS)[number];
export type UpBlockType = (typeof UP_BLOCKS)[number];

/** A layer's attention: spatial self-attention or a cross-attention transformer. */
type AttentionLayer = SpatialSelfAttention | Transformer2DModel;

interface Layer {
  resnet: ResnetBlock2D;
  attention: AttentionLayer | null;
}

/** The hyper-parameters one block is built from, as get_down_block / get_up_block receive them. */
export interface BlockSpec {
  layers: number;
  inChannels: number;
  outChannels: number;
  /** temb_channels, or null in autoencoders. */
  tembChannels: number | null;
  eps: number;
  groups: number;
  /** Whether the block ends in a downsampler (down blocks) or an upsampler (up blocks). */
  resample: boolean;
  /** Attention settings for the block types that have attention. */
  attention: {
    /** attention_head_dim for spatial attention (channels per head). */
    headDim: number;
    /** num_attention_heads of the cross-attention transformers. */
    heads: number;
    /** num_layers of each transformer, per resnet. */
    transformerLayers: readonly number[];
    crossAttentionDim: number;
    useLinearProjection: boolean;
  };
}

/** One resnet + attention pair at `resnets.<i>` / `attentions.<i>`. */
function layer(w: WeightSet, prefix: string, i: number, inChannels: number, s: BlockSpec, kind: 'none' | 'spatial' | 'transformer'): Layer {
  const c = s.outChannels;
  const resnet = new ResnetBlock2D(w, `${prefix}.resnets.${i}`, {
    inChannels, outChannels: c, tembChannels: s.tembChannels, groups: s.groups, eps: s.eps, outputScaleFactor: 1,
  });
  const at = `${prefix}.attentions.${i}`;
  const a = s.attention;
  switch (kind) {
    case 'none':
      return { resnet, attention: null };
    case 'spatial':
      return { resnet, attention: new SpatialSelfAttention(w, at, { channels: c, headDim: a.headDim, groups: s.groups, eps: s.eps, rescale: 1 }) };
    case 'transformer':
      return {
        resnet,
        attention: new Transformer2DModel(w, at, {
          channels: c, heads: a.heads, headDim: Math.floor(c / a.heads), layers: a.transformerLayers[i]!,
          crossAttentionDim: a.crossAttentionDim, groups: s.groups, useLinearProjection: a.useLinearProjection,
        }),
      };
    default:
      return kind satisfies never;
  }
}

function attentionKind(type: DownBlockType | UpBlockType): 'none' | 'spatial' | 'transformer' {
  if (type.startsWith('CrossAttn')) return 'transformer';
  return type.startsWith('Attn') ? 'spatial' : 'none';
}

/** x -> resnet(x) -> attention; x stays the caller's. */
function run(l: Layer, x: Tensor, ctx: RunContext): Tensor {
  const r = l.resnet.forward(x, ctx);
  if (!l.attention) return r;
  const out = l.attention.forward(r, ctx);
  r.dispose();
  return out;
}

export class DownBlock {
  private readonly layers: Layer[];
  private readonly downsampler: Downsample2D | null;

  constructor(w: WeightSet, prefix: string, type: DownBlockType, s: BlockSpec, downsamplePadding: number) {
    const kind = attentionKind(type);
    this.layers = Array.from({ length: s.layers }, (_, i) => layer(w, prefix, i, i === 0 ? s.inChannels : s.outChannels, s, kind));
    this.downsampler = s.resample ? new Downsample2D(w, `${prefix}.downsamplers.0`, s.outChannels, downsamplePadding) : null;
  }

  /**
   * x (B, Cin, H, W) -> (B, Cout, H', W'). With `skips`, every layer's output (and the downsampler's) is
   * appended there and belongs to the list; without, intermediates are freed. x stays the caller's.
   */
  forward(x: Tensor, ctx: RunContext, skips: Tensor[] | null = null): Tensor {
    let h = x;
    const step = (next: Tensor) => {
      if (skips) skips.push(next);
      else if (h !== x) h.dispose();
      h = next;
    };
    for (const l of this.layers) step(run(l, h, ctx));
    if (this.downsampler) step(this.downsampler.forward(h, ctx));
    return h;
  }
}

export class UpBlock {
  private readonly layers: Layer[];
  private readonly upsampler: Upsample2D | null;

  /**
   * With `skipChannels` (UNets), resnet i also takes the skip it concatenates: prevOutputChannels or
   * outChannels on its own side, skipChannels[i] on the skip's. Without (autoencoders), there are no skips.
   */
  constructor(w: WeightSet, prefix: string, type: UpBlockType, s: BlockSpec, skipChannels: readonly number[] | null) {
    const kind = attentionKind(type);
    this.layers = Array.from({ length: s.layers }, (_, i) => {
      const own = i === 0 ? s.inChannels : s.outChannels;
      return layer(w, prefix, i, own + (skipChannels?.[i] ?? 0), s, kind);
    });
    this.upsampler = s.resample ? new Upsample2D(w, `${prefix}.upsamplers.0`, s.outChannels) : null;
  }

  /** The number of skips it takes (one per resnet). */
  get skipCount(): number {
    return this.layers.length;
  }

  /** x -> (B, Cout, H'', W''); takes ownership of x, and of the skips it pops from the end of `skips`. */
  forward(x: Tensor, ctx: RunContext, skips: Tensor[] | null = null): Tensor {
    let h = x;
    for (const l of this.layers) {
      let input = h;
      const skip = skips?.pop();
      if (skip) {
        input = ctx.ops.concat([h, skip], 1);
        h.dispose();
        skip.dispose();
      }
      h = run(l, input, ctx);
      input.dispose();
    }
    if (this.upsampler) {
      const up = this.upsampler.forward(h, ctx);
      h.dispose();
      h = up;
    }
    return h;
  }
}

export interface MidSpec {
  channels: number;
  tembChannels: number | null;
  eps: number;
  groups: number;
  /** Attention after the first resnet: spatial (UNetMidBlock2D), transformer (…CrossAttn), or none. */
  attention: 'none' | 'spatial' | 'transformer';
  /** output_scale_factor of the resnets (and rescale_output_factor of the spatial attention). */
  outputScaleFactor: number;
  /** Spatial attention: attention_head_dim and the group count of its GroupNorm (attn_groups). */
  headDim: number;
  attentionGroups: number;
  /** Transformer: as in BlockSpec. */
  heads: number;
  transformerLayers: number;
  crossAttentionDim: number;
  useLinearProjection: boolean;
  /** num_layers: (attention, resnet) pairs after the first resnet; 0 in UNet2DConditionModel's 'UNetMidBlock2D'. */
  layers: number;
}

/** UNetMidBlock2D / UNetMidBlock2DCrossAttn: resnet, then (attention, resnet) × num_layers. */
export class MidBlock {
  private readonly first: ResnetBlock2D;
  private readonly layers: { attention: AttentionLayer | null; resnet: ResnetBlock2D }[];

  constructor(w: WeightSet, prefix: string, s: MidSpec) {
    const c = s.channels;
    const resnet = (i: number) => new ResnetBlock2D(w, `${prefix}.resnets.${i}`, {
      inChannels: c, outChannels: c, tembChannels: s.tembChannels, groups: s.groups, eps: s.eps, outputScaleFactor: s.outputScaleFactor,
    });
    const attention = (i: number): AttentionLayer | null => {
      const at = `${prefix}.attentions.${i}`;
      switch (s.attention) {
        case 'none':
          return null;
        case 'spatial':
          return new SpatialSelfAttention(w, at, { channels: c, headDim: s.headDim, groups: s.attentionGroups, eps: s.eps, rescale: s.outputScaleFactor });
        case 'transformer':
          return new Transformer2DModel(w, at, {
            channels: c, heads: s.heads, headDim: Math.floor(c / s.heads), layers: s.transformerLayers,
            crossAttentionDim: s.crossAttentionDim, groups: s.groups, useLinearProjection: s.useLinearProjection,
          });
        default:
          return s.attention satisfies never;
      }
    };
    this.first = resnet(0);
    this.layers = Array.from({ length: s.layers }, (_, i) => ({ attention: attention(i), resnet: resnet(i + 1) }));
  }

  /** x (B, C, H, W) -> same shape; x stays the caller's. */
  forward(x: Tensor, ctx: RunContext): Tensor {
    let h = this.first.forward(x, ctx);
    for (const l of this.layers) {
      if (l.attention) {
        const a = l.attention.forward(h, ctx);
        h.dispose();
        h = a;
      }
      const r = l.resnet.forward(h, ctx);
      h.dispose();
      h = r;
    }
    return h;
  }
}
