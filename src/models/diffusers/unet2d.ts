/**
 * diffusers' UNet2DModel (models/unets/unet_2d.py), read from its config.json: the unconditional (optionally
 * class-conditional) UNet of DDPM-style pipelines. Blocks: DownBlock2D, AttnDownBlock2D, UpBlock2D,
 * AttnUpBlock2D and UNetMidBlock2D (or none); positional time embedding; class_embed_type None with num_class_embeds.
 */
import type { Checkpoint } from '../checkpoint';
import type { Model } from '../model';
import type { BlockSpec, DownBlockType, UpBlockType } from './blocks';
import { DiffusersConfig } from './config';
import { loadUNet } from './unet';

const ACTIVATIONS = ['silu', 'swish'] as const;

export async function loadUNet2D(ckpt: Checkpoint, config: Record<string, unknown>): Promise<Model> {
  const cfg = new DiffusersConfig('UNet2DModel', config);
  cfg.inert('sample_size', 'dropout', 'num_train_timesteps');
  const inChannels = cfg.int('in_channels', 3);
  const outChannels = cfg.int('out_channels', 3);
  const centerInputSample = cfg.bool('center_input_sample', false);
  cfg.only('time_embedding_type', ['positional'], "'fourier', 'learned' and 'adm' time embeddings are not implemented");
  const timeEmbedDim = cfg.optionalInt('time_embedding_dim', null);
  const freqShift = cfg.number('freq_shift', 0);
  const flipSinToCos = cfg.bool('flip_sin_to_cos', true);
  const downTypes = cfg.strings('down_block_types', ['DownBlock2D', 'AttnDownBlock2D', 'AttnDownBlock2D', 'AttnDownBlock2D']);
  const midType = cfg.only('mid_block_type', ['UNetMidBlock2D', null]);
  const upTypes = cfg.strings('up_block_types', ['AttnUpBlock2D', 'AttnUpBlock2D', 'AttnUpBlock2D', 'UpBlock2D']);
  const channels = cfg.ints('block_out_channels', [224, 448, 672, 896]);
  const layers = cfg.int('layers_per_block', 2);
  const midScale = cfg.number('mid_block_scale_factor', 1);
  const downsamplePadding = cfg.int('downsample_padding', 1, 0);
  cfg.only('downsample_type', ['conv'], "'resnet' downsamplers are not implemented");
  cfg.only('upsample_type', ['conv'], "'resnet' upsamplers are not implemented");
  cfg.only('act_fn', ACTIVATIONS);
  const headDim = cfg.optionalInt('attention_head_dim', 8);
  const groups = cfg.int('norm_num_groups', 32);
  const attnGroups = cfg.optionalInt('attn_norm_num_groups', null);
  const eps = cfg.number('norm_eps', 1e-5);
  cfg.only('resnet_time_scale_shift', ['default'], "'scale_shift' and 'ada_group' resnets are not implemented");
  const addAttention = cfg.bool('add_attention', true);
  cfg.only('class_embed_type', [null], "only class_embed_type null (an nn.Embedding of num_class_embeds labels) is implemented");
  const numClassEmbeds = cfg.optionalInt('num_class_embeds', null);
  cfg.finish();

  if (downTypes.length !== upTypes.length || channels.length !== downTypes.length) {
    throw cfg.error(`down_block_types (${downTypes.length}), up_block_types (${upTypes.length}) and block_out_channels (${channels.length}) must have one entry per level`);
  }
  const down = downTypes.map((type, i): { type: DownBlockType; layers: number; attention: BlockSpec['attention'] } => {
    if (type !== 'DownBlock2D' && type !== 'AttnDownBlock2D') throw cfg.error(`down_block_types[${i}] '${type}' is not supported (synthe runs DownBlock2D and AttnDownBlock2D)`);
    return { type, layers, attention: spatial(headDim ?? channels[i]!) };
  });
  const reversed = [...channels].reverse();
  const up = upTypes.map((type, i): { type: UpBlockType; layers: number; attention: BlockSpec['attention'] } => {
    if (type !== 'UpBlock2D' && type !== 'AttnUpBlock2D') throw cfg.error(`up_block_types[${i}] '${type}' is not supported (synthe runs UpBlock2D and AttnUpBlock2D)`);
    return { type, layers: layers + 1, attention: spatial(headDim ?? reversed[i]!) };
  });
  const last = channels[channels.length - 1]!;
  return loadUNet(ckpt, cfg, {
    arch: 'unet2d',
    inChannels, outChannels, blockOutChannels: channels, centerInputSample,
    convInKernel: 3, convOutKernel: 3,
    time: { projectionDim: channels[0]!, flipSinToCos, freqShift, embedDim: timeEmbedDim ?? channels[0]! * 4, postAct: null },
    timeEmbeddingAct: false,
    numClassEmbeds,
    groups, eps, downsamplePadding,
    down, up,
    mid: midType === null ? null : {
      attention: addAttention ? 'spatial' : 'none', layers: 1, outputScaleFactor: midScale,
      headDim: headDim ?? last, attentionGroups: attnGroups ?? groups,
      heads: 1, transformerLayers: 0, crossAttentionDim: 0, useLinearProjection: false,
    },
    crossAttentionDim: null,
  }, hintFor(config));
}

/** Attention settings of a block whose attention (if any) is spatial, attention_head_dim channels per head. */
function spatial(headDim: number): BlockSpec['attention'] {
  return { headDim, heads: 1, transformerLayers: [], crossAttentionDim: 0, useLinearProjection: false };
}

/** What a shape error adds when no config was given: the defaults are then diffusers' full-size ones. */
export function hintFor(config: Record<string, unknown>): string {
  return Object.keys(config).every((k) => k.startsWith('_')) ? " (no config was given, so diffusers' defaults were assumed: load the model's folder, or pass its config.json as { config })" : '';
}
