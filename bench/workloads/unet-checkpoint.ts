/**
 * A UNet2DConditionModel checkpoint with random weights, written in code: diffusers' key names and shapes for
 * Stable Diffusion's block types (CrossAttnDownBlock2D…, UNetMidBlock2DCrossAttn, …UpBlock2D) at any
 * widths, so the benchmark needs no download. Weights are uniform in ±1/√fan-in and norms near identity,
 * which keeps activations near unit size through the whole network. FLOPs are counted while the shapes are.
 */
import { writeSafetensors, type TensorData } from '../../src/io/safetensors';
import { makeRng } from '../../test/reference/random';

/** The config.json fields the checkpoint follows (diffusers' names). */
export interface UnetConditionConfig {
  _class_name: 'UNet2DConditionModel';
  sample_size: number;
  in_channels: number;
  out_channels: number;
  down_block_types: string[];
  up_block_types: string[];
  block_out_channels: number[];
  layers_per_block: number;
  cross_attention_dim: number;
  attention_head_dim: number;
  norm_num_groups: number;
}

/**
 * Stable Diffusion 1.x's structure, narrower: three levels of 32/64/128 channels, cross-attention to 64-d
 * states. diffusers' attention_head_dim is the number of heads: 2 keeps the heads 16–64 wide (SD's are
 * 40–160); SD's 8 heads at these widths would be 4 wide.
 */
export const SD_LIKE_CONFIG: UnetConditionConfig = {
  _class_name: 'UNet2DConditionModel',
  sample_size: 32,
  in_channels: 4,
  out_channels: 4,
  down_block_types: ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'],
  up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'],
  block_out_channels: [32, 64, 128],
  layers_per_block: 2,
  cross_attention_dim: 64,
  attention_head_dim: 2,
  norm_num_groups: 32,
};

/** Walks the UNet's layers in checkpoint order, making each tensor (unless only FLOPs are wanted) and counting FLOPs. */
class Builder {
  readonly tensors = new Map<string, TensorData>();
  /** Multiply-adds × 2 of one forward at batch 1. */
  flops = 0;
  private readonly rng = makeRng(1234);

  constructor(
    private readonly tokens: number,
    private readonly withData: boolean,
  ) {}

  private make(name: string, shape: number[], value: () => number): void {
    if (!this.withData) return;
    const data = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, value);
    this.tensors.set(name, { dtype: 'F32', shape, data });
  }

  private random(name: string, shape: number[], scale: number): void {
    this.make(name, shape, () => this.rng.uniform(-scale, scale));
  }

  /** A GroupNorm or LayerNorm: weight 1 ± 0.1, bias ± 0.1. */
  norm(name: string, c: number): void {
    this.make(`${name}.weight`, [c], () => 1 + this.rng.uniform(-0.1, 0.1));
    this.random(`${name}.bias`, [c], 0.1);
  }

  conv(name: string, cin: number, cout: number, k: number, pixels: number, bias = true): void {
    this.random(`${name}.weight`, [cout, cin, k, k], 1 / Math.sqrt(cin * k * k));
    if (bias) this.random(`${name}.bias`, [cout], 1 / Math.sqrt(cin * k * k));
    this.flops += 2 * cout * cin * k * k * pixels;
  }

  linear(name: string, cin: number, cout: number, rows: number, bias = true): void {
    this.random(`${name}.weight`, [cout, cin], 1 / Math.sqrt(cin));
    if (bias) this.random(`${name}.bias`, [cout], 1 / Math.sqrt(cin));
    this.flops += 2 * cin * cout * rows;
  }

  resnet(name: string, cin: number, cout: number, temb: number, pixels: number): void {
    this.norm(`${name}.norm1`, cin);
    this.conv(`${name}.conv1`, cin, cout, 3, pixels);
    this.linear(`${name}.time_emb_proj`, temb, cout, 1);
    this.norm(`${name}.norm2`, cout);
    this.conv(`${name}.conv2`, cout, cout, 3, pixels);
    if (cin !== cout) this.conv(`${name}.conv_shortcut`, cin, cout, 1, pixels);
  }

  /** Transformer2DModel with one BasicTransformerBlock (self-attention, cross-attention, GEGLU feed-forward). */
  transformer(name: string, c: number, cross: number, pixels: number): void {
    this.norm(`${name}.norm`, c);
    this.conv(`${name}.proj_in`, c, c, 1, pixels);
    const block = `${name}.transformer_blocks.0`;
    this.norm(`${block}.norm1`, c);
    for (const p of ['to_q', 'to_k', 'to_v']) this.linear(`${block}.attn1.${p}`, c, c, pixels, false);
    this.flops += 4 * pixels * pixels * c; // QKᵀ and PV
    this.linear(`${block}.attn1.to_out.0`, c, c, pixels);
    this.norm(`${block}.norm2`, c);
    this.linear(`${block}.attn2.to_q`, c, c, pixels, false);
    for (const p of ['to_k', 'to_v']) this.linear(`${block}.attn2.${p}`, cross, c, this.tokens, false);
    this.flops += 4 * pixels * this.tokens * c;
    this.linear(`${block}.attn2.to_out.0`, c, c, pixels);
    this.norm(`${block}.norm3`, c);
    this.linear(`${block}.ff.net.0.proj`, c, 8 * c, pixels);
    this.linear(`${block}.ff.net.2`, 4 * c, c, pixels);
    this.conv(`${name}.proj_out`, c, c, 1, pixels);
  }
}

