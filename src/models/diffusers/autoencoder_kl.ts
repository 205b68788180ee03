/**
 * diffusers' AutoencoderKL (models/autoencoders/autoencoder_kl.py with vae.py's Encoder and Decoder), read
 * from its config.json: the latent autoencoder of latent diffusion.
 *
 * - `encode` (`sample` -> `latent_dist_mean`, `latent_dist_std`): the diagonal Gaussian the encoder predicts,
 *   std = exp(½ · clamp(logvar, −30, 20)) as DiagonalGaussianDistribution computes it.
 * - `decode` (`latent` -> `sample`): as diffusers' decode, without scaling_factor; a pipeline divides latents
 *   by `config.scaling_factor` (and adds shift_factor) itself.
 * - `forward` (`sample` -> `sample`): diffusers' forward with sample_posterior=False, decode(mean).
 */
import type { Engine } from '../../engine';
import { SyntheError } from '../../errors';
import type { PackedConv2d } from '../../kernels/conv2d';
import type { Tensor } from '../../tensor/tensor';
import type { Checkpoint } from '../checkpoint';
import type { Model, ModelPart } from '../model';
import { DownBlock, MidBlock, UpBlock, type BlockSpec, type DownBlockType, type UpBlockType } from './blocks';
import { DiffusersConfig } from './config';
import type { RunContext } from './resnet';
import { hintFor } from './unet2d';
import { WeightSet, type Affine, type Slot } from './weights';

/** Eps of every norm in vae.py's Encoder and Decoder. */
const EPS = 1e-6;
/** DiagonalGaussianDistribution's clamp of logvar. */
const LOGVAR_RANGE = [-30, 20] as const;

interface CoderSpec {
  blockOutChannels: readonly number[];
  layers: number;
  groups: number;
  midAttention: boolean;
}

/** GroupNorm + SiLU + conv_out, the tail of both coders. */
class Tail {
  private readonly norm: Affine;
  private readonly conv: Slot<PackedConv2d>;

  constructor(w: WeightSet, prefix: string, private readonly groups: number, channels: number, out: number) {
    this.norm = w.affine(`${prefix}.conv_norm_out`, channels);
    this.conv = w.conv(`${prefix}.conv_out`, { in: channels, out, kernel: 3 });
  }

  /** Takes ownership of x. */
  forward(x: Tensor, ctx: RunContext): Tensor {
    const normed = ctx.ops.groupNorm(x, this.groups, this.norm.weight.value, this.norm.bias.value, EPS, { activation: 'silu' });
    x.dispose();
    const out = ctx.ops.conv2dPacked(normed, this.conv.value);
    normed.dispose();
    return out;
  }
}

function blockSpec(s: CoderSpec, inChannels: number, outChannels: number, layers: number, resample: boolean): BlockSpec {
  return {
    layers, inChannels, outChannels, tembChannels: null, eps: EPS, groups: s.groups, resample,
    attention: { headDim: outChannels, heads: 1, transformerLayers: [], crossAttentionDim: 0, useLinearProjection: false },
  };
}

function midBlock(w: WeightSet, prefix: string, s: CoderSpec): MidBlock {
  const c = s.blockOutChannels[s.blockOutChannels.length - 1]!;
  return new MidBlock(w, prefix, {
    channels: c, tembChannels: null, eps: EPS, groups: s.groups, attention: s.midAttention ? 'spatial' : 'none', outputScaleFactor: 1,
    headDim: c, attentionGroups: s.groups, heads: 1, transformerLayers: 0, crossAttentionDim: 0, useLinearProjection: false, layers: 1,
  });
}

/** vae.py's Encoder with double_z: (B, in, H, W) -> moments (B, 2 · latent, H / 2^(levels−1), …). */
class Encoder {
  private readonly convIn: Slot<PackedConv2d>;
  private readonly downs: DownBlock[];
  private readonly mid: MidBlock;
  private readonly tail: Tail;

  constructor(w: WeightSet, inChannels: number, latentChannels: number, types: readonly DownBlockType[], s: CoderSpec) {
    const ch = s.blockOutChannels;
    this.convIn = w.conv('encoder.conv_in', { in: inChannels, out: ch[0]!, kernel: 3 });
    // diffusers' Encoder downsamples with padding 0: one-sided padding, then an unpadded stride-2 conv.
    this.downs = types.map((type, i) => new DownBlock(w, `encoder.down_blocks.${i}`, type,
      blockSpec(s, ch[Math.max(0, i - 1)]!, ch[i]!, s.layers, i < ch.length - 1), 0));
    this.mid = midBlock(w, 'encoder.mid_block', s);
    this.tail = new Tail(w, 'encoder', s.groups, ch[ch.length - 1]!, 2 * latentChannels);
  }

