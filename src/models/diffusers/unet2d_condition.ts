/**
 * diffusers' UNet2DConditionModel (models/unets/unet_2d_condition.py), read from its config.json: the
 * text-conditioned UNet of latent diffusion, with CrossAttnDownBlock2D / CrossAttnUpBlock2D (Transformer2DModel
 * blocks attending to encoder_hidden_states) besides the plain and spatial-attention blocks.
 *
 * diffusers' legacy naming is kept: `attention_head_dim` holds the number of heads of the cross-attention
 * blocks when `num_attention_heads` is null (the constructor does `num_attention_heads or attention_head_dim`),
 * while AttnDownBlock2D / AttnUpBlock2D still read it as channels per head.
 */
import type { Checkpoint } from '../checkpoint';
import type { Model } from '../model';
import type { BlockSpec, DownBlockType, UpBlockType } from './blocks';
import { DiffusersConfig, positiveInt } from './config';
import { loadUNet } from './unet';
import { hintFor } from './unet2d';

const DOWN: readonly DownBlockType[] = ['DownBlock2D', 'AttnDownBlock2D', 'CrossAttnDownBlock2D'];
const UP: readonly UpBlockType[] = ['UpBlock2D', 'AttnUpBlock2D', 'CrossAttnUpBlock2D'];
const MID = ['UNetMidBlock2DCrossAttn', 'UNetMidBlock2D', null] as const;
const ACTIVATIONS = ['silu', 'swish'] as const;

/** One entry of transformer_layers_per_block: a count for every resnet of the block, or one per resnet. */
const layerCounts = (v: unknown): number | number[] | undefined =>
  positiveInt(v) ?? (Array.isArray(v) && v.length > 0 && v.every((d) => positiveInt(d) !== undefined) ? (v as number[]) : undefined);

