/**
 * What UNet2DModel and UNet2DConditionModel share once their configs are read: the forward of diffusers'
 * UNets. Time (and class) embedding, conv_in, down blocks that keep their outputs as skips, the mid block,
 * up blocks that concatenate them back, GroupNorm + SiLU and conv_out.
 */
import type { Engine } from '../../engine';
import { SyntheError } from '../../errors';
import type { PackedConv2d } from '../../kernels/conv2d';
import type { Tensor } from '../../tensor/tensor';
import type { Checkpoint } from '../checkpoint';
import type { Model } from '../model';
import { DownBlock, MidBlock, UpBlock, type BlockSpec, type DownBlockType, type MidSpec, type UpBlockType } from './blocks';
import type { DiffusersConfig } from './config';
import { ClassEmbedding, TimeEmbedding, type TimeEmbeddingSpec } from './embeddings';
import type { RunContext } from './resnet';
import { WeightSet, type Affine, type Slot } from './weights';

/** A UNet as its config describes it, in the terms get_down_block / get_mid_block / get_up_block receive. */
export interface UNetPlan {
  arch: 'unet2d' | 'unet2d-condition';
  inChannels: number;
  outChannels: number;
  blockOutChannels: readonly number[];
  centerInputSample: boolean;
  convInKernel: number;
  convOutKernel: number;
  time: TimeEmbeddingSpec;
  timeEmbeddingAct: boolean;
  numClassEmbeds: number | null;
  /** norm_num_groups and norm_eps of the resnets, blocks and conv_norm_out. */
  groups: number;
  eps: number;
  downsamplePadding: number;
  /** Per down block, outermost first; `attention` as BlockSpec has it. */
  down: { type: DownBlockType; layers: number; attention: BlockSpec['attention'] }[];
  /** Per up block, innermost first. */
  up: { type: UpBlockType; layers: number; attention: BlockSpec['attention'] }[];
  mid: Omit<MidSpec, 'channels' | 'tembChannels' | 'eps' | 'groups'> | null;
  crossAttentionDim: number | null;
}

/** Declares a UNet's layers from its plan (the key names follow diffusers' module tree), then loads them. */
export async function loadUNet(ckpt: Checkpoint, cfg: DiffusersConfig, plan: UNetPlan, hint: string): Promise<UNet> {
  const w = new WeightSet(ckpt, hint);
  const channels = plan.blockOutChannels;
  const temb = plan.time.embedDim;
  const { groups, eps } = plan;
  const levels = channels.length;
  const downs = plan.down.map((d, i) => new DownBlock(w, `down_blocks.${i}`, d.type, {
    layers: d.layers, inChannels: channels[Math.max(0, i - 1)]!, outChannels: channels[i]!, tembChannels: temb, eps, groups,
    resample: i < levels - 1, attention: d.attention,
  }, plan.downsamplePadding));
  const reversed = [...channels].reverse();
  const ups = plan.up.map((u, i) => {
    const out = reversed[i]!;
    const skipIn = reversed[Math.min(i + 1, levels - 1)]!;
    // The last resnet's skip comes from the level below (or conv_in); the others from this level.
    const skips = Array.from({ length: u.layers }, (_, j) => (j === u.layers - 1 ? skipIn : out));
    return new UpBlock(w, `up_blocks.${i}`, u.type, {
      layers: u.layers, inChannels: reversed[Math.max(0, i - 1)]!, outChannels: out, tembChannels: temb, eps, groups,
      resample: i < levels - 1, attention: u.attention,
    }, skips);
  });
  const parts: UNetParts = {
    arch: plan.arch,
    className: cfg.className,
    config: cfg.resolved,
    weights: w,
    inChannels: plan.inChannels,
    centerInputSample: plan.centerInputSample,
    convIn: w.conv('conv_in', { in: plan.inChannels, out: channels[0]!, kernel: plan.convInKernel }),
    time: new TimeEmbedding(w, 'time_embedding', plan.time),
    timeEmbeddingAct: plan.timeEmbeddingAct,
    classEmbedding: plan.numClassEmbeds === null ? null : new ClassEmbedding(w, 'class_embedding', plan.numClassEmbeds, temb),
    downs,
    mid: plan.mid && new MidBlock(w, 'mid_block', { ...plan.mid, channels: channels[levels - 1]!, tembChannels: temb, eps, groups }),
    ups,
    normOut: w.affine('conv_norm_out', channels[0]!),
    normGroups: groups,
    normEps: eps,
    convOut: w.conv('conv_out', { in: channels[0]!, out: plan.outChannels, kernel: plan.convOutKernel }),
    crossAttentionDim: plan.crossAttentionDim,
    downsamplers: levels - 1,
  };
  await w.load();
  return new UNet(ckpt.engine, parts);
}

/** A UNet's layers, declared from its config, and the facts its forward checks inputs against. */
export interface UNetParts {
  arch: 'unet2d' | 'unet2d-condition';
  className: string;
  /** The config as the model runs it (diffusers' defaults filled in). */
  config: Readonly<Record<string, unknown>>;
  weights: WeightSet;
  inChannels: number;
  centerInputSample: boolean;
  convIn: Slot<PackedConv2d>;
  time: TimeEmbedding;
  /** time_embedding_act_fn 'silu': applied once to the summed embedding before the blocks. */
  timeEmbeddingAct: boolean;
  classEmbedding: ClassEmbedding | null;
  downs: DownBlock[];
  mid: MidBlock | null;
  ups: UpBlock[];
  normOut: Affine;
  normGroups: number;
  normEps: number;
  convOut: Slot<PackedConv2d>;
  /** The channels of encoder_hidden_states, or null for unconditional UNets. */
  crossAttentionDim: number | null;
  /** Number of stride-2 downsamplers: H and W must be multiples of 2 to this power. */
  downsamplers: number;
}

