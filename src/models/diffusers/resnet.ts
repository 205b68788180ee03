/**
 * diffusers' resnet.py layers as UNets and autoencoders use them: ResnetBlock2D (time_embedding_norm
 * 'default'), Downsample2D and Upsample2D with their convolutions. GroupNorm and SiLU run as one fused norm,
 * and the shortcut add and output_scale_factor run in conv2's epilogue.
 */
import type { Ops } from '../../kernels/registry';
import type { PackedConv2d } from '../../kernels/conv2d';
import type { Tensor } from '../../tensor/tensor';
import { linear2d, type Affine, type Linear, type Slot, type WeightSet } from './weights';

/** What every block's forward reads besides its input. */
export interface RunContext {
  ops: Ops;
  /** SiLU of the time embedding, (1 or B, temb_channels), which every resnet projects; null in autoencoders. */
  temb: Tensor | null;
  /** (B, L, cross_attention_dim), the keys and values of cross-attention; null for unconditional models. */
  encoderHiddenStates: Tensor | null;
}

export interface ResnetSpec {
  inChannels: number;
  outChannels: number;
  /** temb_channels, or null for blocks without a time embedding (autoencoders). */
  tembChannels: number | null;
  groups: number;
  /** groups_out; default `groups`. */
  groupsOut?: number;
  eps: number;
  /** output_scale_factor: the output is (shortcut + h) / this. */
  outputScaleFactor: number;
}

export class ResnetBlock2D {
  private readonly norm1: Affine;
  private readonly conv1: Slot<PackedConv2d>;
  private readonly timeEmbProj: Linear | null;
  private readonly norm2: Affine;
  private readonly conv2: Slot<PackedConv2d>;
  private readonly convShortcut: Slot<PackedConv2d> | null;

  constructor(w: WeightSet, prefix: string, private readonly spec: ResnetSpec) {
    const { inChannels: cin, outChannels: cout } = spec;
    this.norm1 = w.affine(`${prefix}.norm1`, cin);
    this.conv1 = w.conv(`${prefix}.conv1`, { in: cin, out: cout, kernel: 3 });
    this.timeEmbProj = spec.tembChannels === null ? null : w.linear(`${prefix}.time_emb_proj`, spec.tembChannels, cout);
    this.norm2 = w.affine(`${prefix}.norm2`, cout);
    this.conv2 = w.conv(`${prefix}.conv2`, { in: cout, out: cout, kernel: 3 });
    // diffusers' use_in_shortcut default: a 1x1 conv exactly when the channel count changes.
    this.convShortcut = cin !== cout ? w.conv(`${prefix}.conv_shortcut`, { in: cin, out: cout, kernel: 1 }) : null;
  }

  /** x (B, Cin, H, W) -> (B, Cout, H, W); x stays the caller's. */
  forward(x: Tensor, ctx: RunContext): Tensor {
    const { ops } = ctx;
    const s = this.spec;
    const normed = ops.groupNorm(x, s.groups, this.norm1.weight.value, this.norm1.bias.value, s.eps, { activation: 'silu' });
    let h = ops.conv2dPacked(normed, this.conv1.value);
    normed.dispose();
    if (this.timeEmbProj && ctx.temb) {
      const t = linear2d(ctx.temb, this.timeEmbProj); // (1 or B, Cout), broadcast over the batch and pixels
      const t4 = t.reshape([t.shape[0]!, s.outChannels, 1, 1]);
      t.dispose();
      const sum = ops.add(h, t4);
      t4.dispose();
      h.dispose();
      h = sum;
    }
    const normed2 = ops.groupNorm(h, s.groupsOut ?? s.groups, this.norm2.weight.value, this.norm2.bias.value, s.eps, { activation: 'silu' });
    h.dispose();
    const shortcut = this.convShortcut ? ops.conv2dPacked(x, this.convShortcut.value) : x;
    const inverse = 1 / s.outputScaleFactor;
    const out = ops.conv2dPacked(normed2, this.conv2.value, { residual: shortcut, outputScale: inverse, residualScale: inverse });
    normed2.dispose();
    if (shortcut !== x) shortcut.dispose();
    return out;
  }
}

/**
 * Downsample2D(use_conv=True): a 3x3 stride-2 conv (`<prefix>.conv`). `padding` is downsample_padding; 0
 * means diffusers' one-sided pad, which the weights absorb (see ConvSpec).
 */
export class Downsample2D {
  private readonly conv: Slot<PackedConv2d>;

  constructor(w: WeightSet, prefix: string, channels: number, padding: number) {
    this.conv = w.conv(`${prefix}.conv`, { in: channels, out: channels, kernel: 3, stride: 2, padding: padding === 0 ? 'end' : padding });
  }

  /** (B, C, H, W) -> (B, C, ⌈H/2⌉, ⌈W/2⌉) for padding 0 or 1; x stays the caller's. */
  forward(x: Tensor, ctx: RunContext): Tensor {
    return ctx.ops.conv2dPacked(x, this.conv.value);
  }
}

/** Upsample2D(use_conv=True): nearest ×2, then a 3x3 conv (`<prefix>.conv`). */
export class Upsample2D {
  private readonly conv: Slot<PackedConv2d>;

  constructor(w: WeightSet, prefix: string, channels: number) {
    this.conv = w.conv(`${prefix}.conv`, { in: channels, out: channels, kernel: 3 });
  }

  /** (B, C, H, W) -> (B, C, 2H, 2W); x stays the caller's. */
  forward(x: Tensor, ctx: RunContext): Tensor {
    const large = ctx.ops.interpolate(x, { scaleFactor: 2, mode: 'nearest' });
    const out = ctx.ops.conv2dPacked(large, this.conv.value);
    large.dispose();
    return out;
  }
}
