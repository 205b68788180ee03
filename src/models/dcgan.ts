/**
 * DCGAN generators as PyTorch saves them: an `nn.Sequential` of ConvTranspose2d, BatchNorm2d and activations
 * under one prefix (`net.0.weight`, `main.3.running_mean`, …). BatchNorms are folded into the transposed
 * convolutions at load, and each activation is fused into its convolution, so a layer is one dispatch.
 *
 * The layer sequence comes from, in order: `config.layers`, the checkpoint's `layers` metadata (both in the
 * module-repr form `ConvTranspose2d(100,128,7,1,0,bias=False) BatchNorm2d(128) ReLU …`), or the DCGAN
 * convention: the first transposed convolution maps the 1×1 latent with stride 1 and no padding, the others
 * double the size with stride 2 and padding (k−2)/2; ReLU after every BatchNorm and Tanh at the end.
 */
import type { Engine } from '../engine';
import { SyntheError } from '../errors';
import type { Tensor } from '../tensor/tensor';
import { Checkpoint, CheckpointError } from './checkpoint';
import { foldBatchNorm } from '../kernels/norm';
import type { Model } from './model';

type Activation = 'relu' | 'tanh' | 'sigmoid' | 'leakyRelu' | 'none';

/** One transposed convolution with its folded BatchNorm and fused activation. */
interface Layer {
  index: number;
  stride: number;
  padding: number;
  activation: Activation;
  slope: number;
  weight: Tensor;
  bias: Tensor;
}

/** A layer spec parsed from the module repr or inferred. */
interface Spec {
  kind: 'convT' | 'bn' | 'act';
  stride?: number;
  padding?: number;
  activation?: Activation;
  slope?: number;
}

export async function loadDcgan(ckpt: Checkpoint, config: Record<string, unknown>): Promise<Model> {
  const prefix = findPrefix(ckpt);
  const layerText = typeof config.layers === 'string' ? config.layers : ckpt.metadata.layers;
  const specs = layerText ? parseLayers(layerText, ckpt.label) : inferLayers(ckpt, prefix);
  const layers: Layer[] = [];
  try {
    for (let i = 0; i < specs.length; i++) {
      const spec = specs[i]!;
      if (spec.kind !== 'convT') continue;
      const name = `${prefix}${i}`;
      const shape = ckpt.requireShape(`${name}.weight`, 4);
      const weight = await ckpt.array(`${name}.weight`);
      const bias = ckpt.has(`${name}.bias`) ? await ckpt.array(`${name}.bias`, [shape[1]!]) : undefined;
      let folded = { weight, bias: bias ?? new Float32Array(shape[1]!) };
      let next = i + 1;
      if (specs[next]?.kind === 'bn') {
        const bn = `${prefix}${next}`;
        const channels = [shape[1]!];
        folded = foldBatchNorm(weight, shape, bias ?? null, {
          runningMean: await ckpt.array(`${bn}.running_mean`, channels),
          runningVar: await ckpt.array(`${bn}.running_var`, channels),
          weight: ckpt.has(`${bn}.weight`) ? await ckpt.array(`${bn}.weight`, channels) : undefined,
          bias: ckpt.has(`${bn}.bias`) ? await ckpt.array(`${bn}.bias`, channels) : undefined,
          eps: Number(config.batchnormEps ?? ckpt.metadata.batchnorm_eps ?? 1e-5),
        }, { transposed: true });
        next += 1;
      }
      const act = specs[next]?.kind === 'act' ? specs[next]! : undefined;
      layers.push({
        index: i,
        stride: spec.stride!,
        padding: spec.padding!,
        activation: act?.activation ?? 'none',
        slope: act?.slope ?? 0.01,
        weight: ckpt.engine.tensor(folded.weight, shape),
        bias: ckpt.engine.tensor(folded.bias, [shape[1]!]),
      });
    }
    if (layers.length === 0) throw new CheckpointError(`${ckpt.label}: no transposed convolutions found under '${prefix}'`);
    ckpt.finish();
  } catch (error) {
    for (const l of layers) disposeLayer(l);
    throw error;
  }
  return new Dcgan(ckpt.engine, layers, {
    latentDim: layers[0]!.weight.shape[0]!,
    channels: layers.at(-1)!.weight.shape[1]!,
    layers: layers.map((l) => ({ stride: l.stride, padding: l.padding, activation: l.activation })),
  });
}

function disposeLayer(l: Layer): void {
  l.weight.dispose();
  l.bias.dispose();
}

class Dcgan implements Model {
  readonly arch = 'dcgan' as const;
  readonly inputNames = ['latent'] as const;