export class UNet implements Model {
  readonly arch: UNetParts['arch'];
  readonly config: Readonly<Record<string, unknown>>;
  readonly inputNames: readonly string[];

  constructor(private readonly engine: Engine, private readonly layers: UNetParts) {
    this.arch = layers.arch;
    this.config = layers.config;
    this.inputNames = [
      'sample', 'timestep',
      ...(layers.crossAttentionDim !== null ? ['encoder_hidden_states'] : []),
      ...(layers.classEmbedding ? ['class_labels'] : []),
    ];
  }

  /**
   * `sample` (B, in_channels, H, W) with H and W multiples of 2^(downsamplers), `timestep` one value ([] or
   * [1], for every sample) or one per sample ([B]), f32 or i32, `encoder_hidden_states` (B, L,
   * cross_attention_dim) for UNet2DConditionModel, `class_labels` (B) when the model has num_class_embeds
   * -> `sample` (B, out_channels, H, W), diffusers' UNet2DOutput.sample. Only the output is left allocated.
   */
  forward(inputs: Readonly<Record<string, Tensor>>): Record<string, Tensor> {
    const p = this.layers;
    const { sample, timestep } = this.check(inputs);
    const ops = this.engine.ops;
    return this.engine.tidy(() => {
      const steps = timestep.reshape([timestep.size]);
      let emb = p.time.forward(ops, steps); // (1 or B, time_embed_dim): a shared timestep broadcasts later
      steps.dispose();
      const labels = inputs.class_labels;
      if (p.classEmbedding && labels) {
        const classEmb = p.classEmbedding.forward(ops, labels);
        emb = replace(emb, (e) => ops.add(e, classEmb));
        classEmb.dispose();
      }
      if (p.timeEmbeddingAct) emb = replace(emb, (e) => ops.silu(e));
      // Every resnet applies SiLU to the embedding before its projection: done once here.
      const ctx: RunContext = { ops, temb: ops.silu(emb), encoderHiddenStates: inputs.encoder_hidden_states ?? null };
      emb.dispose();

      // center_input_sample: 2 · sample − 1.
      const input = p.centerInputSample ? replace(ops.scale(sample, 2), (doubled) => ops.sub(doubled, 1)) : sample;
      let h = ops.conv2dPacked(input, p.convIn.value);
      if (input !== sample) input.dispose();
      const skips: Tensor[] = [h];
      for (const block of p.downs) h = block.forward(h, ctx, skips);
      // Without a mid block the first up block both consumes h and pops it as a skip: give it its own view.
      h = p.mid ? p.mid.forward(h, ctx) : h.reshape(h.shape);
      for (const block of p.ups) h = block.forward(h, ctx, skips);
      const normed = ops.groupNorm(h, p.normGroups, p.normOut.weight.value, p.normOut.bias.value, p.normEps, { activation: 'silu' });
      h.dispose();
      const out = ops.conv2dPacked(normed, p.convOut.value);
      normed.dispose();
      ctx.temb?.dispose();
      return { sample: out };
    });
  }

  dispose(): void {
    this.layers.weights.dispose();
  }

  private check(inputs: Readonly<Record<string, Tensor>>): { sample: Tensor; timestep: Tensor } {
    const p = this.layers;
    const { sample, timestep } = inputs;
    const missing = this.inputNames.filter((n) => !inputs[n]);
    if (missing.length || !sample || !timestep) throw this.inputError(`forward needs ${missing.map((n) => `'${n}'`).join(', ')} (inputs: ${this.inputNames.join(', ')})`);
    const unexpected = Object.keys(inputs).filter((n) => !this.inputNames.includes(n));
    if (unexpected.length) throw this.inputError(`this model takes no ${unexpected.map((n) => `'${n}'`).join(', ')} (inputs: ${this.inputNames.join(', ')})`);
    const multiple = 2 ** p.downsamplers;
    const [b, c, height, width] = sample.shape as [number, number, number, number];
    if (sample.rank !== 4 || c !== p.inChannels || height % multiple !== 0 || width % multiple !== 0 || b === 0) {
      throw this.inputError(`'sample' must be (B, ${p.inChannels}, H, W) with H and W multiples of ${multiple}, got ${sample.toString()}`);
    }
    if (timestep.rank > 1 || (timestep.size !== 1 && timestep.size !== b) || timestep.dtype === 'f16') {
      throw this.inputError(`'timestep' must be an f32 or i32 tensor of shape [], [1] or [${b}], got ${timestep.toString()}`);
    }
    const labels = inputs.class_labels;
    if (labels && (labels.rank !== 1 || labels.size !== b || labels.dtype === 'f16')) {
      throw this.inputError(`'class_labels' must be an f32 or i32 tensor of shape [${b}], one integer label per sample, got ${labels.toString()}`);
    }
    const context = inputs.encoder_hidden_states;
    if (context && (context.rank !== 3 || context.shape[0] !== b || context.shape[2] !== p.crossAttentionDim)) {
      throw this.inputError(`'encoder_hidden_states' must be (${b}, L, ${p.crossAttentionDim}), got ${context.toString()}`);
    }
    return { sample, timestep };
  }

  private inputError(message: string): SyntheError {
    return new SyntheError(`${this.layers.className}: ${message}`);
  }
}

/** f(previous), disposing previous. */
function replace(previous: Tensor, f: (t: Tensor) => Tensor): Tensor {
  const next = f(previous);
  previous.dispose();
  return next;
}