  /** x stays the caller's. */
  forward(x: Tensor, ctx: RunContext): Tensor {
    let h = ctx.ops.conv2dPacked(x, this.convIn.value);
    for (const block of this.downs) {
      const next = block.forward(h, ctx);
      h.dispose();
      h = next;
    }
    const mid = this.mid.forward(h, ctx);
    h.dispose();
    return this.tail.forward(mid, ctx);
  }
}

/** vae.py's Decoder: latent (B, latent, h, w) -> (B, out, h · 2^(levels−1), …). */
class Decoder {
  private readonly convIn: Slot<PackedConv2d>;
  private readonly mid: MidBlock;
  private readonly ups: UpBlock[];
  private readonly tail: Tail;

  constructor(w: WeightSet, latentChannels: number, outChannels: number, types: readonly UpBlockType[], s: CoderSpec) {
    const reversed = [...s.blockOutChannels].reverse();
    this.convIn = w.conv('decoder.conv_in', { in: latentChannels, out: reversed[0]!, kernel: 3 });
    this.mid = midBlock(w, 'decoder.mid_block', s);
    this.ups = types.map((type, i) => new UpBlock(w, `decoder.up_blocks.${i}`, type,
      blockSpec(s, reversed[Math.max(0, i - 1)]!, reversed[i]!, s.layers + 1, i < reversed.length - 1), null));
    this.tail = new Tail(w, 'decoder', s.groups, s.blockOutChannels[0]!, outChannels);
  }

  /** z stays the caller's. */
  forward(z: Tensor, ctx: RunContext): Tensor {
    const h = ctx.ops.conv2dPacked(z, this.convIn.value);
    let x = this.mid.forward(h, ctx);
    h.dispose();
    for (const block of this.ups) x = block.forward(x, ctx);
    return this.tail.forward(x, ctx);
  }
}

export class AutoencoderKL implements Model {
  readonly arch = 'autoencoder-kl' as const;
  readonly inputNames = ['sample'] as const;
  readonly parts: Readonly<Record<'encode' | 'decode', ModelPart>>;

  constructor(
    private readonly engine: Engine,
    private readonly weights: WeightSet,
    private readonly encoder: Encoder,
    private readonly decoder: Decoder,
    private readonly quantConv: Slot<PackedConv2d> | null,
    private readonly postQuantConv: Slot<PackedConv2d> | null,
    private readonly channels: { in: number; latent: number },
    readonly config: Readonly<Record<string, unknown>>,
  ) {
    this.parts = {
      encode: { inputNames: ['sample'], forward: (inputs) => this.encode(this.input(inputs, 'sample', this.channels.in)) },
      decode: { inputNames: ['latent'], forward: (inputs) => this.decode(this.input(inputs, 'latent', this.channels.latent)) },
    };
  }

  /** sample (B, in_channels, H, W) -> latent_dist_mean, latent_dist_std (B, latent_channels, H', W'). */
  encode(sample: Tensor): { latent_dist_mean: Tensor; latent_dist_std: Tensor } {
    const ops = this.engine.ops;
    return this.engine.tidy(() => {
      const moments = this.moments(sample);
      const latent = this.channels.latent;
      const mean = ops.narrow(moments, 1, 0, latent);
      const logvar = ops.narrow(moments, 1, latent, latent);
      moments.dispose();
      const clamped = ops.clamp(logvar, ...LOGVAR_RANGE);
      logvar.dispose();
      const half = ops.scale(clamped, 0.5);
      clamped.dispose();
      const std = ops.exp(half);
      half.dispose();
      return { latent_dist_mean: mean, latent_dist_std: std };
    });
  }

  /** latent (B, latent_channels, h, w), unscaled -> sample (B, out_channels, H, W). */
  decode(latent: Tensor): { sample: Tensor } {
    return this.engine.tidy(() => {
      const ctx = this.context();
      const z = this.postQuantConv ? ctx.ops.conv2dPacked(latent, this.postQuantConv.value) : latent;
      const sample = this.decoder.forward(z, ctx);
      if (z !== latent) z.dispose();
      return { sample };
    });
  }

