/**
 * Real-ESRGAN's SRVGGNetCompact (`realesrgan/archs/srvgg_arch.py`, the realesr-general / animevideo models):
 * `body` is an nn.ModuleList [conv, act, (conv, act) × num_conv, conv] of 3×3 convolutions, the last one
 * producing num_out_ch · upscale² channels; then pixel_shuffle(upscale), plus the input upsampled (nearest)
 * as a base. Each activation runs in the epilogue of the conv before it.
 *
 * The activation is PReLU (per-channel slopes at `body.<odd>.weight`) unless `config.actType` says 'relu' or
 * 'leakyrelu' (slope 0.1), which have no parameters and so leave no trace in the checkpoint.
 * num_feat, num_conv and upscale (`scale` here) come from the tensor shapes.
 */
import type { Engine } from '../engine';
import { SyntheError } from '../errors';
import type { PixelRange } from '../io/image';
import { conv2dPacked, type Activation, type PackedConv2d } from '../kernels/conv2d';
import type { Tensor } from '../tensor/tensor';
import { type Checkpoint, CheckpointError } from './checkpoint';
import { expectKeys, largestIndex, loadConv2d, pixelRangeOption } from './layers';
import type { Model } from './model';

export type SrvggActivation = 'prelu' | 'relu' | 'leakyrelu';

export interface SrvggConfig {
  numInCh: number;
  numOutCh: number;
  numFeat: number;
  numConv: number;
  /** Output size / input size (Real-ESRGAN's `upscale`). */
  scale: number;
  actType: SrvggActivation;
  /** The range of the RGB values in and out: Real-ESRGAN works in 0–1 (`config.pixelRange` overrides). */
  pixelRange: PixelRange;
  /** The widest feature map in channels at the output resolution, for sizing tiles. */
  maxChannels: number;
}

interface Layer {
  conv: PackedConv2d;
  /** PReLU slopes (numFeat), for actType 'prelu'. */
  slopes?: Tensor;
}

const ACTIVATIONS: readonly SrvggActivation[] = ['prelu', 'relu', 'leakyrelu'];

export async function loadSrvgg(ckpt: Checkpoint, config: Record<string, unknown>): Promise<Model> {
  // Convs sit at even indices 0, 2, …, 2·(num_conv + 1); activations at the odd ones between.
  const largest = largestIndex(ckpt, /^body\.(\d+)\./);
  if (largest < 2 || largest % 2 !== 0) {
    throw new CheckpointError(`${ckpt.label}: expected body.0, body.2, … body.<2n> convolutions, the last 'body.<i>' index is ${largest}`);
  }
  const actType = activationType(ckpt, config.actType);
  const convNames = Array.from({ length: largest / 2 + 1 }, (_, i) => `body.${2 * i}`);
  const slopeNames = actType === 'prelu' ? convNames.slice(0, -1).map((_, i) => `body.${2 * i + 1}.weight`) : [];
  expectKeys(ckpt, convNames, slopeNames);

  const [numFeat, numInCh] = ckpt.requireShape('body.0.weight', 4) as [number, number];
  const [lastOut] = ckpt.requireShape(`${convNames.at(-1)!}.weight`, 4) as [number];
  // The base (the input upsampled) is added to the output, so both have the input's channels.
  const numOutCh = numInCh;
  const scale = Math.round(Math.sqrt(lastOut / numOutCh));
  if (scale < 1 || numOutCh * scale * scale !== lastOut) {
    throw new CheckpointError(`${ckpt.label}: the last conv ${convNames.at(-1)!} has ${lastOut} outputs, not the input's ${numOutCh} channels × upscale²`);
  }

  const pixelRange = pixelRangeOption(ckpt, config, '0-1');
  const layers: Layer[] = [];
  try {
    for (let i = 0; i < convNames.length; i++) {
      const isLast = i === convNames.length - 1;
      const conv = await loadConv2d(ckpt, convNames[i]!, { in: i === 0 ? numInCh : numFeat, out: isLast ? lastOut : numFeat });
      const layer: Layer = { conv };
      layers.push(layer);
      if (!isLast && actType === 'prelu') layer.slopes = await ckpt.tensor(slopeNames[i]!, [numFeat]);
    }
    ckpt.finish();
  } catch (error) {
    for (const l of layers) disposeLayer(l);
    throw error;
  }
  // The output-resolution map (numOutCh) or the features at 1/scale of its size per side, whichever is wider.
  const maxChannels = Math.max(numOutCh, Math.ceil(numFeat / scale ** 2));
  return new Srvgg(ckpt.engine, layers, { numInCh, numOutCh, numFeat, numConv: convNames.length - 2, scale, actType, pixelRange, maxChannels });
}

function activationType(ckpt: Checkpoint, given: unknown): SrvggActivation {
  if (given === undefined) {
    if (ckpt.has('body.1.weight')) return 'prelu';
    throw new CheckpointError(`${ckpt.label}: no PReLU weights at body.1.weight; a ReLU or LeakyReLU model needs config.actType ('relu' or 'leakyrelu')`);
  }
  if (!ACTIVATIONS.includes(given as SrvggActivation)) {
    throw new SyntheError(`${ckpt.label}: config.actType must be one of ${ACTIVATIONS.join(', ')}, got ${JSON.stringify(given)}`);
  }
  return given as SrvggActivation;
}

function disposeLayer(l: Layer): void {
  l.conv.dispose();
  l.slopes?.dispose();
}

class Srvgg implements Model {
  readonly arch = 'srvgg' as const;
  readonly inputNames = ['input'] as const;

  constructor(
    private readonly engine: Engine,
    private readonly layers: Layer[],
    readonly config: Readonly<SrvggConfig>,
  ) {}

  /** `input` (N, numInCh, H, W) → `output` (N, numOutCh, H·scale, W·scale). */
  forward(inputs: Readonly<Record<string, Tensor>>): Record<string, Tensor> {
    const { numInCh, scale: r } = this.config;
    const x = inputs.input;
    if (!x) throw new SyntheError(`srvgg: forward needs input 'input' (N, ${numInCh}, H, W)`);
    if (x.rank !== 4 || x.shape[1] !== numInCh) throw new SyntheError(`srvgg: 'input' must be (N, ${numInCh}, H, W), got ${x.toString()}`);
    let h = x;
    for (const layer of this.layers) {
      const y = conv2dPacked(this.engine.runtime, h, layer.conv, { activation: this.activation(layer) });
      if (h !== x) h.dispose();
      h = y;
    }
    const shuffled = this.engine.ops.pixelShuffle(h, r);
    h.dispose();
    // The nearest-upsampled base is x repeated r × r times: a broadcast over (H, r, W, r) adds it.
    const [n, c, height, width] = x.shape as [number, number, number, number];
    const out = shuffled.reshape([n, c, height, r, width, r]);
    const base = x.reshape([n, c, height, 1, width, 1]);
    const sum = this.engine.ops.add(out, base);
    for (const t of [shuffled, out, base]) t.dispose();
    const output = sum.reshape([n, c, height * r, width * r]);
    sum.dispose();
    return { output };
  }

  dispose(): void {
    for (const l of this.layers) disposeLayer(l);
  }

  private activation(layer: Layer): Activation | undefined {
    if (layer === this.layers.at(-1)) return undefined;
    switch (this.config.actType) {
      case 'prelu':
        return { kind: 'prelu', weight: layer.slopes! };
      case 'relu':
        return { kind: 'relu' };
      case 'leakyrelu':
        return { kind: 'leakyRelu', slope: 0.1 };
      default:
        return this.config.actType satisfies never;
    }
  }
}