  constructor(
    private readonly engine: Engine,
    private readonly layers: Layer[],
    readonly config: { latentDim: number; channels: number; layers: { stride: number; padding: number; activation: Activation }[] },
  ) {}

  /** `latent` (N, latentDim) or (N, latentDim, 1, 1) → `image` (N, C, H, W) in the generator's range. */
  forward(inputs: Readonly<Record<string, Tensor>>): Record<string, Tensor> {
    const latent = inputs.latent;
    if (!latent) throw new SyntheError(`dcgan: forward needs input 'latent' (N, ${this.config.latentDim})`);
    const n = latent.shape[0]!;
    if (latent.size !== n * this.config.latentDim) {
      throw new SyntheError(`dcgan: 'latent' must be (N, ${this.config.latentDim}) or (N, ${this.config.latentDim}, 1, 1), got ${latent.toString()}`);
    }
    const ops = this.engine.ops;
    let x = latent.reshape([n, this.config.latentDim, 1, 1]);
    for (const l of this.layers) {
      const y = ops.convTranspose2d(x, l.weight, l.bias, {
        stride: l.stride,
        padding: l.padding,
        ...(l.activation === 'none' ? {} : { activation: l.activation === 'leakyRelu' ? { kind: 'leakyRelu', slope: l.slope } : { kind: l.activation } }),
      });
      x.dispose();
      x = y;
    }
    return { image: x };
  }

  dispose(): void {
    for (const l of this.layers) disposeLayer(l);
  }
}

/** The module prefix before the layer indices, e.g. `net.` or `main.`. */
function findPrefix(ckpt: Checkpoint): string {
  for (const name of ckpt.names()) {
    const m = /^(.*?)(\d+)\.running_mean$/.exec(name) ?? /^(.*?)(\d+)\.weight$/.exec(name);
    if (m) return m[1]!;
  }
  throw new CheckpointError(`${ckpt.label}: no '<prefix>.<index>.weight' keys of an nn.Sequential generator`);
}

function inferLayers(ckpt: Checkpoint, prefix: string): Spec[] {
  const indices = new Set<number>();
  for (const name of ckpt.names()) {
    const m = new RegExp(`^${prefix.replace(/\./g, '\\.')}(\\d+)\\.`).exec(name);
    if (m) indices.add(Number(m[1]));
  }
  const sorted = [...indices].sort((a, b) => a - b);
  const specs: Spec[] = [];
  let convs = 0;
  for (const i of sorted) {
    const isBn = ckpt.has(`${prefix}${i}.running_mean`);
    const shape = ckpt.shape(`${prefix}${i}.weight`);
    if (isBn) {
      specs[i] = { kind: 'bn' };
      specs[i + 1] = { kind: 'act', activation: 'relu' };
    } else if (shape?.length === 4) {
      const k = shape[2]!;
      specs[i] = convs === 0 ? { kind: 'convT', stride: 1, padding: 0 } : { kind: 'convT', stride: 2, padding: Math.max(0, (k - 2) / 2) };
      convs += 1;
    }
  }
  const last = specs.length - 1;
  if (specs[last]?.kind === 'convT') specs[last + 1] = { kind: 'act', activation: 'tanh' };
  return Array.from(specs, (s) => s ?? { kind: 'act', activation: 'none' });
}

/** Parses `ConvTranspose2d(100,128,7,1,0,bias=False) BatchNorm2d(128) ReLU … Tanh`. */
function parseLayers(text: string, label: string): Spec[] {
  const tokens = text.match(/\w+(\([^)]*\))?/g) ?? [];
  return tokens.map((token) => {
    const [, kind = '', argText = ''] = /^(\w+)(?:\((.*)\))?$/.exec(token) ?? [];
    const args = argText.split(',').map((a) => a.trim()).filter((a) => a && !a.includes('='));
    switch (kind) {
      case 'ConvTranspose2d':
        return { kind: 'convT', stride: Number(args[3] ?? 1), padding: Number(args[4] ?? 0) } satisfies Spec;
      case 'BatchNorm2d':
        return { kind: 'bn' } satisfies Spec;
      case 'ReLU':
        return { kind: 'act', activation: 'relu' } satisfies Spec;
      case 'Tanh':
        return { kind: 'act', activation: 'tanh' } satisfies Spec;
      case 'Sigmoid':
        return { kind: 'act', activation: 'sigmoid' } satisfies Spec;
      case 'LeakyReLU':
        return { kind: 'act', activation: 'leakyRelu', slope: Number(args[0] ?? 0.01) } satisfies Spec;
      default:
        throw new CheckpointError(`${label}: layer '${token}' in the layer list is not supported by the dcgan architecture`);
    }
  });
}