  /** sample -> decode(mean of encode(sample)). */
  forward(inputs: Readonly<Record<string, Tensor>>): Record<string, Tensor> {
    const sample = this.input(inputs, 'sample', this.channels.in);
    return this.engine.tidy(() => {
      const moments = this.moments(sample);
      const mean = this.engine.ops.narrow(moments, 1, 0, this.channels.latent);
      moments.dispose();
      const out = this.decode(mean);
      mean.dispose();
      return out;
    });
  }

  dispose(): void {
    this.weights.dispose();
  }

  /** The encoder's output after quant_conv: (B, 2 · latent_channels, H', W'), mean then logvar. */
  private moments(sample: Tensor): Tensor {
    const ctx = this.context();
    const h = this.encoder.forward(sample, ctx);
    if (!this.quantConv) return h;
    const moments = ctx.ops.conv2dPacked(h, this.quantConv.value);
    h.dispose();
    return moments;
  }

  private context(): RunContext {
    return { ops: this.engine.ops, temb: null, encoderHiddenStates: null };
  }

  private input(inputs: Readonly<Record<string, Tensor>>, name: string, channels: number): Tensor {
    const x = inputs[name];
    if (!x) throw new SyntheError(`AutoencoderKL: needs input '${name}' (B, ${channels}, H, W), got ${Object.keys(inputs).map((n) => `'${n}'`).join(', ') || 'none'}`);
    if (x.rank !== 4 || x.shape[1] !== channels || x.dtype !== 'f32') throw new SyntheError(`AutoencoderKL: '${name}' must be an f32 (B, ${channels}, H, W) tensor, got ${x.toString()}`);
    return x;
  }
}

export async function loadAutoencoderKL(ckpt: Checkpoint, config: Record<string, unknown>): Promise<Model> {
  const cfg = new DiffusersConfig('AutoencoderKL', config);
  // Pipeline-side settings (sizes, latent normalisation, fp16 advice): kept in model.config for pipelines.
  cfg.inert('sample_size', 'force_upcast');
  cfg.number('scaling_factor', 0.18215);
  for (const name of ['shift_factor', 'latents_mean', 'latents_std']) cfg.value(name, null);
  const inChannels = cfg.int('in_channels', 3);
  const outChannels = cfg.int('out_channels', 3);
  const downTypes = cfg.strings('down_block_types', ['DownEncoderBlock2D']);
  const upTypes = cfg.strings('up_block_types', ['UpDecoderBlock2D']);
  const blockOutChannels = cfg.ints('block_out_channels', [64]);
  const layers = cfg.int('layers_per_block', 1);
  cfg.only('act_fn', ['silu', 'swish']);
  const latent = cfg.int('latent_channels', 4);
  const groups = cfg.int('norm_num_groups', 32);
  const useQuantConv = cfg.bool('use_quant_conv', true);
  const usePostQuantConv = cfg.bool('use_post_quant_conv', true);
  const midAttention = cfg.bool('mid_block_add_attention', true);
  cfg.finish();

  const n = blockOutChannels.length;
  if (downTypes.length !== n || upTypes.length !== n) {
    throw cfg.error(`down_block_types (${downTypes.length}), up_block_types (${upTypes.length}) and block_out_channels (${n}) must have one entry per level`);
  }
  const down = downTypes.map((t, i) => {
    if (t !== 'DownEncoderBlock2D' && t !== 'AttnDownEncoderBlock2D') throw cfg.error(`down_block_types[${i}] '${t}' is not supported (synthe runs DownEncoderBlock2D and AttnDownEncoderBlock2D)`);
    return t;
  });
  const up = upTypes.map((t, i) => {
    if (t !== 'UpDecoderBlock2D' && t !== 'AttnUpDecoderBlock2D') throw cfg.error(`up_block_types[${i}] '${t}' is not supported (synthe runs UpDecoderBlock2D and AttnUpDecoderBlock2D)`);
    return t;
  });
  const spec: CoderSpec = { blockOutChannels, layers, groups, midAttention };
  const w = new WeightSet(ckpt, hintFor(config));
  const encoder = new Encoder(w, inChannels, latent, down, spec);
  const decoder = new Decoder(w, latent, outChannels, up, spec);
  const quantConv = useQuantConv ? w.conv('quant_conv', { in: 2 * latent, out: 2 * latent, kernel: 1 }) : null;
  const postQuantConv = usePostQuantConv ? w.conv('post_quant_conv', { in: latent, out: latent, kernel: 1 }) : null;
  await w.load();
  return new AutoencoderKL(ckpt.engine, w, encoder, decoder, quantConv, postQuantConv, { in: inChannels, latent }, cfg.resolved);
}