/** The checkpoint's bytes (safetensors). */
export function unetConditionCheckpoint(config: UnetConditionConfig): Uint8Array {
  return writeSafetensors(walk(config, 0, true).tensors);
}

/** FLOPs of one forward at batch 1 with `tokens` encoder states (convolutions, projections, attention products). */
export function unetConditionFlops(config: UnetConditionConfig, tokens: number): number {
  return walk(config, tokens, false).flops;
}

function walk(config: UnetConditionConfig, tokens: number, withData: boolean): Builder {
  const b = new Builder(tokens, withData);
  const widths = config.block_out_channels;
  const temb = 4 * widths[0]!;
  const layers = config.layers_per_block;
  const cross = config.cross_attention_dim;
  let size = config.sample_size;
  b.linear('time_embedding.linear_1', widths[0]!, temb, 1);
  b.linear('time_embedding.linear_2', temb, temb, 1);
  b.conv('conv_in', config.in_channels, widths[0]!, 3, size * size);
  let channels = widths[0]!;
  config.down_block_types.forEach((type, i) => {
    const out = widths[i]!;
    for (let j = 0; j < layers; j++) {
      b.resnet(`down_blocks.${i}.resnets.${j}`, j === 0 ? channels : out, out, temb, size * size);
      if (type === 'CrossAttnDownBlock2D') b.transformer(`down_blocks.${i}.attentions.${j}`, out, cross, size * size);
    }
    channels = out;
    if (i < widths.length - 1) {
      size /= 2;
      b.conv(`down_blocks.${i}.downsamplers.0.conv`, out, out, 3, size * size);
    }
  });
  b.resnet('mid_block.resnets.0', channels, channels, temb, size * size);
  b.transformer('mid_block.attentions.0', channels, cross, size * size);
  b.resnet('mid_block.resnets.1', channels, channels, temb, size * size);
  const reversed = [...widths].reverse();
  config.up_block_types.forEach((type, i) => {
    const out = reversed[i]!;
    const prev = reversed[Math.max(0, i - 1)]!;
    const input = reversed[Math.min(i + 1, widths.length - 1)]!;
    for (let j = 0; j <= layers; j++) {
      const skip = j === layers ? input : out;
      b.resnet(`up_blocks.${i}.resnets.${j}`, (j === 0 ? prev : out) + skip, out, temb, size * size);
      if (type === 'CrossAttnUpBlock2D') b.transformer(`up_blocks.${i}.attentions.${j}`, out, cross, size * size);
    }
    if (i < widths.length - 1) {
      size *= 2;
      b.conv(`up_blocks.${i}.upsamplers.0.conv`, out, out, 3, size * size);
    }
  });
  b.norm('conv_norm_out', widths[0]!);
  b.conv('conv_out', widths[0]!, config.out_channels, 3, size * size);
  return b;
}