export async function loadUNet2DCondition(ckpt: Checkpoint, config: Record<string, unknown>): Promise<Model> {
  const cfg = new DiffusersConfig('UNet2DConditionModel', config);
  // No effect at inference, or no effect with the block types synthe runs (diffusers passes them to
  // ResnetDownsampleBlock2D, the SimpleCrossAttn blocks and addition embeddings only).
  cfg.inert('sample_size', 'dropout', 'resnet_skip_time_act', 'resnet_out_scale_factor', 'mid_block_only_cross_attention',
    'cross_attention_norm', 'addition_embed_type_num_heads', 'addition_time_embed_dim', 'projection_class_embeddings_input_dim');
  // upcast_attention computes attention in f32 for f16 models; synthe's attention is f32 already.
  cfg.bool('upcast_attention', false);
  const inChannels = cfg.int('in_channels', 4);
  const outChannels = cfg.int('out_channels', 4);
  const centerInputSample = cfg.bool('center_input_sample', false);
  const flipSinToCos = cfg.bool('flip_sin_to_cos', true);
  const freqShift = cfg.number('freq_shift', 0);
  const downTypes = cfg.strings('down_block_types', ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D']);
  const midType = cfg.only('mid_block_type', MID, "'UNetMidBlock2DSimpleCrossAttn' is not implemented");
  const upTypes = cfg.strings('up_block_types', ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D']);
  const n = downTypes.length;
  const onlyCross = cfg.perBlock('only_cross_attention', false, n, (v) => (typeof v === 'boolean' ? v : undefined));
  if (onlyCross.some(Boolean)) throw cfg.error('only_cross_attention=true (transformer blocks without self-attention) is not supported');
  const channels = cfg.ints('block_out_channels', [320, 640, 1280, 1280]);
  const layers = cfg.perBlock('layers_per_block', 2, n, positiveInt);
  const downsamplePadding = cfg.int('downsample_padding', 1, 0);
  const midScale = cfg.number('mid_block_scale_factor', 1);
  cfg.only('act_fn', ACTIVATIONS);
  const groups = cfg.optionalInt('norm_num_groups', 32);
  if (groups === null) throw cfg.error('norm_num_groups=null (no GroupNorm before conv_out) is not supported');
  const eps = cfg.number('norm_eps', 1e-5);
  const crossDims = cfg.perBlock('cross_attention_dim', 1280, n, positiveInt);
  const transformerLayers = cfg.perBlock('transformer_layers_per_block', 1, n, layerCounts);
  const reverseTransformerLayers = cfg.value('reverse_transformer_layers_per_block', null);
  for (const name of ['encoder_hid_dim', 'encoder_hid_dim_type', 'addition_embed_type', 'time_cond_proj_dim']) {
    if (cfg.value(name, null) !== null) throw cfg.error(`${name}=${JSON.stringify(config[name])} is not supported (synthe runs ${name}=null)`);
  }
  const headDims = cfg.perBlock('attention_head_dim', 8, n, (v) => (v === null ? null : positiveInt(v)));
  const headCounts = cfg.perBlock('num_attention_heads', null, n, (v) => (v === null ? null : positiveInt(v)));
  cfg.only('dual_cross_attention', [false], 'DualTransformer2DModel blocks are not implemented');
  const useLinearProjection = cfg.bool('use_linear_projection', false);
  cfg.only('class_embed_type', [null], "only class_embed_type null (an nn.Embedding of num_class_embeds labels) is implemented");
  const numClassEmbeds = cfg.optionalInt('num_class_embeds', null);
  cfg.only('resnet_time_scale_shift', ['default'], "'scale_shift', 'ada_group' and 'spatial' resnets are not implemented");
  cfg.only('time_embedding_type', ['positional'], "'fourier' time embeddings are not implemented");
  const timeEmbedDim = cfg.optionalInt('time_embedding_dim', null);
  const timeEmbeddingAct = cfg.only('time_embedding_act_fn', [null, 'silu', 'swish']);
  const postAct = cfg.only('timestep_post_act', [null, 'silu', 'swish']);
  const convInKernel = cfg.int('conv_in_kernel', 3);
  const convOutKernel = cfg.int('conv_out_kernel', 3);
  cfg.only('attention_type', ['default'], 'gated (GLIGEN) attention is not implemented');
  cfg.only('class_embeddings_concat', [false]);
  cfg.finish();

  if (upTypes.length !== n || channels.length !== n) {
    throw cfg.error(`down_block_types (${n}), up_block_types (${upTypes.length}) and block_out_channels (${channels.length}) must have one entry per level`);
  }
  for (const [name, k] of [['conv_in_kernel', convInKernel], ['conv_out_kernel', convOutKernel]] as const) {
    if (k % 2 === 0) throw cfg.error(`${name}=${k} is not supported (odd kernels keep the size)`);
  }
  // diffusers' legacy naming: the transformers' head count is attention_head_dim unless num_attention_heads is set.
  const heads = headCounts.map((h, i) => h ?? headDims[i]!);
  if (transformerLayers.some(Array.isArray) && reverseTransformerLayers === null) {
    throw cfg.error("transformer_layers_per_block lists layers per resnet, which needs reverse_transformer_layers_per_block (as diffusers requires)");
  }
  const reversed = <T>(list: readonly T[]) => [...list].reverse();
  const upTransformerLayers = reverseTransformerLayers === null
    ? reversed(transformerLayers)
    : cfg.perBlock('reverse_transformer_layers_per_block', null, n, layerCounts);
  const perResnet = (count: number | number[], resnets: number, name: string, i: number): number[] => {
    if (!Array.isArray(count)) return new Array<number>(resnets).fill(count);
    if (count.length !== resnets) throw cfg.error(`${name}[${i}] lists ${count.length} transformer depths for ${resnets} resnets`);
    return count;
  };

  const used = new Set<number>();
  const transformerHeads = (count: number | null, block: string): number => {
    if (count === null) throw cfg.error(`${block} needs a head count, but attention_head_dim and num_attention_heads are both null`);
    return count;
  };
  const attention = (kind: string, i: number, resnets: number, layerCount: number | number[], name: string, head: number | null, out: number,
    headCount: number | null, crossDim: number): BlockSpec['attention'] => {
    const cross = kind.startsWith('CrossAttn');
    if (cross) used.add(crossDim);
    return {
      headDim: head ?? out, heads: cross ? transformerHeads(headCount, kind) : 1,
      transformerLayers: cross ? perResnet(layerCount, resnets, name, i) : [],
      crossAttentionDim: crossDim, useLinearProjection,
    };
  };
  const down = downTypes.map((type, i) => {
    if (!DOWN.includes(type as DownBlockType)) throw cfg.error(`down_block_types[${i}] '${type}' is not supported (synthe runs ${DOWN.join(', ')})`);
    return {
      type: type as DownBlockType, layers: layers[i]!,
      attention: attention(type, i, layers[i]!, transformerLayers[i]!, 'transformer_layers_per_block', headDims[i]!, channels[i]!, heads[i]!, crossDims[i]!),
    };
  });
  const rChannels = reversed(channels);
  const rHeads = reversed(heads);
  const rLayers = reversed(layers);
  const rCross = reversed(crossDims);
  const up = upTypes.map((type, i) => {
    if (!UP.includes(type as UpBlockType)) throw cfg.error(`up_block_types[${i}] '${type}' is not supported (synthe runs ${UP.join(', ')})`);
    const resnets = rLayers[i]! + 1;
    // As diffusers does: heads, depths and cross dims reversed, attention_head_dim not.
    return {
      type: type as UpBlockType, layers: resnets,
      attention: attention(type, i, resnets, upTransformerLayers[i]!, 'reverse_transformer_layers_per_block', headDims[i]!, rChannels[i]!, rHeads[i]!, rCross[i]!),
    };
  });
  const lastDepth = transformerLayers[n - 1]!;
  if (midType === 'UNetMidBlock2DCrossAttn') used.add(crossDims[n - 1]!);
  if (used.size > 1) throw cfg.error(`cross_attention_dim gives the cross-attention blocks different widths (${[...used].join(', ')}), which no single encoder_hidden_states fits`);

  return loadUNet(ckpt, cfg, {
    arch: 'unet2d-condition',
    inChannels, outChannels, blockOutChannels: channels, centerInputSample, convInKernel, convOutKernel,
    time: { projectionDim: channels[0]!, flipSinToCos, freqShift, embedDim: timeEmbedDim ?? channels[0]! * 4, postAct: postAct === null ? null : 'silu' },
    timeEmbeddingAct: timeEmbeddingAct !== null,
    numClassEmbeds,
    groups, eps, downsamplePadding,
    down, up,
    mid: midType === null ? null : {
      attention: midType === 'UNetMidBlock2DCrossAttn' ? 'transformer' : 'none',
      // get_mid_block builds UNetMidBlock2D with num_layers=0: a single resnet.
      layers: midType === 'UNetMidBlock2DCrossAttn' ? 1 : 0,
      outputScaleFactor: midScale, headDim: 1, attentionGroups: groups,
      heads: midType === 'UNetMidBlock2DCrossAttn' ? transformerHeads(heads[n - 1]!, midType) : 1, transformerLayers: Array.isArray(lastDepth) ? lastDepth[0]! : lastDepth,
      crossAttentionDim: crossDims[n - 1]!, useLinearProjection,
    },
    crossAttentionDim: used.size ? [...used][0]! : null,
  }, hintFor(config));
}
